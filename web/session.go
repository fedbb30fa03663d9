package web

import (
	"crypto/subtle"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

// cookies names and sets the dashboard's two cookies: the session, and
// the sign-in form's token, which guards the form before there is a
// session. Both are HttpOnly and SameSite=Lax; on https they are Secure
// and take the __Host- prefix, which a browser accepts only from this
// host, over https, for the whole site.
type cookies struct {
	secure         bool
	session, login string
}

func newCookies(baseURL string) cookies {
	if u, err := url.Parse(baseURL); err == nil && u.Scheme == "https" {
		return cookies{secure: true, session: "__Host-backcare_session", login: "__Host-backcare_signin"}
	}
	return cookies{session: "backcare_session", login: "backcare_signin"}
}

func (k cookies) set(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()), Secure: k.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

func (k cookies) clear(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), Secure: k.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

// signedIn is who a request is from: the session, the staff member and
// their clinic, all read again on every request.
type signedIn struct {
	session models.WebSession
	staff   models.Staff
	clinic  models.Clinic
	loc     *time.Location
}

const localSignedIn = "web_signed_in"

func who(c *fiber.Ctx) signedIn {
	s, _ := c.Locals(localSignedIn).(signedIn)
	return s
}

// requireSession lets a request on only with a live session of an active
// staff member; anything else is sent to the sign-in page, the page asked
// for remembered. A session of a deactivated account is deleted.
func (w *dashboard) requireSession(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := w.now()
	out := func() error {
		w.cookies.clear(c, w.cookies.session)
		next := ""
		if c.Method() == fiber.MethodGet {
			next = "?next=" + url.QueryEscape(string(c.Request().RequestURI()))
		}
		return c.Redirect("/clinic/login"+next, fiber.StatusSeeOther)
	}
	token := c.Cookies(w.cookies.session)
	if token == "" {
		return out()
	}
	ws, err := w.store.WebSession(ctx, auth.HashOpaqueToken(token))
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return out()
	case err != nil:
		return err
	case !ws.ActiveAt(now):
		return out()
	}
	st, err := w.store.StaffByID(ctx, ws.StaffID)
	if models.ErrorCode(err) == models.ErrNotFound || (err == nil && !st.Active) {
		if err := w.store.DeleteWebSession(ctx, ws.ID); err != nil {
			return err
		}
		return out()
	}
	if err != nil {
		return err
	}
	clinic, err := w.store.Clinic(ctx, st.ClinicID)
	if err != nil {
		return err
	}
	loc, err := models.LoadTimezone(clinic.Timezone)
	if err != nil {
		return err
	}
	if ws.NeedsTouch(now) {
		ws.Touch(now)
		if err := w.store.TouchWebSession(ctx, ws); err != nil {
			return err
		}
	}
	c.Locals(localSignedIn, signedIn{session: ws, staff: st, clinic: clinic, loc: loc})
	return c.Next()
}

// checkCSRF refuses an unsafe request whose form does not carry the
// token of the session it comes with (or, signing in, of the sign-in
// form's cookie): a form from another site, or from an ended session.
func (w *dashboard) checkCSRF(c *fiber.Ctx) error {
	want := who(c).session.CSRF
	if want == "" {
		want = c.Cookies(w.cookies.login)
	}
	got := c.FormValue(csrfField)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return w.render(func(c *fiber.Ctx) error { return errStaleForm })(c)
	}
	return c.Next()
}

const csrfField = "_csrf"

type loginView struct {
	Next string
	// Changed is set after a password reset, which sends the browser here.
	Changed bool
	Form
}

func (w *dashboard) loginPage(c *fiber.Ctx) error {
	if err := onlyQuery(c, "next", "done"); err != nil {
		return err
	}
	return w.showLogin(c, fiber.StatusOK, loginView{Next: localPath(c.Query("next")), Changed: c.Query("done") == "password", Form: newForm()})
}

// showLogin renders the sign-in form with a fresh form token.
func (w *dashboard) showLogin(c *fiber.Ctx, status int, v loginView) error {
	return w.showPublic(c, status, "login", "Sign in", v)
}

// formToken is a new token for a form sent before there is a session
// (the sign-in, a mailed link's page), set in the sign-in form's cookie.
func (w *dashboard) formToken(c *fiber.Ctx) (string, error) {
	token, _, err := auth.NewOpaqueToken()
	if err != nil {
		return "", err
	}
	w.cookies.set(c, w.cookies.login, token, time.Hour)
	return token, nil
}

// login signs in through the clinic API's own sign-in, so that the
// hashing, the lockout and the rate limits are the API's.
func (w *dashboard) login(c *fiber.Ctx) error {
	vals, err := formOf(c, "email", "password", "next")
	if err != nil {
		return err
	}
	v := loginView{Next: localPath(vals.Get("next")), Form: formWith(vals)}
	v.Values["password"] = ""
	reply, err := w.api.call(c, "", fiber.MethodPost, "/v1/clinic/auth/login", map[string]string{"email": vals.Get("email"), "password": vals.Get("password")}, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		if reply.status == fiber.StatusUnauthorized {
			v.Error = "That email and password do not match an active staff account."
		} else {
			v.setProblem(reply)
		}
		return w.showLogin(c, reply.status, v)
	}
	return w.startSession(c, reply, v.Next)
}

// startSession turns a token pair the clinic API answered (a sign-in, an
// accepted invitation) into a dashboard session and sends the browser to
// next. The refresh token is retired at once, and the access token only
// names the staff member the session is for.
func (w *dashboard) startSession(c *fiber.Ctx, reply apiReply, next string) error {
	var tokens struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := reply.decode(&tokens); err != nil {
		return err
	}
	if _, err := w.api.call(c, "", fiber.MethodPost, "/v1/clinic/auth/logout", map[string]string{"refresh_token": tokens.Refresh}, ""); err != nil {
		return err
	}
	now := w.now().UTC().Truncate(time.Millisecond)
	staffID, err := w.api.signer.Verify(tokens.Access, models.AudienceStaff, now)
	if err != nil {
		return err
	}
	st, err := w.store.StaffByID(c.UserContext(), staffID)
	if err != nil {
		return err
	}
	token, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return err
	}
	csrf, _, err := auth.NewOpaqueToken()
	if err != nil {
		return err
	}
	if err := w.store.CreateWebSession(c.UserContext(), models.NewWebSession(st, hash, csrf, now)); err != nil {
		return err
	}
	w.cookies.set(c, w.cookies.session, token, models.WebSessionMax)
	w.cookies.clear(c, w.cookies.login)
	return c.Redirect(next, fiber.StatusSeeOther)
}

// logout ends the session on the server; the cookie goes too.
func (w *dashboard) logout(c *fiber.Ctx) error {
	if _, err := formOf(c); err != nil {
		return err
	}
	if err := w.store.DeleteWebSession(c.UserContext(), who(c).session.ID); err != nil {
		return err
	}
	w.cookies.clear(c, w.cookies.session)
	return c.Redirect("/clinic/login", fiber.StatusSeeOther)
}
