package handlers

import (
	"net/http"
	"strconv"
	"testing"
)

func TestRegisterAndLogin(t *testing.T) {
	ts := newTestServer(t)
	ts.register("Ann@Example.com", "Europe/Berlin")

	t.Run("duplicate email in another case is a conflict", func(t *testing.T) {
		r := ts.do("POST", "/v1/auth/register", "", map[string]any{
			"email": "ann@example.COM", "password": "another long one", "name": "Ann", "timezone": "UTC",
		})
		expectProblem(t, r, http.StatusConflict, "")
	})
	t.Run("login with the right password", func(t *testing.T) {
		r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": "correct horse battery"})
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		m := r.json(t)
		if m["access_token"] == "" || m["refresh_token"] == "" || m["expires_in"] != float64(900) || m["token_type"] != "Bearer" {
			t.Fatalf("token response %v", m)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("tokens must not be cached, Cache-Control = %q", r.header.Get("Cache-Control"))
		}
	})
	t.Run("wrong password and unknown email get the same answer", func(t *testing.T) {
		wrong := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": "not the password"})
		unknown := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": "not the password"})
		expectProblem(t, wrong, http.StatusUnauthorized, "")
		expectProblem(t, unknown, http.StatusUnauthorized, "")
		if wrong.json(t)["detail"] != unknown.json(t)["detail"] {
			t.Fatalf("answers differ: %s vs %s", wrong.body, unknown.body)
		}
	})
}

func TestLoginLockout(t *testing.T) {
	ts := newTestServer(t)
	ts.register("bob@example.com", "UTC")
	for _, email := range []string{"bob@example.com", "ghost@example.com"} {
		t.Run(email, func(t *testing.T) {
			for i := 1; i < maxLoginFailures; i++ {
				r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "wrong password " + strconv.Itoa(i)})
				expectProblem(t, r, http.StatusUnauthorized, "")
			}
			r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "wrong password again"})
			expectProblem(t, r, http.StatusTooManyRequests, "")
			// The clock is at 15:00:00, the start of a 15-minute window.
			if got := r.header.Get("Retry-After"); got != "900" {
				t.Fatalf("Retry-After = %q, want 900", got)
			}
			// Even the right password waits until the window ends.
			r = ts.do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery"})
			expectProblem(t, r, http.StatusTooManyRequests, "")
		})
	}
	ts.now = ts.now.Add(15 * 60e9)
	r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "bob@example.com", "password": "correct horse battery"})
	if r.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ts := newTestServer(t)
	_, first := ts.register("cy@example.com", "UTC")

	r := ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first})
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	second := r.json(t)["refresh_token"].(string)
	if second == first {
		t.Fatal("refresh did not rotate the token")
	}
	// The spent token comes back: someone copied it. The whole family goes.
	expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first}), http.StatusUnauthorized, "")
	expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": second}), http.StatusUnauthorized, "")

	t.Run("logout revokes the family", func(t *testing.T) {
		r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "cy@example.com", "password": "correct horse battery"})
		refresh := r.json(t)["refresh_token"].(string)
		if r := ts.do("POST", "/v1/auth/logout", "", map[string]any{"refresh_token": refresh}); r.status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": refresh}), http.StatusUnauthorized, "")
		if r := ts.do("POST", "/v1/auth/logout", "", map[string]any{"refresh_token": refresh}); r.status != http.StatusNoContent {
			t.Fatalf("second logout: %d %s", r.status, r.body)
		}
	})
	t.Run("expired refresh token", func(t *testing.T) {
		r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "cy@example.com", "password": "correct horse battery"})
		refresh := r.json(t)["refresh_token"].(string)
		ts.now = ts.now.Add(31 * 24 * 3600e9)
		defer func() { ts.now = testNow }()
		expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": refresh}), http.StatusUnauthorized, "")
	})
}

func TestAccessTokenRequired(t *testing.T) {
	ts := newTestServer(t)
	access, _ := ts.register("dee@example.com", "UTC")
	expectProblem(t, ts.do("GET", "/v1/me", "", nil), http.StatusUnauthorized, "")
	expectProblem(t, ts.do("GET", "/v1/me", access+"x", nil), http.StatusUnauthorized, "")
	ts.now = ts.now.Add(16 * 60e9)
	expectProblem(t, ts.do("GET", "/v1/me", access, nil), http.StatusUnauthorized, "")
}
