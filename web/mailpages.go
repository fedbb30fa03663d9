package web

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// The pages the links in the API's mails open: a password reset, an
// address to verify, an invitation to a clinic. The link carries its token
// in the fragment, which a browser never sends to a server; token.js, the
// one script of the dashboard and only on these pages, puts it in the
// form. Each form is sent to the API route the phone app would call, so
// that the checks, the limits and the audit exist once.

// linkPages are whose account a mailed link's page is for: a staff
// member's, under /clinic, or a patient's who opened the mail on a
// computer. The pages differ in the API routes they call and in where
// they send the person afterwards.
type linkPages struct {
	Staff bool
	// path is where the pages are; api the prefix of the sign-in routes.
	path, api string
}

var (
	staffPages   = linkPages{Staff: true, path: "/clinic", api: "/v1/clinic/auth"}
	patientPages = linkPages{path: "", api: "/v1/auth"}
)

const localTokenScript = "web_token_script"

// withTokenScript lets page run token.js: the policy allows this origin's
// script, and the layout adds it.
func withTokenScript(p page) page {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, tokenPagePolicy)
		c.Locals(localTokenScript, true)
		return p(c)
	}
}

// showPublic renders a page of a person not signed in, with a fresh form
// token in the sign-in form's cookie (checkCSRF checks it there).
func (w *dashboard) showPublic(c *fiber.Ctx, status int, name, title string, v any) error {
	token, err := w.formToken(c)
	if err != nil {
		return err
	}
	return w.show(c, status, name, title, token, v)
}

// linkRefused shows what the API refused on one of these forms: each
// field's error beside it, and a refusal that names no field (a rate limit,
// an invitation used) beside field, where the person looks. A failure of
// the API itself is the error page.
func linkRefused(f *Form, reply apiReply, field string) error {
	if reply.status >= fiber.StatusInternalServerError {
		return models.Errorf(models.ErrUnavailable, "%s", reply.problem.Detail)
	}
	f.setProblem(reply)
	for _, fe := range reply.problem.Errors {
		if subject, ok := linkSubjects[fe.Field]; ok {
			f.Errors[fe.Field] = sentence(subject + " " + fe.Message)
		}
	}
	if len(reply.problem.Errors) == 0 {
		f.Errors[field] = f.Error
		f.Error = "That did not work; see below."
	}
	return nil
}

// linkSubjects are what the API's field messages ("is wrong or has
// expired") are said of, so that each reads as a sentence beside its field.
var linkSubjects = map[string]string{"token": "this link", "code": "the code", "email": "the address", "password": "the password", "name": "the name"}

// newPassword reads the new password typed twice, and forgets both in
// what the form shows again. It reports whether the two are the same.
func newPassword(vals url.Values, f *Form) bool {
	f.Values["password"], f.Values["password_again"] = "", ""
	if vals.Get("password") != vals.Get("password_again") {
		f.Errors["password_again"] = "The two passwords differ: type the same new password twice."
		f.Error = "Some fields need a change; see below."
		return false
	}
	return true
}

type forgotView struct {
	// Sent is the API's answer, the same whatever the address.
	Sent string
	Form
}

func (w *dashboard) forgotPage(c *fiber.Ctx) error {
	if err := onlyQuery(c); err != nil {
		return err
	}
	return w.showPublic(c, fiber.StatusOK, "forgot", "Forgot your password?", forgotView{Form: newForm()})
}

// forgot asks the clinic API for a reset mail. Its answer is the same for
// every address, so the page is too.
func (w *dashboard) forgot(c *fiber.Ctx) error {
	vals, err := formOf(c, "email")
	if err != nil {
		return err
	}
	v := forgotView{Form: formWith(vals)}
	reply, err := w.api.call(c, "", fiber.MethodPost, staffPages.api+"/password-reset", map[string]string{"email": vals.Get("email")}, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		if err := linkRefused(&v.Form, reply, "email"); err != nil {
			return err
		}
		return w.showPublic(c, reply.status, "forgot", "Forgot your password?", v)
	}
	var accepted struct {
		Message string `json:"message"`
	}
	if err := reply.decode(&accepted); err != nil {
		return err
	}
	v.Sent = accepted.Message
	return w.showPublic(c, fiber.StatusOK, "forgot", "Check your mail", v)
}

type resetView struct {
	linkPages
	// ByLink is set when the form carries the link's token: it then asks
	// only for the new password.
	ByLink bool
	// Done is a patient's reset, done: the app is where they sign in.
	Done bool
	Form
}

func (v resetView) Action() string { return v.path + "/reset" }

