package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

type accountStore interface {
	CreatePatient(ctx context.Context, p models.Patient) error
	PatientByEmail(ctx context.Context, email string) (models.Patient, error)
	LoginFailures(ctx context.Context, email string, now time.Time) (int, time.Time, error)
	RecordLoginFailure(ctx context.Context, email string, now time.Time) (int, error)
	ClearLoginFailures(ctx context.Context, email string, now time.Time) error
	CreateRefreshToken(ctx context.Context, t models.RefreshToken) error
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (models.RefreshToken, error)
	RefreshTokenByHash(ctx context.Context, hash string) (models.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) error
	RevokePatientRefreshTokens(ctx context.Context, patientID string, now time.Time) error
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	SetPassword(ctx context.Context, patientID, hash string, now time.Time) error
	auditStore
}

// maxLoginFailures is how many failed sign-ins an account gets per window
// before it must wait for the window to end.
const maxLoginFailures = 5

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Locale   string `json:"locale"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func handleRegister(s accountStore, signer *auth.Signer, params auth.Params, limit *routeLimiter, rp replanner, logger *slog.Logger, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registerRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		p := models.NewPatient(uuid.NewString(), req.Email, req.Name, req.Timezone, stamp(now))
		if p.Email != "" {
			if err := limit.byAccount(p.Email); err != nil {
				return err
			}
		}
		if req.Locale != "" {
			p.Locale = req.Locale
		}
		var probs models.Problems
		if err := models.ValidatePassword(req.Password); err != nil {
			probs.Add("password", "%s", err)
		}
		probs.Merge(p.Validate())
		if err := probs.Err(); err != nil {
			return err
		}
		hash, err := auth.HashPassword(req.Password, params)
		if err != nil {
			return err
		}
		p.PasswordHash = hash
		if err := s.CreatePatient(c.UserContext(), p); err != nil {
			return err
		}
		logger.InfoContext(c.UserContext(), "patient registered", "request_id", requestID(c), "patient_id", p.ID)
		rp.after(c, p.ID, p.CreatedAt)
		tokens, err := startSession(c.UserContext(), s, signer, p.ID, models.AudiencePatient, uuid.NewString(), stamp(now))
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(tokens)
	}
}

// signInKind is what sign-in needs to know of one kind of account: patients
// and clinic staff sign in the same way, under their own token audience.
type signInKind struct {
	audience string
	// find returns the account with the (normalized) email: its id, its
	// password hash, and whether it may sign in; ErrNotFound when none.
	find func(ctx context.Context, email string) (id, hash string, active bool, err error)
	// failureKey is the account's key in the failed sign-in counter.
	failureKey func(email string) string
	// audit records a sign-in event of the account.
	audit func(c *fiber.Ctx, now time.Time, id, action, outcome string) error
}

// patientSignIn is sign-in to the phone app.
func patientSignIn(s accountStore) signInKind {
	return signInKind{
		audience: models.AudiencePatient,
		find: func(ctx context.Context, email string) (string, string, bool, error) {
			p, err := s.PatientByEmail(ctx, email)
			return p.ID, p.PasswordHash, err == nil, err
		},
		failureKey: func(email string) string { return email },
		audit: func(c *fiber.Ctx, now time.Time, id, action, outcome string) error {
			return auditAccount(c, s, now, id, action, outcome)
		},
	}
}

func handleLogin(s accountStore, kind signInKind, signer *auth.Signer, params auth.Params, limit *routeLimiter, logger *slog.Logger, now func() time.Time) fiber.Handler {
	// An unknown email is checked against this hash, made with the costs of
	// new accounts' hashes, so that it costs the same time as a wrong
	// password and the two cannot be told apart.
	dummyHash, _ := auth.HashPassword(uuid.NewString(), params)
	return func(c *fiber.Ctx) error {
		var req loginRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		email := models.NormalizeEmail(req.Email)
		if email == "" || req.Password == "" {
			var probs models.Problems
			if email == "" {
				probs.Add("email", "is required")
			}
			if req.Password == "" {
				probs.Add("password", "is required")
			}
			return probs.Err()
		}
		if err := limit.byAccount(email); err != nil {
			return err
		}
		key := kind.failureKey(email)
		failures, windowEnd, err := s.LoginFailures(ctx, key, t)
		if err != nil {
			return err
		}
		if failures >= maxLoginFailures {
			return tooManyLogins(windowEnd.Sub(t))
		}
		id, hash, active, err := kind.find(ctx, email)
		found := err == nil
		if err != nil && models.ErrorCode(err) != models.ErrNotFound {
			return err
		}
		if !found {
			hash = dummyHash
		}
		ok, err := auth.CheckPassword(req.Password, hash)
		if err != nil {
			return err
		}
		if !found || !ok || !active {
			n, err := s.RecordLoginFailure(ctx, key, t)
			if err != nil {
				return err
			}
			logger.InfoContext(ctx, "sign-in failed", "request_id", requestID(c), "audience", kind.audience, "failures_in_window", n)
			// A wrong guess at an unknown email touches nobody's account,
			// so only the log has it.
			if found {
				if err := kind.audit(c, t, id, models.AuditSignInFailed, "failed"); err != nil {
					return err
				}
			}
			if n >= maxLoginFailures {
				return tooManyLogins(windowEnd.Sub(t))
			}
			return models.Errorf(models.ErrUnauthorized, "the email or password is wrong")
		}
		if err := s.ClearLoginFailures(ctx, key, t); err != nil {
			return err
		}
		tokens, err := startSession(ctx, s, signer, id, kind.audience, uuid.NewString(), t)
		if err != nil {
			return err
		}
		if err := kind.audit(c, t, id, models.AuditSignIn, "ok"); err != nil {
			return err
		}
		logger.InfoContext(ctx, "signed in", "request_id", requestID(c), "audience", kind.audience, "account_id", id)
		return c.JSON(tokens)
	}
}

func tooManyLogins(wait time.Duration) error {
	return &models.Error{Code: models.ErrRateLimited, RetryAfter: max(wait, time.Second),
		Message: "too many failed sign-ins for this account; wait and try again"}
}

// handleRefresh rotates a refresh token: the old one is spent, a new one of
// the same family is issued. Presenting a spent token revokes the family.
// A token of the other audience is refused without being spent.
func handleRefresh(s accountStore, signer *auth.Signer, audience string, limit *routeLimiter, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req refreshRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.RefreshToken == "" {
			return invalid("refresh_token", "is required")
		}
		t, hash := stamp(now), auth.HashOpaqueToken(req.RefreshToken)
		// The account is counted before the token is spent, so that a
		// refused refresh leaves the phone's token usable.
		presented, err := s.RefreshTokenByHash(c.UserContext(), hash)
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
		case err != nil:
			return err
		case tokenAudience(presented) != audience:
			return models.Errorf(models.ErrUnauthorized, "the refresh token is not valid; sign in again")
		default:
			if err := limit.byAccount(presented.PatientID); err != nil {
				return err
			}
		}
		old, err := s.UseRefreshToken(c.UserContext(), hash, t)
		if err != nil {
			return err
		}
		tokens, err := startSession(c.UserContext(), s, signer, old.PatientID, audience, old.FamilyID, t)
		if err != nil {
			return err
		}
		return c.JSON(tokens)
	}
}

// handleLogout revokes the refresh token's whole family. It answers 204
// for unknown tokens too: logging out twice is not an error. A token of
// the other audience is left alone, as it is by refresh.
func handleLogout(s accountStore, audience string, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req refreshRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.RefreshToken == "" {
			return invalid("refresh_token", "is required")
		}
		presented, err := s.RefreshTokenByHash(c.UserContext(), auth.HashOpaqueToken(req.RefreshToken))
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
		case err != nil:
			return err
		case tokenAudience(presented) != audience:
		default:
			if err := s.RevokeRefreshFamily(c.UserContext(), presented.FamilyID, stamp(now)); err != nil {
				return err
			}
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleChangePassword replaces the password after checking the current
// one. Every refresh token of the patient is revoked, so a phone that was
// signed in by someone else is signed out; this phone gets a new sign-in.
// Wrong current passwords count as failed sign-ins, so this route cannot
// be used to guess around the sign-in limit.
func handleChangePassword(s accountStore, signer *auth.Signer, params auth.Params, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req passwordChangeRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		var probs models.Problems
		if req.CurrentPassword == "" {
			probs.Add("current_password", "is required")
		}
		if err := models.ValidatePassword(req.NewPassword); err != nil {
			probs.Add("new_password", "%s", err)
		}
		if err := probs.Err(); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		failures, windowEnd, err := s.LoginFailures(ctx, p.Email, t)
		if err != nil {
			return err
		}
		if failures >= maxLoginFailures {
			return tooManyLogins(windowEnd.Sub(t))
		}
		ok, err := auth.CheckPassword(req.CurrentPassword, p.PasswordHash)
		if err != nil {
			return err
		}
		if !ok {
			n, err := s.RecordLoginFailure(ctx, p.Email, t)
			if err != nil {
				return err
			}
			if err := auditAccount(c, s, t, p.ID, models.AuditPasswordChange, "failed"); err != nil {
				return err
			}
			if n >= maxLoginFailures {
				return tooManyLogins(windowEnd.Sub(t))
			}
			return models.Errorf(models.ErrUnauthorized, "the current password is wrong; nothing was changed")
		}
		hash, err := auth.HashPassword(req.NewPassword, params)
		if err != nil {
			return err
		}
		if err := s.SetPassword(ctx, p.ID, hash, t); err != nil {
			return err
		}
		if err := s.RevokePatientRefreshTokens(ctx, p.ID, t); err != nil {
			return err
		}
		if err := auditAccount(c, s, t, p.ID, models.AuditPasswordChange, "ok"); err != nil {
			return err
		}
		tokens, err := startSession(ctx, s, signer, p.ID, models.AudiencePatient, uuid.NewString(), t)
		if err != nil {
			return err
		}
		return c.JSON(tokens)
	}
}

// auditAccount records an account event by the patient: ids and outcome only.
func auditAccount(c *fiber.Ctx, s auditStore, now time.Time, patientID, action, outcome string) error {
	return appendAudit(c, s, models.AuditEntry{At: now, Subject: patientID, Actor: "patient", Action: action, Outcome: outcome})
}

// tokenAudience is whose a refresh token is; tokens from before staff
// accounts have none and are patients'.
func tokenAudience(t models.RefreshToken) string {
	if t.Audience == "" {
		return models.AudiencePatient
	}
	return t.Audience
}

// startSession issues an access token for the account id under audience
// and a new refresh token in family.
func startSession(ctx context.Context, s accountStore, signer *auth.Signer, id, audience, family string, now time.Time) (tokenResponse, error) {
	access, err := signer.Issue(id, audience, now)
	if err != nil {
		return tokenResponse{}, err
	}
	refresh, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return tokenResponse{}, err
	}
	stored := models.RefreshToken{Hash: hash, PatientID: id, FamilyID: family, CreatedAt: now, ExpiresAt: now.Add(auth.RefreshTTL)}
	if audience != models.AudiencePatient {
		stored.Audience = audience
	}
	err = s.CreateRefreshToken(ctx, stored)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(auth.AccessTTL.Seconds())}, nil
}
