package web

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/handlers"
	"github.com/backcare/backcare/models"
)

// TestMailPagesRefuseBadInput sends each mailed link's form what it must
// refuse: the page comes back with the error beside the field, what was
// typed kept (never a password), and nothing changed — the reset's link
// still works at the end. A rate limit shows beside the field it is about.
func TestMailPagesRefuseBadInput(t *testing.T) {
	t.Parallel()
	few := func(n int) handlers.RouteLimits {
		return handlers.RouteLimits{PerIP: roomy.PerIP, PerAccount: handlers.RateLimit{Requests: n, Window: time.Hour}}
	}
	s := newSiteWithLimits(t, "https://backcare.test", handlers.RateLimits{Register: roomy, Login: roomy, Refresh: roomy, Device: roomy, LinkCode: roomy,
		Mail: few(3), ResetConfirm: few(2)})
	c := s.signupClinic("calm", "UTC")
	s.must(202, s.api("POST", "/v1/clinic/auth/password-reset", "", map[string]any{"email": c.therapistEmail}), "reset")
	_, reset := s.mailed(c.therapistEmail, models.MailPasswordReset, "/clinic/reset")
	s.must(201, s.api("POST", "/v1/clinic/invitations", c.ownerToken, map[string]any{"email": "new@calm.example", "role": "therapist"}), "invite")
	_, invitation := s.mailed("new@calm.example", models.MailStaffInvitation, "/clinic/invitation")
	state := func() string {
		return string(s.api("GET", "/v1/clinic/staff", c.ownerToken, nil).body) + string(s.api("GET", "/v1/clinic/invitations", c.ownerToken, nil).body)
	}
	before := state()
	const pw, other = "a new long passphrase", "another long passphrase"
	unknown := strings.Repeat("x", 43)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		// field is the input whose error shows, want the error's text and
		// kept a value typed that the page shows again ("" for none).
		field, want, kept string
	}{
		{"new passwords that differ", "/clinic/reset", url.Values{"token": {reset}, "password": {pw}, "password_again": {other}}, 400, "password_again", "The two passwords differ", reset},
		{"a short password", "/clinic/reset", url.Values{"token": {reset}, "password": {"short"}, "password_again": {"short"}}, 400, "password", "at least 10 characters", reset},
		{"a link that does not work", "/clinic/reset", url.Values{"token": {unknown}, "password": {pw}, "password_again": {pw}}, 400, "token", "does not work", ""},
		{"a staff link on the patients' page", "/reset", url.Values{"token": {reset}, "password": {pw}, "password_again": {pw}}, 400, "token", "does not work", ""},
		{"a wrong code", "/clinic/reset", url.Values{"email": {c.therapistEmail}, "code": {"000000"}, "password": {pw}, "password_again": {pw}}, 400, "code", "is wrong or has expired", c.therapistEmail},
		{"a code of letters", "/clinic/reset", url.Values{"email": {c.therapistEmail}, "code": {"abcdef"}, "password": {pw}, "password_again": {pw}}, 400, "code", "6 digits", "abcdef"},
		{"a code without an address", "/reset", url.Values{"email": {"nobody"}, "code": {"123456"}, "password": {pw}, "password_again": {pw}}, 400, "email", "email address", "nobody"},
		{"a verify link that does not work", "/verify-email", url.Values{"token": {unknown}}, 400, "token", "does not work", ""},
		{"a verify page without its link", "/clinic/verify-email", url.Values{"token": {""}}, 400, "token", "is required", ""},
		{"an invitation that does not work", "/clinic/invitation", url.Values{"token": {unknown}, "name": {"Nia Novak"}, "password": {pw}, "password_again": {pw}}, 404, "token", "not valid", "Nia Novak"},
		{"an invitation without a name", "/clinic/invitation", url.Values{"token": {invitation}, "name": {""}, "password": {pw}, "password_again": {pw}}, 400, "name", "", ""},
		{"an invitation with passwords that differ", "/clinic/invitation", url.Values{"token": {invitation}, "name": {"Nia Novak"}, "password": {pw}, "password_again": {other}}, 400, "password_again", "differ", "Nia Novak"},
		{"a reset for no address", "/clinic/forgot", url.Values{"email": {"not-an-address"}}, 400, "email", "email address", "not-an-address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := s.client()
			cl.get(tc.path)
			got := cl.post(tc.path, tc.form)
			body := string(got.body)
			if got.status != tc.status {
				t.Fatalf("%d, want %d: %s", got.status, tc.status, body)
			}
			if !fieldShowsError(body, tc.field) || !strings.Contains(body, html.EscapeString(tc.want)) {
				t.Errorf("the field %s does not show %q; the page says %q", tc.field, tc.want, errorsShown.FindAllString(body, -1))
			}
			if tc.kept != "" && !strings.Contains(body, html.EscapeString(tc.kept)) {
				t.Errorf("what was typed, %q, is gone", tc.kept)
			}
			if strings.Contains(body, pw) || strings.Contains(body, other) || strings.Contains(body, `value="short"`) {
				t.Error("a password typed is shown again")
			}
		})
	}

	// The same page whatever the address; then the address's limit.
	cl := s.client()
	sent := func(email string) reply {
		cl.get("/clinic/forgot")
		return cl.post("/clinic/forgot", url.Values{"email": {email}})
	}
	known, nobody := sent(c.ownerEmail), sent("nobody@calm.example")
	if known.status != 200 || !strings.Contains(string(known.body), "If an account uses this address, a mail with a link and a code is on its way.") ||
		csrfInput.ReplaceAllString(string(known.body), "") != csrfInput.ReplaceAllString(string(nobody.body), "") {
		t.Errorf("a reset asked for: %d, and the pages of a known and an unknown address differ:\n%s", known.status, known.body)
	}
	sent(c.ownerEmail)
	sent(c.ownerEmail)
	if got := sent(c.ownerEmail); got.status != http.StatusTooManyRequests || !fieldShowsError(string(got.body), "email") {
		t.Errorf("a fourth reset of one address in the hour: %d, want 429 beside the email", got.status)
	}
	for range 2 {
		cl.post("/clinic/reset", url.Values{"email": {c.ownerEmail}, "code": {"000000"}, "password": {pw}, "password_again": {pw}})
	}
	cl.get("/clinic/reset")
	if got := cl.post("/clinic/reset", url.Values{"email": {c.ownerEmail}, "code": {"000000"}, "password": {pw}, "password_again": {pw}}); got.status != http.StatusTooManyRequests ||
		!fieldShowsError(string(got.body), "code") || !strings.Contains(string(got.body), "Too many requests") {
		t.Errorf("a third code for one address: %d, want 429 beside the code", got.status)
	}

	// A form without the page's token is refused, and changes nothing.
	for _, path := range []string{"/clinic/forgot", "/clinic/reset", "/clinic/verify-email", "/clinic/invitation", "/reset", "/verify-email"} {
		forged := s.client()
		forged.csrf = "guessed"
		form := url.Values{"token": {invitation}, "name": {"Forger"}, "password": {pw}, "password_again": {pw}}
		if path == "/clinic/forgot" {
			form = url.Values{"email": {c.ownerEmail}}
		}
		if got := forged.post(path, form); got.status != http.StatusForbidden {
			t.Errorf("%s without the form's token: %d", path, got.status)
		}
	}
	if after := state(); after != before {
		t.Errorf("a refused form changed something:\nbefore %s\nafter  %s", before, after)
	}
	s.must(200, s.api("POST", "/v1/clinic/auth/login", "", map[string]any{"email": c.therapistEmail, "password": staffPassword}), "the old password")

	// The link refused above still works, once.
	cl.get("/clinic/reset")
	got := cl.post("/clinic/reset", url.Values{"token": {reset}, "password": {pw}, "password_again": {pw}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/clinic/login?done=password" {
		t.Fatalf("the reset by link: %d %s", got.status, got.header.Get("Location"))
	}
	if page := string(cl.get("/clinic/login?done=password").body); !strings.Contains(page, "Your password was changed. Sign in with the new one.") {
		t.Error("the sign-in page after a reset has no notice")
	}
	s.must(200, s.api("POST", "/v1/clinic/auth/login", "", map[string]any{"email": c.therapistEmail, "password": pw}), "the new password")

	// A patient's reset by link ends on a page that sends them to the app.
	s.must(201, s.api("POST", "/v1/auth/register", "", map[string]any{"email": "pat@example.com", "password": "correct horse battery", "name": "Pat", "timezone": "UTC"}), "register")
	s.must(202, s.api("POST", "/v1/auth/password-reset", "", map[string]any{"email": "pat@example.com"}), "patient reset")
	_, reset = s.mailed("pat@example.com", models.MailPasswordReset, "/reset")
	cl.get("/reset")
	if got := cl.post("/reset", url.Values{"token": {reset}, "password": {pw}, "password_again": {pw}}); got.status != http.StatusSeeOther || got.header.Get("Location") != "/reset?done=password" {
		t.Fatalf("a patient's reset by link: %d %s", got.status, got.header.Get("Location"))
	}
	if page := string(cl.get("/reset?done=password").body); !strings.Contains(page, "Your password was changed.") || !strings.Contains(page, "Sign in on the BackCare app") {
		t.Error("the patient's page after a reset does not send them to the app")
	}
	s.must(200, s.api("POST", "/v1/auth/login", "", map[string]any{"email": "pat@example.com", "password": pw}), "the patient's new password")
}
