package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
)

// request turns a posted form into the clinic API's JSON body. What the
// form itself can tell is wrong (a date that is not a date) is the form's
// error; everything else is the API's to decide.
type request struct {
	vals url.Values
	Form Form
	body map[string]any
}

func newRequest(vals url.Values) *request {
	return &request{vals: vals, Form: formWith(vals), body: map[string]any{}}
}

func (r *request) text(field string) {
	r.body[field] = r.vals.Get(field)
}

func (r *request) number(field string) {
	v := strings.TrimSpace(r.vals.Get(field))
	n, err := strconv.Atoi(v)
	if err != nil {
		r.Form.Errors[field] = "Enter a whole number."
		return
	}
	r.body[field] = n
}

// instant reads a datetime-local value, a wall time in the clinic's zone.
func (r *request) instant(field string, loc *time.Location) {
	t, err := time.ParseInLocation("2006-01-02T15:04", r.vals.Get(field), loc)
	if err != nil {
		r.Form.Errors[field] = "Enter a date and a time."
		return
	}
	r.body[field] = t.Format(time.RFC3339)
}

func (r *request) checkbox(field string) { r.body[field] = r.vals.Get(field) == "on" }

// list reads a list from ticked boxes (name[]) or, with sep, from one text field.
func (r *request) list(field, sep string) {
	values := r.vals[field+"[]"]
	if sep != "" {
		values = nil
		for _, v := range strings.Split(r.vals.Get(field), sep) {
			if v = strings.TrimSpace(v); v != "" {
				values = append(values, v)
			}
		}
	}
	if values == nil {
		values = []string{}
	}
	r.body[field] = values
}

func (r *request) invalid() bool { return len(r.Form.Errors) > 0 }

// ifMatch is the If-Match of a version a form was opened at.
func ifMatch(vals url.Values) string {
	v := vals.Get("version")
	if _, err := strconv.ParseInt(v, 10, 64); err != nil || v == "" || v == "0" {
		return ""
	}
	return `"` + v + `"`
}

// send posts the form's change to the API as the signed-in staff member.
// On success it redirects to the patient page with a notice; on a refusal
// it shows the form again, with the fields' errors and what was typed.
func (w *dashboard) send(c *fiber.Ctx, r *request, method, path, ifMatch, done string, again func(status int, f Form) error, rename ...string) error {
	if r.invalid() {
		r.Form.Error = "Some fields need a change; see below."
		return again(fiber.StatusBadRequest, r.Form)
	}
	reply, err := w.api.call(c, who(c).staff.ID, method, path, r.body, ifMatch)
	if err != nil {
		return err
	}
	if reply.ok() {
		return c.Redirect(patientURL(c)+"?done="+done, fiber.StatusSeeOther)
	}
	return w.refused(c, reply, r.Form, again, rename...)
}

// refused shows what the API refused: a patient no longer linked is the
// 404 page, an account gone is the sign-in page, anything else the form.
func (w *dashboard) refused(c *fiber.Ctx, reply apiReply, f Form, again func(status int, f Form) error, rename ...string) error {
	switch reply.status {
	case fiber.StatusNotFound:
		return errNotFound
	case fiber.StatusUnauthorized:
		return c.Redirect("/clinic/login", fiber.StatusSeeOther)
	case fiber.StatusInternalServerError, fiber.StatusServiceUnavailable:
		return models.Errorf(models.ErrUnavailable, "%s", reply.problem.Detail)
	}
	f.setProblem(reply, rename...)
	return again(reply.status, f)
}

func patientURL(c *fiber.Ctx) string { return "/clinic/patients/" + c.Params("id") }

func apiPatient(c *fiber.Ctx, rest string) string {
	return "/v1/clinic/patients/" + c.Params("id") + rest
}

// bookView is the booking form.
type bookView struct {
	Patient patientRow
	Form
}

func (w *dashboard) bookPage(c *fiber.Ctx) error {
	in, err := w.patientOnPage(c, models.ScopeCare)
	if err != nil {
		return err
	}
	f := newForm()
	s := who(c)
	next := w.now().In(s.loc).AddDate(0, 0, 1)
	f.Values["scheduled_at"] = time.Date(next.Year(), next.Month(), next.Day(), 10, 0, 0, 0, s.loc).Format("2006-01-02T15:04")
	f.Values["duration_minutes"] = strconv.Itoa(models.DefaultSessionMinutes)
	f.Values["therapist"] = s.staff.Name
	return w.showBook(c, fiber.StatusOK, in, f)
}

