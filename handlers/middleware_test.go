package handlers

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func TestPanicIsAPlain500AndTheServerGoesOn(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	onError := errorHandler(logger)
	app := fiber.New(fiber.Config{ErrorHandler: onError})
	app.Use(withRequestLog(logger, newHTTPMetrics(prometheus.NewRegistry()), onError), withRecover(logger))
	app.Get("/boom", func(*fiber.Ctx) error { panic("mongo: secret driver detail at store.go:42") })
	app.Get("/fine", func(c *fiber.Ctx) error { return c.SendString("ok") })

	resp, err := app.Test(httptest.NewRequest("GET", "/boom", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, leak := range []string{"mongo", "secret", "store.go", "goroutine", "panic"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the answer shows %q: %s", leak, body)
		}
	}
	if !strings.Contains(logs.String(), "handler panic") || !strings.Contains(logs.String(), "secret driver detail") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
	resp, err = app.Test(httptest.NewRequest("GET", "/fine", nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the next request: %v %v", resp, err)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("X-Content-Type-Options = %q", got)
	}
}

func TestEveryAPIRouteRefusesUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	f := ts.routeFixture()
	before := ts.documents()
	n := 0
	for _, r := range routes(Deps{}) {
		if !strings.HasPrefix(r.path, "/v1/") {
			continue
		}
		path, access := f.call(r)
		path += "?$where=1&limit[$ne]=1"
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			expectProblem(t, ts.do(r.method, path, access, nil), http.StatusBadRequest, "$where")
		})
		n++
	}
	if after := ts.documents(); after != before {
		t.Fatalf("documents %d -> %d", before, after)
	}
	t.Logf("%d routes", n)
}

func TestCORSListsOriginsAndNeverCredentials(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Deps) { d.CORSOrigins = []string{"https://clinic.example"} })
	probe := func(origin string) (allowOrigin, allowCredentials string) {
		req := httptest.NewRequest("OPTIONS", "/v1/pain-logs", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := ts.app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
	}
	if o, c := probe("https://clinic.example"); o != "https://clinic.example" || c == "true" {
		t.Fatalf("configured origin: Allow-Origin %q, Allow-Credentials %q", o, c)
	}
	for _, origin := range []string{"https://evil.example", "https://clinic.example.evil.example", "null", "*"} {
		if o, c := probe(origin); o != "" || c == "true" {
			t.Errorf("%s: Allow-Origin %q, Allow-Credentials %q", origin, o, c)
		}
	}
}
