package handlers

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
)

type profileStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	UpdateProfile(ctx context.Context, p models.Patient) error
}

type quietHoursJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type preferenceJSON struct {
	Enabled   bool   `json:"enabled"`
	TimeOfDay string `json:"time_of_day,omitempty"`
	Weekday   string `json:"weekday,omitempty"`
}

type profileResponse struct {
	ID                  string                    `json:"id"`
	Email               string                    `json:"email"`
	Name                string                    `json:"name"`
	Timezone            string                    `json:"timezone"`
	Locale              string                    `json:"locale"`
	QuietHours          quietHoursJSON            `json:"quiet_hours"`
	ReminderPreferences map[string]preferenceJSON `json:"reminder_preferences"`
	// EmailVerified is whether the patient proved they read Email's mail;
	// PendingEmail is the address a change waits to be verified for.
	EmailVerified bool      `json:"email_verified"`
	PendingEmail  string    `json:"pending_email,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// preferencePatch changes some of one kind's settings.
type preferencePatch struct {
	Enabled   *bool   `json:"enabled"`
	TimeOfDay *string `json:"time_of_day"`
	Weekday   *string `json:"weekday"`
}

type patchMeRequest struct {
	Name                *string                    `json:"name"`
	Timezone            *string                    `json:"timezone"`
	Locale              *string                    `json:"locale"`
	QuietHours          *quietHoursJSON            `json:"quiet_hours"`
	ReminderPreferences map[string]preferencePatch `json:"reminder_preferences"`
	// Email changes the address, once the new one is verified; it needs
	// the current password.
	Email           *string `json:"email"`
	CurrentPassword *string `json:"current_password"`
}

func toProfile(p models.Patient) profileResponse {
	prefs := make(map[string]preferenceJSON, len(p.Preferences))
	for kind, pref := range p.Preferences {
		pj := preferenceJSON{Enabled: pref.Enabled, TimeOfDay: pref.TimeOfDay}
		if pref.Weekday != nil {
			pj.Weekday = strings.ToLower(pref.Weekday.String())
		}
		prefs[string(kind)] = pj
	}
	return profileResponse{
		ID: p.ID, Email: p.Email, Name: p.Name, Timezone: p.Timezone, Locale: p.Locale,
		QuietHours:          quietHoursJSON{Start: p.QuietHours.Start, End: p.QuietHours.End},
		ReminderPreferences: prefs,
		EmailVerified:       p.EmailVerifiedAt != nil,
		CreatedAt:           p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func handleGetMe(s accountStore, tokens tokenStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		return profileWithPending(c, tokens, p, stamp(now))
	}
}

// profileWithPending answers the profile with the address a change waits
// to be verified for.
func profileWithPending(c *fiber.Ctx, tokens tokenStore, p models.Patient, now time.Time) error {
	pending, _, err := addressState(c.UserContext(), tokens, models.AudiencePatient, toAccount(p), now)
	if err != nil {
		return err
	}
	out := toProfile(p)
	out.PendingEmail = pending
	return c.JSON(out)
}

// emailChange is the new address a PATCH asks for, checked, or "" when it
// asks for none (or for the address the patient has).
func (r patchMeRequest) emailChange(current string) (string, error) {
	if r.Email == nil {
		if r.CurrentPassword != nil {
			return "", invalid("current_password", "is only needed to change the email")
		}
		return "", nil
	}
	email, err := models.ValidateEmail(*r.Email)
	if err != nil {
		return "", invalid("email", "%s", err)
	}
	if r.CurrentPassword == nil || *r.CurrentPassword == "" {
		return "", invalid("current_password", "is required to change the email")
	}
	if email == current {
		return "", nil
	}
	return email, nil
}

func handlePatchMe(s accountStore, tokens tokenStore, pw passwords, limit *routeLimiter, m mailer, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req patchMeRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		newEmail, err := req.emailChange(p.Email)
		if err != nil {
			return err
		}
		if newEmail != "" {
			// Each change mails two addresses.
			if err := limit.byAccount(models.AudiencePatient + ":" + p.ID); err != nil {
				return err
			}
		}
		if req.CurrentPassword != nil {
			if err := confirmPassword(c, s, pw, p, *req.CurrentPassword, models.AuditEmailChange, t); err != nil {
				return err
			}
		}
		// Two changes at once (quiet hours from one screen, a reminder
		// preference from another) both apply: see edit.
		err = edit(c, nil, func() error {
			var err error
			if p, err = s.PatientByID(ctx, patientID(c)); err != nil {
				return err
			}
			var probs models.Problems
			applyProfilePatch(&p, req, &probs)
			probs.Merge(p.Validate())
			if err := probs.Err(); err != nil {
				return err
			}
			p.UpdatedAt = t
			return s.UpdateProfile(ctx, p)
		})
		if err != nil {
			return err
		}
		rp.after(c, p.ID, p.UpdatedAt)
		if newEmail != "" {
			if err := changeEmail(c, s, tokens, m, p, newEmail, t); err != nil {
				return err
			}
		}
		return profileWithPending(c, tokens, p, t)
	}
}

// changeEmail starts a change of the patient's address: the new address
// gets a link, and the change is made when it is opened; the old address
// is told at once, so that a change the patient did not make is noticed
// while the old address still signs in.
func changeEmail(c *fiber.Ctx, s accountStore, tokens tokenStore, m mailer, p models.Patient, email string, now time.Time) error {
	ctx := c.UserContext()
	kind := patientSignIn(s)
	acct := toAccount(p)
	if err := startVerification(ctx, tokens, m, kind, acct, email, now); err != nil {
		return err
	}
	if err := m.send(ctx, models.MailEmailChanged, acct, mail.Data{NewAddress: mail.MaskAddress(email), Link: m.baseURL + "/reset"}, now); err != nil {
		return err
	}
	return auditAccount(c, s, now, p.ID, models.AuditEmailChange, "requested")
}

// applyProfilePatch changes the fields req names; what is wrong with the
// request's shape (an unknown kind or weekday) goes into probs, what is
// wrong with the values is found by Validate afterwards.
func applyProfilePatch(p *models.Patient, req patchMeRequest, probs *models.Problems) {
	if req.Name != nil {
		p.Name = strings.TrimSpace(*req.Name)
	}
	if req.Timezone != nil {
		p.Timezone = *req.Timezone
	}
	if req.Locale != nil {
		p.Locale = *req.Locale
	}
	if req.QuietHours != nil {
		p.QuietHours = models.QuietHours{Start: req.QuietHours.Start, End: req.QuietHours.End}
	}
	for name, patch := range req.ReminderPreferences {
		field := "reminder_preferences." + name
		kind := models.ReminderKind(name)
		pref, ok := p.Preferences[kind]
		if _, known := models.LookupKind(kind); !known {
			probs.Add(field, "is not a reminder kind")
			continue
		}
		if !ok {
			pref = models.DefaultPreferences()[kind]
		}
		if patch.Enabled != nil {
			pref.Enabled = *patch.Enabled
		}
		if patch.TimeOfDay != nil {
			pref.TimeOfDay = *patch.TimeOfDay
		}
		if patch.Weekday != nil {
			d, ok := parseWeekday(*patch.Weekday)
			if !ok {
				probs.Add(field+".weekday", "must be a weekday such as monday")
				continue
			}
			pref.Weekday = &d
		}
		p.Preferences[kind] = pref
	}
}

func parseWeekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()) {
			return d, true
		}
	}
	return 0, false
}
