package handlers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// withLimits gives the test server these rate limits.
func withLimits(l RateLimits) func(*Deps) { return func(d *Deps) { d.RateLimits = l } }

// fromClient sends body (a JSON string) as if through a proxy that wrote
// xff into X-Forwarded-For; app.Test connects from 0.0.0.0.
func (ts *testServer) fromClient(method, path, token, body, xff string) response {
	ts.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := ts.app.Test(req, 30_000)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func expectRateLimited(t *testing.T, r response, retryAfter string) {
	t.Helper()
	expectProblem(t, r, http.StatusTooManyRequests, "")
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func TestRateLimitPerClientIP(t *testing.T) {
	t.Parallel()
	perIP := RateLimit{Requests: 10, Window: 15 * time.Minute}
	limits := roomyLimits
	limits.Login.PerIP, limits.Register.PerIP, limits.Refresh.PerIP, limits.Device.PerIP = perIP, perIP, perIP, perIP
	ts := newTestServer(t, withLimits(limits))
	access, _ := ts.register("ip@example.com", "UTC")

	// Bad bodies count too: a flood is refused before anything is decoded.
	for _, route := range []struct{ path, token string }{
		{"/v1/auth/login", ""}, {"/v1/auth/register", ""}, {"/v1/auth/refresh", ""}, {"/v1/devices", access},
	} {
		t.Run(route.path, func(t *testing.T) {
			used := 0
			if route.path == "/v1/auth/register" {
				used = 1 // the sign-up above
			}
			for i := used; i < perIP.Requests; i++ {
				r := ts.fromClient("POST", route.path, route.token, `{"nope":1}`, "")
				expectProblem(t, r, http.StatusBadRequest, "nope")
			}
			// The test clock stands at 15:00:00, the start of a window.
			expectRateLimited(t, ts.fromClient("POST", route.path, route.token, `{"nope":1}`, ""), "900")
			// Without a trusted proxy, X-Forwarded-For is the client's
			// own claim and changes nothing.
			expectRateLimited(t, ts.fromClient("POST", route.path, route.token, `{"nope":1}`, "203.0.113.7"), "900")
		})
	}
	t.Run("the window ends", func(t *testing.T) {
		ts.now = ts.now.Add(15 * time.Minute)
		expectProblem(t, ts.fromClient("POST", "/v1/auth/login", "", `{"nope":1}`, ""), http.StatusBadRequest, "nope")
	})
}

func TestRateLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	limits := roomyLimits
	limits.Login.PerIP = RateLimit{Requests: 3, Window: time.Hour}
	ts := newTestServer(t, withLimits(limits), func(d *Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	})
	for range 3 {
		expectProblem(t, ts.fromClient("POST", "/v1/auth/login", "", `{}`, "198.51.100.1"), http.StatusBadRequest, "email")
	}
	expectRateLimited(t, ts.fromClient("POST", "/v1/auth/login", "", `{}`, "198.51.100.1"), "3600")
	// Another patient behind the same proxy has a budget of their own...
	expectProblem(t, ts.fromClient("POST", "/v1/auth/login", "", `{}`, "198.51.100.2"), http.StatusBadRequest, "email")
	// ...but an address the client puts in front of the real one does not
	// buy a new budget: the proxy appended the address it saw.
	expectRateLimited(t, ts.fromClient("POST", "/v1/auth/login", "", `{}`, "203.0.113.9, 198.51.100.1"), "3600")
}

func TestRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	perAccount := RateLimit{Requests: 2, Window: 15 * time.Minute}
	limits := roomyLimits
	limits.Login.PerAccount, limits.Register.PerAccount, limits.Refresh.PerAccount, limits.Device.PerAccount =
		perAccount, perAccount, perAccount, perAccount
	ts := newTestServer(t, withLimits(limits))
	_, refresh := ts.register("acct@example.com", "UTC")
	ts.register("other@example.com", "UTC")

	t.Run("login", func(t *testing.T) {
		ts.login("acct@example.com")
		ts.login("Acct@Example.com ")
		r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": "acct@example.com", "password": "correct horse battery"})
		expectRateLimited(t, r, "900")
		ts.login("other@example.com")
	})
	t.Run("register", func(t *testing.T) {
		body := map[string]any{"email": "acct@example.com", "password": "correct horse battery", "name": "Pat", "timezone": "UTC"}
		expectProblem(t, ts.do("POST", "/v1/auth/register", "", body), http.StatusConflict, "")
		expectRateLimited(t, ts.do("POST", "/v1/auth/register", "", body), "900")
	})
	t.Run("refresh keeps the refused token usable", func(t *testing.T) {
		next := refresh
		for range perAccount.Requests {
			r := ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": next})
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			next = r.json(t)["refresh_token"].(string)
		}
		expectRateLimited(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": next}), "900")
		ts.now = ts.now.Add(15 * time.Minute)
		if r := ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": next}); r.status != http.StatusOK {
			t.Fatalf("refresh after the window: %d %s", r.status, r.body)
		}
	})
	t.Run("device registration", func(t *testing.T) {
		// The refresh case moved the clock on; tokens issued before expired.
		access, other := ts.login("acct@example.com"), ts.login("other@example.com")
		for i := range perAccount.Requests {
			r := ts.do("POST", "/v1/devices", access, map[string]any{
				"token": "fcm-token-of-device-number-" + strconv.Itoa(i), "platform": "ios", "app_version": "1.0.0",
			})
			if r.status != http.StatusCreated {
				t.Fatalf("device %d: %d %s", i, r.status, r.body)
			}
		}
		device := map[string]any{"token": "fcm-token-of-device-number-9", "platform": "ios", "app_version": "1.0.0"}
		expectRateLimited(t, ts.do("POST", "/v1/devices", access, device), "900")
		if r := ts.do("POST", "/v1/devices", other, device); r.status != http.StatusCreated {
			t.Fatalf("another account's device: %d %s", r.status, r.body)
		}
	})
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxy := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"no proxy configured, header ignored", nil, []string{"203.0.113.7"}, "0.0.0.0"},
		{"untrusted peer, header ignored", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []string{"203.0.113.7"}, "0.0.0.0"},
		{"trusted peer, no header", proxy, nil, "0.0.0.0"},
		{"trusted peer names the client", proxy, []string{"203.0.113.7"}, "203.0.113.7"},
		{"a spoofed address before the real one", proxy, []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"a chain of trusted proxies", proxy, []string{"203.0.113.7, 10.1.2.3, 10.4.5.6"}, "203.0.113.7"},
		{"several headers", proxy, []string{"198.51.100.1", "203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"garbage stops the walk", proxy, []string{"203.0.113.7, not-an-ip, 10.1.2.3"}, "10.1.2.3"},
		{"only garbage", proxy, []string{"<script>"}, "0.0.0.0"},
		{"IPv6 client", proxy, []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped IPv6 is the IPv4 address", proxy, []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"all trusted: the leftmost", proxy, []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString(clientIPFunc(tc.trusted)(c)) })
			req := httptest.NewRequest("GET", "/", nil)
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			if string(got) != tc.want {
				t.Fatalf("client IP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 127.0.0.1 ,::1,192.168.1.77/24,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "192.168.1.0/24"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "*", "10.0.0.1/8/8"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	now := t0
	l := newLimiter(func() time.Time { return now })
	limit := RateLimit{Requests: 1, Window: time.Minute}
	for i := range maxLimiterKeys {
		if ok, _ := l.allow("k"+strconv.Itoa(i), limit); !ok {
			t.Fatalf("key %d refused", i)
		}
	}
	// Full of live windows: a new key passes, uncounted, and takes no room.
	if ok, _ := l.allow("newcomer", limit); !ok {
		t.Fatal("a new key was refused while the table was full")
	}
	if len(l.windows) != maxLimiterKeys {
		t.Fatalf("%d keys, want %d", len(l.windows), maxLimiterKeys)
	}
	// A key already counted stays limited.
	if ok, wait := l.allow("k1", limit); ok || wait != time.Minute {
		t.Fatalf("k1: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	// Once the windows end, a newcomer sweeps them out and is counted.
	now = t0.Add(time.Minute)
	if ok, _ := l.allow("newcomer", limit); !ok {
		t.Fatal("newcomer refused after the windows ended")
	}
	if len(l.windows) != 1 {
		t.Fatalf("%d keys after the sweep, want 1", len(l.windows))
	}
	if ok, _ := l.allow("newcomer", limit); ok {
		t.Fatal("newcomer's second request in the window was allowed")
	}
}

// TestClinicRateLimits: clinic sign-up and invitation acceptance share the
// sign-up budget per address, staff sign-in the sign-in budget, and the
// link-code routes have their own, per address and per account.
func TestClinicRateLimits(t *testing.T) {
	t.Parallel()
	limits := roomyLimits
	limits.Register.PerIP = RateLimit{Requests: 10, Window: 15 * time.Minute}
	limits.Login.PerIP = RateLimit{Requests: 10, Window: 15 * time.Minute}
	limits.LinkCode = RouteLimits{PerIP: RateLimit{Requests: 6, Window: 15 * time.Minute}, PerAccount: RateLimit{Requests: 3, Window: 15 * time.Minute}}
	ts := newTestServer(t, withLimits(limits))
	cs := ts.signupClinic("limits") // two sign-up requests: the clinic's and the therapist's acceptance
	patient, _ := ts.register("limited@example.com", "UTC")

	flood := func(path, token string, allowed int) {
		t.Helper()
		for range allowed {
			expectProblem(t, ts.fromClient("POST", path, token, `{"nope":1}`, ""), http.StatusBadRequest, "nope")
		}
		expectRateLimited(t, ts.fromClient("POST", path, token, `{"nope":1}`, ""), "900")
	}
	t.Run("sign-up", func(t *testing.T) {
		flood("/v1/clinic/signup", "", 10-3)
		expectRateLimited(t, ts.fromClient("POST", "/v1/clinic/invitations/accept", "", `{}`, ""), "900")
	})
	t.Run("sign-in", func(t *testing.T) {
		flood("/v1/clinic/auth/login", "", 10)
	})
	t.Run("link codes per account", func(t *testing.T) {
		for range 3 {
			expectProblem(t, ts.do("POST", "/v1/care-team/preview", patient, map[string]any{"code": "2222-2222"}), http.StatusNotFound, "")
		}
		expectProblem(t, ts.do("POST", "/v1/care-team/preview", patient, map[string]any{"code": "2222-2222"}), http.StatusTooManyRequests, "")
	})
	t.Run("link codes per address", func(t *testing.T) {
		// Four of the address's six went to the patient's tries above.
		flood("/v1/clinic/link-codes/redeem", cs.therapist, 6-4)
	})
}

// TestMailRateLimits: the routes that send mail are limited per recipient,
// a known address and an unknown one alike (a limit only for the known
// would tell who has an account), and the tries at a reset's code per
// address.
func TestMailRateLimits(t *testing.T) {
	t.Parallel()
	limits := roomyLimits
	limits.Mail = RouteLimits{PerIP: RateLimit{100, time.Hour}, PerAccount: RateLimit{2, time.Hour}}
	limits.ResetConfirm = RouteLimits{PerIP: RateLimit{100, time.Hour}, PerAccount: RateLimit{2, time.Hour}}
	ts := newTestServer(t, withLimits(limits))
	ts.register("limited@example.com", "UTC")
	for _, email := range []string{"limited@example.com", "nobody@example.com"} {
		for range 2 {
			if r := ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}); r.status != http.StatusAccepted {
				t.Fatalf("reset for %s: %d %s", email, r.status, r.body)
			}
		}
		expectRateLimited(t, ts.do("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}), "3600")
	}
	if n := len(ts.mails("limited@example.com")); n != 3 {
		t.Fatalf("%d mails to the limited address, want the verification and two resets", n)
	}
	confirm := map[string]any{"email": "limited@example.com", "code": "000000", "password": "a brand new passphrase"}
	for range 2 {
		expectProblem(t, ts.do("POST", "/v1/auth/password-reset/confirm", "", confirm), http.StatusBadRequest, "code")
	}
	expectRateLimited(t, ts.do("POST", "/v1/auth/password-reset/confirm", "", confirm), "3600")
}
