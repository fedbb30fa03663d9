package handlers

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
)

// clinicStore is what the clinic's accounts and settings need.
type clinicStore interface {
	CreateClinic(ctx context.Context, c models.Clinic, owner models.Staff) error
	Clinic(ctx context.Context, id string) (models.Clinic, error)
	SaveClinic(ctx context.Context, c models.Clinic) (models.Clinic, error)
	CreateStaff(ctx context.Context, st models.Staff) error
	StaffByID(ctx context.Context, id string) (models.Staff, error)
	StaffByEmail(ctx context.Context, email string) (models.Staff, error)
	StaffOf(ctx context.Context, clinicID string) ([]models.Staff, error)
	SaveStaff(ctx context.Context, st models.Staff) (models.Staff, error)
	CreateInvitation(ctx context.Context, inv models.Invitation) error
	InvitationsOf(ctx context.Context, clinicID string) ([]models.Invitation, error)
	InvitationByTokenHash(ctx context.Context, hash string) (models.Invitation, error)
	Invitation(ctx context.Context, clinicID, id string) (models.Invitation, error)
	EnqueueMail(ctx context.Context, m models.Mail, now time.Time) error
	RevokeInvitation(ctx context.Context, clinicID, id string, now time.Time) (bool, error)
	AcceptInvitation(ctx context.Context, inv models.Invitation, st models.Staff, now time.Time) error
	SignOutStaff(ctx context.Context, staffID string, now time.Time) error
	ChangeStaff(ctx context.Context, id string, change func(*models.Staff)) error
}

const localStaff = "staff"

// staffOf returns the signed-in staff member of a clinic route; ok is
// false on a patient's route.
func staffOf(c *fiber.Ctx) (models.Staff, bool) {
	st, ok := c.Locals(localStaff).(models.Staff)
	return st, ok
}

// requireStaff accepts a valid staff access token whose account is still
// active — read on every request, so that a deactivated therapist's
// access token stops working at once — and, with owner, only the clinic's
// owner.
func requireStaff(s clinicStore, signer *auth.Signer, now func() time.Time, owner bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || token == "" {
			return models.Errorf(models.ErrUnauthorized, "sign in: send Authorization: Bearer <staff access token>")
		}
		id, err := signer.Verify(token, models.AudienceStaff, now())
		if err != nil {
			return models.Errorf(models.ErrUnauthorized, "the access token is invalid or expired; refresh it or sign in again")
		}
		st, err := s.StaffByID(c.UserContext(), id)
		if models.ErrorCode(err) == models.ErrNotFound || (err == nil && !st.Active) {
			return models.Errorf(models.ErrUnauthorized, "this staff account is not active; ask the clinic's owner")
		}
		if err != nil {
			return err
		}
		if owner && st.Role != models.RoleOwner {
			return models.Errorf(models.ErrForbidden, "only the clinic's owner can do this")
		}
		c.Locals(localStaff, st)
		return c.Next()
	}
}

func staffAccount(st models.Staff) account {
	return account{ID: st.ID, Email: st.Email, Name: st.Name, Locale: models.DefaultLocale, PasswordHash: st.PasswordHash, Active: st.Active,
		Verified: st.EmailVerifiedAt != nil}
}

// staffSignIn is sign-in to the clinic API: a deactivated account cannot.
func staffSignIn(s clinicStore, audit auditStore) signInKind {
	return signInKind{
		audience: models.AudienceStaff,
		find: func(ctx context.Context, email string) (account, error) {
			st, err := s.StaffByEmail(ctx, email)
			return staffAccount(st), err
		},
		byID: func(ctx context.Context, id string) (account, error) {
			st, err := s.StaffByID(ctx, id)
			return staffAccount(st), err
		},
		// Staff and patients are counted apart: one person may be both.
		failureKey: func(email string) string { return "staff:" + email },
		audit: func(c *fiber.Ctx, now time.Time, id, action, outcome string) error {
			return appendAudit(c, audit, models.AuditEntry{At: now, Subject: "staff:" + id, Actor: "staff:" + id,
				ActorKind: models.ActorStaff, Action: action, Outcome: outcome})
		},
		setPassword: func(ctx context.Context, id, hash string, now time.Time) error {
			return s.ChangeStaff(ctx, id, func(st *models.Staff) { st.PasswordHash, st.UpdatedAt = hash, now })
		},
		signOut: func(ctx context.Context, id string, now time.Time) error {
			return s.SignOutStaff(ctx, id, now)
		},
		// A staff member's address does not change; verifying it records
		// that it reads its mail.
		verified: func(ctx context.Context, id, _ string, now time.Time) error {
			return s.ChangeStaff(ctx, id, func(st *models.Staff) { st.EmailVerifiedAt, st.UpdatedAt = &now, now })
		},
		pages: "/clinic",
	}
}

