package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
)

// Errors a page answers with a page of its own.
var (
	errNotFound  = models.Errorf(models.ErrNotFound, "This page does not exist, or the patient is not one of your clinic's patients.")
	errStaleForm = models.Errorf(models.ErrForbidden, "This form has expired: it was opened before you last signed in, or on another site. Go back, reload the page and send it again.")
)

// Form is what a form page shows again after a refusal: what was typed,
// and the error of each field and of the whole form.
type Form struct {
	Values map[string]string
	Lists  map[string][]string
	Errors map[string]string
	Error  string
}

func newForm() Form {
	return Form{Values: map[string]string{}, Lists: map[string][]string{}, Errors: map[string]string{}}
}

func formWith(vals url.Values) Form {
	f := newForm()
	for k, v := range vals {
		f.Values[k] = v[0]
		f.Lists[k] = v
	}
	return f
}

// Has reports whether the list field name holds value (a ticked box).
func (f Form) Has(name, value string) bool { return slices.Contains(f.Lists[name], value) }

// setProblem shows what the API refused: each field's error beside it
// (fields maps the API's field names to the form's, where they differ),
// and the detail when no field is named.
func (f *Form) setProblem(r apiReply, fields ...string) {
	rename := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		rename[fields[i]] = fields[i+1]
	}
	for _, fe := range r.problem.Errors {
		name := fe.Field
		if to, ok := rename[name]; ok {
			name = to
		}
		f.Errors[name] = strings.TrimSpace(f.Errors[name] + " " + sentence(fe.Message))
	}
	switch {
	case r.status == fiber.StatusPreconditionFailed:
		f.Error = "Someone changed this since you opened it. Reload the page to see the change, then make yours again."
	case len(r.problem.Errors) > 0:
		f.Error = "Some fields need a change; see below."
	case r.problem.Detail != "":
		f.Error = sentence(r.problem.Detail)
	default:
		f.Error = "That did not work; try again."
	}
}

// sentence starts an API message with a capital and ends it with a stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// formOf reads a posted form of the given fields (and the CSRF token). A
// field the form does not have, or one given twice that is not a list,
// refuses the whole post: the dashboard's own forms never send one.
func formOf(c *fiber.Ctx, fields ...string) (url.Values, error) {
	if ct := string(c.Request().Header.ContentType()); ct != "" && !strings.HasPrefix(ct, fiber.MIMEApplicationForm) {
		return nil, models.Errorf(models.ErrInvalid, "send the form as the page does")
	}
	vals := url.Values{}
	var bad []string
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		key := string(k)
		if key == csrfField {
			return
		}
		if !slices.Contains(fields, key) && !slices.Contains(fields, key+"[]") {
			bad = append(bad, key)
			return
		}
		vals.Add(key, string(v))
	})
	for k, v := range vals {
		if len(v) > 1 && !slices.Contains(fields, k+"[]") {
			bad = append(bad, k)
		}
	}
	if len(c.Request().URI().QueryString()) > 0 {
		bad = append(bad, "the address's query")
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, models.Errorf(models.ErrInvalid, "The form sent %s, which it does not have.", strings.Join(slices.Compact(bad), ", "))
	}
	return vals, nil
}

// onlyQuery refuses a page address with a query parameter the page does
// not read.
func onlyQuery(c *fiber.Ctx, names ...string) error {
	var bad error
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		if !slices.Contains(names, string(k)) {
			bad = models.Errorf(models.ErrInvalid, "This page does not read %q in its address.", string(k))
		}
	})
	return bad
}

// layout is what every page's frame shows.
type layout struct {
	Title  string
	CSRF   string
	Staff  models.Staff
	Clinic models.Clinic
	Owner  bool
	Nav    string
	// Script adds token.js, on the pages withTokenScript allows it on.
	Script bool
	Page   any
}

// show renders page name with its view v at status.
func (w *dashboard) show(c *fiber.Ctx, status int, name, title, csrf string, v any) error {
	t, ok := w.pages[name]
	if !ok {
		return fmt.Errorf("no page %q", name)
	}
	s := who(c)
	if csrf == "" {
		csrf = s.session.CSRF
	}
	l := layout{Title: title, CSRF: csrf, Staff: s.staff, Clinic: s.clinic, Owner: s.staff.Role == models.RoleOwner, Nav: name, Page: v,
		Script: c.Locals(localTokenScript) == true}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", l); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

// render runs a page and answers its error as a page: the dashboard never
// shows a browser problem+json.
func (w *dashboard) render(p page) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := p(c)
		if err == nil {
			return nil
		}
		var appErr *models.Error
		v := errorView{Status: fiber.StatusInternalServerError, Heading: "Something went wrong",
			Message: "Something went wrong on our side. Try again in a moment."}
		if errors.As(err, &appErr) {
			switch appErr.Code {
			case models.ErrNotFound:
				v = errorView{fiber.StatusNotFound, "Not found", appErr.Message}
			case models.ErrInvalid:
				v = errorView{fiber.StatusBadRequest, "That request was not understood", appErr.Message}
			case models.ErrForbidden:
				v = errorView{fiber.StatusForbidden, "Not allowed", appErr.Message}
			case models.ErrUnavailable:
				v = errorView{fiber.StatusServiceUnavailable, "Not available just now", "The database is not answering. Try again in a moment."}
			default:
				w.logger.ErrorContext(c.UserContext(), "dashboard page failed", "request_id", c.GetRespHeader(fiber.HeaderXRequestID), "path", c.Path(), "error", err)
			}
		} else {
			w.logger.ErrorContext(c.UserContext(), "dashboard page failed", "request_id", c.GetRespHeader(fiber.HeaderXRequestID), "path", c.Path(), "error", err)
		}
		return w.show(c, v.Status, "error", v.Heading, "", v)
	}
}

// pageFuncs are the helpers the templates call.
var pageFuncs = template.FuncMap{
	"words": visit.Words,
	"list":  func(v ...any) []any { return v },
	"attention": func(a models.Attention) string {
		return attentionText[a]
	},
	"scoreClass": func(score *int) string {
		switch {
		case score == nil:
			return "score-none"
		case *score >= 7:
			return "score-high"
		case *score >= 4:
			return "score-mid"
		}
		return "score-low"
	},
}

// attentionText says each triage reason as the list shows it.
var attentionText = map[models.Attention]string{
	models.AttentionRedFlag:        "Red flag",
	models.AttentionSoreness:       "Soreness after session",
	models.AttentionSymptomMessage: "Message about symptoms",
	models.AttentionClearance:      "Clearance waiting",
	models.AttentionMissedSession:  "Missed session",
	models.AttentionNoRecentLog:    "No log for 5+ days",
}

// parsePages parses each page with the frame, the parts pages share
// (parts.html) and the chart.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("base").Funcs(visit.ChartFuncs).Funcs(pageFuncs).Parse(visit.ChartTemplate))
	template.Must(base.ParseFS(templateFiles, "templates/layout.html", "templates/parts.html"))
	pages := map[string]*template.Template{}
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, n))
	}
	return pages
}
