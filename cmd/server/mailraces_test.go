package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// resetMail asks for a reset of p's password and returns the mail's
// token and code; seen is how many resets p asked for before.
func resetMail(t *testing.T, s *secureServer, p patient, seen int) (token, code string) {
	t.Helper()
	expect(t, s.send("POST", "/v1/auth/password-reset", "", map[string]any{"email": p.email}), http.StatusAccepted)
	mail, link := s.mailed(p.email, "/reset#", seen)
	_, token, _ = strings.Cut(link, "#")
	return token, mail.Code()
}

// raceResetToken: one reset link sent six times at once sets one password.
func raceResetToken(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Resetter")
	token, _ := resetMail(t, s, p, 0)
	const racers = 6
	answers := s.race(t, racers, func(i int) (string, string, string, any) {
		return "POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "racing passphrase " + strconv.Itoa(i)}
	})
	won := -1
	for i, a := range answers {
		switch {
		case a.status == http.StatusNoContent && won < 0:
			won = i
		case a.status != http.StatusBadRequest:
			t.Fatalf("%d: %v (won: %d)", i, a, won)
		}
	}
	if won < 0 {
		t.Fatal("no confirm set the password")
	}
	// The winner's password signs in, a loser's does not (one wrong try,
	// well inside the sign-in limit).
	expect(t, s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": "racing passphrase " + strconv.Itoa(won)}), http.StatusOK)
	expect(t, s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": "racing passphrase " + strconv.Itoa((won+1)%racers)}), http.StatusUnauthorized)
}

// raceWrongCodes: wrong codes sent at once each count once. Five burn the
// reset, so its right code then fails (none was lost); four leave it, so
// its right code then works (none was counted twice).
func raceWrongCodes(t *testing.T, s *secureServer) {
	for _, wrongs := range []int{5, 4} {
		p := s.signUp(t, "Guesser")
		_, code := resetMail(t, s, p, 0)
		wrong := "000000"
		if code == wrong {
			wrong = "999999"
		}
		for _, a := range s.race(t, wrongs, func(int) (string, string, string, any) {
			return "POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": p.email, "code": wrong, "password": "a guessed passphrase"}
		}) {
			expect(t, a, http.StatusBadRequest)
		}
		want := http.StatusNoContent
		if wrongs >= 5 {
			want = http.StatusBadRequest
		}
		expect(t, s.send("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": p.email, "code": code, "password": "the right passphrase"}), want)
	}
}

// raceVerifyLink: a verification link opened six times at once verifies
// once: one answer 200, the rest refuse the spent token.
func raceVerifyLink(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Verifier")
	expect(t, s.send("PATCH", "/v1/me", p.access, map[string]any{"email": "moved-" + p.email, "current_password": password}), http.StatusOK)
	_, link := s.mailed("moved-"+p.email, "/verify-email#", 0)
	_, token, _ := strings.Cut(link, "#")
	ok := 0
	for _, a := range s.race(t, 6, func(int) (string, string, string, any) {
		return "POST", "/v1/auth/verify-email", "", map[string]any{"token": token}
	}) {
		switch a.status {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Fatalf("%v", a)
		}
	}
	if ok != 1 {
		t.Fatalf("%d verifications of one link, want 1", ok)
	}
	me := expect(t, s.send("GET", "/v1/me", p.access, nil), http.StatusOK).object(t)
	if me["email"] != "moved-"+p.email || me["email_verified"] != true {
		t.Fatalf("after the change: %v", me)
	}
}
