// Package web is the therapists' dashboard: server-rendered pages under
// /clinic/ for a massage therapist at a desk or a tablet between clients.
//
// It reads through the same store methods and models rules as the clinic
// API (the triage order, the MCID verdict and the authorization decision,
// models.MayAct, exist once), and it changes nothing itself: every form is
// sent to the clinic API in process (apiClient), so that a change from the
// dashboard is validated, re-plans reminders, notifies the patient and is
// audited exactly as one from a clinic's own tools.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
)

// Store is what the dashboard reads, and its own sessions.
type Store interface {
	CreateWebSession(ctx context.Context, ws models.WebSession) error
	WebSession(ctx context.Context, id string) (models.WebSession, error)
	TouchWebSession(ctx context.Context, ws models.WebSession) error
	DeleteWebSession(ctx context.Context, id string) error
	StaffByID(ctx context.Context, id string) (models.Staff, error)
	StaffOf(ctx context.Context, clinicID string) ([]models.Staff, error)
	InvitationsOf(ctx context.Context, clinicID string) ([]models.Invitation, error)
	Clinic(ctx context.Context, id string) (models.Clinic, error)
	ClinicsByID(ctx context.Context, ids []string) (map[string]models.Clinic, error)
	ActiveLink(ctx context.Context, patientID, clinicID string) (models.CareLink, error)
	ClinicPatients(ctx context.Context, clinicID string, since time.Time) ([]models.TriageInput, error)
	LinkedPatient(ctx context.Context, link models.CareLink, since time.Time) (models.TriageInput, error)
	NotesOf(ctx context.Context, patientID string, sessionIDs []string) (map[string]models.SessionNote, error)
	ListMessages(ctx context.Context, linkID string, after *models.PainLogCursor, limit int) ([]models.Message, *models.PainLogCursor, error)
	ClinicMessages(ctx context.Context, clinicID string, since time.Time) ([]models.Message, error)
	AppendAudits(ctx context.Context, entries []models.AuditEntry) error
}