func (w *dashboard) showBook(c *fiber.Ctx, status int, in models.TriageInput, f Form) error {
	return w.show(c, status, "book", "Book a session — "+in.Patient.Name, "", bookView{Patient: rowOf(models.Triage(in, w.now()), who(c).loc), Form: f})
}

func (w *dashboard) book(c *fiber.Ctx) error {
	return w.sendSession(c, fiber.MethodPost, apiPatient(c, "/sessions"), "booked",
		func(c *fiber.Ctx, in models.TriageInput, status int, f Form) error {
			return w.showBook(c, status, in, f)
		})
}

// sendSession sends the session form (a booking or a move) to method path.
func (w *dashboard) sendSession(c *fiber.Ctx, method, path, done string, again func(c *fiber.Ctx, in models.TriageInput, status int, f Form) error) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, "scheduled_at", "duration_minutes", "therapist")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.instant("scheduled_at", who(c).loc)
	r.number("duration_minutes")
	r.text("therapist")
	return w.send(c, r, method, path, "", done, func(status int, f Form) error { return again(c, in, status, f) })
}

// sessionPage is one session: move it, cancel it, mark a no-show, or
// complete it with the SOAP note; a completed one's note can be edited.
type sessionPageView struct {
	Patient   patientRow
	Session   sessionView
	Ends      string
	Care      bool
	Ours      bool
	BookedBy  string
	Move      Form
	Note      Form
	NoteOf    *models.SessionNote
	Areas     []string
	Pressures []string
}

func (w *dashboard) sessionOf(c *fiber.Ctx, in models.TriageInput) (models.Session, error) {
	for _, ss := range in.Sessions {
		if ss.ID == c.Params("sid") {
			return ss, nil
		}
	}
	return models.Session{}, errNotFound
}

func (w *dashboard) sessionPage(c *fiber.Ctx) error {
	in, err := w.patientOnPage(c, models.ScopeView)
	if err != nil {
		return err
	}
	return w.showSession(c, fiber.StatusOK, in, nil, nil)
}

// showSession renders the session page; move and note, when given, are
// the forms to show again as they were sent.
func (w *dashboard) showSession(c *fiber.Ctx, status int, in models.TriageInput, move, note *Form) error {
	ss, err := w.sessionOf(c, in)
	if err != nil {
		return err
	}
	s := who(c)
	notes, err := w.store.NotesOf(c.UserContext(), in.Patient.ID, []string{ss.ID})
	if err != nil {
		return err
	}
	view := sessionViewOf(ss, notes, s.staff.ClinicID, s.loc)
	v := sessionPageView{Patient: rowOf(models.Triage(in, w.now()), s.loc), Session: view, Ends: ss.End().In(s.loc).Format("15:04"),
		Care: in.Link.Scope.Covers(models.ScopeCare), Ours: ss.ClinicID == "" || ss.ClinicID == s.staff.ClinicID,
		NoteOf: view.Note, Areas: visitAreas(), Pressures: pressures()}
	if move != nil {
		v.Move = *move
	} else {
		v.Move = newForm()
		v.Move.Values["scheduled_at"] = ss.ScheduledAt.In(s.loc).Format("2006-01-02T15:04")
		v.Move.Values["duration_minutes"] = strconv.Itoa(ss.DurationMinutes)
		v.Move.Values["therapist"] = ss.Therapist
	}
	switch {
	case note != nil:
		v.Note = *note
	case view.Note != nil:
		v.Note = noteForm(view.Note)
	default:
		v.Note = newForm()
	}
	return w.show(c, status, "session", "Session — "+in.Patient.Name, "", v)
}

func visitAreas() []string {
	out := make([]string, len(models.BodyAreas))
	for i, a := range models.BodyAreas {
		out[i] = string(a)
	}
	return out
}

func pressures() []string {
	out := make([]string, len(models.Pressures))
	for i, p := range models.Pressures {
		out[i] = string(p)
	}
	return out
}

