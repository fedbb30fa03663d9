package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestPasswordHash(t *testing.T) {
	hash, err := HashPassword("correct horse battery", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not record the OWASP minimum parameters", hash)
	}
	if ok, err := CheckPassword("correct horse battery", hash); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword("correct horse batterY", hash); ok {
		t.Fatal("wrong password accepted")
	}
	again, _ := HashPassword("correct horse battery", DefaultParams)
	if again == hash {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	// A hash made with other parameters still verifies: they are read from it.
	cheap := Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	old, _ := HashPassword("pw-from-2025", cheap)
	if ok, err := CheckPassword("pw-from-2025", old); !ok || err != nil {
		t.Fatalf("older parameters: %v %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5"} {
		if _, err := CheckPassword("x", bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestAccessTokens(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	key := []byte(strings.Repeat("k", 32))
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	token, _ := s.Issue("patient-1", "patient", now)
	if id, err := s.Verify(token, "patient", now.Add(14*time.Minute)); err != nil || id != "patient-1" {
		t.Fatalf("verify: %q %v", id, err)
	}
	if id, err := s.Verify(token, "staff", now); err == nil {
		t.Fatalf("a patient token verified as a staff token for %q", id)
	}
	sign := func(method jwt.SigningMethod, claims jwt.RegisteredClaims, k any) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := jwt.RegisteredClaims{Issuer: Issuer, Subject: "patient-1", Audience: jwt.ClaimStrings{"patient"}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}
	noAudience := valid
	noAudience.Audience = nil
	wrongIssuer := valid
	wrongIssuer.Issuer = "someone-else"
	noExpiry := valid
	noExpiry.ExpiresAt = nil
	parts := strings.Split(token, ".")
	tamperedClaims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"backcare","sub":"patient-2","exp":9999999999}`))
	for name, tok := range map[string]string{
		"expired":          token + "",
		"wrong issuer":     sign(jwt.SigningMethodHS256, wrongIssuer, key),
		"other key":        sign(jwt.SigningMethodHS256, valid, []byte(strings.Repeat("x", 32))),
		"alg none":         sign(jwt.SigningMethodNone, valid, jwt.UnsafeAllowNoneSignatureType),
		"HS512":            sign(jwt.SigningMethodHS512, valid, key),
		"no expiry":        sign(jwt.SigningMethodHS256, noExpiry, key),
		"no audience":      sign(jwt.SigningMethodHS256, noAudience, key),
		"tampered subject": parts[0] + "." + tamperedClaims + "." + parts[2],
		"garbage":          "not.a.token",
	} {
		at := now
		if name == "expired" {
			at = now.Add(16 * time.Minute)
		}
		if id, err := s.Verify(tok, "patient", at); err == nil {
			t.Errorf("%s: accepted for %q", name, id)
		}
	}
}

func TestOpaqueTokens(t *testing.T) {
	a, ha, err := NewOpaqueToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := NewOpaqueToken()
	if a == b || ha == hb || len(a) != 43 || HashOpaqueToken(a) != ha || strings.Contains(ha, a) {
		t.Fatalf("tokens %q %q hashes %q %q", a, b, ha, hb)
	}
}
