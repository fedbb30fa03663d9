package web

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type settingsView struct {
	Clinic      models.Clinic
	Staff       []staffRow
	Invitations []invitationRow
	// Invited is the invitation just made: its token is shown this once.
	Invited *invitedView
	Window  Form
	Invite  Form
	Done    string
}

type staffRow struct {
	ID, Name, Email, Role string
	Active, Self          bool
}

type invitationRow struct {
	ID, Email, Role, Expires, State string
	// Pending ones may be revoked; pending and expired ones sent again.
	Pending, Resendable bool
}

type invitedView struct{ Email, Token, Expires string }

var settingsDone = map[string]string{
	"window": "Cancellation window saved.", "staff": "Staff member changed.", "revoked": "Invitation revoked.",
}

// ownerOnly refuses the clinic's settings to a therapist.
func ownerOnly(c *fiber.Ctx) error {
	if who(c).staff.Role != models.RoleOwner {
		return models.Errorf(models.ErrForbidden, "Only the clinic's owner manages its staff, invitations and settings.")
	}
	return nil
}

func (w *dashboard) settingsPage(c *fiber.Ctx) error {
	if err := onlyQuery(c, "done"); err != nil {
		return err
	}
	if err := ownerOnly(c); err != nil {
		return err
	}
	window := newForm()
	window.Values["cancellation_hours"] = strconv.Itoa(who(c).clinic.CancellationHours)
	invite := newForm()
	invite.Values["role"] = string(models.RoleTherapist)
	return w.showSettings(c, fiber.StatusOK, settingsView{Window: window, Invite: invite, Done: settingsDone[c.Query("done")]})
}

// showSettings reads the staff and invitations into v and renders it.
func (w *dashboard) showSettings(c *fiber.Ctx, status int, v settingsView) error {
	s := who(c)
	ctx := c.UserContext()
	now := w.now()
	staff, err := w.store.StaffOf(ctx, s.staff.ClinicID)
	if err != nil {
		return err
	}
	invitations, err := w.store.InvitationsOf(ctx, s.staff.ClinicID)
	if err != nil {
		return err
	}
	v.Clinic = s.clinic
	for _, st := range staff {
		v.Staff = append(v.Staff, staffRow{ID: st.ID, Name: st.Name, Email: st.Email, Role: string(st.Role), Active: st.Active, Self: st.ID == s.staff.ID})
	}
	for _, inv := range invitations {
		row := invitationRow{ID: inv.ID, Email: inv.Email, Role: string(inv.Role), Expires: inv.ExpiresAt.In(s.loc).Format("2 Jan 2006, 15:04")}
		switch {
		case inv.AcceptedAt != nil:
			row.State = "accepted"
		case inv.RevokedAt != nil:
			row.State = "revoked"
		case !now.Before(inv.ExpiresAt):
			row.State, row.Resendable = "expired", true
		default:
			row.State, row.Pending, row.Resendable = "pending", true, true
		}
		v.Invitations = append(v.Invitations, row)
	}
	if v.Window.Values == nil {
		v.Window = newForm()
		v.Window.Values["cancellation_hours"] = strconv.Itoa(s.clinic.CancellationHours)
	}
	if v.Invite.Values == nil {
		v.Invite = newForm()
		v.Invite.Values["role"] = string(models.RoleTherapist)
	}
	return w.show(c, status, "settings", "Clinic settings", "", v)
}

// settings changes the cancellation window.
func (w *dashboard) settings(c *fiber.Ctx) error {
	if err := ownerOnly(c); err != nil {
		return err
	}
	vals, err := formOf(c, "cancellation_hours")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.number("cancellation_hours")
	return w.sendSettings(c, r, fiber.MethodPatch, "/v1/clinic", "window", func(status int, f Form) error {
		return w.showSettings(c, status, settingsView{Window: f})
	})
}

// sendSettings is send for the settings page: back to it on success.
func (w *dashboard) sendSettings(c *fiber.Ctx, r *request, method, path, done string, again func(status int, f Form) error) error {
	if r.invalid() {
		r.Form.Error = "Some fields need a change; see below."
		return again(fiber.StatusBadRequest, r.Form)
	}
	var body any = r.body
	if method == fiber.MethodDelete {
		body = nil
	}
	reply, err := w.api.call(c, who(c).staff.ID, method, path, body, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		return w.refused(c, reply, r.Form, again)
	}
	return c.Redirect("/clinic/settings?done="+done, fiber.StatusSeeOther)
}

// invite makes an invitation and shows its token once: until mail is
// sent, the owner passes it on.
func (w *dashboard) invite(c *fiber.Ctx) error {
	if err := ownerOnly(c); err != nil {
		return err
	}
	vals, err := formOf(c, "email", "role")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.text("email")
	r.text("role")
	return w.sendInvitation(c, r.Form, "/v1/clinic/invitations", r.body)
}

// resendInvitation replaces an invitation by a new one, mailed again.
func (w *dashboard) resendInvitation(c *fiber.Ctx) error {
	if err := ownerOnly(c); err != nil {
		return err
	}
	if _, err := formOf(c); err != nil {
		return err
	}
	return w.sendInvitation(c, newForm(), "/v1/clinic/invitations/"+c.Params("iid")+"/resend", nil)
}

// sendInvitation makes an invitation through the API at path and shows it
// made, its token once.
func (w *dashboard) sendInvitation(c *fiber.Ctx, form Form, path string, body any) error {
	reply, err := w.api.call(c, who(c).staff.ID, fiber.MethodPost, path, body, "")
	if err != nil {
		return err
	}
	if !reply.ok() {
		return w.refused(c, reply, form, func(status int, f Form) error { return w.showSettings(c, status, settingsView{Invite: f}) })
	}
	var inv struct {
		Email     string    `json:"email"`
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := reply.decode(&inv); err != nil {
		return err
	}
	return w.showSettings(c, fiber.StatusCreated, settingsView{Invited: &invitedView{Email: inv.Email, Token: inv.Token,
		Expires: inv.ExpiresAt.In(who(c).loc).Format("2 Jan 2006, 15:04")}})
}

func (w *dashboard) revokeInvitation(c *fiber.Ctx) error {
	if err := ownerOnly(c); err != nil {
		return err
	}
	if _, err := formOf(c); err != nil {
		return err
	}
	return w.sendSettings(c, newRequest(nil), fiber.MethodDelete, "/v1/clinic/invitations/"+c.Params("iid"), "revoked",
		func(status int, f Form) error { return w.showSettings(c, status, settingsView{Invite: f}) })
}

// staffActive deactivates or reactivates a staff member: a deactivated
// therapist's sessions end at once.
func (w *dashboard) staffActive(c *fiber.Ctx) error {
	if err := ownerOnly(c); err != nil {
		return err
	}
	vals, err := formOf(c, "active")
	if err != nil {
		return err
	}
	r := newRequest(vals)
	switch vals.Get("active") {
	case "true", "false":
		r.body["active"] = vals.Get("active") == "true"
	default:
		return models.Errorf(models.ErrInvalid, "The form asked for a change it does not have.")
	}
	return w.sendSettings(c, r, fiber.MethodPatch, "/v1/clinic/staff/"+c.Params("stid"), "staff",
		func(status int, f Form) error { return w.showSettings(c, status, settingsView{Invite: f}) })
}
