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
	VerifyPatientEmail(ctx context.Context, patientID, email string, now time.Time) error
	UpdateProfile(ctx context.Context, p models.Patient) error
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

func handleRegister(s accountStore, tokens tokenStore, m mailer, signer *auth.Signer, pw passwords, limit *routeLimiter, rp replanner, logger *slog.Logger, now func() time.Time) fiber.Handler {
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
		hash, err := pw.hash(req.Password)
		if err != nil {
			return err
		}
		p.PasswordHash = hash
		if err := s.CreatePatient(c.UserContext(), p); err != nil {
			return err
		}
		logger.InfoContext(c.UserContext(), "patient registered", "request_id", requestID(c), "patient_id", p.ID)
		rp.after(c, p.ID, p.CreatedAt)
		// The account is made; a verification mail that cannot be queued
		// now is asked for again from the app (POST /v1/me/verify-email).
		if err := startVerification(c.UserContext(), tokens, m, patientSignIn(s), toAccount(p), p.Email, p.CreatedAt); err != nil {
			logger.WarnContext(c.UserContext(), "verification mail not queued", "request_id", requestID(c), "patient_id", p.ID, "error", err)
		}
		tokens, err := startSession(c.UserContext(), s, signer, p.ID, models.AudiencePatient, uuid.NewString(), stamp(now))
		if err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(tokens)
	}
}

// account is what sign-in, password resets and address verification need
// of an account of either kind.
type account struct {
	ID, Email, Name, Locale, PasswordHash string
	// Active is false for a deactivated staff member, who cannot sign in
	// nor be mailed a reset.
	Active bool
	// Verified is true once the holder proved they read Email's mail.
	Verified bool
}

// signInKind is what the account routes need to know of one kind of
// account: patients and clinic staff sign in, reset their passwords and
// verify their addresses the same way, under their own token audience.
type signInKind struct {
	audience string
	// find returns the account with the (normalized) email, or
	// ErrNotFound when none; byID, the account with id.
	find func(ctx context.Context, email string) (account, error)
	byID func(ctx context.Context, id string) (account, error)
	// failureKey is the account's key in the failed sign-in counter and
	// the per-account rate limits.
	failureKey func(email string) string
	// audit records an event of the account.
	audit func(c *fiber.Ctx, now time.Time, id, action, outcome string) error
	// setPassword stores a new password hash; signOut revokes every
	// sign-in of the account.
	setPassword func(ctx context.Context, id, hash string, now time.Time) error
	signOut     func(ctx context.Context, id string, now time.Time) error
	// verified records that the account's holder reads the mail of email
	// and makes it the account's address.
	verified func(ctx context.Context, id, email string, now time.Time) error
	// pages is the path under the base URL of the pages mailed links open:
	// the phone app's for patients, the dashboard's for staff.
	pages string
}

func toAccount(p models.Patient) account {
	return account{ID: p.ID, Email: p.Email, Name: p.Name, Locale: p.Locale, PasswordHash: p.PasswordHash, Active: true,
		Verified: p.EmailVerifiedAt != nil}
}

// patientSignIn is sign-in to the phone app.
func patientSignIn(s accountStore) signInKind {
	return signInKind{
		audience: models.AudiencePatient,
		find: func(ctx context.Context, email string) (account, error) {
			p, err := s.PatientByEmail(ctx, email)
			return toAccount(p), err
		},
		byID: func(ctx context.Context, id string) (account, error) {
			p, err := s.PatientByID(ctx, id)
			return toAccount(p), err
		},
		failureKey: func(email string) string { return email },
		audit: func(c *fiber.Ctx, now time.Time, id, action, outcome string) error {
			return auditAccount(c, s, now, id, action, outcome)
		},
		setPassword: func(ctx context.Context, id, hash string, now time.Time) error {
			return s.SetPassword(ctx, id, hash, now)
		},
		signOut: func(ctx context.Context, id string, now time.Time) error {
			return s.RevokePatientRefreshTokens(ctx, id, now)
		},
		verified: func(ctx context.Context, id, email string, now time.Time) error {
			return s.VerifyPatientEmail(ctx, id, email, now)
		},
		pages: "",
	}
}

func handleLogin(s accountStore, kind signInKind, signer *auth.Signer, pw passwords, limit *routeLimiter, logger *slog.Logger, now func() time.Time) fiber.Handler {
	// An unknown email is checked against this hash, made with the costs of
	// new accounts' hashes, so that it costs the same time as a wrong
	// password and the two cannot be told apart.
	dummyHash := pw.dummy()
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
		acct, err := kind.find(ctx, email)
		found := err == nil
		if err != nil && models.ErrorCode(err) != models.ErrNotFound {
			return err
		}
		id, hash := acct.ID, acct.PasswordHash
		if !found {
			hash = dummyHash
		}
		ok, err := pw.check(req.Password, hash)
		if err != nil {
			return err
		}
		if !found || !ok || !acct.Active {
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
func handleChangePassword(s accountStore, signer *auth.Signer, pw passwords, now func() time.Time) fiber.Handler {
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
		if err := confirmPassword(c, s, pw, p, req.CurrentPassword, models.AuditPasswordChange, t); err != nil {
			return err
		}
		hash, err := pw.hash(req.NewPassword)
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

// confirmPassword checks the patient's current password before a change
// of action that needs it. Wrong ones count as failed sign-ins, so that the
// routes asking for it cannot be used to guess around the sign-in limit.
func confirmPassword(c *fiber.Ctx, s accountStore, pw passwords, p models.Patient, current, action string, now time.Time) error {
	ctx := c.UserContext()
	failures, windowEnd, err := s.LoginFailures(ctx, p.Email, now)
	if err != nil {
		return err
	}
	if failures >= maxLoginFailures {
		return tooManyLogins(windowEnd.Sub(now))
	}
	ok, err := pw.check(current, p.PasswordHash)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	n, err := s.RecordLoginFailure(ctx, p.Email, now)
	if err != nil {
		return err
	}
	if err := auditAccount(c, s, now, p.ID, action, "failed"); err != nil {
		return err
	}
	if n >= maxLoginFailures {
		return tooManyLogins(windowEnd.Sub(now))
	}
	return models.Errorf(models.ErrUnauthorized, "the current password is wrong; nothing was changed")
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
