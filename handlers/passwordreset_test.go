package handlers

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// mails returns the mails queued to address, oldest first: in the order
// they were stored, which the engine keeps, because the tests' clock
// stands still and gives them all one created_at.
func (ts *testServer) mails(address string) []models.Mail {
	ts.t.Helper()
	cur, err := ts.db.Collection("mail_outbox").Find(context.Background(), bson.D{{Key: "to", Value: address}})
	if err != nil {
		ts.t.Fatal(err)
	}
	var out []models.Mail
	if err := cur.All(context.Background(), &out); err != nil {
		ts.t.Fatal(err)
	}
	return out
}

// lastMail returns the newest mail of kind queued to address.
func (ts *testServer) lastMail(address string, kind models.MailKind) models.Mail {
	ts.t.Helper()
	var found *models.Mail
	for _, m := range ts.mails(address) {
		if m.Kind == kind {
			found = &m
		}
	}
	if found == nil {
		ts.t.Fatalf("no %s mail to %s", kind, address)
	}
	return *found
}

// linkToken pulls the token out of the link to page in a mail's text.
func linkToken(t *testing.T, m models.Mail, page string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta("https://api.backcare.test"+page+"#") + `([A-Za-z0-9_-]{43})`)
	found := re.FindStringSubmatch(m.Text)
	if found == nil {
		t.Fatalf("no %s link in the %s mail:\n%s", page, m.Kind, m.Text)
	}
	if !strings.Contains(m.HTML, found[0]) {
		t.Fatalf("the HTML part of the %s mail lacks the link %s", m.Kind, found[0])
	}
	return found[1]
}

var sixDigitCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// verifyEmail opens the newest verification link mailed to address.
func (ts *testServer) verifyEmail(address string) {
	ts.t.Helper()
	m := ts.mails(address)
	var token string
	for _, m := range m {
		// A clinic's verification of the same address leads to the
		// dashboard's page.
		if (m.Kind == models.MailVerifyEmail || m.Kind == models.MailEmailChange) && !strings.Contains(m.Text, "/clinic/verify-email#") {
			token = linkToken(ts.t, m, "/verify-email")
		}
	}
	if token == "" {
		ts.t.Fatalf("no verification mail to %s", address)
	}
	r := ts.do("POST", "/v1/auth/verify-email", "", map[string]any{"token": token})
	if r.status != http.StatusOK {
		ts.t.Fatalf("verify %s: %d %s", address, r.status, r.body)
	}
}

func withRegistry(reg **prometheus.Registry) func(*Deps) {
	return func(d *Deps) { *reg = d.Registry }
}

func TestPasswordResetByLink(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	_, oldRefresh := ts.register("reset@example.com", "UTC")

	r := ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "Reset@Example.com"})
	if r.status != http.StatusAccepted {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	m := ts.lastMail("reset@example.com", models.MailPasswordReset)
	token := linkToken(t, m, "/reset")
	if !sixDigitCode.MatchString(m.Text) {
		t.Fatalf("the reset mail has no code:\n%s", m.Text)
	}

	r = ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a brand new passphrase"})
	if r.status != http.StatusNoContent {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	// Every earlier sign-in is over, the old password is, the new one works.
	expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": oldRefresh}), http.StatusUnauthorized, "")
	expectProblem(t, ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "reset@example.com", "password": "correct horse battery"}), http.StatusUnauthorized, "")
	if r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "reset@example.com", "password": "a brand new passphrase"}); r.status != http.StatusOK {
		t.Fatalf("sign in with the new password: %d %s", r.status, r.body)
	}
	// The token works once.
	expectProblem(t, ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "yet another passphrase"}), http.StatusBadRequest, "token")
	changed := ts.lastMail("reset@example.com", models.MailPasswordChanged)
	if !strings.Contains(changed.Subject, "password") {
		t.Fatalf("changed mail subject %q", changed.Subject)
	}
	cur, err := ts.db.Collection("audit").Find(context.Background(), bson.D{{Key: "action", Value: models.AuditPasswordReset}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "outcome", Value: -1}}))
	if err != nil {
		t.Fatal(err)
	}
	var audit []models.AuditEntry
	if err := cur.All(context.Background(), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Outcome != "requested" || audit[1].Outcome != "ok" || audit[1].RequestID == "" {
		t.Fatalf("password_reset audit %+v, want requested then ok", audit)
	}
}

