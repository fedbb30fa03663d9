package web

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/web/browsertest"
)

// TestMailLinksInABrowser opens the mailed links in a real headless
// Chromium, as the mail's reader would: a staff reset asked for on the
// sign-in page and set by its link, an invitation accepted into a signed-in
// dashboard, a patient's address confirmed, and a reset by address and
// code with script off. Each form is photographed at 1280, 768 and 390 px
// wide, under test-artifacts/mail-*.png.
func TestMailLinksInABrowser(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	s := newSite(t, base)
	go func() { _ = s.app.Listener(ln) }()
	t.Cleanup(func() { _ = s.app.Shutdown() })
	c := s.signupClinic("calm", "UTC")

	tab := browsertest.Open(t, 2*time.Minute, "..", "mail")
	ctx, do, text := tab.Ctx, tab.Do, tab.Text
	shot := func(name string) { tab.Shot(name, browsertest.Desktop, browsertest.Tablet, browsertest.Phone) }
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	const newPassword = "a brand new passphrase"

	// A therapist who forgot their password asks from the sign-in page,
	// opens the mailed link and sets a new one, which then signs them in.
	do("the sign-in page", chromedp.Navigate(base+"/clinic/login"), chromedp.Click(chromedp.CSS(`a[href="/clinic/forgot"]`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	do("ask for a reset", chromedp.SendKeys(chromedp.CSS("#email"), c.therapistEmail), chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".notice-ok")))
	if got := text(".notice-ok"); !strings.Contains(got, "If an account uses this address, a mail with a link and a code is on its way.") {
		t.Errorf("after asking for a reset: %q", got)
	}
	shot("forgot-sent")
	mail, token := s.mailed(c.therapistEmail, models.MailPasswordReset, "/clinic/reset")
	if !strings.Contains(mail.Text, base+"/clinic/reset#"+token) {
		t.Fatalf("the mail's link is not this site's reset page:\n%s", mail.Text)
	}
	do("open the link", chromedp.Navigate(base+"/clinic/reset#"+token), chromedp.WaitVisible(chromedp.CSS("#password")))
	if got := eval(`location.href + " " + document.querySelector("input[name=token]").value + " " + !!document.querySelector("#code") + " " + document.activeElement.id`); got != base+"/clinic/reset "+token+" false password" {
		t.Errorf("after token.js, the address, the token field, a code field and the focus: %q", got)
	}
	shot("reset")
	do("mistype the new password", chromedp.SendKeys(chromedp.CSS("#password"), newPassword), chromedp.SendKeys(chromedp.CSS("#password_again"), newPassword+"!"),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#password_again-error")))
	shot("reset-refused")
	do("set the new password", chromedp.SendKeys(chromedp.CSS("#password"), newPassword), chromedp.SendKeys(chromedp.CSS("#password_again"), newPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice-ok")))
	if got := text(".notice-ok"); got != "Your password was changed. Sign in with the new one." {
		t.Errorf("the sign-in page after the reset says %q", got)
	}
	do("sign in with it", chromedp.SendKeys(chromedp.CSS("#email"), c.therapistEmail), chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#today-table")))

	// An invitation the owner mailed, opened in a browser signed in as
	// someone else: the new account is the one signed in after.
	s.must(201, s.api("POST", "/v1/clinic/invitations", c.ownerToken, map[string]any{"email": "nia@calm.example", "role": "therapist"}), "invite")
	_, token = s.mailed("nia@calm.example", models.MailStaffInvitation, "/clinic/invitation")
	do("open the invitation", chromedp.Navigate(base+"/clinic/invitation#"+token), chromedp.WaitVisible(chromedp.CSS("#name")))
	shot("invitation")
	do("accept it", chromedp.SendKeys(chromedp.CSS("#name"), "Nia Novak"), chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.SendKeys(chromedp.CSS("#password_again"), newPassword), chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#today-table")))
	if got := text(".who span"); got != "Nia Novak" || eval("location.pathname") != "/clinic/" {
		t.Errorf("after accepting, signed in as %q at %s", got, eval("location.pathname"))
	}

	// A patient reads the verification mail on a computer.
	do("a browser of the patient's", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
	patient := s.must(201, s.api("POST", "/v1/auth/register", "", map[string]any{
		"email": "pat@example.com", "password": "correct horse battery", "name": "Pat Example", "timezone": "UTC"}), "register").json(t)["access_token"].(string)
	_, token = s.mailed("pat@example.com", models.MailVerifyEmail, "/verify-email")
	do("open the link", chromedp.Navigate(base+"/verify-email#"+token), chromedp.WaitVisible(chromedp.CSS("form button[type=submit]")))
	shot("verify")
	do("confirm", chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice-ok")))
	if me := s.api("GET", "/v1/me", patient, nil).json(t); me["email_verified"] != true {
		t.Errorf("after the link, GET /v1/me: %v", me)
	}

	// With script off, the reset page asks for the address and the code.
	s.must(202, s.api("POST", "/v1/clinic/auth/password-reset", "", map[string]any{"email": c.ownerEmail}), "reset")
	mail, _ = s.mailed(c.ownerEmail, models.MailPasswordReset, "/clinic/reset")
	code := regexp.MustCompile(`code in the app: ([0-9]{6})`).FindStringSubmatch(mail.Text)
	if code == nil {
		t.Fatalf("no code in the mail:\n%s", mail.Text)
	}
	do("script off", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(base+"/clinic/reset"), chromedp.WaitVisible(chromedp.CSS("#code")))
	shot("reset-code")
	do("reset by code", chromedp.SendKeys(chromedp.CSS("#email"), c.ownerEmail), chromedp.SendKeys(chromedp.CSS("#code"), code[1]),
		chromedp.SendKeys(chromedp.CSS("#password"), newPassword), chromedp.SendKeys(chromedp.CSS("#password_again"), newPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice-ok")))
	s.must(200, s.api("POST", "/v1/clinic/auth/login", "", map[string]any{"email": c.ownerEmail, "password": newPassword}), "the owner's new password")
}