type clinicSignupRequest struct {
	ClinicName string `json:"clinic_name"`
	Timezone   string `json:"timezone"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Password   string `json:"password"`
}

type clinicJSON struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	Timezone          string    `json:"timezone"`
	CancellationHours int       `json:"cancellation_hours"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func toClinic(c models.Clinic) clinicJSON {
	return clinicJSON{ID: c.ID, Name: c.Name, Timezone: c.Timezone, CancellationHours: c.CancellationHours, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type staffJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Email         string     `json:"email"`
	Role          string     `json:"role"`
	Active        bool       `json:"active"`
	CreatedAt     time.Time  `json:"created_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

func toStaff(st models.Staff) staffJSON {
	return staffJSON{ID: st.ID, Name: st.Name, Email: st.Email, Role: string(st.Role), Active: st.Active, CreatedAt: st.CreatedAt, DeactivatedAt: st.Deactivated}
}

// newStaff returns a staff account from what its owner typed, with the
// password hashed, or the fields at fault.
func newStaff(clinicID, email, name, password string, role models.Role, pw passwords, now time.Time) (models.Staff, error) {
	st := models.Staff{ID: uuid.NewString(), ClinicID: clinicID, Email: models.NormalizeEmail(email), Name: strings.TrimSpace(name),
		Role: role, Active: true, CreatedAt: now, UpdatedAt: now}
	var probs models.Problems
	probs.Merge(st.Validate())
	if err := models.ValidatePassword(password); err != nil {
		probs.Add("password", "%s", err)
	}
	if err := probs.Err(); err != nil {
		return st, err
	}
	hash, err := pw.hash(password)
	st.PasswordHash = hash
	return st, err
}

// clinic is the clinic the sign-up makes, or every field at fault, the
// owner's included.
func (r clinicSignupRequest) clinic(now time.Time) (models.Clinic, error) {
	c := models.Clinic{ID: uuid.NewString(), Name: strings.TrimSpace(r.ClinicName), Timezone: r.Timezone,
		CancellationHours: models.DefaultCancellationHours, CreatedAt: now, UpdatedAt: now}
	var probs models.Problems
	probs.Merge(c.Validate())
	probs.Merge(models.Staff{Email: models.NormalizeEmail(r.Email), Name: strings.TrimSpace(r.Name), Role: models.RoleOwner}.Validate())
	if err := models.ValidatePassword(r.Password); err != nil {
		probs.Add("password", "%s", err)
	}
	return c, probs.Err()
}

func handleClinicSignup(s clinicStore, accounts accountStore, tokens tokenStore, m mailer, signer *auth.Signer, pw passwords, limit *routeLimiter, logger *slog.Logger, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req clinicSignupRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if email := models.NormalizeEmail(req.Email); email != "" {
			if err := limit.byAccount("staff:" + email); err != nil {
				return err
			}
		}
		t := stamp(now)
		clinic, err := req.clinic(t)
		if err != nil {
			return err
		}
		owner, err := newStaff(clinic.ID, req.Email, req.Name, req.Password, models.RoleOwner, pw, t)
		if err != nil {
			return err
		}
		if err := s.CreateClinic(c.UserContext(), clinic, owner); err != nil {
			return err
		}
		logger.InfoContext(c.UserContext(), "clinic signed up", "request_id", requestID(c), "clinic_id", clinic.ID, "staff_id", owner.ID)
		if err := startVerification(c.UserContext(), tokens, m, staffSignIn(s, tokens), staffAccount(owner), owner.Email, t); err != nil {
			logger.WarnContext(c.UserContext(), "verification mail not queued", "request_id", requestID(c), "staff_id", owner.ID, "error", err)
		}
		tokens, err := startSession(c.UserContext(), accounts, signer, owner.ID, models.AudienceStaff, uuid.NewString(), t)
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(tokens)
	}
}

func handleGetClinic(s clinicStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, _ := staffOf(c)
		clinic, err := s.Clinic(c.UserContext(), st.ClinicID)
		if err != nil {
			return err
		}
		setETag(c, clinic.Version)
		return c.JSON(toClinic(clinic))
	}
}

func handleGetStaffMe() fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, _ := staffOf(c)
		return c.JSON(toStaff(st))
	}
}

type clinicPatch struct {
	Name              *string `json:"name"`
	Timezone          *string `json:"timezone"`
	CancellationHours *int    `json:"cancellation_hours"`
}

// handlePatchClinic changes the clinic's name, time zone or cancellation
// window (the owner's): the version If-Match names, or else the current one.
func handlePatchClinic(s clinicStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req clinicPatch
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req == (clinicPatch{}) {
			return invalid("body", "name the fields to change: name, timezone or cancellation_hours")
		}
		st, _ := staffOf(c)
		var clinic models.Clinic
		err = edit(c, pre, func() error {
			var err error
			if clinic, err = s.Clinic(c.UserContext(), st.ClinicID); err != nil {
				return err
			}
			if err := pre.check(clinic.Version); err != nil {
				return err
			}
			if err := req.apply(&clinic); err != nil {
				return err
			}
			clinic.UpdatedAt = stamp(now)
			clinic, err = s.SaveClinic(c.UserContext(), clinic)
			return err
		})
		if err != nil {
			return err
		}
		setETag(c, clinic.Version)
		return c.JSON(toClinic(clinic))
	}
}

// apply makes the change on c, or reports the fields at fault.
func (r clinicPatch) apply(c *models.Clinic) error {
	if r.Name != nil {
		c.Name = strings.TrimSpace(*r.Name)
	}
	if r.Timezone != nil {
		c.Timezone = *r.Timezone
	}
	if r.CancellationHours != nil {
		c.CancellationHours = *r.CancellationHours
	}
	return renameField(c.Validate(), "clinic_name", "name")
}

// renameField names a field error by the request's own name for the field.
func renameField(err error, from, to string) error {
	fields := models.FieldsOf(err)
	for i := range fields {
		if fields[i].Field == from {
			fields[i].Field = to
		}
	}
	return err
}

func handleListStaff(s clinicStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, _ := staffOf(c)
		list, err := s.StaffOf(c.UserContext(), st.ClinicID)
		if err != nil {
			return err
		}
		items := make([]staffJSON, len(list))
		for i, x := range list {
			items[i] = toStaff(x)
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": nil})
	}
}

type staffPatch struct {
	Active *bool `json:"active"`
}

// handlePatchStaff deactivates (or reactivates) a staff member. Their
// refresh tokens are revoked at once, and their access token stops working
// on the next request, which reads the account.
func handlePatchStaff(s clinicStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req staffPatch
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.Active == nil {
			return invalid("active", "is required")
		}
		owner, _ := staffOf(c)
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "staff member not found")
		}
		if c.Params("id") == owner.ID && !*req.Active {
			return models.Errorf(models.ErrConflict, "the owner cannot deactivate their own account")
		}
		var st models.Staff
		err := edit(c, nil, func() error {
			var err error
			t := stamp(now)
			st, err = s.StaffByID(c.UserContext(), c.Params("id"))
			if err == nil && st.ClinicID != owner.ClinicID {
				err = models.Errorf(models.ErrNotFound, "staff member not found")
			}
			if err != nil || st.Active == *req.Active {
				return err
			}
			st.Active, st.UpdatedAt = *req.Active, t
			st.Deactivated = nil
			if !st.Active {
				st.Deactivated = &t
			}
			st, err = s.SaveStaff(c.UserContext(), st)
			return err
		})
		if err != nil {
			return err
		}
		if !st.Active {
			if err := s.SignOutStaff(c.UserContext(), st.ID, stamp(now)); err != nil {
				return err
			}
		}
		return c.JSON(toStaff(st))
	}
}

type invitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

type invitationJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Token is in the answer that made the invitation, and never again.
	Token string `json:"token,omitempty"`
}

func toInvitation(inv models.Invitation, now time.Time) invitationJSON {
	return invitationJSON{ID: inv.ID, Email: inv.Email, Role: string(inv.Role), Status: inv.State(now), CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}
}

// validate returns the invitee's address and role (therapist by default).
func (r invitationRequest) validate() (string, models.Role, error) {
	var probs models.Problems
	email, err := models.ValidateEmail(r.Email)
	if err != nil {
		probs.Add("email", "%s", err)
	}
	if r.Role != "" && r.Role != string(models.RoleTherapist) {
		probs.Add("role", "must be therapist: a clinic has one owner")
	}
	return email, models.RoleTherapist, probs.Err()
}

func handleCreateInvitation(s clinicStore, m mailer, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req invitationRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		owner, _ := staffOf(c)
		email, role, err := req.validate()
		if err != nil {
			return err
		}
		return invite(c, s, m, owner, email, role, stamp(now))
	}
}

// invite makes an invitation and mails its link to the invitee. The token
// is in the answer too, once, for an owner who would rather pass it on.
func invite(c *fiber.Ctx, s clinicStore, m mailer, owner models.Staff, email string, role models.Role, t time.Time) error {
	ctx := c.UserContext()
	clinic, err := s.Clinic(ctx, owner.ClinicID)
	if err != nil {
		return err
	}
	token, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return err
	}
	inv := models.Invitation{ID: uuid.NewString(), ClinicID: owner.ClinicID, Email: email, Role: role,
		TokenHash: hash, InvitedBy: owner.ID, CreatedAt: t, ExpiresAt: t.Add(models.InvitationTTL)}
	if err := s.CreateInvitation(ctx, inv); err != nil {
		return err
	}
	data := mail.Data{Link: m.baseURL + "/clinic/invitation#" + token, Clinic: clinic.Name, Inviter: owner.Name, ValidFor: models.InvitationTTL}
	if err := m.send(ctx, models.MailStaffInvitation, account{Email: email, Locale: models.DefaultLocale}, data, t); err != nil {
		return err
	}
	out := toInvitation(inv, t)
	out.Token = token
	c.Status(fiber.StatusCreated)
	return c.JSON(out)
}

// handleResendInvitation replaces a pending or expired invitation by a new
// one to the same address, mailed again: the old link stops working.
func handleResendInvitation(s clinicStore, m mailer, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		owner, _ := staffOf(c)
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "invitation not found")
		}
		t := stamp(now)
		inv, err := s.Invitation(c.UserContext(), owner.ClinicID, c.Params("id"))
		if err != nil {
			return err
		}
		if state := inv.State(t); state == "accepted" || state == "revoked" {
			return models.Errorf(models.ErrConflict, "the invitation was %s; make a new one to invite again", state)
		}
		// The old invitation is revoked first, so that of two resends at
		// once only one makes a new invitation; should making it fail, the
		// owner invites the address again.
		replaced, err := s.RevokeInvitation(c.UserContext(), owner.ClinicID, inv.ID, t)
		if err != nil {
			return err
		}
		if !replaced {
			return models.Errorf(models.ErrConflict, "the invitation was accepted or revoked meanwhile")
		}
		return invite(c, s, m, owner, inv.Email, inv.Role, t)
	}
}

func handleListInvitations(s clinicStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		owner, _ := staffOf(c)
		list, err := s.InvitationsOf(c.UserContext(), owner.ClinicID)
		if err != nil {
			return err
		}
		t := stamp(now)
		items := make([]invitationJSON, len(list))
		for i, inv := range list {
			items[i] = toInvitation(inv, t)
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": nil})
	}
}

func handleRevokeInvitation(s clinicStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		owner, _ := staffOf(c)
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "invitation not found")
		}
		if _, err := s.RevokeInvitation(c.UserContext(), owner.ClinicID, c.Params("id"), stamp(now)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

type acceptInvitationRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (r acceptInvitationRequest) validate() error {
	var probs models.Problems
	if r.Token == "" {
		probs.Add("token", "is required")
	}
	models.ValidateName(&probs, "name", r.Name)
	if err := models.ValidatePassword(r.Password); err != nil {
		probs.Add("password", "%s", err)
	}
	return probs.Err()
}

// handleAcceptInvitation makes the invitee's staff account and signs them
// in. The token is the credential, and it works once.
func handleAcceptInvitation(s clinicStore, accounts accountStore, signer *auth.Signer, pw passwords, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req acceptInvitationRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		t := stamp(now)
		bad := models.Errorf(models.ErrNotFound, "the invitation is not valid: it was used, revoked or has expired")
		inv, err := s.InvitationByTokenHash(c.UserContext(), auth.HashOpaqueToken(req.Token))
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
			return bad
		case err != nil:
			return err
		case inv.State(t) != "pending":
			return bad
		}
		st, err := newStaff(inv.ClinicID, inv.Email, req.Name, req.Password, inv.Role, pw, t)
		if err != nil {
			return err
		}
		// The token came by mail to the invited address.
		st.EmailVerifiedAt = &t
		if err := s.AcceptInvitation(c.UserContext(), inv, st, t); err != nil {
			return err
		}
		tokens, err := startSession(c.UserContext(), accounts, signer, st.ID, models.AudienceStaff, uuid.NewString(), t)
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(tokens)
	}
}
