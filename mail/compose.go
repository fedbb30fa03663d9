package mail

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/language"

	"github.com/backcare/backcare/models"
)

// Data is what a mail's template may show. Each kind uses some of it (see
// Compose); none of it is health data, and none may be: a mail can be read
// on a shared screen or by whoever holds the mailbox.
type Data struct {
	// Name is the recipient's name for the greeting; empty greets without
	// one.
	Name string
	// Link is the absolute URL the mail asks the recipient to open.
	Link string
	// Code is the 6-digit code of a password reset, for typing into the app.
	Code string
	// ValidFor is how long the link (and code) work.
	ValidFor time.Duration
	// Clinic and Inviter name the clinic and the staff member of an
	// invitation.
	Clinic  string
	Inviter string
	// NewAddress is the new address of an email_changed notice, masked
	// (see MaskAddress).
	NewAddress string
}

//go:embed templates
var templateFiles embed.FS

// fallbackLocale has a template for every kind; other locales fall back to it.
const fallbackLocale = "en"

// kinds are the mails there are templates for: all of models' kinds.
var kinds = []models.MailKind{
	models.MailPasswordReset, models.MailPasswordChanged, models.MailVerifyEmail,
	models.MailEmailChange, models.MailEmailChanged, models.MailStaffInvitation,
}

// templateSet is one kind's templates in one locale: "subject" and "text"
// from <kind>.txt (text/template), "html" from layout.html and <kind>.html
// (html/template, which escapes names and links for HTML).
type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates holds the sets by locale and kind, parsed once at start: a
// template that does not parse fails every test and the server's start, not
// a request.
var templates = parseTemplates()

func parseTemplates() map[string]map[models.MailKind]templateSet {
	dirs, err := templateFiles.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	all := map[string]map[models.MailKind]templateSet{}
	for _, dir := range dirs {
		locale := dir.Name()
		funcs := map[string]any{"duration": durationIn(locale)}
		all[locale] = map[models.MailKind]templateSet{}
		for _, kind := range kinds {
			base := "templates/" + locale + "/"
			text, err := texttemplate.New("").Funcs(funcs).ParseFS(templateFiles, base+string(kind)+".txt")
			if err != nil {
				if locale == fallbackLocale {
					panic(err)
				}
				continue
			}
			html := htmltemplate.Must(htmltemplate.New("").Funcs(funcs).ParseFS(templateFiles, base+"layout.html", base+string(kind)+".html"))
			all[locale][kind] = templateSet{text: text, html: html}
		}
	}
	return all
}

// durations say how long something lasts, in each locale's words; a
// locale without its own says it in English.
var durations = map[string]func(time.Duration) string{fallbackLocale: durationEnglish}

func durationIn(locale string) func(time.Duration) string {
	if f, ok := durations[locale]; ok {
		return f
	}
	return durationEnglish
}

// durationEnglish says "30 minutes", "1 hour", "7 days": links work for
// whole minutes, hours or days.
func durationEnglish(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(max(1, (d+time.Minute-1)/time.Minute)), "minute")
	}
}

// templatesFor returns kind's templates in locale's language, else in
// English.
func templatesFor(locale string, kind models.MailKind) (templateSet, bool) {
	if tag, err := language.Parse(locale); err == nil {
		base, _ := tag.Base()
		if set, ok := templates[base.String()][kind]; ok {
			return set, true
		}
	}
	set, ok := templates[fallbackLocale][kind]
	return set, ok
}

// Compose renders a mail of kind to the recipient `to` (named toName in
// its header) in locale's language (English when there is none for it yet)
// and returns it ready for store.EnqueueMail, the address lower-cased. What
// each kind needs of data:
//
//   - password_reset: Link, Code (6 digits), ValidFor
//   - password_changed: nothing; a Link, if given, is where to reset
//   - verify_email, email_change (to the new address): Link; ValidFor if
//     the link expires
//   - email_changed (to the old address): NewAddress (masked); a Link, if
//     given, is where to reset the password
//   - staff_invitation: Clinic, Link, ValidFor; Inviter if known
//
// It refuses (an ErrInvalid error) data a kind lacks, a link that is not
// an absolute http(s) URL, and what models.Mail.Validate refuses: an
// address or name that could add headers (a line break), an over-long name.
func Compose(kind models.MailKind, locale, to, toName string, data Data) (models.Mail, error) {
	set, ok := templatesFor(locale, kind)
	if !ok {
		return models.Mail{}, models.Errorf(models.ErrInvalid, "no mail of kind %q", kind)
	}
	if err := data.check(kind); err != nil {
		return models.Mail{}, err
	}
	// Addresses are kept lower-cased, as accounts keep them, so that the
	// mails to one account can be found by its address (on erasure).
	if normal, err := models.ValidateEmail(to); err == nil {
		to = normal
	}
	var subject, text, html strings.Builder
	if err := set.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return models.Mail{}, fmt.Errorf("compose %s subject: %w", kind, err)
	}
	if err := set.text.ExecuteTemplate(&text, "text", data); err != nil {
		return models.Mail{}, fmt.Errorf("compose %s text: %w", kind, err)
	}
	page := struct {
		Data
		Subject string
	}{data, subject.String()}
	if err := set.html.ExecuteTemplate(&html, "html", page); err != nil {
		return models.Mail{}, fmt.Errorf("compose %s html: %w", kind, err)
	}
	m := models.Mail{
		Kind: kind, To: to, ToName: toName,
		Subject: strings.TrimSpace(subject.String()), Text: strings.TrimSpace(text.String()) + "\n", HTML: html.String(),
	}
	return m, m.Validate()
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// check refuses data that kind's mail cannot be written without.
func (d Data) check(kind models.MailKind) error {
	probs := models.Problems{}
	needLink := kind != models.MailPasswordChanged && kind != models.MailEmailChanged
	if d.Link != "" || needLink {
		if u, err := url.Parse(d.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			probs.Add("link", "must be an absolute http(s) URL")
		}
	}
	switch kind {
	case models.MailPasswordReset:
		if !sixDigits.MatchString(d.Code) {
			probs.Add("code", "must be 6 digits")
		}
		if d.ValidFor <= 0 {
			probs.Add("valid_for", "is required")
		}
	case models.MailEmailChanged:
		if d.NewAddress == "" {
			probs.Add("new_address", "is required")
		}
	case models.MailStaffInvitation:
		if strings.TrimSpace(d.Clinic) == "" {
			probs.Add("clinic", "is required")
		}
		if d.ValidFor <= 0 {
			probs.Add("valid_for", "is required")
		}
	}
	return probs.Err()
}
