package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
)

// tokenStore keeps the mailed tokens of accounts and queues mail.
type tokenStore interface {
	PutAccountToken(ctx context.Context, t models.AccountToken) error
	AccountToken(ctx context.Context, id string) (models.AccountToken, error)
	AccountTokenByHash(ctx context.Context, hash string) (models.AccountToken, error)
	SpendAccountToken(ctx context.Context, t models.AccountToken, now time.Time) error
	CountWrongCode(ctx context.Context, t models.AccountToken) (models.AccountToken, error)
	EnqueueMail(ctx context.Context, m models.Mail, now time.Time) error
	auditStore
}

type resetRequest struct {
	Email string `json:"email"`
}

type resetConfirmRequest struct {
	// Token is the one in the mailed link; Email and Code are the other
	// way in, for typing on a phone that is not the one reading the mail.
	Token    string `json:"token"`
	Email    string `json:"email"`
	Code     string `json:"code"`
	Password string `json:"password"`
}

// acceptedResponse is the one answer to a request that may send a mail: the
// same whether the address is known or not.
type acceptedResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

var resetAccepted = acceptedResponse{Status: "accepted",
	Message: "If an account uses this address, a mail with a link and a code is on its way. Both work for 30 minutes."}

// mailer composes the account mails and queues them in the outbox; the
// outbox job sends them, so that no request waits on a mail server.
type mailer struct {
	store interface {
		EnqueueMail(context.Context, models.Mail, time.Time) error
	}
	baseURL string
	// queued is Deps.MailQueued.
	queued func()
}

// link is the address of a page of kind's, under the base URL, with token
// in the fragment: a fragment never reaches a server's logs, nor the
// Referer another site is sent.
func (m mailer) link(kind signInKind, page, token string) string {
	return m.baseURL + kind.pages + "/" + page + "#" + token
}

func (m mailer) send(ctx context.Context, kind models.MailKind, a account, data mail.Data, now time.Time) error {
	data.Name = a.Name
	msg, err := mail.Compose(kind, a.Locale, a.Email, a.Name, data)
	if err != nil {
		return err
	}
	if err := m.store.EnqueueMail(ctx, msg, now); err != nil {
		return err
	}
	if m.queued != nil {
		m.queued()
	}
	return nil
}

// handleRequestReset starts a password reset. It answers 202 with the same
// body and headers whether the address belongs to an account or not, and
// does the same work for both — one argon2id hash, of the code — so that
// neither the answer nor its time tells who has an account. Only a known,
// active account gets the mail.
func handleRequestReset(s tokenStore, kind signInKind, pw passwords, limit *routeLimiter, m mailer, logger *slog.Logger, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req resetRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		email, err := models.ValidateEmail(req.Email)
		if err != nil {
			return invalid("email", "%s", err)
		}
		if err := limit.byAccount(kind.failureKey(email)); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		acct, err := kind.find(ctx, email)
		if err != nil && models.ErrorCode(err) != models.ErrNotFound {
			return err
		}
		known := err == nil && acct.Active
		token, tokenHash, err := auth.NewOpaqueToken()
		if err != nil {
			return err
		}
		code, err := models.NewResetCode()
		if err != nil {
			return err
		}
		codeHash, err := pw.hash(code)
		if err != nil {
			return err
		}
		if known {
			reset := models.AccountToken{ID: models.AccountTokenID(models.PurposePasswordReset, kind.audience, acct.ID),
				TokenHash: tokenHash, CodeHash: codeHash, Purpose: models.PurposePasswordReset, Audience: kind.audience,
				AccountID: acct.ID, Email: acct.Email, CreatedAt: t, ExpiresAt: t.Add(models.ResetTTL)}
			if err := s.PutAccountToken(ctx, reset); err != nil {
				return err
			}
			data := mail.Data{Link: m.link(kind, "reset", token), Code: code, ValidFor: models.ResetTTL}
			if err := m.send(ctx, models.MailPasswordReset, acct, data, t); err != nil {
				return err
			}
			if err := kind.audit(c, t, acct.ID, models.AuditPasswordReset, "requested"); err != nil {
				return err
			}
			logger.InfoContext(ctx, "password reset mailed", "request_id", requestID(c), "audience", kind.audience, "account_id", acct.ID)
		}
		c.Status(fiber.StatusAccepted)
		return c.JSON(resetAccepted)
	}
}

