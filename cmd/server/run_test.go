package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/api/apitest"
	"github.com/backcare/backcare/mail/smtptest"
)

// server is one run of the real program on a free port.
type server struct {
	t    *testing.T
	base string
	// metrics is the base URL of the metrics listener; empty when it is off.
	metrics string
	out     *syncBuffer
	stop    func()
	// mail is the SMTP server the program sends to; nil for a program
	// started with SMTP_URL set (or set empty, for the development mailer).
	mail *smtptest.Server
}

// syncBuffer collects the JSON log lines run writes and tells when a
// line with a given message appears.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan map[string]any
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			select {
			case b.lines <- m:
			default:
			}
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs the program with env on port 0, and its metrics on
// another free loopback port unless env sets METRICS_ADDR, and waits for it
// to listen.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	env["PORT"] = "0"
	if _, set := env["METRICS_ADDR"]; !set {
		env["METRICS_ADDR"] = "127.0.0.1:0"
	}
	var mailServer *smtptest.Server
	if _, set := env["SMTP_URL"]; !set {
		mailServer = startMail(t, env)
	}
	out := &syncBuffer{lines: make(chan map[string]any, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, out) }()
	s := &server{t: t, out: out, mail: mailServer}
	s.stop = func() {
		// Every answer of the run is held up against the spec's responses
		// for its operation, read from the server's own request counter.
		if s.metrics != "" {
			status, _, raw, err := exchange(http.DefaultClient, "GET", s.metrics+"/metrics", "", nil, nil)
			if err != nil || status != http.StatusOK {
				t.Errorf("read the metrics: %d %v", status, err)
			}
			apitest.Check(t, apitest.FromText(string(raw)))
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v\n%s", err, out)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("run did not stop within 60 s\n%s", out)
		}
	}
	deadline := time.After(60 * time.Second)
	for s.base == "" {
		select {
		case m := <-out.lines:
			switch m["msg"] {
			case "metrics listening":
				s.metrics = "http://" + m["addr"].(string)
			case "listening":
				_, port, _ := net.SplitHostPort(m["addr"].(string))
				s.base = "http://127.0.0.1:" + port
			}
		case err := <-done:
			t.Fatalf("run stopped before listening: %v\n%s", err, out)
		case <-deadline:
			cancel()
			t.Fatalf("no listening line within 60 s\n%s", out)
		}
	}
	return s
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (s *server) call(method, path, token string, body any) reply {
	s.t.Helper()
	status, _, raw, err := exchange(http.DefaultClient, method, s.base+path, token, body, nil)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	r := reply{status: status, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// exchange sends one request and reads the whole answer; body goes as
// JSON, or as is when it is a string. It fails nothing itself, so that it
// can be used outside the test's goroutine.
func exchange(client *http.Client, method, url, token string, body any, header http.Header) (int, http.Header, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw, err
}

// scrape reads the metrics from the metrics listener.
func (s *server) scrape() string {
	s.t.Helper()
	status, _, raw, err := exchange(http.DefaultClient, "GET", s.metrics+"/metrics", "", nil, nil)
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("GET %s/metrics: %d %v", s.metrics, status, err)
	}
	return string(raw)
}

// must checks a reply's status and returns it.
func (s *server) must(r reply, status int) reply {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
	defer s.stop()

	s.must(s.call("GET", "/healthz", "", nil), 200)
	s.must(s.call("GET", "/readyz", "", nil), 200)
	reg := s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": "kim@example.com", "password": "a long passphrase", "name": "Kim", "timezone": "America/Edmonton",
	}), 201)
	login := s.must(s.call("POST", "/v1/auth/login", "", map[string]any{"email": "KIM@example.com", "password": "a long passphrase"}), 200)
	access := login.body["access_token"].(string)

	fcmToken := "e2e-device-token:" + strings.Repeat("Z", 80)
	s.must(s.call("POST", "/v1/devices", access, map[string]any{"token": fcmToken, "platform": "android", "app_version": "0.9.1"}), 201)

	logID := "0b9d2c4e-7f61-4a8e-b3d5-2e6f8a1c9d70"
	// 23:30 local in Edmonton, 06:30 UTC the next day: it belongs to the local day.
	loggedAt := time.Now().In(mustZone(t, "America/Edmonton")).Add(-24 * time.Hour)
	loggedAt = time.Date(loggedAt.Year(), loggedAt.Month(), loggedAt.Day(), 23, 30, 0, 0, loggedAt.Location())
	put := s.must(s.call("PUT", "/v1/pain-logs/"+logID, access, map[string]any{
		"logged_at": loggedAt.Format(time.RFC3339), "score": 5, "areas": []string{"lower_back", "hips"}, "stiffness": 4,
	}), 201)
	if put.body["local_date"] != loggedAt.Format(time.DateOnly) {
		t.Fatalf("local_date %v, want %s", put.body["local_date"], loggedAt.Format(time.DateOnly))
	}
	list := s.must(s.call("GET", "/v1/pain-logs", access, nil), 200)
	if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != logID {
		t.Fatalf("list %s", list.raw)
	}
	since := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	sync := s.must(s.call("GET", "/v1/pain-logs?updated_since="+since, access, nil), 200)
	if len(sync.body["items"].([]any)) != 1 {
		t.Fatalf("sync %s", sync.raw)
	}

	first := reg.body["refresh_token"].(string)
	rotated := s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first}), 200)
	s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first}), 401)
	// Reuse revoked the family: the rotated token is dead too.
	s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": rotated.body["refresh_token"]}), 401)
	// The login's family is separate and still works until logout.
	loginRefresh := login.body["refresh_token"].(string)
	next := s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": loginRefresh}), 200)
	s.must(s.call("POST", "/v1/auth/logout", "", map[string]any{"refresh_token": next.body["refresh_token"]}), 204)
	s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": next.body["refresh_token"]}), 401)

	if metrics := s.scrape(); !strings.Contains(metrics, `backcare_http_requests_total{method="PUT",route="/v1/pain-logs/:id",status="201"} 1`) {
		t.Fatalf("metrics do not count the PUT:\n%s", metrics)
	}
	if strings.Contains(s.out.String(), fcmToken) || strings.Contains(s.out.String(), "a long passphrase") {
		t.Fatal("the log holds a whole push token or a password")
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, map[string]string{"DATA_DIR": dir})
	reg := s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": "lee@example.com", "password": "a long passphrase", "name": "Lee", "timezone": "Asia/Kolkata",
	}), 201)
	access := reg.body["access_token"].(string)
	s.must(s.call("PUT", "/v1/pain-logs/5d1e0f3a-9b2c-4d7e-8f60-1a2b3c4d5e6f", access, map[string]any{
		"logged_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "score": 7,
	}), 201)
	s.stop()

	s = startServer(t, map[string]string{"DATA_DIR": dir})
	defer s.stop()
	// The signing key was kept in DATA_DIR: the access token still works.
	got := s.must(s.call("GET", "/v1/pain-logs/5d1e0f3a-9b2c-4d7e-8f60-1a2b3c4d5e6f", access, nil), 200)
	if got.body["score"] != float64(7) {
		t.Fatalf("after restart: %s", got.raw)
	}
	s.must(s.call("POST", "/v1/auth/login", "", map[string]any{"email": "lee@example.com", "password": "a long passphrase"}), 200)
}