func (w *dashboard) resetPage(p linkPages) page {
	return func(c *fiber.Ctx) error {
		if err := onlyQuery(c, "done"); err != nil {
			return err
		}
		v := resetView{linkPages: p, Done: !p.Staff && c.Query("done") == "password", Form: newForm()}
		return w.showPublic(c, fiber.StatusOK, "reset", "Set a new password", v)
	}
}

// reset sets the new password with the link's token or with the address
// and the code from the mail. Staff go on to the sign-in form; a patient
// is told to sign in in the app.
func (w *dashboard) reset(p linkPages) page {
	return func(c *fiber.Ctx) error {
		vals, err := formOf(c, "token", "email", "code", "password", "password_again")
		if err != nil {
			return err
		}
		token := vals.Get("token")
		v := resetView{linkPages: p, ByLink: token != "", Form: formWith(vals)}
		again := func(status int) error { return w.showPublic(c, status, "reset", "Set a new password", v) }
		if !newPassword(vals, &v.Form) {
			return again(fiber.StatusBadRequest)
		}
		body := map[string]string{"password": vals.Get("password")}
		about := "token"
		if token != "" {
			body["token"] = token
		} else {
			body["email"], body["code"] = vals.Get("email"), strings.TrimSpace(vals.Get("code"))
			about = "code"
		}
		reply, err := w.api.call(c, "", fiber.MethodPost, p.api+"/password-reset/confirm", body, "")
		if err != nil {
			return err
		}
		if !reply.ok() {
			if err := linkRefused(&v.Form, reply, about); err != nil {
				return err
			}
			return again(reply.status)
		}
		if p.Staff {
			return c.Redirect("/clinic/login?done=password", fiber.StatusSeeOther)
		}
		return c.Redirect("/reset?done=password", fiber.StatusSeeOther)
	}
}

type verifyView struct {
	linkPages
	ByLink bool
	// Verified is the address verified.
	Verified string
	Form
}

func (v verifyView) Action() string { return v.path + "/verify-email" }

func (w *dashboard) verifyPage(p linkPages) page {
	return func(c *fiber.Ctx) error {
		if err := onlyQuery(c); err != nil {
			return err
		}
		return w.showPublic(c, fiber.StatusOK, "verify", "Confirm your email address", verifyView{linkPages: p, Form: newForm()})
	}
}

// verify spends the link's token. The page asks for a click rather than
// sending it by itself: a mail scanner that opens links confirms nothing.
func (w *dashboard) verify(p linkPages) page {
	return func(c *fiber.Ctx) error {
		vals, err := formOf(c, "token")
		if err != nil {
			return err
		}
		v := verifyView{linkPages: p, ByLink: vals.Get("token") != "", Form: formWith(vals)}
		reply, err := w.api.call(c, "", fiber.MethodPost, "/v1/auth/verify-email", map[string]string{"token": vals.Get("token")}, "")
		if err != nil {
			return err
		}
		if !reply.ok() {
			if err := linkRefused(&v.Form, reply, "token"); err != nil {
				return err
			}
			return w.showPublic(c, reply.status, "verify", "Confirm your email address", v)
		}
		var verified struct {
			Email string `json:"email"`
		}
		if err := reply.decode(&verified); err != nil {
			return err
		}
		v.Verified = verified.Email
		return w.showPublic(c, fiber.StatusOK, "verify", "Address confirmed", v)
	}
}

type invitationView struct {
	ByLink bool
	Form
}

func (w *dashboard) invitationPage(c *fiber.Ctx) error {
	if err := onlyQuery(c); err != nil {
		return err
	}
	return w.showPublic(c, fiber.StatusOK, "invitation", "Join your clinic", invitationView{Form: newForm()})
}

// invitation makes the invitee's staff account with the name and the
// password they chose, and signs them in with the token pair the API
// answers, as the sign-in form does.
func (w *dashboard) invitation(c *fiber.Ctx) error {
	vals, err := formOf(c, "token", "name", "password", "password_again")
	if err != nil {
		return err
	}
	v := invitationView{ByLink: vals.Get("token") != "", Form: formWith(vals)}
	again := func(status int) error { return w.showPublic(c, status, "invitation", "Join your clinic", v) }
	if !newPassword(vals, &v.Form) {
		return again(fiber.StatusBadRequest)
	}
	reply, err := w.api.call(c, "", fiber.MethodPost, "/v1/clinic/invitations/accept",
		map[string]string{"token": vals.Get("token"), "name": vals.Get("name"), "password": vals.Get("password")}, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		if err := linkRefused(&v.Form, reply, "token"); err != nil {
			return err
		}
		return again(reply.status)
	}
	return w.startSession(c, reply, "/clinic/")
}