// noteForm is a stored note as its form shows it.
func noteForm(n *models.SessionNote) Form {
	f := newForm()
	f.Values["subjective"], f.Values["objective"], f.Values["assessment"], f.Values["plan"] = n.Subjective, n.Objective, n.Assessment, n.Plan
	f.Values["techniques"] = strings.Join(n.Techniques, ", ")
	f.Values["pressure"], f.Values["summary"] = string(n.Pressure), n.Summary
	f.Values["version"] = strconv.FormatInt(n.Version, 10)
	if n.Shared {
		f.Values["shared"] = "on"
	}
	for _, a := range n.AreasTreated {
		f.Lists["areas_treated[]"] = append(f.Lists["areas_treated[]"], string(a))
	}
	return f
}

func (w *dashboard) reschedule(c *fiber.Ctx) error {
	return w.sendSession(c, fiber.MethodPatch, apiPatient(c, "/sessions/"+c.Params("sid")), "rescheduled",
		func(c *fiber.Ctx, in models.TriageInput, status int, f Form) error {
			return w.showSession(c, status, in, &f, nil)
		})
}

// sessionStatus cancels a session or marks a no-show.
func (w *dashboard) sessionStatus(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, "action")
	if err != nil {
		return err
	}
	done := map[string]string{"cancel": "cancelled", "no_show": "no_show"}[vals.Get("action")]
	if done == "" {
		return models.Errorf(models.ErrInvalid, "The form asked for an action it does not have.")
	}
	r := newRequest(vals)
	r.text("action")
	return w.send(c, r, fiber.MethodPatch, apiPatient(c, "/sessions/"+c.Params("sid")), "", done,
		func(status int, f Form) error { return w.showSession(c, status, in, &f, nil) })
}

var noteFields = []string{"subjective", "objective", "assessment", "plan", "areas_treated[]", "techniques", "pressure", "shared", "summary", "version"}

// noteRequest is the note a form sends.
func noteRequest(vals url.Values) *request {
	r := newRequest(vals)
	for _, f := range []string{"subjective", "objective", "assessment", "plan", "pressure", "summary"} {
		r.text(f)
	}
	r.list("areas_treated", "")
	r.list("techniques", ",")
	r.checkbox("shared")
	r.Form.Lists["areas_treated[]"] = vals["areas_treated[]"]
	return r
}

// noteContent is the note as the model checks it, so that a session is
// not completed with a note that would then be refused.
func noteContent(r *request) models.NoteContent {
	n := models.NoteContent{Subjective: r.vals.Get("subjective"), Objective: r.vals.Get("objective"), Assessment: r.vals.Get("assessment"),
		Plan: r.vals.Get("plan"), Pressure: models.Pressure(r.vals.Get("pressure")), Shared: r.vals.Get("shared") == "on", Summary: r.vals.Get("summary")}
	for _, a := range r.vals["areas_treated[]"] {
		n.AreasTreated = append(n.AreasTreated, models.BodyArea(a))
	}
	n.Techniques, _ = r.body["techniques"].([]string)
	return n
}

// complete records that the session took place and writes its note: the
// note is checked first, so that a refused note completes nothing.
func (w *dashboard) complete(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, noteFields...)
	if err != nil {
		return err
	}
	r := noteRequest(vals)
	again := func(status int, f Form) error { return w.showSession(c, status, in, nil, &f) }
	if err := noteContent(r).Validate(); err != nil {
		var reply apiReply
		reply.status = fiber.StatusBadRequest
		reply.problem.Errors = models.FieldsOf(err)
		return w.refused(c, reply, r.Form, again, noteRenames...)
	}
	sid := c.Params("sid")
	reply, err := w.api.call(c, who(c).staff.ID, fiber.MethodPost, apiPatient(c, "/sessions/"+sid+"/complete"), map[string]any{}, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		return w.refused(c, reply, r.Form, again, noteRenames...)
	}
	if noteContent(r).Empty() {
		return c.Redirect(patientURL(c)+"?done=completed", fiber.StatusSeeOther)
	}
	return w.send(c, r, fiber.MethodPut, apiPatient(c, "/sessions/"+sid+"/note"), ifMatch(vals), "completed", again, noteRenames...)
}

// noteRenames name the form's fields for the API's list fields.
var noteRenames = []string{"areas_treated", "areas_treated[]"}

// note writes or edits a session's note; the version the form was opened
// at goes as If-Match, so an edit made meanwhile is not overwritten.
func (w *dashboard) note(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, noteFields...)
	if err != nil {
		return err
	}
	return w.send(c, noteRequest(vals), fiber.MethodPut, apiPatient(c, "/sessions/"+c.Params("sid")+"/note"), ifMatch(vals), "note",
		func(status int, f Form) error { return w.showSession(c, status, in, nil, &f) }, noteRenames...)
}

type planPageView struct {
	Patient    patientRow
	Plan       *planView
	Version    int64
	New        bool
	Weekdays   []string
	Aftercares []string
	Form
}

var planFields = []string{"start_date", "effective_from", "initial_sessions", "maintenance", "preferred_weekday", "preferred_time",
	"session_minutes", "aftercare", "stretching", "stretching_time", "home_care", "version"}

// planForm is the plan's current settings as the form shows them, or
// the defaults for a new plan starting today.
func planForm(plan *models.Plan, today string) Form {
	f := newForm()
	d, _ := time.Parse(time.DateOnly, today)
	c := models.DefaultCadence(d.Weekday())
	if plan != nil {
		c = plan.CadenceOn(today)
		f.Values["home_care"] = plan.HomeCare
		f.Values["version"] = strconv.FormatInt(plan.Version, 10)
		f.Values["effective_from"] = today
	} else {
		f.Values["start_date"] = today
	}
	f.Values["initial_sessions"] = strconv.Itoa(c.InitialSessions)
	f.Values["maintenance"] = strconv.Itoa(c.MaintenanceWeeks)
	if c.MaintenanceMonthly {
		f.Values["maintenance"] = "monthly"
	}
	f.Values["preferred_weekday"] = strings.ToLower(c.PreferredWeekday.String())
	f.Values["preferred_time"], f.Values["stretching_time"] = c.PreferredTime, c.StretchingTime
	f.Values["session_minutes"] = strconv.Itoa(c.SessionMinutes)
	f.Values["aftercare"] = string(c.Aftercare)
	f.Values["stretching"] = "on"
	if c.StretchingOff {
		f.Values["stretching"] = "off"
	}
	return f
}

func (w *dashboard) planPage(c *fiber.Ctx) error {
	in, err := w.patientOnPage(c, models.ScopeCare)
	if err != nil {
		return err
	}
	return w.showPlan(c, fiber.StatusOK, in, planForm(in.Plan, models.LocalDateOf(w.now(), who(c).loc)))
}

func (w *dashboard) showPlan(c *fiber.Ctx, status int, in models.TriageInput, f Form) error {
	now := w.now()
	v := planPageView{Patient: rowOf(models.Triage(in, now), who(c).loc), New: in.Plan == nil, Form: f,
		Weekdays: []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}}
	for _, a := range models.Aftercares {
		v.Aftercares = append(v.Aftercares, string(a))
	}
	if in.Plan != nil {
		v.Version = in.Plan.Version
		v.Plan = &planView{Text: visit.PlanText(*in.Plan, models.LocalDateOf(now, who(c).loc)), HomeCare: in.Plan.HomeCare, Status: string(in.Plan.Status)}
	}
	return w.show(c, status, "plan", "Plan — "+in.Patient.Name, "", v)
}

// plan writes the plan: a new one, or the settings that differ from the
// current ones, from effective_from (a cadence unchanged is not sent, so
// that a change of the home-care text alone adds no cadence version).
func (w *dashboard) plan(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, planFields...)
	if err != nil {
		return err
	}
	today := models.LocalDateOf(w.now(), who(c).loc)
	current := planForm(in.Plan, today)
	r := newRequest(vals)
	// A field sent and not as it is: what the therapist changed.
	changed := func(field string) bool {
		_, sent := vals[field]
		return sent && (in.Plan == nil || vals.Get(field) != current.Values[field])
	}
	for _, f := range []string{"initial_sessions", "session_minutes"} {
		if changed(f) {
			r.number(f)
		}
	}
	for _, f := range []string{"preferred_weekday", "preferred_time", "aftercare", "stretching_time", "home_care"} {
		if changed(f) {
			r.text(f)
		}
	}
	if changed("stretching") {
		switch vals.Get("stretching") {
		case "on", "off":
			r.body["stretching"] = vals.Get("stretching") == "on"
		default:
			r.Form.Errors["stretching"] = "Choose on or off."
		}
	}
	if m := vals.Get("maintenance"); changed("maintenance") {
		if m == "monthly" {
			r.body["maintenance_monthly"] = true
		} else {
			r.number("maintenance")
			if n, ok := r.body["maintenance"]; ok {
				delete(r.body, "maintenance")
				r.body["maintenance_weeks"] = n
			}
		}
	}
	cadence := len(r.body) > 0
	if _, ok := r.body["home_care"]; ok && len(r.body) == 1 {
		cadence = false
	}
	switch {
	case in.Plan == nil:
		r.text("start_date")
	case cadence:
		r.text("effective_from")
	case len(r.body) == 0 && !r.invalid():
		r.Form.Error = "Nothing was changed."
		return w.showPlan(c, fiber.StatusBadRequest, in, r.Form)
	}
	return w.send(c, r, fiber.MethodPut, apiPatient(c, "/plan"), ifMatch(vals), "plan",
		func(status int, f Form) error { return w.showPlan(c, status, in, f) },
		"maintenance_weeks", "maintenance", "maintenance_monthly", "maintenance")
}