func (r resetConfirmRequest) validate() error {
	var probs models.Problems
	switch {
	case r.Token != "" && (r.Email != "" || r.Code != ""):
		probs.Add("token", "send either the token or the email and the code, not both")
	case r.Token == "":
		if _, err := models.ValidateEmail(r.Email); err != nil {
			probs.Add("email", "%s", err)
		}
		if !models.ValidResetCode(r.Code) {
			probs.Add("code", "must be the %d digits from the mail", models.ResetCodeDigits)
		}
	}
	if err := models.ValidatePassword(r.Password); err != nil {
		probs.Add("password", "%s", err)
	}
	return probs.Err()
}

// handleConfirmReset sets the new password with a reset's token, or with
// its address and code. The reset is spent once however many requests race
// with it; then every sign-in of the account is revoked, a mail says the
// password was changed, and the audit trail has it. A wrong code counts
// against the reset's five, and an unknown address is answered as a wrong
// code after the same hash check.
func handleConfirmReset(s tokenStore, kind signInKind, pw passwords, limit *routeLimiter, m mailer, logger *slog.Logger, now func() time.Time) fiber.Handler {
	dummyHash := pw.dummy()
	return func(c *fiber.Ctx) error {
		var req resetConfirmRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		var reset models.AccountToken
		var err error
		if req.Token != "" {
			reset, err = resetByToken(ctx, s, kind, req.Token, t)
		} else {
			reset, err = resetByCode(ctx, s, kind, pw, limit, dummyHash, models.NormalizeEmail(req.Email), req.Code, t)
		}
		if err != nil {
			return err
		}
		hash, err := pw.hash(req.Password)
		if err != nil {
			return err
		}
		if err := s.SpendAccountToken(ctx, reset, t); err != nil {
			if models.IsStale(err) {
				return resetRefused(req.Token != "")
			}
			return err
		}
		if err := kind.setPassword(ctx, reset.AccountID, hash, t); err != nil {
			return err
		}
		if err := kind.signOut(ctx, reset.AccountID, t); err != nil {
			return err
		}
		if err := kind.audit(c, t, reset.AccountID, models.AuditPasswordReset, "ok"); err != nil {
			return err
		}
		acct, err := kind.byID(ctx, reset.AccountID)
		if err != nil {
			return err
		}
		if err := m.send(ctx, models.MailPasswordChanged, acct, mail.Data{Link: m.baseURL + kind.pages + "/reset"}, t); err != nil {
			return err
		}
		logger.InfoContext(ctx, "password reset", "request_id", requestID(c), "audience", kind.audience, "account_id", reset.AccountID)
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// resetRefused is the answer to a link or code that does not work, the
// same for every reason: unknown, spent, replaced, expired or burned.
func resetRefused(byToken bool) error {
	if byToken {
		return invalid("token", "does not work: it was used, replaced by a newer mail or has expired; ask for a new reset")
	}
	return invalid("code", "is wrong or has expired; after %d wrong codes, or %d minutes, ask for a new reset",
		models.MaxCodeTries, int(models.ResetTTL.Minutes()))
}

func resetByToken(ctx context.Context, s tokenStore, kind signInKind, token string, now time.Time) (models.AccountToken, error) {
	reset, err := s.AccountTokenByHash(ctx, auth.HashOpaqueToken(token))
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return reset, resetRefused(true)
	case err != nil:
		return reset, err
	case reset.Purpose != models.PurposePasswordReset || reset.Audience != kind.audience || !reset.Usable(now):
		return reset, resetRefused(true)
	}
	return reset, nil
}

// resetByCode finds the account's live reset and checks the code against
// it, with one hash check whether there is one or not.
func resetByCode(ctx context.Context, s tokenStore, kind signInKind, pw passwords, limit *routeLimiter, dummyHash, email, code string, now time.Time) (models.AccountToken, error) {
	if err := limit.byAccount(kind.failureKey(email)); err != nil {
		return models.AccountToken{}, err
	}
	acct, err := kind.find(ctx, email)
	if err != nil && models.ErrorCode(err) != models.ErrNotFound {
		return models.AccountToken{}, err
	}
	var reset models.AccountToken
	live := false
	if err == nil && acct.Active {
		reset, err = s.AccountToken(ctx, models.AccountTokenID(models.PurposePasswordReset, kind.audience, acct.ID))
		if err != nil && models.ErrorCode(err) != models.ErrNotFound {
			return reset, err
		}
		live = err == nil && reset.Usable(now)
	}
	against := dummyHash
	if live {
		against = reset.CodeHash
	}
	ok, err := pw.check(code, against)
	if err != nil {
		return reset, err
	}
	if !live {
		return reset, resetRefused(false)
	}
	if !ok {
		if _, err := s.CountWrongCode(ctx, reset); err != nil {
			return reset, err
		}
		return reset, resetRefused(false)
	}
	return reset, nil
}