// Deps are what the dashboard needs from the rest of the program.
type Deps struct {
	Store  Store
	Signer *auth.Signer
	Logger *slog.Logger
	// Now is the clock; every rule asks it rather than time.Now.
	Now func() time.Time
	// BaseURL decides the cookie's attributes: Secure and the __Host-
	// prefix when it is https.
	BaseURL string
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Mount adds the dashboard's routes to app, which serves the clinic API
// the dashboard sends its changes to.
func Mount(app *fiber.App, d Deps) {
	w := &dashboard{
		store: d.Store, logger: d.Logger, now: d.Now, pages: parsePages(),
		cookies: newCookies(d.BaseURL),
		api:     apiClient{signer: d.Signer, now: d.Now},
	}
	static, _ := fs.Sub(staticFiles, "static")
	app.Get("/clinic/static/:file", serveStatic(static))
	for _, r := range w.routes() {
		handlers := []fiber.Handler{w.headers}
		if r.signedIn {
			handlers = append(handlers, w.requireSession)
		}
		if r.method == fiber.MethodPost {
			handlers = append(handlers, w.checkCSRF)
		}
		app.Add(r.method, r.path, append(handlers, w.render(r.page))...)
	}
	app.All("/clinic/*", w.headers, w.render(func(c *fiber.Ctx) error { return errNotFound }))
	w.api.api = app.Handler()
}

type page func(c *fiber.Ctx) error

type webRoute struct {
	method   string
	path     string
	signedIn bool
	page     page
}

// routes lists every page and form of the dashboard.
func (w *dashboard) routes() []webRoute {
	return []webRoute{
		{fiber.MethodGet, "/clinic/login", false, w.loginPage},
		{fiber.MethodPost, "/clinic/login", false, w.login},
		{fiber.MethodPost, "/clinic/logout", true, w.logout},

		// The pages of the links the API mails, and the request of a
		// reset; the patients' open on a computer rather than in the app.
		{fiber.MethodGet, "/clinic/forgot", false, w.forgotPage},
		{fiber.MethodPost, "/clinic/forgot", false, w.forgot},
		{fiber.MethodGet, "/clinic/reset", false, withTokenScript(w.resetPage(staffPages))},
		{fiber.MethodPost, "/clinic/reset", false, withTokenScript(w.reset(staffPages))},
		{fiber.MethodGet, "/clinic/verify-email", false, withTokenScript(w.verifyPage(staffPages))},
		{fiber.MethodPost, "/clinic/verify-email", false, withTokenScript(w.verify(staffPages))},
		{fiber.MethodGet, "/clinic/invitation", false, withTokenScript(w.invitationPage)},
		{fiber.MethodPost, "/clinic/invitation", false, withTokenScript(w.invitation)},
		{fiber.MethodGet, "/reset", false, withTokenScript(w.resetPage(patientPages))},
		{fiber.MethodPost, "/reset", false, withTokenScript(w.reset(patientPages))},
		{fiber.MethodGet, "/verify-email", false, withTokenScript(w.verifyPage(patientPages))},
		{fiber.MethodPost, "/verify-email", false, withTokenScript(w.verify(patientPages))},

		{fiber.MethodGet, "/clinic/", true, w.todayPage},
		{fiber.MethodGet, "/clinic/patients", true, w.patientsPage},
		{fiber.MethodGet, "/clinic/messages", true, w.inboxPage},
		{fiber.MethodGet, "/clinic/patients/:id", true, w.patientPage},
		{fiber.MethodGet, "/clinic/patients/:id/sessions/new", true, w.bookPage},
		{fiber.MethodPost, "/clinic/patients/:id/sessions", true, w.book},
		{fiber.MethodGet, "/clinic/patients/:id/sessions/:sid", true, w.sessionPage},
		{fiber.MethodPost, "/clinic/patients/:id/sessions/:sid", true, w.reschedule},
		{fiber.MethodPost, "/clinic/patients/:id/sessions/:sid/status", true, w.sessionStatus},
		{fiber.MethodPost, "/clinic/patients/:id/sessions/:sid/complete", true, w.complete},
		{fiber.MethodPost, "/clinic/patients/:id/sessions/:sid/note", true, w.note},
		{fiber.MethodGet, "/clinic/patients/:id/plan", true, w.planPage},
		{fiber.MethodPost, "/clinic/patients/:id/plan", true, w.plan},
		{fiber.MethodPost, "/clinic/patients/:id/plan/status", true, w.planStatus},
		{fiber.MethodGet, "/clinic/patients/:id/clearance", true, w.clearancePage},
		{fiber.MethodPost, "/clinic/patients/:id/clearance", true, w.clearance},
		{fiber.MethodPost, "/clinic/patients/:id/messages", true, w.message},
		{fiber.MethodGet, "/clinic/link-code", true, w.linkCodePage},
		{fiber.MethodPost, "/clinic/link-code", true, w.linkCode},

		{fiber.MethodGet, "/clinic/settings", true, w.settingsPage},
		{fiber.MethodPost, "/clinic/settings", true, w.settings},
		{fiber.MethodPost, "/clinic/settings/invitations", true, w.invite},
		{fiber.MethodPost, "/clinic/settings/invitations/:iid/revoke", true, w.revokeInvitation},
		{fiber.MethodPost, "/clinic/settings/invitations/:iid/resend", true, w.resendInvitation},
		{fiber.MethodPost, "/clinic/settings/staff/:stid", true, w.staffActive},
	}
}

type dashboard struct {
	store   Store
	logger  *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	cookies cookies
	api     apiClient
}

// contentPolicy allows this origin's stylesheet and images and nothing
// else: no script at all, no framing, forms only to this origin.
const contentPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// tokenPagePolicy is the policy of the pages a mailed link opens: they
// also run this origin's token.js, which moves the link's token from the
// fragment into the form. No other page runs any script.
const tokenPagePolicy = contentPolicy + "; script-src 'self'"

// headers are on every page: none of them may be cached (they carry
// health data, or a form's token), framed, or sniffed.
func (w *dashboard) headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentSecurityPolicy, contentPolicy)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set("X-Robots-Tag", "noindex")
	return c.Next()
}

// staticTypes are the kinds of file served from static/.
var staticTypes = map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

// serveStatic serves the stylesheet and token.js: no health data, so they
// may be cached.
func serveStatic(files fs.FS) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := c.Params("file")
		b, err := fs.ReadFile(files, name)
		kind, ok := staticTypes[path.Ext(name)]
		if err != nil || !ok {
			return c.Status(fiber.StatusNotFound).SendString("not found")
		}
		c.Set(fiber.HeaderContentType, kind)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(b)
	}
}

// localPath returns next when it is a dashboard path, else the today
// page: a sign-in never sends the browser to another site.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/clinic/") || strings.HasPrefix(next, "//") {
		return "/clinic/"
	}
	return u.RequestURI()
}

// summaryOf draws the visit summary of one linked patient over the last
// chartDays days of the clinic's calendar. The progress against the
// baseline is the triage's (models.Triage), over the same 90 days.
func summaryOf(in models.TriageInput, loc *time.Location, now time.Time) (visit.Summary, error) {
	today := models.LocalDateOf(now, loc)
	t, _ := time.Parse(time.DateOnly, today)
	from := t.AddDate(0, 0, -(chartDays - 1)).Format(time.DateOnly)
	ins, err := models.ComputeInsights(models.InsightsInput{
		From: from, To: today, Today: today, Logs: in.Logs, Sessions: in.Sessions, Plan: in.Plan, Reminders: in.Reminders,
		Responses: in.Responses, Loc: in.Patient.Location(),
	})
	if err != nil {
		return visit.Summary{}, err
	}
	return visit.Summarize(visit.Input{Patient: in.Patient, Logs: in.Logs, Sessions: in.Sessions, Plan: in.Plan, Loc: loc}, ins, from, today, now), nil
}

// chartDays is how far back the patient page looks.
const chartDays = 90
