package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
)

type verifyRequest struct {
	Token string `json:"token"`
}

type verifiedResponse struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// startVerification mails a link proving that the holder of acct reads the
// mail of email: its own address after sign-up, or a new one it asked to
// change to (which takes effect only once the link is opened). The token
// replaces any earlier one of the account, so only the newest link works.
func startVerification(ctx context.Context, s tokenStore, m mailer, kind signInKind, acct account, email string, now time.Time) error {
	token, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return err
	}
	t := models.AccountToken{ID: models.AccountTokenID(models.PurposeVerifyEmail, kind.audience, acct.ID), TokenHash: hash,
		Purpose: models.PurposeVerifyEmail, Audience: kind.audience, AccountID: acct.ID, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(models.VerifyTTL)}
	if err := s.PutAccountToken(ctx, t); err != nil {
		return err
	}
	kindOfMail := models.MailVerifyEmail
	if email != acct.Email {
		kindOfMail = models.MailEmailChange
	}
	to := acct
	to.Email = email
	return m.send(ctx, kindOfMail, to, mail.Data{Link: m.link(kind, "verify-email", token), ValidFor: models.VerifyTTL}, now)
}

// handleVerifyEmail spends a verification link's token, for either kind of
// account (the token says whose it is), and records the address verified.
// For a change of address, that is when the account's address changes.
func handleVerifyEmail(s tokenStore, kinds []signInKind, now func() time.Time) fiber.Handler {
	byAudience := map[string]signInKind{}
	for _, k := range kinds {
		byAudience[k.audience] = k
	}
	return func(c *fiber.Ctx) error {
		var req verifyRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.Token == "" {
			return invalid("token", "is required")
		}
		ctx, t := c.UserContext(), stamp(now)
		refused := invalid("token", "does not work: it was used, replaced by a newer mail or has expired; ask for a new link")
		v, err := s.AccountTokenByHash(ctx, auth.HashOpaqueToken(req.Token))
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
			return refused
		case err != nil:
			return err
		case v.Purpose != models.PurposeVerifyEmail || !v.Usable(t):
			return refused
		}
		kind := byAudience[v.Audience]
		if err := s.SpendAccountToken(ctx, v, t); err != nil {
			if models.IsStale(err) {
				return refused
			}
			return err
		}
		if err := kind.verified(ctx, v.AccountID, v.Email, t); err != nil {
			return err
		}
		if err := kind.audit(c, t, v.AccountID, models.AuditEmailVerify, "ok"); err != nil {
			return err
		}
		return c.JSON(verifiedResponse{Email: v.Email, EmailVerified: true})
	}
}

// handleResendVerification mails the signed-in account a new verification
// link: for the address being changed to, if a change waits, or else for
// the account's own.
func handleResendVerification(s tokenStore, kind signInKind, limit *routeLimiter, m mailer, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, t := c.UserContext(), stamp(now)
		id := accountIDOf(c)
		if err := limit.byAccount(kind.audience + ":" + id); err != nil {
			return err
		}
		acct, err := kind.byID(ctx, id)
		if err != nil {
			return err
		}
		email, verified, err := addressState(ctx, s, kind.audience, acct, t)
		if err != nil {
			return err
		}
		if verified && email == "" {
			return models.Errorf(models.ErrConflict, "the address %s is verified already", acct.Email)
		}
		if email == "" {
			email = acct.Email
		}
		if err := startVerification(ctx, s, m, kind, acct, email, t); err != nil {
			return err
		}
		c.Status(fiber.StatusAccepted)
		return c.JSON(acceptedResponse{Status: "accepted", Message: "A mail with a new link is on its way to " + email + "."})
	}
}

// accountIDOf is the signed-in account of a patient's or a staff route.
func accountIDOf(c *fiber.Ctx) string {
	if st, ok := staffOf(c); ok {
		return st.ID
	}
	return patientID(c)
}

// addressState tells whether acct's address is verified, and the address
// it is changing to, if a change waits for its link.
func addressState(ctx context.Context, s tokenStore, audience string, acct account, now time.Time) (pending string, verified bool, err error) {
	v, err := s.AccountToken(ctx, models.AccountTokenID(models.PurposeVerifyEmail, audience, acct.ID))
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
	case err != nil:
		return "", false, err
	case v.Usable(now) && v.Email != acct.Email:
		pending = v.Email
	}
	return pending, acct.Verified, nil
}

// requireVerifiedEmail guards the routes that reach beyond the patient's
// own phone — a share link, a clinic — behind a verified address, so that
// an account made with someone else's address cannot hand that person's
// name to a clinic or a link.
func requireVerifiedEmail(s profileStore, next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		if p.EmailVerifiedAt == nil {
			return models.Errorf(models.ErrEmailUnverified,
				"verify your email address first: open the link in the mail sent to %s, or ask for a new one with POST /v1/me/verify-email", p.Email)
		}
		return next(c)
	}
}
