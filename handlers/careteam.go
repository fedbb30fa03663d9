package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

// linkStore is what consent — link codes and care links — needs.
type linkStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	Clinic(ctx context.Context, id string) (models.Clinic, error)
	ClinicsByID(ctx context.Context, ids []string) (map[string]models.Clinic, error)
	StaffByIDs(ctx context.Context, ids []string) (map[string]models.Staff, error)
	CreateLinkCode(ctx context.Context, c models.LinkCode) error
	CheckLinkCode(ctx context.Context, locatorHash, secretHash string, from models.LinkCodeDirection, spend bool, now time.Time) (models.LinkCode, error)
	LinkPatient(ctx context.Context, l models.CareLink) (models.CareLink, error)
	ActiveLink(ctx context.Context, patientID, clinicID string) (models.CareLink, error)
	LinksOfPatient(ctx context.Context, patientID string) ([]models.CareLink, error)
	RevokeLink(ctx context.Context, patientID, id, by string, now time.Time) (bool, error)
	HasCareLink(ctx context.Context, patientID string) (bool, error)
	UnreadCounts(ctx context.Context, patientID string, reader models.Side) (map[string]int, error)
	auditStore
}

type scopeRequest struct {
	Scope string `json:"scope"`
}

type codeRequest struct {
	Code string `json:"code"`
}

type linkCodeJSON struct {
	Code      string    `json:"code"`
	Scope     string    `json:"scope"`
	ExpiresAt time.Time `json:"expires_at"`
}

func parseScope(s string) (models.Scope, error) {
	sc := models.Scope(s)
	if !sc.Valid() {
		return "", invalid("scope", "must be view or care")
	}
	return sc, nil
}

// makeLinkCode stores a fresh code; a clash of its first group with a live
// code's (one in about a million per live code) makes another.
func makeLinkCode(ctx context.Context, s linkStore, c models.LinkCode) (string, error) {
	for attempt := 0; ; attempt++ {
		display, locator, secret, err := models.NewLinkCode()
		if err != nil {
			return "", err
		}
		c.ID, c.SecretHash = locator, secret
		err = s.CreateLinkCode(ctx, c)
		if models.ErrorCode(err) != models.ErrConflict || attempt == 4 {
			return display, err
		}
	}
}

// typedCode reads the code a person typed, or answers as for a wrong one.
func typedCode(c *fiber.Ctx) (locator, secret string, err error) {
	var req codeRequest
	if err := decodeBody(c, &req); err != nil {
		return "", "", err
	}
	if req.Code == "" {
		return "", "", invalid("code", "is required")
	}
	locator, secret, ok := models.ParseLinkCode(req.Code)
	if !ok {
		return "", "", invalid("code", "must be 8 letters and digits, such as 7KQ4-MZ2P")
	}
	return locator, secret, nil
}

// handleCreateCode makes a link code: from the clinic, for a patient to
// enter in the app, or from the patient, to read out at the front desk.
func handleCreateCode(s linkStore, from models.LinkCodeDirection, limit *routeLimiter, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req scopeRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		scope, err := parseScope(req.Scope)
		if err != nil {
			return err
		}
		t := stamp(now)
		code := models.LinkCode{Direction: from, Scope: scope, CreatedAt: t, ExpiresAt: t.Add(models.LinkCodeTTL)}
		st, staff := staffOf(c)
		account := "staff:" + st.ID
		if staff {
			code.ClinicID, code.StaffID = st.ClinicID, st.ID
		} else {
			code.PatientID, account = patientID(c), patientID(c)
		}
		if err := limit.byAccount(account); err != nil {
			return err
		}
		if !staff {
			// An erased account's access token stays valid for minutes.
			if _, err := s.PatientByID(c.UserContext(), code.PatientID); err != nil {
				return err
			}
		}
		display, err := makeLinkCode(c.UserContext(), s, code)
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(linkCodeJSON{Code: display, Scope: string(scope), ExpiresAt: code.ExpiresAt})
	}
}

type namedJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type previewJSON struct {
	Clinic    namedJSON `json:"clinic"`
	Therapist namedJSON `json:"therapist"`
	Scope     string    `json:"scope"`
	ExpiresAt time.Time `json:"expires_at"`
}

type careTeamJSON struct {
	ID        string     `json:"id"`
	Clinic    namedJSON  `json:"clinic"`
	LinkedBy  *namedJSON `json:"linked_by,omitempty"`
	Scope     string     `json:"scope"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// UnreadCount is how many of the clinic's messages the patient has not read.
	UnreadCount int `json:"unread_count"`
}

func toCareTeam(l models.CareLink, clinics map[string]models.Clinic, staff map[string]models.Staff) careTeamJSON {
	r := careTeamJSON{ID: l.ID, Clinic: namedJSON{ID: l.ClinicID, Name: clinics[l.ClinicID].Name}, Scope: string(l.Scope),
		Status: string(l.Status), CreatedAt: l.CreatedAt, RevokedAt: l.RevokedAt}
	if st, ok := staff[l.LinkedBy]; ok {
		r.LinkedBy = &namedJSON{ID: st.ID, Name: st.Name}
	}
	return r
}

// clinicCode checks a code a patient typed, made by a clinic, and returns
// it with its clinic and therapist.
func clinicCode(c *fiber.Ctx, s linkStore, spend bool, limit *routeLimiter, now time.Time) (models.LinkCode, models.Clinic, map[string]models.Staff, error) {
	locator, secret, err := typedCode(c)
	if err != nil {
		return models.LinkCode{}, models.Clinic{}, nil, err
	}
	if err := limit.byAccount(patientID(c)); err != nil {
		return models.LinkCode{}, models.Clinic{}, nil, err
	}
	// An erased account's access token stays valid for minutes; it links
	// nobody.
	if _, err := s.PatientByID(c.UserContext(), patientID(c)); err != nil {
		return models.LinkCode{}, models.Clinic{}, nil, err
	}
	code, err := s.CheckLinkCode(c.UserContext(), locator, secret, models.CodeFromClinic, spend, now)
	if err != nil {
		return code, models.Clinic{}, nil, err
	}
	clinic, err := s.Clinic(c.UserContext(), code.ClinicID)
	if err != nil {
		return code, clinic, nil, err
	}
	staff, err := s.StaffByIDs(c.UserContext(), []string{code.StaffID})
	return code, clinic, staff, err
}

// handlePreviewCareTeam shows whom a code would link, without using it up.
func handlePreviewCareTeam(s linkStore, limit *routeLimiter, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		code, clinic, staff, err := clinicCode(c, s, false, limit, stamp(now))
		if err != nil {
			return err
		}
		st := staff[code.StaffID]
		return c.JSON(previewJSON{Clinic: namedJSON{ID: clinic.ID, Name: clinic.Name}, Therapist: namedJSON{ID: st.ID, Name: st.Name},
			Scope: string(code.Scope), ExpiresAt: code.ExpiresAt})
	}
}

// handleJoinCareTeam accepts a clinic's code: the patient consents to the
// clinic seeing (or steering) their care.
func handleJoinCareTeam(s linkStore, limit *routeLimiter, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := stamp(now)
		code, clinic, staff, err := clinicCode(c, s, true, limit, t)
		if err != nil {
			return err
		}
		l, err := link(c, s, code, patientID(c), clinic.ID, code.StaffID, t)
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(toCareTeam(l, map[string]models.Clinic{clinic.ID: clinic}, staff))
	}
}

// link stores the link a redeemed code makes, and audits the consent.
func link(c *fiber.Ctx, s linkStore, code models.LinkCode, patientID, clinicID, staffID string, t time.Time) (models.CareLink, error) {
	l, err := s.LinkPatient(c.UserContext(), models.CareLink{ID: uuid.NewString(), PatientID: patientID, ClinicID: clinicID,
		LinkedBy: staffID, Scope: code.Scope, Status: models.LinkActive, CreatedAt: t, UpdatedAt: t})
	if err != nil {
		return l, err
	}
	err = appendAudit(c, s, models.AuditEntry{At: t, Subject: patientID, Actor: "patient", ActorKind: models.ActorPatient, ClinicID: clinicID,
		Action: models.AuditCareLink, Outcome: "ok", Detail: string(l.Scope)})
	return l, err
}

type redeemedJSON struct {
	Patient namedJSON `json:"patient"`
	LinkID  string    `json:"link_id"`
	Scope   string    `json:"scope"`
}

// handleRedeemPatientCode links the patient whose code a therapist typed
// in at the front desk.
func handleRedeemPatientCode(s linkStore, limit *routeLimiter, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		locator, secret, err := typedCode(c)
		if err != nil {
			return err
		}
		st, _ := staffOf(c)
		if err := limit.byAccount("staff:" + st.ID); err != nil {
			return err
		}
		t := stamp(now)
		code, err := s.CheckLinkCode(c.UserContext(), locator, secret, models.CodeFromPatient, true, t)
		if err != nil {
			return err
		}
		p, err := s.PatientByID(c.UserContext(), code.PatientID)
		if models.ErrorCode(err) == models.ErrNotFound {
			return models.Errorf(models.ErrNotFound, "the code is not valid: check it, or ask for a new one")
		}
		if err != nil {
			return err
		}
		l, err := link(c, s, code, p.ID, st.ClinicID, st.ID, t)
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(redeemedJSON{Patient: namedJSON{ID: p.ID, Name: p.Name}, LinkID: l.ID, Scope: string(l.Scope)})
	}
}

// careTeamOf answers a patient's links with their clinics' and linkers' names.
func careTeamOf(ctx context.Context, s linkStore, links []models.CareLink) ([]careTeamJSON, error) {
	clinicIDs, staffIDs := make([]string, len(links)), make([]string, len(links))
	for i, l := range links {
		clinicIDs[i], staffIDs[i] = l.ClinicID, l.LinkedBy
	}
	clinics, err := s.ClinicsByID(ctx, clinicIDs)
	if err != nil {
		return nil, err
	}
	staff, err := s.StaffByIDs(ctx, staffIDs)
	if err != nil {
		return nil, err
	}
	items := make([]careTeamJSON, len(links))
	for i, l := range links {
		items[i] = toCareTeam(l, clinics, staff)
	}
	return items, nil
}

// handleListCareTeam lists the clinics the patient is linked to now, each
// with the count of its messages the patient has not read.
func handleListCareTeam(s linkStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		links, err := s.LinksOfPatient(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		active := []models.CareLink{}
		for _, l := range links {
			if l.Status == models.LinkActive {
				active = append(active, l)
			}
		}
		items, err := careTeamOf(c.UserContext(), s, active)
		if err != nil {
			return err
		}
		unread, err := s.UnreadCounts(c.UserContext(), patientID(c), models.SidePatient)
		if err != nil {
			return err
		}
		for i := range items {
			items[i].UnreadCount = unread[items[i].ID]
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": nil})
	}
}

// handleLeaveCareTeam revokes a clinic's link: the clinic's next request
// about the patient finds nobody.
func handleLeaveCareTeam(s linkStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "care link not found")
		}
		t := stamp(now)
		links, err := s.LinksOfPatient(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		clinicID := ""
		for _, l := range links {
			if l.ID == c.Params("id") {
				clinicID = l.ClinicID
			}
		}
		revoked, err := s.RevokeLink(c.UserContext(), patientID(c), c.Params("id"), "patient", t)
		if err != nil {
			return err
		}
		if revoked {
			if err := appendAudit(c, s, models.AuditEntry{At: t, Subject: patientID(c), Actor: "patient", ActorKind: models.ActorPatient,
				ClinicID: clinicID, Action: models.AuditCareRevoke, Outcome: "ok"}); err != nil {
				return err
			}
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
