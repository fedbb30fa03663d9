package handlers

import (
	"context"
	"net/http"
	"strconv"
	"testing"
)

func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	ts := newTestServer(t)
	access, _ := ts.register("dee@example.com", "UTC")
	expectProblem(t, ts.do("GET", "/v1/me", "", nil), http.StatusUnauthorized, "")
	expectProblem(t, ts.do("GET", "/v1/me", access+"x", nil), http.StatusUnauthorized, "")
	ts.now = ts.now.Add(16 * 60e9)
	expectProblem(t, ts.do("GET", "/v1/me", access, nil), http.StatusUnauthorized, "")
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	access, refresh := ts.register("pw@example.com", "UTC")
	otherPhone := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "pw@example.com", "password": "correct horse battery"}).json(t)

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := ts.documents()
		expectProblem(t, ts.do("POST", "/v1/me/password", access, map[string]any{"new_password": "long enough new one"}), http.StatusBadRequest, "current_password")
		expectProblem(t, ts.do("POST", "/v1/me/password", access, map[string]any{"current_password": "correct horse battery", "new_password": "short"}), http.StatusBadRequest, "new_password")
		expectProblem(t, ts.do("POST", "/v1/me/password", access, map[string]any{"current_password": "x", "new_password": "long enough new one", "patient_id": "p"}), http.StatusBadRequest, "patient_id")
		expectProblem(t, ts.do("POST", "/v1/me/password", "", map[string]any{"current_password": "correct horse battery", "new_password": "long enough new one"}), http.StatusUnauthorized, "")
		if after := ts.documents(); after != before {
			t.Fatalf("documents %d -> %d", before, after)
		}
	})
	t.Run("a wrong current password changes nothing", func(t *testing.T) {
		r := ts.do("POST", "/v1/me/password", access, map[string]any{"current_password": "not the password", "new_password": "long enough new one"})
		expectProblem(t, r, http.StatusUnauthorized, "")
		ts.login("pw@example.com")
	})
	r := ts.do("POST", "/v1/me/password", access, map[string]any{"current_password": "correct horse battery", "new_password": "staple battery horse correct"})
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("change: %d %v %s", r.status, r.header, r.body)
	}
	fresh := r.json(t)["refresh_token"].(string)
	t.Run("every earlier sign-in is revoked", func(t *testing.T) {
		for _, old := range []string{refresh, otherPhone["refresh_token"].(string)} {
			expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": old}), http.StatusUnauthorized, "")
		}
		if r := ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": fresh}); r.status != http.StatusOK {
			t.Fatalf("the new sign-in: %d %s", r.status, r.body)
		}
	})
	t.Run("only the new password signs in", func(t *testing.T) {
		expectProblem(t, ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "pw@example.com", "password": "correct horse battery"}), http.StatusUnauthorized, "")
		if r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "pw@example.com", "password": "staple battery horse correct"}); r.status != http.StatusOK {
			t.Fatalf("login with the new password: %d %s", r.status, r.body)
		}
	})
	t.Run("wrong current passwords count as failed sign-ins", func(t *testing.T) {
		signIn := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "pw@example.com", "password": "staple battery horse correct"})
		if signIn.status != http.StatusOK {
			t.Fatalf("login: %d %s", signIn.status, signIn.body)
		}
		access := signIn.json(t)["access_token"].(string)
		wrong := map[string]any{"current_password": "a wrong guess", "new_password": "long enough new one"}
		for i := 1; i < maxLoginFailures; i++ {
			expectProblem(t, ts.do("POST", "/v1/me/password", access, wrong), http.StatusUnauthorized, "")
		}
		expectProblem(t, ts.do("POST", "/v1/me/password", access, wrong), http.StatusTooManyRequests, "")
		r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "pw@example.com", "password": "staple battery horse correct"})
		expectProblem(t, r, http.StatusTooManyRequests, "")
	})
	t.Run("each account event is audited without secrets", func(t *testing.T) {
		me := ts.do("GET", "/v1/me", r.json(t)["access_token"].(string), nil)
		if me.status != http.StatusOK {
			t.Fatalf("GET /v1/me: %d %s", me.status, me.body)
		}
		entries, err := ts.store.AuditOf(context.Background(), me.json(t)["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, e := range entries {
			got[e.Action+"/"+e.Outcome]++
			if e.Actor != "patient" || e.Detail != "" || e.RequestID == "" {
				t.Errorf("entry %+v: want actor patient, no detail, a request id", e)
			}
		}
		want := map[string]int{
			"sign_in/ok": 4, "sign_in_failed/failed": 1,
			"password_change/failed": 1 + maxLoginFailures, "password_change/ok": 1,
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d entries, want %d (all: %v)", k, got[k], n, got)
			}
		}
	})
}