func TestConfigIsValidatedAndMasked(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"MONGODB_URI without JWT_SECRET": {"MONGODB_URI": "mongodb://db:27017"},
		"short JWT_SECRET":               {"JWT_SECRET": "short"},
		"bad PORT":                       {"PORT": "http"},
		"bad LOG_LEVEL":                  {"LOG_LEVEL": "loud"},
		"bad database name":              {"MONGODB_DATABASE": "a/b"},
		"METRICS_ADDR without a port":    {"METRICS_ADDR": "127.0.0.1"},
		"METRICS_ADDR with a named port": {"METRICS_ADDR": "localhost:http"},
		"METRICS_ADDR on the API's port": {"PORT": "8080", "METRICS_ADDR": "127.0.0.1:8080"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), nil, func(k string) string { return env[k] }, &out)
			if err == nil {
				t.Fatalf("run started with %v", env)
			}
		})
	}
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{
			"MONGODB_URI": "mongodb://app:hunter2hunter2@db.internal:27017/?replicaSet=rs0",
			"JWT_SECRET":  strings.Repeat("s3cr3t", 8),
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logged := fmt.Sprint(cfg.LogValue())
	if strings.Contains(logged, "hunter2") || strings.Contains(logged, "s3cr3t") || !strings.Contains(logged, "db.internal") {
		t.Fatalf("start-up log shows secrets or hides the host: %s", logged)
	}
}