// planStatus pauses, resumes or completes the plan.
func (w *dashboard) planStatus(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, "action", "version")
	if err != nil {
		return err
	}
	if !slices.Contains([]string{"pause", "resume", "complete"}, vals.Get("action")) {
		return models.Errorf(models.ErrInvalid, "The form asked for an action it does not have.")
	}
	r := newRequest(vals)
	r.text("action")
	return w.send(c, r, fiber.MethodPut, apiPatient(c, "/plan"), ifMatch(vals), "plan",
		func(status int, f Form) error {
			pf := planForm(in.Plan, models.LocalDateOf(w.now(), who(c).loc))
			pf.Error = f.Error
			return w.showPlan(c, status, in, pf)
		})
}

type clearanceView struct {
	Patient   patientRow
	Screening *visit.Screening
	Form
}

func (w *dashboard) clearancePage(c *fiber.Ctx) error {
	in, err := w.patientOnPage(c, models.ScopeCare)
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["date"] = models.LocalDateOf(w.now(), who(c).loc)
	return w.showClearance(c, fiber.StatusOK, in, f)
}

func (w *dashboard) showClearance(c *fiber.Ctx, status int, in models.TriageInput, f Form) error {
	s := who(c)
	v := clearanceView{Patient: rowOf(models.Triage(in, w.now()), s.loc), Screening: visit.ScreeningOf(in.Screening, s.clinic, s.loc, w.now()), Form: f}
	return w.show(c, status, "clearance", "Clearance — "+in.Patient.Name, "", v)
}

func (w *dashboard) clearance(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, "date", "note")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.text("date")
	r.text("note")
	return w.send(c, r, fiber.MethodPost, apiPatient(c, "/clearances"), "", "clearance",
		func(status int, f Form) error { return w.showClearance(c, status, in, f) })
}

type linkCodeView struct {
	Code, Scope, Expires string
	Form
}

func (w *dashboard) linkCodePage(c *fiber.Ctx) error {
	if err := onlyQuery(c); err != nil {
		return err
	}
	f := newForm()
	f.Values["scope"] = string(models.ScopeCare)
	return w.show(c, fiber.StatusOK, "linkcode", "Link a patient", "", linkCodeView{Form: f})
}

// linkCode makes a code for a patient to enter in the app, and shows it
// large, for reading out.
func (w *dashboard) linkCode(c *fiber.Ctx) error {
	vals, err := formOf(c, "scope")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.text("scope")
	again := func(status int, f Form) error {
		return w.show(c, status, "linkcode", "Link a patient", "", linkCodeView{Form: f})
	}
	reply, err := w.api.call(c, who(c).staff.ID, fiber.MethodPost, "/v1/clinic/link-codes", r.body, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		return w.refused(c, reply, r.Form, again)
	}
	var code struct {
		Code      string    `json:"code"`
		Scope     string    `json:"scope"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := reply.decode(&code); err != nil {
		return err
	}
	v := linkCodeView{Code: code.Code, Scope: code.Scope, Expires: code.ExpiresAt.In(who(c).loc).Format("Mon 2 Jan, 15:04"), Form: formWith(vals)}
	return w.show(c, fiber.StatusCreated, "linkcode", fmt.Sprintf("Link code %s", code.Code), "", v)
}
