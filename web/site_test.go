package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/api/apitest"
	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/handlers"
	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// siteNow is the tests' clock: Tuesday 24 November 2026, 15:00 UTC.
var siteNow = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

// cheapPasswords make the tests' hashes cheap; the production costs are
// tested in package auth and by the tests through run.
var cheapPasswords = auth.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

var roomy = handlers.RouteLimits{PerIP: handlers.RateLimit{Requests: 100_000, Window: time.Hour}, PerAccount: handlers.RateLimit{Requests: 100_000, Window: time.Hour}}

const staffPassword = "a long passphrase"

// site is the API and the dashboard on a fresh database, as run serves
// them, with the clock s.now.
type site struct {
	t     *testing.T
	app   *fiber.App
	store *store.Store
	// db is the store's database, for what no store method reads: the
	// mails queued in the outbox.
	db  *mongo.Database
	mu  sync.Mutex
	now time.Time
}

func newSite(t *testing.T, baseURL string) *site {
	t.Helper()
	return newSiteWithLimits(t, baseURL, handlers.RateLimits{Register: roomy, Login: roomy, Refresh: roomy, Device: roomy, LinkCode: roomy})
}

// newSiteWithLimits is a site whose API has the rate limits limits.
func newSiteWithLimits(t *testing.T, baseURL string, limits handlers.RateLimits) *site {
	t.Helper()
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.NewDatabase(t)
	s := &site{t: t, store: storetest.New(db), db: db, now: siteNow}
	// Errors go to the test's log: a 500 page says nothing of its cause.
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	now := s.clock
	// The API's answers to the dashboard's calls, as to any caller's,
	// must be ones the spec lists.
	registry := prometheus.NewRegistry()
	t.Cleanup(func() {
		answered, err := apitest.FromGatherer(registry)
		if err != nil {
			t.Fatal(err)
		}
		apitest.Check(t, answered)
	})
	s.app = handlers.NewServer(handlers.Deps{
		Store: s.store, Signer: signer, Logger: logger, Registry: registry, Now: now, PasswordParams: cheapPasswords,
		Planner: jobs.NewMaterializer(jobs.MaterializeConfig{Store: s.store, Logger: logger}), BaseURL: baseURL,
		RateLimits: limits,
	})
	Mount(s.app, Deps{Store: s.store, Signer: signer, Logger: logger, Now: now, BaseURL: baseURL})
	return s
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (s *site) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *site) setClock(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t
}

type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// api calls the JSON API as token.
func (s *site) api(method, path, token string, body any) reply {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(req)
}

func (s *site) send(req *http.Request) reply {
	s.t.Helper()
	resp, err := s.app.Test(req, 30_000)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: b, header: resp.Header}
}

func (s *site) must(want int, r reply, what string) reply {
	s.t.Helper()
	if r.status != want {
		s.t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	return r
}

// clinic is a clinic's accounts: its owner and a therapist.
type clinic struct {
	id, ownerEmail, ownerToken, therapistEmail, therapistToken, therapistID string
}

func (s *site) signupClinic(slug, timezone string) clinic {
	s.t.Helper()
	c := clinic{ownerEmail: "owner@" + slug + ".example", therapistEmail: "therapist@" + slug + ".example"}
	r := s.must(201, s.api("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": "Clinic " + slug, "timezone": timezone, "name": "Owner " + slug, "email": c.ownerEmail, "password": staffPassword,
	}), "clinic signup")
	c.ownerToken = r.json(s.t)["access_token"].(string)
	c.id = s.api("GET", "/v1/clinic", c.ownerToken, nil).json(s.t)["id"].(string)
	inv := s.must(201, s.api("POST", "/v1/clinic/invitations", c.ownerToken, map[string]any{"email": c.therapistEmail, "role": "therapist"}), "invite")
	acc := s.must(201, s.api("POST", "/v1/clinic/invitations/accept", "", map[string]any{
		"token": inv.json(s.t)["token"], "name": "Therapist " + slug, "password": staffPassword,
	}), "accept")
	c.therapistToken = acc.json(s.t)["access_token"].(string)
	c.therapistID = s.api("GET", "/v1/clinic/me", c.therapistToken, nil).json(s.t)["id"].(string)
	return c
}

