package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

// TestFormsRefuseBadInput sends every form something it must refuse: the
// page comes back with the field's error beside the field, what was typed
// still in it, and nothing written.
func TestFormsRefuseBadInput(t *testing.T) {
	t.Parallel()
	f := newAuthzFixture(t)
	s := f.s
	completed := s.must(201, s.api("POST", "/v1/clinic/patients/"+f.care+"/sessions", f.calm.therapistToken, map[string]any{
		"scheduled_at": siteNow.Add(-50 * time.Hour).Format(time.RFC3339), "duration_minutes": 60}), "book").json(t)["id"].(string)
	s.must(200, s.api("POST", "/v1/clinic/patients/"+f.care+"/sessions/"+completed+"/complete", f.calm.therapistToken, map[string]any{}), "complete")
	owner := s.signIn(f.calm.ownerEmail)
	before := f.state(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	patient := "/clinic/patients/" + f.care
	for _, tc := range []struct {
		name, path string
		form       url.Values
		// field is the input whose error shows, want the error's text and
		// kept a value typed that the page shows again ("" for none).
		field, want, kept string
	}{
		{"a booking without a time", patient + "/sessions", url.Values{"scheduled_at": {"tomorrow"}, "duration_minutes": {"60"}, "therapist": {"Sam Lee"}}, "scheduled_at", "Enter a date and a time", "Sam Lee"},
		{"a booking of 500 minutes", patient + "/sessions", url.Values{"scheduled_at": {"2026-12-01T10:00"}, "duration_minutes": {"500"}, "therapist": {"Sam Lee"}}, "duration_minutes", "Must be from", "Sam Lee"},
		{"a booking of no length", patient + "/sessions", url.Values{"scheduled_at": {"2026-12-01T10:00"}, "duration_minutes": {"an hour"}, "therapist": {"Sam Lee"}}, "duration_minutes", "Enter a whole number", "2026-12-01T10:00"},
		{"a booking years ahead", patient + "/sessions", url.Values{"scheduled_at": {"2031-01-06T10:00"}, "duration_minutes": {"60"}, "therapist": {"Sam Lee"}}, "scheduled_at", "years ahead", "2031-01-06T10:00"},
		{"a therapist's name of 300 letters", patient + "/sessions", url.Values{"scheduled_at": {"2026-12-01T10:00"}, "duration_minutes": {"60"}, "therapist": {long(300)}}, "therapist", "at most", ""},
		{"a move to no time", patient + "/sessions/" + f.session, url.Values{"scheduled_at": {""}, "duration_minutes": {"60"}, "therapist": {"Sam Lee"}}, "scheduled_at", "Enter a date and a time", "Sam Lee"},
		{"a shared note without a summary", patient + "/sessions/" + f.session + "/complete", url.Values{"subjective": {"Sore after gardening"}, "shared": {"on"}}, "summary", "required when the note is shared", "Sore after gardening"},
		{"a note with an unknown pressure", patient + "/sessions/" + f.session + "/complete", url.Values{"subjective": {"Sore after gardening"}, "pressure": {"crushing"}}, "pressure", "light, medium, firm or deep", "Sore after gardening"},
		{"a note on an unknown area", patient + "/sessions/" + f.session + "/complete", url.Values{"subjective": {"Sore"}, "areas_treated[]": {"tail"}}, "areas_treated[]", "", "Sore"},
		{"a note of 21 techniques", patient + "/sessions/" + f.session + "/complete", url.Values{"techniques": {strings.Repeat("x, ", 21)}}, "techniques", "at most 20", ""},
		{"an edited note with a summary too long", patient + "/sessions/" + completed + "/note", url.Values{"subjective": {"Better"}, "summary": {long(1001)}}, "summary", "at most", "Better"},
		{"a plan of ten weekly sessions in words", patient + "/plan", url.Values{"initial_sessions": {"ten"}, "home_care": {"Heat each evening"}}, "initial_sessions", "Enter a whole number", "Heat each evening"},
		{"a plan of 9 weekly sessions", patient + "/plan", url.Values{"initial_sessions": {"9"}, "effective_from": {"2026-11-24"}}, "initial_sessions", "Must be", ""},
		{"maintenance every 7 weeks", patient + "/plan", url.Values{"maintenance": {"7"}, "effective_from": {"2026-11-24"}}, "maintenance", "Must be", ""},
		{"a time of 25:00", patient + "/plan", url.Values{"preferred_time": {"25:00"}, "effective_from": {"2026-11-24"}}, "preferred_time", "", "25:00"},
		{"home care too long", patient + "/plan", url.Values{"home_care": {long(2001)}}, "home_care", "at most", ""},
		{"a change from no date", patient + "/plan", url.Values{"initial_sessions": {"5"}, "effective_from": {"soon"}}, "effective_from", "", "soon"},
		{"a clearance without a date", patient + "/clearance", url.Values{"date": {"last week"}, "note": {"GP letter seen"}}, "date", "", "GP letter seen"},
		{"a link code for everything", "/clinic/link-code", url.Values{"scope": {"everything"}}, "scope", "", ""},
		{"a window of 9999 hours", "/clinic/settings", url.Values{"cancellation_hours": {"9999"}}, "cancellation_hours", "Must be from 0", "9999"},
		{"a window in words", "/clinic/settings", url.Values{"cancellation_hours": {"a day"}}, "cancellation_hours", "Enter a whole number", "a day"},
		{"an invitation to no address", "/clinic/settings/invitations", url.Values{"email": {"not-an-address"}, "role": {"therapist"}}, "email", "", "not-an-address"},
		{"an invitation with a header in it", "/clinic/settings/invitations", url.Values{"email": {"a@b.example\r\nBcc: all@b.example"}, "role": {"therapist"}}, "email", "", ""},
		{"an invitation to be the boss", "/clinic/settings/invitations", url.Values{"email": {"new@calm.example"}, "role": {"boss"}}, "role", "", "new@calm.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := owner.post(tc.path, tc.form)
			body := string(got.body)
			if got.status != http.StatusBadRequest {
				t.Fatalf("%d, want 400: %s", got.status, body)
			}
			if !strings.Contains(body, `name="`+tc.field+`"`) || !fieldShowsError(body, tc.field) {
				t.Errorf("the field %s does not show its error; the page says %q", tc.field, errorsShown.FindAllString(body, -1))
			}
			if !strings.Contains(body, html.EscapeString(tc.want)) {
				t.Errorf("the page does not say %q", tc.want)
			}
			if tc.kept != "" && !strings.Contains(body, html.EscapeString(tc.kept)) {
				t.Errorf("what was typed, %q, is gone", tc.kept)
			}
		})
	}
	// Posts that are not the page's form at all: a page that says so.
	for name, tc := range map[string]struct {
		path string
		form url.Values
	}{
		"a field the form does not have":  {patient + "/sessions", url.Values{"scheduled_at": {"2026-12-01T10:00"}, "duration_minutes": {"60"}, "patient_id": {f.view}}},
		"a field twice":                   {patient + "/clearance", url.Values{"date": {"2026-11-20", "2026-11-21"}}},
		"an action it does not have":      {patient + "/sessions/" + f.session + "/status", url.Values{"action": {"delete"}}},
		"a plan action it does not have":  {patient + "/plan/status", url.Values{"action": {"restart"}}},
		"a staff change it does not have": {"/clinic/settings/staff/" + f.calm.therapistID, url.Values{"active": {"maybe"}}},
		"a query on a form":               {patient + "/clearance?as=admin", url.Values{"date": {"2026-11-20"}}},
	} {
		if got := owner.post(tc.path, tc.form); got.status != http.StatusBadRequest || !strings.Contains(string(got.body), "That request was not understood") {
			t.Errorf("%s: %d", name, got.status)
		}
	}
	if after := f.state(t); after != before {
		t.Errorf("a refused form changed something:\nbefore %s\nafter  %s", before, after)
	}
}