// login2 signs in with password and returns the access token.
func (ts *testServer) login2(email, password string) string {
	ts.t.Helper()
	r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": password})
	if r.status != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return r.json(ts.t)["access_token"].(string)
}

func TestPasswordResetByCode(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register("code@example.com", "UTC")
	ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "code@example.com"})
	code := sixDigitCode.FindString(ts.lastMail("code@example.com", models.MailPasswordReset).Text)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	confirm := func(code string) response {
		return ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": "code@example.com", "code": code, "password": "a brand new passphrase"})
	}
	expectProblem(t, confirm(wrong), http.StatusBadRequest, "code")
	if r := confirm(code); r.status != http.StatusNoContent {
		t.Fatalf("the right code after one wrong one: %d %s", r.status, r.body)
	}
	ts.login2("code@example.com", "a brand new passphrase")

	// A new reset; five wrong codes burn it, and then the right one fails.
	ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "code@example.com"})
	code = sixDigitCode.FindString(ts.lastMail("code@example.com", models.MailPasswordReset).Text)
	wrong = "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range models.MaxCodeTries {
		expectProblem(t, confirm(wrong), http.StatusBadRequest, "code")
	}
	expectProblem(t, confirm(code), http.StatusBadRequest, "code")
	ts.login2("code@example.com", "a brand new passphrase")
}

func TestPasswordResetExpiresAndIsReplaced(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register("late@example.com", "UTC")
	ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "late@example.com"})
	first := linkToken(t, ts.lastMail("late@example.com", models.MailPasswordReset), "/reset")
	ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "late@example.com"})
	second := linkToken(t, ts.lastMail("late@example.com", models.MailPasswordReset), "/reset")
	confirm := func(token string) response {
		return ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a brand new passphrase"})
	}
	// The newer mail replaced the first.
	expectProblem(t, confirm(first), http.StatusBadRequest, "token")
	ts.now = ts.now.Add(models.ResetTTL + time.Second)
	expectProblem(t, confirm(second), http.StatusBadRequest, "token")
	ts.login2("late@example.com", "correct horse battery")
}

