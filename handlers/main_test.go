package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/api/apitest"
	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testNow is the fixed clock of handler tests: 22 Nov 2026, 15:00 UTC.
var testNow = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

type testServer struct {
	t     *testing.T
	app   *fiber.App
	store *store.Store
	db    *mongo.Database
	now   time.Time
	// sessions counts sessions booked by helpers, to keep them apart in time.
	sessions int
}

// roomyLimits keep rate limits out of the way of tables that send hundreds
// of requests from one address; ratelimit_test.go tests the limits.
var roomyLimits = RateLimits{
	Register: RouteLimits{PerIP: RateLimit{100_000, time.Hour}, PerAccount: RateLimit{100_000, time.Hour}},
	Login:    RouteLimits{PerIP: RateLimit{100_000, time.Hour}, PerAccount: RateLimit{100_000, time.Hour}},
	Refresh:  RouteLimits{PerIP: RateLimit{100_000, time.Hour}, PerAccount: RateLimit{100_000, time.Hour}},
	Device:   RouteLimits{PerIP: RateLimit{100_000, time.Hour}, PerAccount: RateLimit{100_000, time.Hour}},
	LinkCode: RouteLimits{PerIP: RateLimit{100_000, time.Hour}, PerAccount: RateLimit{100_000, time.Hour}},
}

// testPasswordParams make the tests' password hashes cheap: a test signs
// up dozens of accounts, and under the race detector a hash at the
// production costs (auth.DefaultParams, tested in package auth and used by
// the tests through run) takes a good part of a second.
var testPasswordParams = auth.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// newTestServer serves the API on a fresh database, with the fixed clock
// ts.now; options change the dependencies before the server is made.
func newTestServer(t *testing.T, options ...func(*Deps)) *testServer {
	t.Helper()
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.NewDatabase(t)
	ts := &testServer{t: t, store: storetest.New(db), db: db, now: testNow}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := Deps{
		Store: ts.store, Signer: signer, Logger: logger,
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return ts.now }, PasswordParams: testPasswordParams,
		Planner: jobs.NewMaterializer(jobs.MaterializeConfig{Store: ts.store, Logger: logger}),
		BaseURL: "https://api.backcare.test", RateLimits: roomyLimits,
	}
	for _, o := range options {
		o(&d)
	}
	ts.app = NewServer(d)
	// Every answer of every handler test is held up against the spec's
	// responses for its operation; see package apitest.
	t.Cleanup(func() {
		answered, err := apitest.FromGatherer(d.Registry)
		if err != nil {
			t.Fatal(err)
		}
		apitest.Check(t, answered)
	})
	return ts
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request; body may be a string (sent as is) or any value (sent as JSON).
func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	return ts.doWith(method, path, token, body, nil)
}

// doWith is do with more request headers.
func (ts *testServer) doWith(method, path, token string, body any, header http.Header) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	if raw, ok := body.(string); ok && len(raw) > BodyLimit {
		// Fiber's in-memory app.Test returns an oversized body as an
		// error; only a real listener shows what a client gets.
		return ts.doOverHTTP(method, path, token, raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.app.Test(req, 30_000)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// doOverHTTP sends a request to the app on a real listener. It declares the
// body's length but sends none of it: the server refuses on the declared
// length before reading, and a client still writing would see its
// connection reset before it could read the answer.
func (ts *testServer) doOverHTTP(method, path, token, body string) response {
	ts.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	go func() { _ = ts.app.Listener(ln) }()
	defer func() { _ = ts.app.Shutdown() }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ts.t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, len(body))
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		ts.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// serve starts the app on a loopback port for clients outside the test
// (a browser) and returns its base URL.
func (ts *testServer) serve() string {
	ts.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	go func() { _ = ts.app.Listener(ln) }()
	ts.t.Cleanup(func() { _ = ts.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// register signs a new patient up and returns the access and refresh tokens.
func (ts *testServer) register(email, timezone string) (access, refresh string) {
	ts.t.Helper()
	r := ts.do("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "correct horse battery", "name": "Pat", "timezone": timezone,
	})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("register %s: %d %s", email, r.status, r.body)
	}
	// Sharing and joining a clinic need a verified address.
	ts.verifyEmail(strings.ToLower(email))
	m := r.json(ts.t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// login signs in at the test clock's time (tokens issued earlier may have
// expired once a test moves the clock) and returns an access token.
func (ts *testServer) login(email string) string {
	ts.t.Helper()
	r := ts.do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery"})
	if r.status != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return r.json(ts.t)["access_token"].(string)
}

// expectProblem checks that r is a problem+json answer with status and,
// if field is not empty, an error naming field.
func expectProblem(t *testing.T, r response, status int, field string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p struct {
		Status int `json:"status"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != status {
		t.Fatalf("problem body %s (%v)", r.body, err)
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("problem does not name field %q: %s", field, r.body)
}

// documents counts every document in the test database, to prove that a
// refused request stored nothing.
func (ts *testServer) documents() int64 {
	ts.t.Helper()
	ctx := context.Background()
	names, err := ts.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		ts.t.Fatal(err)
	}
	var n int64
	for _, name := range names {
		c, err := ts.db.Collection(name).CountDocuments(ctx, bson.D{})
		if err != nil {
			ts.t.Fatal(err)
		}
		n += c
	}
	return n
}

func newID() string { return uuid.NewString() }

func painLog(loggedAt time.Time, score int) map[string]any {
	return map[string]any{"logged_at": loggedAt.Format(time.RFC3339), "score": score, "areas": []string{"lower_back"}}
}

func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }
