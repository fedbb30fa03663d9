package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// edgeCall sends a request with headers and returns the answer's status
// and headers.
func (s *server) edgeCall(method, path, body string, header map[string]string) (int, http.Header) {
	s.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	var b any
	if body != "" {
		b = body
	}
	status, respHeader, _, err := exchange(http.DefaultClient, method, s.base+path, "", b, h)
	if err != nil {
		s.t.Fatal(err)
	}
	return status, respHeader
}

// The default limit on sign-ins from one address (see handlers.DefaultRateLimits).
const loginsPerIP = 100

func TestClientAddressAndCORSAtTheEdge(t *testing.T) {
	t.Parallel()
	t.Run("without a trusted proxy", func(t *testing.T) {
		s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
		defer s.stop()
		for i := range loginsPerIP {
			// Every request claims another address; none is believed.
			status, _ := s.edgeCall("POST", "/v1/auth/login", "{}", map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i%250)})
			if status != http.StatusBadRequest {
				t.Fatalf("request %d: %d", i, status)
			}
		}
		status, header := s.edgeCall("POST", "/v1/auth/login", "{}", map[string]string{"X-Forwarded-For": "198.51.100.99"})
		if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" {
			t.Fatalf("after %d: %d, Retry-After %q", loginsPerIP, status, header.Get("Retry-After"))
		}
		if ct := header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type %q", ct)
		}
		for _, origin := range []string{"https://evil.example", "null", "https://clinic.example"} {
			_, header := s.edgeCall("GET", "/healthz", "", map[string]string{"Origin": origin})
			if got := header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("no origin is configured, yet %s got Access-Control-Allow-Origin %q", origin, got)
			}
		}
	})
	t.Run("behind a trusted proxy with one web origin", func(t *testing.T) {
		s := startServer(t, map[string]string{
			"DATA_DIR": t.TempDir(), "TRUSTED_PROXIES": "127.0.0.1", "CORS_ALLOWED_ORIGINS": "https://clinic.example",
		})
		defer s.stop()
		first := map[string]string{"X-Forwarded-For": "198.51.100.1"}
		for i := range loginsPerIP {
			if status, _ := s.edgeCall("POST", "/v1/auth/login", "{}", first); status != http.StatusBadRequest {
				t.Fatalf("request %d: %d", i, status)
			}
		}
		if status, _ := s.edgeCall("POST", "/v1/auth/login", "{}", first); status != http.StatusTooManyRequests {
			t.Fatalf("the first client after %d: %d", loginsPerIP, status)
		}
		second := map[string]string{"X-Forwarded-For": "198.51.100.2"}
		if status, _ := s.edgeCall("POST", "/v1/auth/login", "{}", second); status != http.StatusBadRequest {
			t.Fatalf("another client behind the proxy: %d", status)
		}

		_, preflight := s.edgeCall("OPTIONS", "/v1/pain-logs", "", map[string]string{
			"Origin": "https://clinic.example", "Access-Control-Request-Method": "PUT",
			"Access-Control-Request-Headers": "authorization,content-type",
		})
		if got := preflight.Get("Access-Control-Allow-Origin"); got != "https://clinic.example" {
			t.Fatalf("preflight from the configured origin: Access-Control-Allow-Origin %q", got)
		}
		for _, origin := range []string{"https://clinic.example", "https://evil.example", "null", "*"} {
			_, header := s.edgeCall("GET", "/healthz", "", map[string]string{"Origin": origin})
			got := header.Get("Access-Control-Allow-Origin")
			if got == "*" || header.Get("Access-Control-Allow-Credentials") == "true" {
				t.Errorf("origin %s: Allow-Origin %q, Allow-Credentials %q", origin, got, header.Get("Access-Control-Allow-Credentials"))
			}
			if origin != "https://clinic.example" && got != "" {
				t.Errorf("origin %s was allowed: %q", origin, got)
			}
		}
	})
}

func TestEdgeConfigIsValidated(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"CORS_ALLOWED_ORIGINS": "*"},
		{"CORS_ALLOWED_ORIGINS": "https://clinic.example/path"},
		{"CORS_ALLOWED_ORIGINS": "clinic.example"},
		{"TRUSTED_PROXIES": "10.0.0.0/33"},
		{"TRUSTED_PROXIES": "proxy.internal"},
	} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v was accepted", env)
		}
	}
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"CORS_ALLOWED_ORIGINS": " https://Clinic.example, http://localhost:3000", "TRUSTED_PROXIES": "10.0.0.0/8"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.CORSOrigins, " ") != "https://clinic.example http://localhost:3000" || len(cfg.TrustedProxies) != 1 {
		t.Fatalf("origins %v, proxies %v", cfg.CORSOrigins, cfg.TrustedProxies)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "config", cfg)
	for _, want := range []string{`"trusted_proxies":"10.0.0.0/8"`, `"cors_allowed_origins":"https://clinic.example,http://localhost:3000"`} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the start-up log lacks %s: %s", want, logged.String())
		}
	}
}