// TestPasswordResetNoEnumeration holds the answer for a known and an
// unknown address to the same bytes, apart from the request id, and both
// to one password hash.
func TestPasswordResetNoEnumeration(t *testing.T) {
	t.Parallel()
	var reg *prometheus.Registry
	ts := newTestServer(t, withRegistry(&reg))
	ts.register("known@example.com", "UTC")
	hashes := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "backcare_password_hashes_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no backcare_password_hashes_total on the registry")
		return 0
	}
	ask := func(path, email string) (response, float64) {
		before := hashes()
		r := ts.do("POST", path, "", map[string]any{"email": email})
		return r, hashes() - before
	}
	cs := ts.signupClinic("known")
	for _, path := range []string{"/v1/auth/password-reset", "/v1/clinic/auth/password-reset"} {
		known := map[string]string{"/v1/auth/password-reset": "known@example.com", "/v1/clinic/auth/password-reset": cs.ownerEm}[path]
		a, workA := ask(path, known)
		b, workB := ask(path, "nobody-"+path[4:8]+"@example.com")
		if a.status != http.StatusAccepted || string(a.body) != string(b.body) {
			t.Fatalf("%s: known %d %s, unknown %d %s", path, a.status, a.body, b.status, b.body)
		}
		ha, hb := a.header.Clone(), b.header.Clone()
		// The request id is each request's own, and the Date header is the
		// clock's, which may tick between the two.
		for _, h := range []http.Header{ha, hb} {
			h.Del("X-Request-Id")
			h.Del("Date")
		}
		if !equalHeaders(ha, hb) {
			t.Fatalf("%s: headers differ:\nknown   %v\nunknown %v", path, ha, hb)
		}
		if workA != 1 || workB != 1 {
			t.Fatalf("%s: password hashes known %v, unknown %v; want 1 each", path, workA, workB)
		}
	}
	if n := len(ts.mails("nobody-auth@example.com")) + len(ts.mails("nobody-clin@example.com")); n != 0 {
		t.Fatalf("%d mails to unknown addresses", n)
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

func TestStaffPasswordReset(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	owner := ts.signupClinic("reset").ownerEm
	ts.register(owner, "UTC")
	login := ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": owner, "password": staffPassword}).json(t)

	ts.do("POST", "/v1/clinic/auth/password-reset", "", map[string]any{"email": owner})
	token := linkToken(t, ts.lastMail(owner, models.MailPasswordReset), "/clinic/reset")
	// A staff reset does not reset the patient account of the same address.
	expectProblem(t, ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a brand new passphrase"}), http.StatusBadRequest, "token")
	if r := ts.do("POST", "/v1/clinic/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a brand new passphrase"}); r.status != http.StatusNoContent {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": login["refresh_token"]}), http.StatusUnauthorized, "")
	if r := ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": owner, "password": "a brand new passphrase"}); r.status != http.StatusOK {
		t.Fatalf("staff sign-in with the new password: %d %s", r.status, r.body)
	}
	ts.login2(owner, "correct horse battery")
}

// TestPasswordResetRacingConfirms sends one token many times at once: one
// sets the password.
func TestPasswordResetRacingConfirms(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register("race@example.com", "UTC")
	ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": "race@example.com"})
	token := linkToken(t, ts.lastMail("race@example.com", models.MailPasswordReset), "/reset")
	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := ts.do("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "racing passphrase " + string(rune('a'+i))})
			statuses[i] = r.status
		})
	}
	wg.Wait()
	won := -1
	for i, s := range statuses {
		switch {
		case s == http.StatusNoContent && won < 0:
			won = i
		case s == http.StatusNoContent:
			t.Fatalf("two confirms set the password: %v", statuses)
		case s != http.StatusBadRequest:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won < 0 {
		t.Fatalf("no confirm won: %v", statuses)
	}
	ts.login2("race@example.com", "racing passphrase "+string(rune('a'+won)))
	if got := len(ts.mails("race@example.com")); got != 3 {
		t.Fatalf("%d mails, want the verification, the reset and one password-changed", got)
	}
}

func TestVerifiedEmailGatesSharing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.do("POST", "/v1/auth/register", "", map[string]any{"email": "new@example.com", "password": "correct horse battery", "name": "Pat", "timezone": "UTC"})
	access := r.json(t)["access_token"].(string)
	if me := ts.do("GET", "/v1/me", access, nil).json(t); me["email_verified"] != false {
		t.Fatalf("a new account is verified: %v", me)
	}
	for _, path := range []string{"/v1/reports", "/v1/care-team/codes"} {
		r := ts.do("POST", path, access, map[string]any{})
		expectProblem(t, r, http.StatusForbidden, "")
		if code := r.json(t)["code"]; code != models.ErrEmailUnverified {
			t.Fatalf("%s: code %v", path, code)
		}
	}
	// A link asked for again replaces the first.
	first := linkToken(t, ts.lastMail("new@example.com", models.MailVerifyEmail), "/verify-email")
	if r := ts.do("POST", "/v1/me/verify-email", access, nil); r.status != http.StatusAccepted {
		t.Fatalf("resend: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("POST", "/v1/auth/verify-email", "", map[string]any{"token": first}), http.StatusBadRequest, "token")
	ts.verifyEmail("new@example.com")
	if me := ts.do("GET", "/v1/me", access, nil).json(t); me["email_verified"] != true {
		t.Fatalf("not verified after the link: %v", me)
	}
	if r := ts.do("POST", "/v1/reports", access, map[string]any{}); r.status != http.StatusCreated {
		t.Fatalf("report after verifying: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("POST", "/v1/me/verify-email", access, nil), http.StatusConflict, "")
}

func TestEmailChange(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	access, _ := ts.register("old@example.com", "UTC")
	patch := func(body map[string]any) response { return ts.do("PATCH", "/v1/me", access, body) }
	expectProblem(t, patch(map[string]any{"email": "new@example.com"}), http.StatusBadRequest, "current_password")
	expectProblem(t, patch(map[string]any{"current_password": "correct horse battery"}), http.StatusBadRequest, "current_password")
	expectProblem(t, patch(map[string]any{"email": "new@example.com", "current_password": "wrong password here"}), http.StatusUnauthorized, "")
	if n := len(ts.mails("new@example.com")); n != 0 {
		t.Fatalf("%d mails to the new address after refusals", n)
	}
	r := patch(map[string]any{"email": "New@Example.com", "current_password": "correct horse battery", "name": "Pat Renamed"})
	if r.status != http.StatusOK {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	me := r.json(t)
	if me["email"] != "old@example.com" || me["pending_email"] != "new@example.com" || me["name"] != "Pat Renamed" {
		t.Fatalf("profile after asking: %v", me)
	}
	notice := ts.lastMail("old@example.com", models.MailEmailChanged)
	if strings.Contains(notice.Text, "new@example.com") || !strings.Contains(notice.Text, "@example.com") {
		t.Fatalf("the old address's notice should show the new one masked:\n%s", notice.Text)
	}
	// Until the new address is verified, the old one signs in.
	ts.login2("old@example.com", "correct horse battery")
	ts.verifyEmail("new@example.com")
	ts.login2("new@example.com", "correct horse battery")
	expectProblem(t, ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "old@example.com", "password": "correct horse battery"}), http.StatusUnauthorized, "")
	me = ts.do("GET", "/v1/me", access, nil).json(t)
	if me["email"] != "new@example.com" || me["email_verified"] != true || me["pending_email"] != nil {
		t.Fatalf("profile after verifying: %v", me)
	}
}

// TestEmailChangeToATakenAddress: the address is not checked when asked
// for (that would tell who has an account), and the verification refuses.
func TestEmailChangeToATakenAddress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	access, _ := ts.register("mine@example.com", "UTC")
	ts.register("taken@example.com", "UTC")
	if r := ts.do("PATCH", "/v1/me", access, map[string]any{"email": "taken@example.com", "current_password": "correct horse battery"}); r.status != http.StatusOK {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	var token string
	for _, m := range ts.mails("taken@example.com") {
		if m.Kind == models.MailEmailChange {
			token = linkToken(t, m, "/verify-email")
		}
	}
	expectProblem(t, ts.do("POST", "/v1/auth/verify-email", "", map[string]any{"token": token}), http.StatusConflict, "")
	if me := ts.do("GET", "/v1/me", access, nil).json(t); me["email"] != "mine@example.com" {
		t.Fatalf("the address changed to a taken one: %v", me)
	}
}

func TestInvitationsByMail(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	owner := ts.signupClinic("boss").ownerToken
	inv := ts.do("POST", "/v1/clinic/invitations", owner, map[string]any{"email": "therapist@example.com"})
	if inv.status != http.StatusCreated {
		t.Fatalf("invite: %d %s", inv.status, inv.body)
	}
	first := inv.json(t)
	m := ts.lastMail("therapist@example.com", models.MailStaffInvitation)
	if got := linkToken(t, m, "/clinic/invitation"); got != first["token"] {
		t.Fatalf("mailed token %s, answered %s", got, first["token"])
	}
	if !strings.Contains(m.Text, "Clinic boss") || !strings.Contains(m.Text, "Owner boss") {
		t.Fatalf("the invitation does not say who invites:\n%s", m.Text)
	}
	re := ts.do("POST", "/v1/clinic/invitations/"+first["id"].(string)+"/resend", owner, nil)
	if re.status != http.StatusCreated {
		t.Fatalf("resend: %d %s", re.status, re.body)
	}
	second := re.json(t)
	if got := linkToken(t, ts.lastMail("therapist@example.com", models.MailStaffInvitation), "/clinic/invitation"); got != second["token"] || got == first["token"] {
		t.Fatalf("resent token %s: answered %s, first %s", got, second["token"], first["token"])
	}
	accept := func(token any) response {
		return ts.do("POST", "/v1/clinic/invitations/accept", "", map[string]any{"token": token, "name": "Sam", "password": "correct horse battery"})
	}
	expectProblem(t, accept(first["token"]), http.StatusNotFound, "")
	if r := accept(second["token"]); r.status != http.StatusCreated {
		t.Fatalf("accept the resent invitation: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("POST", "/v1/clinic/invitations/"+second["id"].(string)+"/resend", owner, nil), http.StatusConflict, "")
}

// TestMailRoutesRefuseBadInput: each refusal names the field and queues no
// mail.
func TestMailRoutesRefuseBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	access, _ := ts.register("patient@example.com", "UTC")
	owner := ts.signupClinic("input").ownerToken
	before := ts.outboxSize()
	long := strings.Repeat("a", 250) + "@example.com"
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		field                     string
	}{
		{"reset: no address", "POST", "/v1/auth/password-reset", "", map[string]any{}, 400, "email"},
		{"reset: malformed", "POST", "/v1/auth/password-reset", "", map[string]any{"email": "patient@"}, 400, "email"},
		{"reset: header injection", "POST", "/v1/auth/password-reset", "", map[string]any{"email": "patient@example.com\r\nBcc: victim@example.com"}, 400, "email"},
		{"reset: a name and an address", "POST", "/v1/auth/password-reset", "", map[string]any{"email": "Pat <patient@example.com>"}, 400, "email"},
		{"reset: over-long", "POST", "/v1/auth/password-reset", "", map[string]any{"email": long}, 400, "email"},
		{"reset: unknown field", "POST", "/v1/auth/password-reset", "", map[string]any{"email": "patient@example.com", "bcc": "x@example.com"}, 400, "bcc"},
		{"staff reset: header injection", "POST", "/v1/clinic/auth/password-reset", "", map[string]any{"email": "owner@input.example\nBcc: victim@example.com"}, 400, "email"},
		{"confirm: token and code", "POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": "x", "email": "patient@example.com", "code": "123456", "password": "a long passphrase"}, 400, "token"},
		{"confirm: code not digits", "POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": "patient@example.com", "code": "12345a", "password": "a long passphrase"}, 400, "code"},
		{"confirm: short password", "POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": "x", "password": "short"}, 400, "password"},
		{"verify: no token", "POST", "/v1/auth/verify-email", "", map[string]any{}, 400, "token"},
		{"change: header injection", "PATCH", "/v1/me", access, map[string]any{"email": "new@example.com\r\nBcc: victim@example.com", "current_password": "correct horse battery"}, 400, "email"},
		{"change: over-long", "PATCH", "/v1/me", access, map[string]any{"email": long, "current_password": "correct horse battery"}, 400, "email"},
		{"register: CR/LF in the name", "POST", "/v1/auth/register", "", map[string]any{"email": "crlf@example.com", "password": "correct horse battery", "name": "Pat\r\nBcc: victim@example.com", "timezone": "UTC"}, 400, "name"},
		{"invite: header injection", "POST", "/v1/clinic/invitations", owner, map[string]any{"email": "sam@example.com\r\nBcc: victim@example.com"}, 400, "email"},
		{"invite: over-long", "POST", "/v1/clinic/invitations", owner, map[string]any{"email": long}, 400, "email"},
		{"resend: unknown invitation", "POST", "/v1/clinic/invitations/7d0a6c55-2b1f-4f3e-9d7e-5a8b9c0d1e2f/resend", owner, nil, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectProblem(t, ts.do(c.method, c.path, c.token, c.body), c.status, c.field)
		})
	}
	if after := ts.outboxSize(); after != before {
		t.Fatalf("%d mails queued by refused requests", after-before)
	}
}

func (ts *testServer) outboxSize() int64 {
	ts.t.Helper()
	n, err := ts.db.Collection("mail_outbox").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		ts.t.Fatal(err)
	}
	return n
}
