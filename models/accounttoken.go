package models

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"time"
)

// TokenPurpose is what an account token proves when it comes back.
type TokenPurpose string

// The purposes. Each account holds at most one live token of each: a new
// request replaces the one before it.
const (
	// PurposePasswordReset lets the holder of the mailed link, or of the
	// address and the mailed code, set a new password.
	PurposePasswordReset TokenPurpose = "password_reset"
	// PurposeVerifyEmail proves that the account's holder reads the mail
	// of the token's Email: the account's own address after sign-up, or a
	// new one it asked to change to.
	PurposeVerifyEmail TokenPurpose = "verify_email"
)

// Lifetimes and tries of account tokens.
const (
	// ResetTTL is how long a password reset works: long enough to find the
	// mail, short enough that an old mail in a shared inbox is harmless.
	ResetTTL = 30 * time.Minute
	// VerifyTTL is how long a verification link works.
	VerifyTTL = 48 * time.Hour
	// MaxCodeTries is how many wrong codes burn a reset: five guesses at a
	// million codes.
	MaxCodeTries = 5
	// ResetCodeDigits is the length of the code a reset mail carries, for
	// typing on the phone that is not the one reading the mail.
	ResetCodeDigits = 6
)

// AccountToken is a mailed token of one account: its hash only, and for a
// password reset the code's password hash too (a code is short enough to
// guess from a SHA-256 of it; an argon2id hash of it is not).
type AccountToken struct {
	// ID is AccountTokenID(purpose, audience, account): one per account and
	// purpose, so that a new request replaces the last one.
	ID        string       `bson:"_id"`
	TokenHash string       `bson:"token_hash"`
	CodeHash  string       `bson:"code_hash,omitempty"`
	Purpose   TokenPurpose `bson:"purpose"`
	Audience  string       `bson:"audience"`
	AccountID string       `bson:"account_id"`
	// Email is the address the token was mailed to, which a verification
	// proves.
	Email     string     `bson:"email"`
	Tries     int        `bson:"tries,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	UsedAt    *time.Time `bson:"used_at,omitempty"`
	// Version: see PainLog.Version. Every change — a replacement, a wrong
	// code, the spend — moves it, so each happens once however many
	// requests race.
	Version int64 `bson:"version,omitempty"`
}

// AccountTokenID is the id of an account's token for purpose.
func AccountTokenID(purpose TokenPurpose, audience, accountID string) string {
	return string(purpose) + ":" + audience + ":" + accountID
}

// Usable reports whether the token may still be spent: not spent, not
// expired, and not burned by wrong codes.
func (t AccountToken) Usable(now time.Time) bool {
	return t.UsedAt == nil && now.Before(t.ExpiresAt) && t.Tries < MaxCodeTries
}

// NewResetCode returns a uniformly random code of ResetCodeDigits digits.
func NewResetCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return fmt.Sprintf("%0*d", ResetCodeDigits, n.Int64()), nil
}

// ValidResetCode reports whether code has the shape of a reset code, so a
// malformed one is refused without spending a try.
func ValidResetCode(code string) bool {
	if len(code) != ResetCodeDigits {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
