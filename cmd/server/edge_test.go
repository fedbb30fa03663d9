package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// edgeCall sends a raw request with headers and returns the response,
// body drained.
func (s *server) edgeCall(method, path, body string, header map[string]string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// The default limit on sign-ins from one address (see handlers.DefaultRateLimits).
const loginsPerIP = 100

func TestClientAddressAndCORSAtTheEdge(t *testing.T) {
	t.Run("without a trusted proxy", func(t *testing.T) {
		s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
		defer s.stop()
		for i := range loginsPerIP {
			// Every request claims another address; none is believed.
			resp := s.edgeCall("POST", "/v1/auth/login", "{}", map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i%250)})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
		}
		resp := s.edgeCall("POST", "/v1/auth/login", "{}", map[string]string{"X-Forwarded-For": "198.51.100.99"})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("after %d: %d, Retry-After %q", loginsPerIP, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type %q", ct)
		}
		for _, origin := range []string{"https://evil.example", "null", "https://clinic.example"} {
			resp := s.edgeCall("GET", "/healthz", "", map[string]string{"Origin": origin})
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
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
			if resp := s.edgeCall("POST", "/v1/auth/login", "{}", first); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
		}
		if resp := s.edgeCall("POST", "/v1/auth/login", "{}", first); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the first client after %d: %d", loginsPerIP, resp.StatusCode)
		}
		second := map[string]string{"X-Forwarded-For": "198.51.100.2"}
		if resp := s.edgeCall("POST", "/v1/auth/login", "{}", second); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("another client behind the proxy: %d", resp.StatusCode)
		}

		preflight := s.edgeCall("OPTIONS", "/v1/pain-logs", "", map[string]string{
			"Origin": "https://clinic.example", "Access-Control-Request-Method": "PUT",
			"Access-Control-Request-Headers": "authorization,content-type",
		})
		if got := preflight.Header.Get("Access-Control-Allow-Origin"); got != "https://clinic.example" {
			t.Fatalf("preflight from the configured origin: Access-Control-Allow-Origin %q", got)
		}
		for _, origin := range []string{"https://clinic.example", "https://evil.example", "null", "*"} {
			resp := s.edgeCall("GET", "/healthz", "", map[string]string{"Origin": origin})
			got := resp.Header.Get("Access-Control-Allow-Origin")
			if got == "*" || resp.Header.Get("Access-Control-Allow-Credentials") == "true" {
				t.Errorf("origin %s: Allow-Origin %q, Allow-Credentials %q", origin, got, resp.Header.Get("Access-Control-Allow-Credentials"))
			}
			if origin != "https://clinic.example" && got != "" {
				t.Errorf("origin %s was allowed: %q", origin, got)
			}
		}
	})
}

func TestEdgeConfigIsValidated(t *testing.T) {
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
}
