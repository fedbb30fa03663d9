package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the "iss" claim of every access token; tokens from anyone else are refused.
const Issuer = "backcare"

// AccessTTL is how long an access token is valid. It is short because an
// access token cannot be revoked; the refresh token carries the session.
const AccessTTL = 15 * time.Minute

// RefreshTTL is how long a refresh token is valid if it is not used.
const RefreshTTL = 30 * 24 * time.Hour

// MinSecretLength is the shortest signing key accepted, in bytes (HS256 wants ≥ 256 bits).
const MinSecretLength = 32

// ErrInvalidToken is returned for any access token that does not verify.
var ErrInvalidToken = errors.New("invalid access token")

// Signer issues and verifies access tokens (HS256 JWTs).
type Signer struct {
	secret []byte
}

// NewSigner returns a Signer for secret, which must be at least MinSecretLength bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("signing key is %d bytes, need at least %d", len(secret), MinSecretLength)
	}
	return &Signer{secret: secret}, nil
}

// Issue returns a signed access token for subject (a patient's or a staff
// member's id) under audience, valid from now for AccessTTL.
func (s *Signer) Issue(subject, audience string, now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(AccessTTL)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
}

// Verify checks token's signature, algorithm, issuer, audience and
// lifetime at now and returns the id it was issued to. A token of another
// audience does not verify: a patient's token opens no clinic route, and a
// staff member's no patient route.
func (s *Signer) Verify(token, audience string, now time.Time) (string, error) {
	var claims jwt.RegisteredClaims
	parsed, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || !parsed.Valid || claims.Subject == "" {
		return "", ErrInvalidToken
	}
	return claims.Subject, nil
}

// NewOpaqueToken returns a random token for the client (256 bits,
// URL-safe) and the hash under which it is stored: the database never holds
// a usable token.
func NewOpaqueToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("read random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashOpaqueToken(token), nil
}

// HashOpaqueToken returns the stored form of an opaque token.
func HashOpaqueToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