// patient signs a patient up and answers the screening (no yes unless
// given); it returns their access token and id.
func (s *site) patient(email, name, timezone string, yes ...models.Contraindication) (token, id string) {
	s.t.Helper()
	r := s.must(201, s.api("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "correct horse battery", "name": name, "timezone": timezone,
	}), "register")
	token = r.json(s.t)["access_token"].(string)
	answers := map[string]any{}
	for _, c := range models.Contraindications {
		answers[string(c)] = false
	}
	for _, c := range yes {
		answers[string(c)] = true
	}
	s.must(201, s.api("POST", "/v1/screening", token, map[string]any{"answers": answers}), "screening")
	p, err := s.store.PatientByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	// Joining a clinic needs a verified address; the handlers' tests go
	// through the mailed link, these set it as the link would.
	if err := s.store.VerifyPatientEmail(context.Background(), p.ID, p.Email, s.now); err != nil {
		s.t.Fatal(err)
	}
	return token, p.ID
}

// link joins the patient to the staff member's clinic with scope; it
// returns the care link's id.
func (s *site) link(staffToken, patientToken, scope string) string {
	s.t.Helper()
	code := s.must(201, s.api("POST", "/v1/clinic/link-codes", staffToken, map[string]any{"scope": scope}), "link code").json(s.t)["code"]
	return s.must(201, s.api("POST", "/v1/care-team", patientToken, map[string]any{"code": code}), "join").json(s.t)["id"].(string)
}

// logs stores one log a day for days days ending endAgo days ago,
// score(i) on day i (0 the oldest), with red flags on the days flagged says.
func (s *site) logs(patientID string, endAgo, days int, score func(i int) int, flagged func(i int) bool) {
	s.t.Helper()
	for i := range days {
		at := s.clock().AddDate(0, 0, i-days+1-endAgo).Add(-3 * time.Hour)
		l := models.PainLog{
			ID: models.PainLogDocID(patientID, fmt.Sprintf("00000000-0000-4000-8000-%012d", i)), PatientID: patientID,
			LoggedAt: at, LocalDate: models.LocalDateOf(at, time.UTC), Score: score(i), CreatedAt: at, UpdatedAt: at,
		}
		if flagged != nil && flagged(i) {
			l.RedFlags = []models.RedFlag{models.RedFlags[0]}
		}
		if _, _, err := s.store.PutPainLog(context.Background(), l); err != nil {
			s.t.Fatal(err)
		}
	}
}

// client is a browser without a browser: it keeps cookies and sends each
// form with the session's CSRF token, as the pages do.
type client struct {
	s       *site
	cookies map[string]string
	csrf    string
	header  http.Header
}

func (s *site) client() *client {
	return &client{s: s, cookies: map[string]string{}, header: http.Header{}}
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (cl *client) do(method, path string, form url.Values) reply {
	cl.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	for k, v := range cl.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	r := cl.s.send(req)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(cl.cookies, c.Name)
		} else {
			cl.cookies[c.Name] = c.Value
		}
	}
	if m := csrfInput.FindSubmatch(r.body); m != nil {
		cl.csrf = string(m[1])
	}
	return r
}

func (cl *client) get(path string) reply { return cl.do("GET", path, nil) }

// post sends a form with the token of the last page read.
func (cl *client) post(path string, form url.Values) reply {
	cl.s.t.Helper()
	f := url.Values{csrfField: {cl.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return cl.do("POST", path, f)
}

// signIn is a client signed in to the dashboard as email.
func (s *site) signIn(email string) *client {
	s.t.Helper()
	cl := s.client()
	cl.get("/clinic/login")
	r := cl.post("/clinic/login", url.Values{"email": {email}, "password": {staffPassword}, "next": {"/clinic/"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/clinic/" {
		s.t.Fatalf("sign-in as %s: %d %s", email, r.status, r.body)
	}
	if r := cl.get("/clinic/"); r.status != http.StatusOK {
		s.t.Fatalf("the today page after sign-in: %d", r.status)
	}
	return cl
}

// mailed is the newest mail of kind queued to address, and the token of
// its link to page (as "/clinic/reset"): the mail a person would open.
func (s *site) mailed(address string, kind models.MailKind, page string) (models.Mail, string) {
	s.t.Helper()
	cur, err := s.db.Collection("mail_outbox").Find(context.Background(), bson.D{{Key: "to", Value: address}, {Key: "kind", Value: kind}})
	if err != nil {
		s.t.Fatal(err)
	}
	var mails []models.Mail
	if err := cur.All(context.Background(), &mails); err != nil {
		s.t.Fatal(err)
	}
	if len(mails) == 0 {
		s.t.Fatalf("no %s mail to %s", kind, address)
	}
	m := mails[len(mails)-1]
	found := regexp.MustCompile(regexp.QuoteMeta(page+"#") + `([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Text)
	if found == nil {
		s.t.Fatalf("no %s link in the %s mail:\n%s", page, kind, m.Text)
	}
	return m, found[1]
}