// TestMetricsAreServedApartFromTheAPI checks that /metrics is never on the
// API's port, which may be public: it is on METRICS_ADDR, or nowhere.
func TestMetricsAreServedApartFromTheAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
	defer s.stop()
	s.must(s.call("GET", "/healthz", "", nil), 200)
	if r := s.must(s.call("GET", "/metrics", "", nil), 404); r.body["code"] != "not_found" {
		t.Fatalf("the API's port answers /metrics with %s", r.raw)
	}
	metrics := s.scrape()
	for _, want := range []string{
		`backcare_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("the metrics listener does not serve %q:\n%s", want, metrics)
		}
	}
	if status, _, _, err := exchange(http.DefaultClient, "GET", s.metrics+"/v1/me", "", nil, nil); err != nil || status != http.StatusNotFound {
		t.Fatalf("the metrics listener answers the API: %d %v", status, err)
	}
	if !strings.Contains(s.out.String(), `"metrics_addr":"127.0.0.1:0"`) {
		t.Fatalf("the start-up log does not show METRICS_ADDR:\n%s", s.out)
	}

	off := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "METRICS_ADDR": "off"})
	defer off.stop()
	if off.metrics != "" || !strings.Contains(off.out.String(), `"metrics_addr":"off"`) {
		t.Fatalf("METRICS_ADDR=off still serves metrics at %q:\n%s", off.metrics, off.out)
	}
	off.must(off.call("GET", "/metrics", "", nil), 404)
}

// TestRemindersArriveThroughRun runs the whole program with its in-process
// FCM fake and a 1 s dispatch interval: a session completed just now gets
// its first aftercare pushed, and the metrics count it.
func TestRemindersArriveThroughRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "DISPATCH_INTERVAL": "1s"})
	defer s.stop()
	access := s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": "rey@example.com", "password": "a long passphrase", "name": "Rey", "timezone": "UTC",
	}), 201).body["access_token"].(string)
	// No quiet hours, so that the test passes at any time of day.
	s.must(s.call("PATCH", "/v1/me", access, map[string]any{"quiet_hours": map[string]any{"start": "00:00", "end": "00:00"}}), 200)
	s.must(s.call("POST", "/v1/devices", access, map[string]any{"token": "rey-phone-token-zzzzzzzzzzzzzzzzzzzz", "platform": "ios", "app_version": "1.0.0"}), 201)
	started := time.Now().UTC().Add(-90 * time.Minute).Truncate(time.Second)
	session := s.must(s.call("POST", "/v1/sessions", access, map[string]any{"scheduled_at": started.Format(time.RFC3339)}), 201).body["id"].(string)
	s.must(s.call("POST", "/v1/sessions/"+session+"/complete", access, nil), 200)

	pushed := map[string]bool{}
	deadline := time.After(60 * time.Second)
	for !pushed["hydration_after"] || !pushed["take_it_easy"] {
		select {
		case m := <-s.out.lines:
			if m["msg"] == "push (FCM fake)" {
				pushed[m["kind"].(string)] = true
				if m["token"] != "…zzzzzz" {
					t.Fatalf("the push log shows token %v, want only its end", m["token"])
				}
			}
		case <-deadline:
			t.Fatalf("aftercare pushes within 60 s: %v\n%s", pushed, s.out)
		}
	}
	// The fake logs a push when it arrives; the dispatcher records it
	// right after the send returns.
	for sent := 0; sent < 2; {
		items := s.must(s.call("GET", "/v1/reminders", access, nil), 200).body["items"].([]any)
		sent = 0
		for _, it := range items {
			if m := it.(map[string]any); m["session_id"] == session && m["status"] == "sent" {
				sent++
			}
		}
		select {
		case <-deadline:
			t.Fatalf("%d of the session's reminders recorded as sent: %v", sent, items)
		case <-time.After(100 * time.Millisecond):
		}
	}
	metrics := s.scrape()
	if !strings.Contains(metrics, `backcare_reminders_total{kind="take_it_easy",outcome="sent"} 1`) ||
		!strings.Contains(metrics, "backcare_reminder_lateness_seconds_bucket") {
		t.Fatalf("reminder metrics missing:\n%s", metrics)
	}
}