var errorsShown = regexp.MustCompile(`(class="error"|id="form-error")>[^<]*`)

// fieldShowsError reports whether the input named field sits in a block
// marked with its error.
func fieldShowsError(page, field string) bool {
	i := strings.Index(page, `name="`+field+`"`)
	if i < 0 {
		return false
	}
	start := strings.LastIndex(page[:i], `class="field-error"`)
	return start >= 0 && strings.Contains(page[start:min(len(page), i+5000)], `class="error"`)
}

func TestSessionCookieAndEnds(t *testing.T) {
	t.Parallel()
	s := newSite(t, "https://backcare.test")
	c := s.signupClinic("calm", "UTC")
	cl := s.client()
	cl.get("/clinic/login")
	r := cl.post("/clinic/login", url.Values{"email": {c.therapistEmail}, "password": {staffPassword}, "next": {"/clinic/patients"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/clinic/patients" {
		t.Fatalf("sign-in: %d %s", r.status, r.header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, k := range (&http.Response{Header: r.header}).Cookies() {
		if k.Name == "__Host-backcare_session" {
			cookie = k
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Fatalf("the session cookie: %+v", cookie)
	}
	ws, err := s.store.WebSession(context.Background(), auth.HashOpaqueToken(cookie.Value))
	if err != nil || ws.StaffID != c.therapistID || ws.ID == cookie.Value {
		t.Fatalf("the stored session %+v (%v): it is kept by the token's hash", ws, err)
	}
	if r := cl.get("/clinic/patients"); r.status != http.StatusOK {
		t.Fatalf("signed in: %d", r.status)
	}
	// Used every 11 hours it lasts; 12 hours idle ends it.
	for h := 11; h < 7*24; h += 11 {
		s.setClock(siteNow.Add(time.Duration(h) * time.Hour))
		if r := cl.get("/clinic/"); r.status != http.StatusOK {
			t.Fatalf("used after %d h: %d", h, r.status)
		}
	}
	s.setClock(siteNow.Add(7 * 24 * time.Hour))
	if r := cl.get("/clinic/"); r.status != http.StatusSeeOther {
		t.Fatalf("7 days after sign-in: %d, want the sign-in page", r.status)
	}
	s.setClock(siteNow)
	idle := s.signIn(c.therapistEmail)
	s.setClock(siteNow.Add(models.WebSessionIdle))
	if r := idle.get("/clinic/"); r.status != http.StatusSeeOther {
		t.Fatalf("12 h idle: %d, want the sign-in page", r.status)
	}
	// Signing out ends the session on the server, not only in the browser.
	s.setClock(siteNow.Add(13 * time.Hour))
	out := s.signIn(c.therapistEmail)
	token := out.cookies["__Host-backcare_session"]
	out.get("/clinic/")
	if r := out.post("/clinic/logout", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/clinic/login" {
		t.Fatalf("sign-out: %d %s", r.status, r.header.Get("Location"))
	}
	replay := s.client()
	replay.cookies["__Host-backcare_session"] = token
	if r := replay.get("/clinic/"); r.status != http.StatusSeeOther {
		t.Fatalf("the signed-out cookie replayed: %d", r.status)
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://localhost:8080")
	c := s.signupClinic("calm", "UTC")
	cl := s.client()
	cl.get("/clinic/login")
	if _, ok := cl.cookies["backcare_signin"]; !ok {
		t.Fatalf("on plain http the cookies have no __Host- prefix: %v", cl.cookies)
	}
	r := cl.post("/clinic/login", url.Values{"email": {c.therapistEmail}, "password": {"wrong password here"}, "next": {"/clinic/"}})
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "do not match") || !strings.Contains(string(r.body), c.therapistEmail) {
		t.Fatalf("a wrong password: %d, want the form again with the email kept", r.status)
	}
	if strings.Contains(string(r.body), "wrong password here") {
		t.Fatal("the password typed is shown again")
	}
	// Without the sign-in form's cookie, a posted sign-in is a forgery.
	forged := s.client()
	forged.csrf = "guessed"
	if r := forged.post("/clinic/login", url.Values{"email": {c.therapistEmail}, "password": {staffPassword}}); r.status != http.StatusForbidden {
		t.Fatalf("a sign-in without the form's token: %d", r.status)
	}
	// A next that leaves the dashboard is replaced by the today page.
	for _, next := range []string{"https://evil.example/", "//evil.example/clinic/", "/v1/me", "javascript:alert(1)"} {
		cl := s.client()
		cl.get("/clinic/login")
		r := cl.post("/clinic/login", url.Values{"email": {c.ownerEmail}, "password": {staffPassword}, "next": {next}})
		if r.header.Get("Location") != "/clinic/" {
			t.Errorf("next %q sent the browser to %q", next, r.header.Get("Location"))
		}
	}
	// The clinic API's lockout applies to the dashboard's sign-in.
	for range 6 {
		cl.post("/clinic/login", url.Values{"email": {c.ownerEmail}, "password": {"not the one"}})
	}
	if r := cl.post("/clinic/login", url.Values{"email": {c.ownerEmail}, "password": {staffPassword}}); r.status == http.StatusSeeOther {
		t.Fatal("the right password after 6 wrong ones signed in: no lockout")
	}
}

func TestEveryPageHasTheHeaders(t *testing.T) {
	t.Parallel()
	f := newAuthzFixture(t)
	owner := f.s.signIn(f.calm.ownerEmail)
	// The pages of mailed links, and only they, run token.js.
	tokenPages := []string{"/clinic/reset", "/clinic/verify-email", "/clinic/invitation", "/reset", "/verify-email"}
	const tokenScript = `<script src="/clinic/static/token.js" defer></script>`
	for _, r := range (&dashboard{}).routes() {
		if r.method != "GET" {
			continue
		}
		got := owner.get(f.path(r.path, f.care))
		h, body := got.header, string(got.body)
		policy, scripts := contentPolicy, 0
		if slices.Contains(tokenPages, r.path) {
			policy, scripts = tokenPagePolicy, 1
		}
		if got.status != http.StatusOK || h.Get("Cache-Control") != "no-store" || h.Get("Content-Security-Policy") != policy || h.Get("X-Frame-Options") != "DENY" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d, headers %v", r.path, got.status, h)
		}
		if strings.Count(body, "<script") != scripts || strings.Count(body, tokenScript) != scripts || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("%s has a script or style the policy refuses, or lacks token.js", r.path)
		}
	}
	if !strings.Contains(contentPolicy, "frame-ancestors 'none'") || strings.Contains(contentPolicy, "script-src") || !strings.HasSuffix(tokenPagePolicy, "; script-src 'self'") {
		t.Errorf("the policies %q, %q", contentPolicy, tokenPagePolicy)
	}
	for file, kind := range map[string]string{"style.css": "text/css", "token.js": "text/javascript"} {
		got := owner.get("/clinic/static/" + file)
		if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), kind) || got.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %s", file, got.status, got.header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/clinic/static/../templates/layout.html", "/clinic/static/mailpages.go"} {
		if r := owner.get(p); r.status != http.StatusNotFound {
			t.Errorf("%s through the static route: %d", p, r.status)
		}
	}
}

// TestNoteEditOnTopOfWhatWasRead: two therapists open the same note; the
// second to save is told, and neither edit vanishes unseen.
func TestNoteEditOnTopOfWhatWasRead(t *testing.T) {
	t.Parallel()
	f := newAuthzFixture(t)
	s := f.s
	owner, therapist := s.signIn(f.calm.ownerEmail), s.signIn(f.calm.therapistEmail)
	page := "/clinic/patients/" + f.care + "/sessions/" + f.session
	// Completed without a note: no note is written.
	if r := owner.post(page+"/complete", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if ss := clinicSession(t, f); ss["status"] != "completed" || ss["note"] != nil {
		t.Fatalf("an empty completion: %v, want completed without a note", ss)
	}
	owner.post(page+"/note", url.Values{"subjective": {"First words"}, "version": {""}})
	owner.get(page)
	ownerVersion := noteVersion.FindStringSubmatch(string(owner.get(page).body))
	therapist.get(page)
	if r := therapist.post(page+"/note", url.Values{"subjective": {"The therapist's edit"}, "version": {ownerVersion[1]}}); r.status != http.StatusSeeOther {
		t.Fatalf("the first edit: %d", r.status)
	}
	r := owner.post(page+"/note", url.Values{"subjective": {"The owner's late edit"}, "version": {ownerVersion[1]}})
	if r.status != http.StatusPreconditionFailed || !strings.Contains(string(r.body), "Someone changed this") || !strings.Contains(string(r.body), "The owner&#39;s late edit") {
		t.Fatalf("an edit on top of an old version: %d, want the form again with a notice and the text kept; it says %q", r.status, errorsShown.FindAllString(string(r.body), -1))
	}
	note, _ := clinicSession(t, f)["note"].(map[string]any)
	if note["subjective"] != "The therapist's edit" || len(note["revisions"].([]any)) != 1 {
		t.Errorf("the note kept %v", note)
	}
}

// clinicSession is the fixture's session as the clinic API lists it.
func clinicSession(t *testing.T, f authzFixture) map[string]any {
	t.Helper()
	for _, it := range f.s.api("GET", "/v1/clinic/patients/"+f.care+"/sessions", f.calm.ownerToken, nil).json(t)["items"].([]any) {
		if ss := it.(map[string]any); ss["id"] == f.session {
			return ss
		}
	}
	t.Fatalf("session %s is not listed", f.session)
	return nil
}

var noteVersion = regexp.MustCompile(`name="version" value="([0-9]+)"`)
