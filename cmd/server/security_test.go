package main

// OWASP API Security Top 10 (2023), one test family each, against the whole
// program started through run. The route tables come from api/openapi.yaml,
// which handlers' TestSpecMatchesRoutes holds equal to the served routes, so
// a new route lands in every family here without being listed by hand; one
// that needs a decision (an id to own, a public answer) fails until it has one.
//
// Families covered elsewhere or not applicable:
//   - API6 unrestricted access to sensitive business flows: the per-IP and
//     per-account limits on sign-up, sign-in, refresh and device sign-up
//     (handlers/ratelimit.go and its tests), and the failed sign-in lockout
//     (handlers/accounts_test.go).
//   - API7 server-side request forgery: the server fetches no URL a client
//     gives; it calls out only to the database and to FCM, both configured
//     from the environment.
//   - API9 improper inventory management: TestSpecMatchesRoutes (handlers)
//     fails when a served route is missing from the spec, or the other way
//     round, or when they disagree on authentication; and every answer of
//     every run here is held up against the spec's responses for its
//     operation when the server stops (package apitest).
//   - API10 unsafe consumption of APIs: the one outside API is FCM, whose
//     answers the Firebase Admin SDK parses; the dispatcher acts only on its
//     typed error codes (jobs/dispatch_test.go).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"gopkg.in/yaml.v3"

	"github.com/backcare/backcare/api"
	"github.com/backcare/backcare/api/apitest"
	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/handlers"
	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/notifications/fcmfake"
	"github.com/backcare/backcare/store"
)

// jwtSecret is the signing key the tests give run, so that they can forge
// tokens the way an attacker who guessed the format would.
const jwtSecret = "security-tests-signing-key-0123456789abcdef"

const password = "correct horse battery staple"

// secureServer is one run of the program, with a client that checks every
// error answer for leaked internals (API8) as it goes.
type secureServer struct {
	*server
	client   *http.Client
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	emails   atomic.Int32
	sessions atomic.Int32
	// answers are every answer so far, for the families that walk them all.
	answers []answer
	// spares register devices for tokenFor; spareUses counts the last one's.
	spares    []patient
	spareUses int
	// clinics are the clinics linked to patients, by patient id (clinicOf).
	clinicsMu sync.Mutex
	clinics   map[string]*clinicAccess
}

// startSecure runs the program; env holds extra name, value pairs.
func startSecure(t *testing.T, env ...string) *secureServer {
	t.Helper()
	fcm := fcmfake.New()
	t.Cleanup(fcm.Close)
	vars := map[string]string{
		"DATA_DIR": t.TempDir(), "JWT_SECRET": jwtSecret, "FCM_ENDPOINT": fcm.URL(),
		// No dispatch during a test: a reminder sent mid-test would change
		// the data that tests compare before and after.
		"DISPATCH_INTERVAL": "1h",
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	s := &secureServer{server: startServer(t, vars)}
	t.Cleanup(s.stop)
	// Each connection comes from the next loopback address (Linux routes
	// all of 127.0.0.0/8 to loopback), so that the per-IP rate limits
	// (API6, tested with the limiter) do not answer in place of the check
	// a test is about.
	var next atomic.Uint32
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	s.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := next.Add(1)
		d := *dialer
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(n/254%254), byte(1+n%254))}
		return d.DialContext(ctx, network, addr)
	}
	s.client = &http.Client{
		Transport: &http.Transport{DialContext: s.dial, DisableKeepAlives: true},
		// A bound, not a speed check: a request that hangs fails the test.
		Timeout: 60 * time.Second,
	}
	return s
}

// answer is one HTTP exchange.
type answer struct {
	method, path string
	status       int
	header       http.Header
	raw          string
}

func (a answer) String() string {
	return fmt.Sprintf("%s %s → %d %s", a.method, a.path, a.status, a.raw)
}

// object decodes a JSON object answer, or fails.
func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.raw), &m); err != nil {
		t.Fatalf("not a JSON object: %v", a)
	}
	return m
}

// fieldErrors returns the fields a problem names.
func (a answer) fieldErrors() []string {
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	_ = json.Unmarshal([]byte(a.raw), &p)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return fields
}

// send makes one request; body is sent as JSON, or as is when it is a
// string. header holds name, value pairs. A request that gets no answer is
// an error and answers status 0, which no check accepts; send is called
// from subtests, where the server's own test cannot stop.
func (s *secureServer) send(method, path, token string, body any, header ...string) answer {
	s.t.Helper()
	a := answer{method: method, path: path}
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	status, respHeader, raw, err := exchange(s.client, method, s.base+path, token, body, h)
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return a
	}
	a.status, a.header, a.raw = status, respHeader, string(raw)
	s.answers = append(s.answers, a)
	if err := errorAnswerProblem(a); err != nil {
		s.t.Errorf("API8: %v", err)
	}
	return a
}

// internals are what a stack trace, a driver or Go's own error text looks
// like; none may reach a client.
var internals = regexp.MustCompile(`(?i)goroutine \d|\.go:\d|panic|runtime\.|mongo|bson|ferret|sqlite|E11000|duplicate key|` +
	`server selection|deadline exceeded|connection refused|dial tcp|topology|json: |strconv\.|invalid character|cannot unmarshal|fasthttp`)

// errorAnswerProblem checks an error answer: a problem+json body (the
// report page answers HTML) that shows nothing of the server's insides.
func errorAnswerProblem(a answer) error {
	if a.status < 400 {
		return nil
	}
	if m := internals.FindString(a.raw); m != "" {
		return fmt.Errorf("the answer shows %q: %v", m, a)
	}
	if strings.HasPrefix(a.path, "/r/") {
		return nil
	}
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json: %v", ct, a)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal([]byte(a.raw), &p); err != nil || p.Status != a.status || p.Code == "" {
		return fmt.Errorf("not a problem with status and code: %v", a)
	}
	if a.status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
		return fmt.Errorf("401 without WWW-Authenticate: %v", a)
	}
	return nil
}

// expect fails unless a has one of the statuses.
func expect(t *testing.T, a answer, statuses ...int) answer {
	t.Helper()
	if !slices.Contains(statuses, a.status) {
		t.Fatalf("status %d, want %v: %v", a.status, statuses, a)
	}
	return a
}

// expectInvalid fails unless a is a 400 naming field.
func expectInvalid(t *testing.T, a answer, field string) {
	t.Helper()
	expect(t, a, http.StatusBadRequest)
	if !slices.Contains(a.fieldErrors(), field) {
		t.Fatalf("the problem does not name %q: %v", field, a)
	}
}

// patient is one signed-up account.
type patient struct {
	id, email, access, refresh string
	// marker is a string put in the patient's own data (notes, names,
	// tokens), so that an answer to someone else showing it is caught.
	marker string
}

func (s *secureServer) signUp(t *testing.T, name string) patient {
	t.Helper()
	p := patient{email: fmt.Sprintf("%s-%d@example.com", strings.ToLower(name), s.emails.Add(1))}
	p.marker = "marker" + strings.ReplaceAll(uuid.NewString(), "-", "")
	pair := expect(t, s.send("POST", "/v1/auth/register", "", map[string]any{
		"email": p.email, "password": password, "name": name, "timezone": "UTC",
	}), http.StatusCreated).object(t)
	p.access, p.refresh = pair["access_token"].(string), pair["refresh_token"].(string)
	p.id = expect(t, s.send("GET", "/v1/me", p.access, nil), http.StatusOK).object(t)["id"].(string)
	// Sharing and joining a clinic need the address verified, by the
	// link the mail server received.
	s.forTest(t).verify(p.email)
	return p
}

// snapshot is everything the JSON export holds about p except what changes
// by itself: the export's own time and audit entries, and reminders, which
// the materializer re-plans on its own schedule; reminders that the patient
// marked done or snoozed are kept.
func (s *secureServer) snapshot(t *testing.T, p patient) string {
	t.Helper()
	m := expect(t, s.send("GET", "/v1/me/export?format=json", p.access, nil), http.StatusOK).object(t)
	delete(m, "exported_at")
	var kept []any
	for _, e := range m["audit"].([]any) {
		if e.(map[string]any)["action"] != "export" {
			kept = append(kept, e)
		}
	}
	m["audit"] = kept
	kept = nil
	for _, r := range m["reminders"].([]any) {
		if r := r.(map[string]any); r["done_at"] != nil || r["snoozed_from"] != nil {
			kept = append(kept, r)
		}
	}
	m["reminders"] = kept
	b, _ := json.Marshal(m)
	return string(b)
}

// The contract, read from api/openapi.yaml.

// operation is one method on one path of the spec.
type operation struct {
	method, path string // "PATCH", "/v1/sessions/{id}"
	public       bool
	// staff is set for the clinic's operations, which take a staff token.
	staff      bool
	pathParams []string
	query      []string
	body       map[string]any // the request body's schema, references resolved; nil without one
}

func (o operation) String() string { return o.method + " " + o.path }

type apiSpec struct {
	doc map[string]any
	ops []operation
}

var specParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	sp := &apiSpec{}
	if err := yaml.Unmarshal(api.Spec, &sp.doc); err != nil {
		t.Fatal(err)
	}
	paths := sp.doc["paths"].(map[string]any)
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item := paths[p].(map[string]any)
		shared, _ := item["parameters"].([]any)
		for _, method := range slices.Sorted(maps.Keys(item)) {
			if method == "parameters" {
				continue
			}
			op := item[method].(map[string]any)
			o := operation{method: strings.ToUpper(method), path: p}
			security, declared := op["security"].([]any)
			o.public = declared && len(security) == 0
			if declared && len(security) > 0 {
				_, o.staff = security[0].(map[string]any)["staffBearer"]
			}
			params, _ := op["parameters"].([]any)
			for _, prm := range append(slices.Clone(shared), params...) {
				prm := sp.resolve(prm)
				switch prm["in"] {
				case "path":
					o.pathParams = append(o.pathParams, prm["name"].(string))
				case "query":
					o.query = append(o.query, prm["name"].(string))
				}
			}
			if rb, ok := op["requestBody"]; ok {
				content := sp.resolve(rb)["content"].(map[string]any)
				o.body = sp.resolve(content["application/json"].(map[string]any)["schema"])
			}
			sp.ops = append(sp.ops, o)
		}
	}
	if len(sp.ops) < 30 {
		t.Fatalf("read only %d operations from the spec", len(sp.ops))
	}
	return sp
}

// resolve follows a $ref and merges allOf, so that a schema's properties
// are in one place.
func (sp *apiSpec) resolve(node any) map[string]any {
	m, _ := node.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		var target any = sp.doc
		for _, key := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			target = target.(map[string]any)[key]
		}
		return sp.resolve(target)
	}
	all, ok := m["allOf"].([]any)
	if !ok {
		return m
	}
	merged := maps.Clone(m)
	delete(merged, "allOf")
	props := map[string]any{}
	for _, sub := range all {
		sub := sp.resolve(sub)
		for k, v := range sub {
			if _, set := merged[k]; !set {
				merged[k] = v
			}
		}
		if p, ok := sub["properties"].(map[string]any); ok {
			maps.Copy(props, p)
		}
	}
	if p, ok := m["properties"].(map[string]any); ok {
		maps.Copy(props, p)
	}
	if len(props) > 0 {
		merged["properties"] = props
	}
	return merged
}

// fieldPath is a place in a request body: the keys down to a field, and
// whether the place is an element of that field's array.
type fieldPath struct {
	keys []string
	item bool
}

// name is how a problem names the field: items are reported as their array.
func (f fieldPath) name() string { return strings.Join(f.keys, ".") }

// fields lists every property of a schema, nested objects and arrays included.
func (sp *apiSpec) fields(schema map[string]any, prefix []string) []fieldPath {
	props, _ := schema["properties"].(map[string]any)
	var out []fieldPath
	for _, name := range slices.Sorted(maps.Keys(props)) {
		keys := append(slices.Clone(prefix), name)
		out = append(out, fieldPath{keys: keys})
		sub := sp.resolve(props[name])
		out = append(out, sp.fields(sub, keys)...)
		if sub["type"] == "array" {
			out = append(out, fieldPath{keys: keys, item: true})
		}
	}
	return out
}

// declares reports whether the body schema has a top-level property name.
func declares(schema map[string]any, name string) bool {
	props, _ := schema["properties"].(map[string]any)
	_, ok := props[name]
	return ok
}

// Resources a patient owns, for the routes with an id in their path.

// owned is one resource of a patient's.
type owned struct {
	id string
	// bodies are valid request bodies by method, for the routes that take one.
	bodies map[string]any
	// view is what the owner sees of the resource.
	view func() string
}

type ownedMaker func(t *testing.T, s *secureServer, owner patient) owned

// ownedResources covers every path with an id. A path with an id that is
// not listed here fails TestAPI1ObjectLevelAuthorization: decide how
// another patient is kept out of it, then add it.
var ownedResources = map[string]ownedMaker{
	"/v1/pain-logs/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		id := uuid.NewString()
		expect(t, s.send("PUT", "/v1/pain-logs/"+id, owner.access, painLog(5, owner.marker)), http.StatusCreated)
		return owned{id: id, bodies: map[string]any{"PUT": painLog(9, "overwritten"), "PATCH": map[string]any{"score": 1}},
			view: s.viewOf(owner, "/v1/pain-logs/"+id)}
	},
	"/v1/questionnaire-responses/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		id := uuid.NewString()
		expect(t, s.send("PUT", "/v1/questionnaire-responses/"+id, owner.access, pegAnswers(6)), http.StatusCreated)
		return owned{id: id, bodies: map[string]any{"PUT": pegAnswers(1)}, view: s.viewOf(owner, "/v1/questionnaire-responses/"+id)}
	},
	"/v1/devices/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		id := expect(t, s.send("POST", "/v1/devices", owner.access, device(owner.marker+uuid.NewString()[:8])), http.StatusCreated).object(t)["id"].(string)
		return owned{id: id, view: s.viewOf(owner, "/v1/devices")}
	},
	"/v1/plans/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		return owned{id: s.openPlan(t, owner), bodies: map[string]any{"PATCH": map[string]any{"action": "pause"}},
			view: s.viewOf(owner, "/v1/plans/current")}
	},
	"/v1/sessions/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		return owned{id: s.bookPastSession(t, owner), bodies: map[string]any{"PATCH": map[string]any{"action": "cancel"}},
			view: s.viewOf(owner, "/v1/sessions")}
	},
	"/v1/sessions/{id}/complete": func(t *testing.T, s *secureServer, owner patient) owned {
		return owned{id: s.bookPastSession(t, owner), bodies: map[string]any{"POST": map[string]any{"pressure_felt": 3, "soreness_after": 2}},
			view: s.viewOf(owner, "/v1/sessions")}
	},
	"/v1/reminders/{id}/done": func(t *testing.T, s *secureServer, owner patient) owned {
		return s.laterReminder(t, owner, nil)
	},
	"/v1/reminders/{id}/snooze": func(t *testing.T, s *secureServer, owner patient) owned {
		return s.laterReminder(t, owner, map[string]any{"POST": map[string]any{"minutes": 30}})
	},
	"/v1/reports/{id}": func(t *testing.T, s *secureServer, owner patient) owned {
		link := expect(t, s.send("POST", "/v1/reports", owner.access, map[string]any{}), http.StatusCreated).object(t)
		url := link["url"].(string)
		// The page itself leaves an audit entry per read; that it still
		// opens is what another patient must not change.
		return owned{id: link["id"].(string), view: func() string { return strconv.Itoa(s.send("GET", url, "", nil).status) }}
	},
}

// clinicResource is an owned resource of the clinic side: the patient's
// own link, or what the clinic linked to the patient keeps about them.
func clinicResource(id func(c *clinicAccess, owner patient) string, bodies map[string]any, view func(s *secureServer, c *clinicAccess, owner patient) func() string) ownedMaker {
	return func(t *testing.T, s *secureServer, owner patient) owned {
		c := s.clinicOf(t, owner)
		return owned{id: id(c, owner), bodies: bodies, view: view(s, c, owner)}
	}
}

// clinicView is what the clinic sees of the patient and keeps of them.
func clinicView(s *secureServer, c *clinicAccess, owner patient) func() string {
	return func() string {
		var b strings.Builder
		read := func(path, token string) {
			a := s.send("GET", path, token, nil)
			b.WriteString(strconv.Itoa(a.status) + " ")
			if a.status == http.StatusOK {
				// A refusal's body differs by its request id alone.
				b.WriteString(a.raw)
			}
		}
		for _, path := range []string{"/v1/plans/current", "/v1/sessions", "/v1/screening", "/v1/care-team", "/v1/care-team/" + c.linkID + "/messages"} {
			read(path, owner.access)
		}
		for _, path := range []string{"/v1/clinic/staff", "/v1/clinic/invitations", "/v1/clinic"} {
			read(path, c.owner)
		}
		return b.String()
	}
}

func linkedPatient(_ *clinicAccess, owner patient) string { return owner.id }

func linkedSession(c *clinicAccess, owner patient) string { return owner.id + "|" + c.sessionID }

func init() {
	today := time.Now().UTC().Format(time.DateOnly)
	for path, r := range map[string]struct {
		id     func(c *clinicAccess, owner patient) string
		bodies map[string]any
	}{
		"/v1/care-team/{id}":                               {func(c *clinicAccess, _ patient) string { return c.linkID }, nil},
		"/v1/clinic/staff/{id}":                            {func(c *clinicAccess, _ patient) string { return c.therapistID }, map[string]any{"PATCH": map[string]any{"active": false}}},
		"/v1/clinic/invitations/{id}":                      {func(c *clinicAccess, _ patient) string { return c.invitationID }, nil},
		"/v1/clinic/invitations/{id}/resend":               {func(c *clinicAccess, _ patient) string { return c.invitationID }, nil},
		"/v1/clinic/patients/{id}":                         {linkedPatient, nil},
		"/v1/clinic/patients/{id}/pain-logs":               {linkedPatient, nil},
		"/v1/clinic/patients/{id}/insights":                {linkedPatient, nil},
		"/v1/clinic/patients/{id}/questionnaire-responses": {linkedPatient, nil},
		"/v1/clinic/patients/{id}/plan":                    {linkedPatient, map[string]any{"PUT": map[string]any{"home_care": "Heat for 20 minutes."}}},
		"/v1/clinic/patients/{id}/sessions": {linkedPatient, map[string]any{"POST": map[string]any{
			"scheduled_at": time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339)}}},
		"/v1/clinic/patients/{id}/screening":               {linkedPatient, nil},
		"/v1/clinic/patients/{id}/clearances":              {linkedPatient, map[string]any{"POST": map[string]any{"date": today}}},
		"/v1/clinic/patients/{id}/sessions/{sid}":          {linkedSession, map[string]any{"PATCH": map[string]any{"action": "no_show"}}},
		"/v1/clinic/patients/{id}/sessions/{sid}/complete": {linkedSession, map[string]any{"POST": map[string]any{}}},
		"/v1/clinic/patients/{id}/sessions/{sid}/note":     {linkedSession, map[string]any{"PUT": map[string]any{"subjective": "Tight", "shared": true, "summary": "Walk daily."}}},
		"/v1/care-team/{id}/messages":                      {func(c *clinicAccess, _ patient) string { return c.linkID }, nil},
		"/v1/care-team/{id}/messages/{uuid}":               {func(c *clinicAccess, _ patient) string { return c.linkID }, map[string]any{"PUT": map[string]any{"text": "Is this normal?"}}},
		"/v1/care-team/{id}/messages/read":                 {func(c *clinicAccess, _ patient) string { return c.linkID }, map[string]any{"POST": map[string]any{"up_to": securityMessage}}},
		"/v1/clinic/patients/{id}/messages":                {linkedPatient, nil},
		"/v1/clinic/patients/{id}/messages/{uuid}":         {linkedPatient, map[string]any{"PUT": map[string]any{"text": "Yes, that is normal."}}},
		"/v1/clinic/patients/{id}/messages/read":           {linkedPatient, map[string]any{"POST": map[string]any{"up_to": securityMessage}}},
	} {
		ownedResources[path] = clinicResource(r.id, r.bodies, clinicView)
	}
}

// securityMessage is the message each patient's clinic conversation opens
// with (see clinicOf), which the routes that mark messages read name.
const securityMessage = "5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a"

// credentialPaths are the public paths whose parameter is itself the
// credential, not the id of something a patient owns.
var credentialPaths = map[string]bool{"/r/{token}": true}

func (s *secureServer) viewOf(owner patient, path string) func() string {
	return func() string {
		a := s.send("GET", path, owner.access, nil)
		return strconv.Itoa(a.status) + " " + a.raw
	}
}

func painLog(score int, note string) map[string]any {
	return map[string]any{
		"logged_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "score": score,
		"areas": []string{"lower_back"}, "note": note,
	}
}

func device(token string) map[string]any {
	return map[string]any{"token": "fcm-" + token + strings.Repeat("x", 30), "platform": "android", "app_version": "1.0.0"}
}

func allNo() map[string]any {
	answers := map[string]any{}
	for _, q := range []string{"blood_clotting_disorder", "heart_condition", "recent_surgery", "recent_fracture", "severe_osteoporosis",
		"infection_or_skin_condition", "active_cancer", "uncontrolled_blood_pressure", "deep_vein_thrombosis"} {
		answers[q] = false
	}
	return map[string]any{"answers": answers}
}

// openPlan returns the patient's open plan, answering the screening and
// starting one first if there is none.
func (s *secureServer) openPlan(t *testing.T, p patient) string {
	t.Helper()
	if a := s.send("GET", "/v1/plans/current", p.access, nil); a.status == http.StatusOK {
		return a.object(t)["id"].(string)
	}
	expect(t, s.send("POST", "/v1/screening", p.access, allNo()), http.StatusCreated)
	return expect(t, s.send("POST", "/v1/plans", p.access, map[string]any{}), http.StatusCreated).object(t)["id"].(string)
}

// bookPastSession books a session that started hours ago, each one earlier
// than the last so that they never overlap.
func (s *secureServer) bookPastSession(t *testing.T, p patient) string {
	t.Helper()
	at := time.Now().UTC().Add(-time.Duration(s.sessions.Add(1)) * 2 * time.Hour)
	return expect(t, s.send("POST", "/v1/sessions", p.access, map[string]any{
		"scheduled_at": at.Format(time.RFC3339), "therapist": p.marker,
	}), http.StatusCreated).object(t)["id"].(string)
}

// laterReminder picks one of the patient's pending reminders due hours from
// now (signing up plans daily check-ins), which nothing sends during a test.
func (s *secureServer) laterReminder(t *testing.T, p patient, bodies map[string]any) owned {
	t.Helper()
	items := expect(t, s.send("GET", "/v1/reminders", p.access, nil), http.StatusOK).object(t)["items"].([]any)
	for _, it := range items {
		r := it.(map[string]any)
		due, _ := time.Parse(time.RFC3339, r["due_at"].(string))
		if r["status"] == "pending" && r["snoozed_from"] == nil && r["done_at"] == nil && time.Until(due) > 3*time.Hour {
			id := r["id"].(string)
			return owned{id: id, bodies: bodies, view: func() string {
				for _, it := range s.send("GET", "/v1/reminders", p.access, nil).object(t)["items"].([]any) {
					if it.(map[string]any)["id"] == id {
						b, _ := json.Marshal(it)
						return string(b)
					}
				}
				return "absent"
			}}
		}
	}
	t.Fatalf("setup: no pending reminder hours ahead: %v", items)
	return owned{}
}

// fillPath puts ids into a spec path: the owned resource's for {id} (and,
// when id is "<id>|<sid>", for {sid}), a fresh UUID for a {uuid} the
// client chooses, and a well-formed unknown one for any other parameter.
func fillPath(path, id string) string {
	id, sid, _ := strings.Cut(id, "|")
	return specParam.ReplaceAllStringFunc(path, func(p string) string {
		switch {
		case p == "{id}" && id != "":
			return id
		case p == "{sid}" && sid != "":
			return sid
		case p == "{sid}", p == "{uuid}":
			return uuid.NewString()
		}
		return strings.Repeat("A", 43)
	})
}

// placeholderID is a well-formed id of nothing, shaped as the path wants.
func placeholderID(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/devices/"):
		return strings.Repeat("ab", 32)
	case strings.HasPrefix(path, "/v1/reminders/"):
		return strings.Repeat("ab", 16)
	default:
		return uuid.NewString()
	}
}

// API1: broken object-level authorization.
func TestAPI1ObjectLevelAuthorization(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	owner, other := s.signUp(t, "Owner"), s.signUp(t, "Other")
	cases := 0
	for _, op := range spec.ops {
		if len(op.pathParams) == 0 {
			continue
		}
		cases++
		t.Run(op.String(), func(t *testing.T) {
			if op.public {
				if !credentialPaths[op.path] {
					t.Fatalf("%v is public and takes a path parameter: is it a credential? Add it to credentialPaths or give it a policy", op)
				}
				return
			}
			own, ok := ownedResources[op.path]
			if !ok {
				t.Fatalf("%v takes an id but has no object-level authorization case: add one to ownedResources", op)
			}
			res := own(t, s, owner)
			var body any
			if op.body != nil {
				body, ok = res.bodies[op.method]
				if !ok {
					t.Fatalf("%v takes a body but its ownedResources case has none", op)
				}
			}
			before := res.view()
			// On the clinic side, the one kept out is a clinic the
			// patient never linked.
			attacker := other.access
			if op.staff {
				attacker = s.clinicOf(t, other).owner
			}
			a := s.send(op.method, fillPath(op.path, res.id), attacker, body)
			// A conversation's {id} is the owner's link, which no other
			// patient has: their PUT finds nothing to write in.
			if op.method == "PUT" && !op.staff && !strings.Contains(op.path, "/messages/") {
				// PUT with a client-made id writes the other patient's own
				// entry under that id; it must not touch the owner's.
				expect(t, a, http.StatusCreated)
			} else {
				expect(t, a, http.StatusNotFound, http.StatusForbidden)
			}
			if strings.Contains(a.raw, owner.marker) {
				t.Fatalf("the answer to another patient shows the owner's data: %v", a)
			}
			if after := res.view(); after != before {
				t.Fatalf("another patient's request changed the owner's data:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Run("nothing of the owner's in the other patient's lists and export", func(t *testing.T) {
		for _, path := range []string{"/v1/pain-logs", "/v1/pain-logs?updated_since=2020-01-01T00:00:00Z", "/v1/devices",
			"/v1/sessions", "/v1/reminders", "/v1/screening", "/v1/insights", "/v1/me/export?format=json",
			"/v1/me/export?format=csv", "/v1/me/export?format=fhir"} {
			a := s.send("GET", path, other.access, nil)
			if a.status != http.StatusOK || strings.Contains(a.raw, owner.marker) || strings.Contains(a.raw, owner.id) {
				t.Errorf("%v shows the owner's data", a)
			}
		}
	})
	t.Logf("%d routes with a path parameter", cases)
}

// API2: broken authentication.

// jwt builds a token by hand: header and claims as given, signed with
// HMAC over sum (nil: no signature at all).
func jwt(header, claims map[string]any, sum func() hash.Hash, key []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(header) + "." + enc(claims)
	if sum == nil {
		return signed + "."
	}
	mac := hmac.New(sum, key)
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func claimsFor(id string, now time.Time) map[string]any {
	return map[string]any{"iss": auth.Issuer, "sub": id, "aud": []string{"patient"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(auth.AccessTTL).Unix()}
}

func with(m map[string]any, kv ...any) map[string]any {
	c := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestAPI2BrokenAuthentication(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	pat, other := s.signUp(t, "Pat"), s.signUp(t, "Other")
	now := time.Now()
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	valid := claimsFor(pat.id, now)
	key := []byte(jwtSecret)

	t.Run("a token built here the way the server builds them is accepted", func(t *testing.T) {
		// Without this, every refusal below could come from a wrong recipe.
		me := expect(t, s.send("GET", "/v1/me", jwt(hs256, valid, sha256.New, key), nil), http.StatusOK).object(t)
		if me["id"] != pat.id {
			t.Fatalf("forged token is %v's, want %s", me["id"], pat.id)
		}
	})

	good := jwt(hs256, valid, sha256.New, key)
	parts := strings.Split(good, ".")
	otherClaims, _ := json.Marshal(claimsFor(other.id, now))
	flipped := []byte(parts[2])
	flipped[3] ^= 1
	bad := map[string]string{
		"expired":                       jwt(hs256, with(valid, "iat", now.Add(-time.Hour).Unix(), "nbf", now.Add(-time.Hour).Unix(), "exp", now.Add(-time.Minute).Unix()), sha256.New, key),
		"not valid yet":                 jwt(hs256, with(valid, "nbf", now.Add(time.Hour).Unix()), sha256.New, key),
		"no expiry":                     jwt(hs256, with(valid, "exp", nil), sha256.New, key),
		"wrong issuer":                  jwt(hs256, with(valid, "iss", "someone-else"), sha256.New, key),
		"no issuer":                     jwt(hs256, with(valid, "iss", nil), sha256.New, key),
		"no subject":                    jwt(hs256, with(valid, "sub", nil), sha256.New, key),
		"no audience":                   jwt(hs256, with(valid, "aud", nil), sha256.New, key),
		"the staff audience":            jwt(hs256, with(valid, "aud", []string{"staff"}), sha256.New, key),
		"alg none":                      jwt(map[string]any{"alg": "none", "typ": "JWT"}, valid, nil, nil),
		"alg None":                      jwt(map[string]any{"alg": "None"}, valid, nil, nil),
		"alg none with a signature":     jwt(map[string]any{"alg": "none"}, valid, sha256.New, key),
		"HS512 with the right key":      jwt(map[string]any{"alg": "HS512", "typ": "JWT"}, valid, sha512.New, key),
		"RS256 header, HMAC signature":  jwt(map[string]any{"alg": "RS256", "typ": "JWT"}, valid, sha256.New, key),
		"payload swapped to another":    parts[0] + "." + base64.RawURLEncoding.EncodeToString(otherClaims) + "." + parts[2],
		"signature tampered":            parts[0] + "." + parts[1] + "." + string(flipped),
		"signature stripped":            parts[0] + "." + parts[1] + ".",
		"signed with another key":       jwt(hs256, valid, sha256.New, []byte(strings.Repeat("k", 43))),
		"key named in the header (jku)": jwt(with(hs256, "jku", "https://attacker.example/jwks.json", "kid", "attacker"), valid, sha256.New, []byte("attacker-key-attacker-key-attacker-key")),
		"refresh token as access token": pat.refresh,
		"not a JWT":                     "abc.def.ghi",
	}
	cases := 0
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		cases++
		t.Run(name, func(t *testing.T) {
			a := expect(t, s.send("GET", "/v1/me", bad[name], nil), http.StatusUnauthorized)
			if strings.Contains(a.raw, pat.email) {
				t.Fatalf("a refused token got the profile: %v", a)
			}
		})
	}
	t.Run("a patient's token opens no clinic route", func(t *testing.T) {
		cases++
		expect(t, s.send("GET", "/v1/clinic/me", good, nil), http.StatusUnauthorized)
		expect(t, s.send("GET", "/v1/clinic/patients", pat.access, nil), http.StatusUnauthorized)
	})
	for name, header := range map[string]string{
		"no Authorization": "", "empty bearer": "Bearer ", "token without scheme": good, "Basic scheme": "Basic cGF0OnBhc3N3b3Jk",
	} {
		cases++
		t.Run(name, func(t *testing.T) {
			expect(t, s.send("GET", "/v1/me", "", nil, "Authorization", header), http.StatusUnauthorized)
		})
	}

	refresh := func(token string) answer {
		return s.send("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": token})
	}
	t.Run("a spent refresh token revokes its family", func(t *testing.T) {
		cases++
		first := s.signUp(t, "Reuse")
		rotated := expect(t, refresh(first.refresh), http.StatusOK).object(t)["refresh_token"].(string)
		expect(t, refresh(first.refresh), http.StatusUnauthorized)
		expect(t, refresh(rotated), http.StatusUnauthorized)
	})
	t.Run("logout ends the refresh token", func(t *testing.T) {
		cases++
		p := s.signUp(t, "Logout")
		expect(t, s.send("POST", "/v1/auth/logout", "", map[string]any{"refresh_token": p.refresh}), http.StatusNoContent)
		expect(t, refresh(p.refresh), http.StatusUnauthorized)
	})
	t.Run("a password change signs out every other device", func(t *testing.T) {
		cases += 2
		p := s.signUp(t, "Changer")
		second := expect(t, s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": password}), http.StatusOK).object(t)
		expect(t, s.send("POST", "/v1/me/password", p.access, map[string]any{"current_password": password, "new_password": "another long passphrase"}), http.StatusOK)
		expect(t, refresh(p.refresh), http.StatusUnauthorized)
		expect(t, refresh(second["refresh_token"].(string)), http.StatusUnauthorized)
	})
	t.Run("unknown refresh tokens", func(t *testing.T) {
		for _, tok := range []string{strings.Repeat("A", 43), pat.access, "x"} {
			cases++
			expect(t, refresh(tok), http.StatusUnauthorized)
		}
	})
	t.Run("a share link opens only while it lives, and only whole", func(t *testing.T) {
		link := expect(t, s.send("POST", "/v1/reports", pat.access, map[string]any{}), http.StatusCreated).object(t)
		url := link["url"].(string)
		expect(t, s.send("GET", url, "", nil), http.StatusOK)
		altered := []byte(url)
		altered[len(altered)-1] ^= 1
		for _, u := range []string{string(altered), url[:len(url)-1], url + "A", "/r/" + strings.ToUpper(strings.TrimPrefix(url, "/r/"))} {
			cases++
			expect(t, s.send("GET", u, "", nil), http.StatusNotFound)
		}
		cases++
		expect(t, s.send("DELETE", "/v1/reports/"+link["id"].(string), pat.access, nil), http.StatusNoContent)
		expect(t, s.send("GET", url, "", nil), http.StatusNotFound)
	})
	t.Run("an erased patient's tokens change nothing", func(t *testing.T) {
		gone := s.signUp(t, "Erased")
		expect(t, s.send("DELETE", "/v1/me", gone.access, map[string]any{"password": password}), http.StatusNoContent)
		cases += 2
		expect(t, refresh(gone.refresh), http.StatusUnauthorized)
		expect(t, s.send("POST", "/v1/auth/login", "", map[string]any{"email": gone.email, "password": password}), http.StatusUnauthorized)
		// The access token is a signed claim valid for up to 15 minutes;
		// the spec answers it 404 (the account no longer exists) on reads.
		// No write may bring back data for the erased account.
		for _, op := range spec.ops {
			if op.public || op.method == "GET" {
				continue
			}
			cases++
			body := validBodies(gone)[op.String()]
			a := s.send(op.method, fillPath(op.path, placeholderID(op.path)), gone.access, body)
			switch {
			case op.String() == "DELETE /v1/me":
				// Erasure is idempotent: asking again answers 204.
				expect(t, a, http.StatusNoContent)
			case a.status < 300:
				t.Errorf("an erased patient's token wrote: %v", a)
			}
		}
		for _, path := range []string{"/v1/devices", "/v1/pain-logs", "/v1/sessions", "/v1/screening"} {
			a := s.send("GET", path, gone.access, nil)
			if a.status != http.StatusOK {
				continue
			}
			m := a.object(t)
			if items, _ := m["items"].([]any); len(items) > 0 || m["latest"] != nil {
				t.Errorf("data stored for the erased account: %v", a)
			}
		}
	})
	t.Logf("%d authentication cases", cases)
}

// pegAnswers is a PEG-3 answered an hour ago, pain on every item.
func pegAnswers(pain int) map[string]any {
	return map[string]any{"questionnaire": "peg3", "answered_at": time.Now().Add(-time.Hour).Format(time.RFC3339),
		"answers": map[string]any{"pain": pain, "enjoyment": pain, "activity": pain}}
}

// validBodies are request bodies each route accepts from p, by operation.
func validBodies(p patient) map[string]any {
	today := time.Now().UTC().Format(time.DateOnly)
	return map[string]any{
		"POST /v1/auth/register":               map[string]any{"email": "new-" + uuid.NewString()[:8] + "@example.com", "password": password, "name": "New", "timezone": "UTC"},
		"POST /v1/auth/login":                  map[string]any{"email": p.email, "password": "not the password"},
		"POST /v1/auth/refresh":                map[string]any{"refresh_token": strings.Repeat("A", 43)},
		"POST /v1/auth/logout":                 map[string]any{"refresh_token": strings.Repeat("A", 43)},
		"POST /v1/auth/password-reset":         map[string]any{"email": p.email},
		"POST /v1/auth/password-reset/confirm": map[string]any{"token": strings.Repeat("A", 43), "password": "a brand new passphrase"},
		"POST /v1/auth/verify-email":           map[string]any{"token": strings.Repeat("A", 43)},
		"PATCH /v1/me":                         map[string]any{"name": "Renamed"},
		"DELETE /v1/me":                        map[string]any{"password": password},
		"POST /v1/me/password":                 map[string]any{"current_password": password, "new_password": "a brand new passphrase"},
		"POST /v1/devices":                     device(p.marker),
		"PUT /v1/pain-logs/{id}":               painLog(4, p.marker),
		"PUT /v1/questionnaire-responses/{id}": pegAnswers(4),
		"PATCH /v1/pain-logs/{id}":             map[string]any{"score": 2},
		"POST /v1/screening":                   allNo(),
		"POST /v1/screening/clearance":         map[string]any{"date": today},
		"POST /v1/plans":                       map[string]any{},
		"PATCH /v1/plans/{id}":                 map[string]any{"action": "pause"},
		"POST /v1/sessions":                    map[string]any{"scheduled_at": time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339), "therapist": p.marker},
		"PATCH /v1/sessions/{id}":              map[string]any{"action": "cancel"},
		"POST /v1/sessions/{id}/complete":      map[string]any{},
		"POST /v1/reminders/{id}/snooze":       map[string]any{"minutes": 30},
		"POST /v1/reports":                     map[string]any{},
		"POST /v1/care-team/preview":           map[string]any{"code": "2222-2222"},
		"POST /v1/care-team":                   map[string]any{"code": "2222-2222"},
		"POST /v1/care-team/codes":             map[string]any{"scope": "view"},
		"POST /v1/clinic/signup": map[string]any{"clinic_name": "New Clinic", "timezone": "UTC", "name": "New Owner",
			"email": "owner-" + uuid.NewString()[:8] + "@clinic.example", "password": password},
		"POST /v1/clinic/auth/login":                            map[string]any{"email": "nobody@clinic.example", "password": "not the password"},
		"POST /v1/clinic/auth/refresh":                          map[string]any{"refresh_token": strings.Repeat("A", 43)},
		"POST /v1/clinic/auth/logout":                           map[string]any{"refresh_token": strings.Repeat("A", 43)},
		"POST /v1/clinic/auth/password-reset":                   map[string]any{"email": "nobody@clinic.example"},
		"POST /v1/clinic/auth/password-reset/confirm":           map[string]any{"email": "nobody@clinic.example", "code": "123456", "password": "a brand new passphrase"},
		"POST /v1/clinic/invitations/accept":                    map[string]any{"token": strings.Repeat("A", 43), "name": "Kim", "password": password},
		"PATCH /v1/clinic":                                      map[string]any{"cancellation_hours": 12},
		"PATCH /v1/clinic/staff/{id}":                           map[string]any{"active": true},
		"POST /v1/clinic/invitations":                           map[string]any{"email": "invitee-" + uuid.NewString()[:8] + "@clinic.example"},
		"POST /v1/clinic/link-codes":                            map[string]any{"scope": "view"},
		"POST /v1/clinic/link-codes/redeem":                     map[string]any{"code": "2222-2222"},
		"PUT /v1/clinic/patients/{id}/plan":                     map[string]any{"home_care": "Heat."},
		"POST /v1/clinic/patients/{id}/sessions":                map[string]any{"scheduled_at": time.Now().UTC().Add(40 * 24 * time.Hour).Format(time.RFC3339)},
		"PATCH /v1/clinic/patients/{id}/sessions/{sid}":         map[string]any{"action": "cancel"},
		"POST /v1/clinic/patients/{id}/sessions/{sid}/complete": map[string]any{},
		"PUT /v1/clinic/patients/{id}/sessions/{sid}/note":      map[string]any{"subjective": "Tight"},
		"POST /v1/clinic/patients/{id}/clearances":              map[string]any{"date": today},
		"PUT /v1/care-team/{id}/messages/{uuid}":                map[string]any{"text": "Is this soreness normal? " + p.marker},
		"POST /v1/care-team/{id}/messages/read":                 map[string]any{"up_to": securityMessage},
		"PUT /v1/clinic/patients/{id}/messages/{uuid}":          map[string]any{"text": "Yes, that is normal."},
		"POST /v1/clinic/patients/{id}/messages/read":           map[string]any{"up_to": securityMessage},
	}
}

// API3: broken object property level authorization.

// internalKeys are names of stored fields and secrets that no answer shows.
var internalKeys = []string{
	"_id", "password", "password_hash", "hash", "token", "token_hash", "family_id", "patient_id", "lease_token",
	"lease_until", "lease_owner", "claimed_by", "attempts", "dedupe_key", "last_error", "variant", "source_id", "used_at",
}

// keysIn lists every object key in a JSON value, with its path.
func keysIn(v any, path string, visit func(path, key string, value any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			visit(path, k, sub)
			keysIn(sub, path+"."+k, visit)
		}
	case []any:
		for _, sub := range v {
			keysIn(sub, path+"[]", visit)
		}
	}
}

func TestAPI3PropertyExposure(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	p := s.signUp(t, "Journey")
	token := "journey-device-token:" + p.marker + "-END123"
	s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": password})
	expect(t, s.send("PATCH", "/v1/me", p.access, map[string]any{"name": "Journey Two"}), http.StatusOK)
	expect(t, s.send("POST", "/v1/devices", p.access, map[string]any{"token": token, "platform": "ios", "app_version": "2.0.0"}), http.StatusCreated)
	s.send("GET", "/v1/devices", p.access, nil)
	logID := uuid.NewString()
	expect(t, s.send("PUT", "/v1/pain-logs/"+logID, p.access, painLog(6, "stiff")), http.StatusCreated)
	s.send("GET", "/v1/pain-logs/"+logID, p.access, nil)
	s.send("PATCH", "/v1/pain-logs/"+logID, p.access, map[string]any{"score": 5})
	s.send("GET", "/v1/pain-logs", p.access, nil)
	second := uuid.NewString()
	s.send("PUT", "/v1/pain-logs/"+second, p.access, painLog(3, ""))
	s.send("DELETE", "/v1/pain-logs/"+second, p.access, nil)
	s.send("GET", "/v1/pain-logs?updated_since=2020-01-01T00:00:00Z", p.access, nil)
	s.send("GET", "/v1/screening", p.access, nil)
	planID := s.openPlan(t, p)
	s.send("POST", "/v1/screening/clearance", p.access, map[string]any{"date": time.Now().UTC().Format(time.DateOnly)})
	s.send("GET", "/v1/plans/current", p.access, nil)
	s.send("PATCH", "/v1/plans/"+planID, p.access, map[string]any{"action": "pause"})
	s.send("PATCH", "/v1/plans/"+planID, p.access, map[string]any{"action": "resume"})
	session := s.bookPastSession(t, p)
	s.send("GET", "/v1/sessions", p.access, nil)
	expect(t, s.send("POST", "/v1/sessions/"+session+"/complete", p.access, map[string]any{"pressure_felt": 3, "soreness_after": 4}), http.StatusOK)
	later := expect(t, s.send("POST", "/v1/sessions", p.access, map[string]any{"scheduled_at": time.Now().UTC().Add(72 * time.Hour).Format(time.RFC3339)}), http.StatusCreated).object(t)["id"].(string)
	s.send("PATCH", "/v1/sessions/"+later, p.access, map[string]any{"clinic": "Clinic"})
	expect(t, s.send("POST", "/v1/reminders/"+s.laterReminder(t, p, nil).id+"/done", p.access, nil), http.StatusOK)
	expect(t, s.send("POST", "/v1/reminders/"+s.laterReminder(t, p, nil).id+"/snooze", p.access, map[string]any{"minutes": 30}), http.StatusOK)
	s.send("GET", "/v1/reminders", p.access, nil)
	s.send("GET", "/v1/insights", p.access, nil)
	s.send("GET", "/v1/me/export?format=fhir", p.access, nil)
	report := expect(t, s.send("POST", "/v1/reports", p.access, map[string]any{}), http.StatusCreated).object(t)
	s.send("GET", "/v1/me/export?format=json", p.access, nil)
	s.send("GET", "/v1/me", p.access, nil)
	// The clinic's side of the same patient.
	c := s.clinicOf(t, p)
	for _, path := range []string{"/v1/clinic", "/v1/clinic/me", "/v1/clinic/staff", "/v1/clinic/invitations", "/v1/clinic/patients"} {
		expect(t, s.send("GET", path, c.owner, nil), http.StatusOK)
	}
	base := "/v1/clinic/patients/" + p.id
	for _, path := range []string{"", "/pain-logs", "/insights", "/plan", "/sessions", "/screening"} {
		expect(t, s.send("GET", base+path, c.therapist, nil), http.StatusOK)
	}
	expect(t, s.send("PUT", base+"/plan", c.therapist, map[string]any{"home_care": "Heat."}), http.StatusOK)
	expect(t, s.send("PUT", base+"/sessions/"+c.sessionID+"/note", c.therapist, map[string]any{"subjective": "x", "shared": true, "summary": "Walk."}), http.StatusCreated)
	expect(t, s.send("POST", "/v1/care-team/codes", p.access, map[string]any{"scope": "view"}), http.StatusCreated)
	s.send("GET", "/v1/care-team", p.access, nil)
	s.send("GET", "/v1/me/access-log", p.access, nil)
	s.send("GET", "/v1/sessions/"+c.sessionID, p.access, nil)

	walked := 0
	for _, a := range s.answers {
		if a.status >= 300 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/") || !strings.Contains(a.header.Get("Content-Type"), "json") {
			continue
		}
		walked++
		var v any
		if err := json.Unmarshal([]byte(a.raw), &v); err != nil {
			t.Errorf("not JSON: %v", a)
			continue
		}
		keysIn(v, "", func(path, key string, value any) {
			// An invitation's token is answered once, to the owner who
			// made it: it is what they hand the invitee.
			if key == "token" && path == "" && a.method == "POST" && a.path == "/v1/clinic/invitations" {
				return
			}
			if slices.Contains(internalKeys, key) {
				t.Errorf("%s %s shows %s.%s", a.method, a.path, path, key)
			}
			if key == "token_hint" && value != "…"+token[len(token)-6:] {
				t.Errorf("%s %s: token_hint %v, want only the last 6 characters", a.method, a.path, value)
			}
		})
		if strings.Contains(a.raw, token) || strings.Contains(a.raw, token[:20]) {
			t.Errorf("%s %s shows the push token", a.method, a.path)
		}
		if strings.Contains(a.raw, password) {
			t.Errorf("%s %s shows the password", a.method, a.path)
		}
		isAuth := strings.HasPrefix(a.path, "/v1/auth/") || strings.HasPrefix(a.path, "/v1/clinic/auth/") ||
			a.path == "/v1/clinic/signup" || a.path == "/v1/clinic/invitations/accept"
		if !isAuth && (strings.Contains(a.raw, p.refresh) || strings.Contains(a.raw, p.access)) {
			t.Errorf("%s %s shows a token outside the auth answers", a.method, a.path)
		}
		if a.path != "/v1/reports" && strings.Contains(a.raw, report["url"].(string)) {
			t.Errorf("%s %s shows the share link's token after it was made", a.method, a.path)
		}
	}
	if walked < 30 {
		t.Fatalf("walked only %d JSON answers", walked)
	}
	if log := s.out.String(); strings.Contains(log, token) || strings.Contains(log, password) || strings.Contains(log, p.refresh) {
		t.Error("the server's log holds a push token, a password or a refresh token")
	}
	t.Logf("%d JSON answers walked", walked)

	// Server-owned fields: a body that sets one is refused, naming it, and
	// nothing changes. Every body of the spec is tried with each.
	serverOwned := map[string]any{
		"_id": "x", "id": uuid.NewString(), "patient_id": uuid.NewString(), "created_at": "2020-01-01T00:00:00Z",
		"updated_at": "2020-01-01T00:00:00Z", "status": "completed", "phase": "maintenance", "completed_at": "2020-01-01T00:00:00Z",
		"deleted": true, "urgent": false, "local_date": "2020-01-01", "expires_at": "2099-01-01T00:00:00Z", "password_hash": "x",
		"token_hint": "x", "needs_clearance": false, "sent_at": "2020-01-01T00:00:00Z", "done_at": "2020-01-01T00:00:00Z",
		"lease_until": "2099-01-01T00:00:00Z", "attempts": 0, "email": "other@example.com",
	}
	ids := map[string]string{}
	for _, op := range spec.ops {
		if own, ok := ownedResources[op.path]; ok && op.body != nil && ids[op.path] == "" {
			ids[op.path] = own(t, s, p).id
		}
	}
	before := s.snapshot(t, p)
	cases := 0
	for _, op := range spec.ops {
		if op.body == nil {
			continue
		}
		body, ok := validBodies(p)[op.String()].(map[string]any)
		if !ok {
			t.Errorf("%v takes a body but validBodies has none for it", op)
			continue
		}
		id := ids[op.path]
		for _, field := range slices.Sorted(maps.Keys(serverOwned)) {
			if declares(op.body, field) {
				continue
			}
			cases++
			t.Run(op.String()+" sets "+field, func(t *testing.T) {
				expectInvalid(t, s.send(op.method, fillPath(op.path, id), s.tokenFor(t, op, p), with(body, field, serverOwned[field])), field)
			})
		}
	}
	if after := s.snapshot(t, p); after != before {
		t.Fatalf("a refused body changed stored data:\nbefore %s\nafter  %s", before, after)
	}
	s.sparesHoldNoDevice(t)
	t.Logf("%d server-owned field cases", cases)
}

// bearer is p's access token for a route that needs one.
func (s *secureServer) bearer(t *testing.T, op operation, p patient) string {
	t.Helper()
	switch {
	case op.public:
		return ""
	case op.staff:
		// The owner of a clinic p is linked to with care scope: every
		// clinic operation is open to them.
		return s.clinicOf(t, p).owner
	}
	return p.access
}

// clinicAccess is a clinic linked to one patient with care scope: its
// owner's and therapist's tokens, a pending invitation, the link, and a
// session the clinic booked for the patient.
type clinicAccess struct {
	owner, therapist, therapistID, invitationID, linkID, sessionID string
}

// clinicOf returns the clinic of patient p, making it on first use.
func (s *secureServer) clinicOf(t *testing.T, p patient) *clinicAccess {
	t.Helper()
	s.clinicsMu.Lock()
	defer s.clinicsMu.Unlock()
	if c, ok := s.clinics[p.id]; ok {
		return c
	}
	n := s.emails.Add(1)
	c := &clinicAccess{}
	c.owner = expect(t, s.send("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": "Clinic " + p.marker[:12], "timezone": "UTC", "name": "Owner " + p.marker[:12],
		"email": fmt.Sprintf("owner-%d@clinic.example", n), "password": password,
	}), http.StatusCreated).object(t)["access_token"].(string)
	inv := expect(t, s.send("POST", "/v1/clinic/invitations", c.owner, map[string]any{"email": fmt.Sprintf("therapist-%d@clinic.example", n)}),
		http.StatusCreated).object(t)
	c.therapist = expect(t, s.send("POST", "/v1/clinic/invitations/accept", "", map[string]any{
		"token": inv["token"], "name": "Therapist " + p.marker[:12], "password": password,
	}), http.StatusCreated).object(t)["access_token"].(string)
	c.therapistID = expect(t, s.send("GET", "/v1/clinic/me", c.therapist, nil), http.StatusOK).object(t)["id"].(string)
	c.invitationID = expect(t, s.send("POST", "/v1/clinic/invitations", c.owner, map[string]any{"email": fmt.Sprintf("pending-%d@clinic.example", n)}),
		http.StatusCreated).object(t)["id"].(string)
	code := expect(t, s.send("POST", "/v1/clinic/link-codes", c.owner, map[string]any{"scope": "care"}), http.StatusCreated).object(t)["code"]
	c.linkID = expect(t, s.send("POST", "/v1/care-team", p.access, map[string]any{"code": code}), http.StatusCreated).object(t)["id"].(string)
	expect(t, s.send("PUT", "/v1/care-team/"+c.linkID+"/messages/"+securityMessage, p.access, map[string]any{"text": "Hello " + p.marker}),
		http.StatusCreated)
	at := time.Now().UTC().Add(-time.Duration(s.sessions.Add(1)) * 2 * time.Hour)
	c.sessionID = expect(t, s.send("POST", "/v1/clinic/patients/"+p.id+"/sessions", c.owner, map[string]any{"scheduled_at": at.Format(time.RFC3339)}),
		http.StatusCreated).object(t)["id"].(string)
	if s.clinics == nil {
		s.clinics = map[string]*clinicAccess{}
	}
	s.clinics[p.id] = c
	return c
}

// tokenFor returns the token to call op with on p's behalf. Device
// registration is limited per account (API6, tested with the limiter), so
// long tables register devices as spare patients, each within its limit;
// sparesHoldNoDevice checks afterwards that none of theirs was stored.
func (s *secureServer) tokenFor(t *testing.T, op operation, p patient) string {
	t.Helper()
	if op.String() != "POST /v1/devices" {
		return s.bearer(t, op, p)
	}
	if len(s.spares) == 0 || s.spareUses == handlers.DefaultRateLimits.Device.PerAccount.Requests {
		s.spares = append(s.spares, s.signUp(t, "Spare"))
		s.spareUses = 0
	}
	s.spareUses++
	return s.spares[len(s.spares)-1].access
}

func (s *secureServer) sparesHoldNoDevice(t *testing.T) {
	t.Helper()
	for _, p := range s.spares {
		if items := expect(t, s.send("GET", "/v1/devices", p.access, nil), http.StatusOK).object(t)["items"].([]any); len(items) > 0 {
			t.Errorf("a refused device registration was stored: %v", items)
		}
	}
}

// API4: unrestricted resource consumption.

// sendDeclared sends a request that declares a body of n bytes but sends
// none: the server refuses on the declared length before reading, and a
// client still writing would see its connection reset before the answer.
func (s *secureServer) sendDeclared(t *testing.T, method, path, token string, n int) answer {
	t.Helper()
	conn, err := s.dial(context.Background(), "tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, n)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{method: method, path: path, status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := errorAnswerProblem(a); err != nil {
		t.Errorf("API8: %v", err)
	}
	return a
}

func TestAPI4ResourceConsumption(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	p := s.signUp(t, "Heavy")
	cases := 0
	t.Run("bodies over 64 KiB", func(t *testing.T) {
		for _, op := range spec.ops {
			if op.body == nil {
				continue
			}
			cases++
			a := s.sendDeclared(t, op.method, fillPath(op.path, placeholderID(op.path)), s.bearer(t, op, p), handlers.BodyLimit+1)
			if a.status != http.StatusRequestEntityTooLarge {
				t.Errorf("%v with a body of 64 KiB + 1: %d %s", op, a.status, a.raw)
			}
		}
	})
	t.Run("a body of exactly 64 KiB is read", func(t *testing.T) {
		cases++
		raw, _ := json.Marshal(painLog(4, "padded"))
		padded := string(raw) + strings.Repeat(" ", handlers.BodyLimit-len(raw))
		expect(t, s.send("PUT", "/v1/pain-logs/"+uuid.NewString(), p.access, padded), http.StatusCreated)
	})
	t.Run("deep nesting", func(t *testing.T) {
		cases++
		deep := `{"name":` + strings.Repeat("[", 9) + strings.Repeat("]", 9) + `}`
		expectInvalid(t, s.send("PATCH", "/v1/me", p.access, deep), "body")
	})

	// More entries than the largest page, to see the page size clamped.
	const entries = 201
	for i := range entries {
		at := time.Now().UTC().Add(-time.Duration(i+1) * time.Minute).Format(time.RFC3339)
		expect(t, s.send("PUT", "/v1/pain-logs/"+uuid.NewString(), p.access, map[string]any{"logged_at": at, "score": i % 11}), http.StatusCreated)
	}
	t.Run("page size over the maximum is clamped, as the spec says", func(t *testing.T) {
		cases++
		page := expect(t, s.send("GET", "/v1/pain-logs?limit=1000000", p.access, nil), http.StatusOK).object(t)
		if n := len(page["items"].([]any)); n != 200 || page["next_cursor"] == nil {
			t.Fatalf("limit=1000000 gave %d items and cursor %v, want 200 and a cursor", n, page["next_cursor"])
		}
		for _, path := range []string{"/v1/sessions?limit=1000000", "/v1/reminders?limit=1000000"} {
			cases++
			expect(t, s.send("GET", path, p.access, nil), http.StatusOK)
		}
	})
	for _, path := range []string{"/v1/pain-logs", "/v1/sessions", "/v1/reminders"} {
		for _, limit := range []string{"0", "-1", "ten", "99999999999999999999999", "1e3", "%20"} {
			cases++
			t.Run("GET "+path+"?limit="+limit, func(t *testing.T) {
				expectInvalid(t, s.send("GET", path+"?limit="+limit, p.access, nil), "limit")
			})
		}
	}
	day := func(d int) string {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d).Format(time.DateOnly)
	}
	base := time.Now().UTC().Truncate(time.Second)
	instant := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339) }
	for _, r := range []struct {
		name      string
		atCap     string
		overCap   string
		path, via string
	}{
		{"pain logs: 366 days", "from=" + day(0) + "&to=" + day(366), "from=" + day(0) + "&to=" + day(367), "/v1/pain-logs", "query"},
		{"insights: 365 days", "from=" + day(0) + "&to=" + day(365), "from=" + day(0) + "&to=" + day(366), "/v1/insights", "query"},
		{"sessions: 1098 days", "from=" + instant(0) + "&to=" + instant(1098*24*time.Hour), "from=" + instant(0) + "&to=" + instant(1098*24*time.Hour+time.Second), "/v1/sessions", "query"},
		{"reminders: 62 days", "from=" + instant(0) + "&to=" + instant(62*24*time.Hour), "from=" + instant(0) + "&to=" + instant(62*24*time.Hour+time.Second), "/v1/reminders", "query"},
	} {
		cases += 2
		t.Run("date range cap, "+r.name, func(t *testing.T) {
			expect(t, s.send("GET", r.path+"?"+r.atCap, p.access, nil), http.StatusOK)
			expectInvalid(t, s.send("GET", r.path+"?"+r.overCap, p.access, nil), "to")
		})
	}
	t.Run("date range cap, report: 366 days", func(t *testing.T) {
		cases++
		expectInvalid(t, s.send("POST", "/v1/reports", p.access, map[string]any{"from": day(0), "to": day(367)}), "to")
	})
	t.Run("very long query string", func(t *testing.T) {
		cases++
		expect(t, s.send("GET", "/v1/pain-logs?cursor="+strings.Repeat("c", 16<<10), p.access, nil), http.StatusRequestHeaderFieldsTooLarge, http.StatusRequestURITooLong)
	})
	t.Run("very long header", func(t *testing.T) {
		cases++
		expect(t, s.send("GET", "/v1/me", p.access, nil, "X-Padding", strings.Repeat("h", 16<<10)), http.StatusRequestHeaderFieldsTooLarge)
	})
	t.Run("many query parameters", func(t *testing.T) {
		cases++
		var q []string
		for i := range 300 {
			q = append(q, fmt.Sprintf("p%d=1", i))
		}
		a := expect(t, s.send("GET", "/v1/pain-logs?"+strings.Join(q, "&"), p.access, nil), http.StatusBadRequest)
		if !slices.Contains(a.fieldErrors(), "p299") {
			t.Fatalf("the problem does not name every unknown parameter: %v", a)
		}
	})
	for _, q := range []string{"limit=1&limit=200", "from=2026-01-01&from=2026-02-01&to=2026-03-01", "format=json&format=csv"} {
		cases++
		t.Run("parameter given twice: "+q, func(t *testing.T) {
			path := "/v1/pain-logs?"
			if strings.HasPrefix(q, "format") {
				path = "/v1/me/export?"
			}
			expectInvalid(t, s.send("GET", path+q, p.access, nil), strings.SplitN(q, "=", 2)[0])
		})
	}
	t.Logf("%d resource consumption cases", cases)
}

// API5: broken function level authorization.

// publicAnswers says, for every public route, what it may answer anyone: a
// new public route fails TestAPI5FunctionLevelAuthorization until it is
// listed here. Each check gets the answer to a caller without a token.
var publicAnswers = map[string]func(t *testing.T, a answer){
	"GET /healthz": okAnswer, "GET /readyz": okAnswer, "GET /openapi.yaml": okAnswer, "GET /v1/questionnaires": okAnswer,
	"POST /v1/auth/register": tokenPairOnly, "POST /v1/auth/login": tokenPairOnly, "POST /v1/auth/refresh": tokenPairOnly,
	"POST /v1/auth/logout":   func(t *testing.T, a answer) { expect(t, a, http.StatusNoContent) },
	"GET /r/{token}":         func(t *testing.T, a answer) { expect(t, a, http.StatusNotFound) },
	"POST /v1/clinic/signup": tokenPairOnly, "POST /v1/clinic/auth/login": tokenPairOnly, "POST /v1/clinic/auth/refresh": tokenPairOnly,
	"POST /v1/clinic/auth/logout":        func(t *testing.T, a answer) { expect(t, a, http.StatusNoContent) },
	"POST /v1/clinic/invitations/accept": func(t *testing.T, a answer) { expect(t, a, http.StatusNotFound) },
	// A reset request answers every address alike; the others refuse a
	// token or code nobody was mailed, naming the field.
	"POST /v1/auth/password-reset": acceptedOnly, "POST /v1/clinic/auth/password-reset": acceptedOnly,
	"POST /v1/auth/password-reset/confirm": invalidField, "POST /v1/clinic/auth/password-reset/confirm": invalidField,
	"POST /v1/auth/verify-email": invalidField,
}

// acceptedOnly checks a 202 that says nothing of whose the address is.
func acceptedOnly(t *testing.T, a answer) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(expect(t, a, http.StatusAccepted).object(t)))
	if !slices.Equal(keys, []string{"message", "status"}) {
		t.Fatalf("a reset answer holds %v", keys)
	}
}

func invalidField(t *testing.T, a answer) { expect(t, a, http.StatusBadRequest) }

func okAnswer(t *testing.T, a answer) { expect(t, a, http.StatusOK) }

// tokenPairOnly checks that an auth answer holds the token pair and nothing else.
func tokenPairOnly(t *testing.T, a answer) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(expect(t, a, http.StatusOK, http.StatusCreated).object(t)))
	if !slices.Equal(keys, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
		t.Fatalf("an auth answer holds %v", keys)
	}
}

func TestAPI5FunctionLevelAuthorization(t *testing.T) {
	t.Parallel()
	s := startSecure(t)
	spec := loadSpec(t)
	p := s.signUp(t, "Pat")
	expect(t, s.send("PUT", "/v1/pain-logs/"+uuid.NewString(), p.access, painLog(7, p.marker)), http.StatusCreated)
	cases := 0
	for _, op := range spec.ops {
		path := fillPath(op.path, placeholderID(op.path))
		if !op.public {
			for name, header := range map[string]string{
				"no token": "", "refresh token": "Bearer " + p.refresh, "access token without scheme": p.access,
			} {
				cases++
				t.Run(op.String()+" with "+name, func(t *testing.T) {
					expect(t, s.send(op.method, path, "", nil, "Authorization", header), http.StatusUnauthorized)
				})
			}
			continue
		}
		cases++
		t.Run(op.String()+" is public", func(t *testing.T) {
			check, ok := publicAnswers[op.String()]
			if !ok {
				t.Fatalf("%v needs no token: add what it may answer anyone to publicAnswers", op)
			}
			var body any
			switch op.String() {
			case "POST /v1/auth/register", "POST /v1/clinic/signup", "POST /v1/clinic/invitations/accept",
				"POST /v1/auth/password-reset", "POST /v1/auth/password-reset/confirm", "POST /v1/auth/verify-email",
				"POST /v1/clinic/auth/password-reset", "POST /v1/clinic/auth/password-reset/confirm":
				body = validBodies(p)[op.String()]
			case "POST /v1/auth/login":
				body = map[string]any{"email": p.email, "password": password}
			case "POST /v1/auth/refresh", "POST /v1/auth/logout":
				body = map[string]any{"refresh_token": s.signUp(t, "Fresh").refresh}
			case "POST /v1/clinic/auth/login", "POST /v1/clinic/auth/refresh", "POST /v1/clinic/auth/logout":
				email := fmt.Sprintf("fresh-%d@clinic.example", s.emails.Add(1))
				pair := expect(t, s.send("POST", "/v1/clinic/signup", "", map[string]any{"clinic_name": "Fresh", "timezone": "UTC", "name": "Fresh",
					"email": email, "password": password}), http.StatusCreated).object(t)
				body = map[string]any{"refresh_token": pair["refresh_token"]}
				if op.String() == "POST /v1/clinic/auth/login" {
					body = map[string]any{"email": email, "password": password}
				}
			}
			a := s.send(op.method, path, "", body)
			check(t, a)
			for _, secret := range []string{p.marker, p.id, p.email} {
				if strings.Contains(a.raw, secret) {
					t.Fatalf("%v answers anyone with patient data: %v", op, a)
				}
			}
		})
	}
	t.Logf("%d function-level cases", cases)
}

// API8: security misconfiguration.

func TestAPI8SecurityMisconfiguration(t *testing.T) {
	t.Parallel()
	const clinic = "https://clinic.example"
	s := startSecure(t, "CORS_ALLOWED_ORIGINS", clinic)
	p := s.signUp(t, "Pat")
	t.Run("patient answers are not cached and carry a request id", func(t *testing.T) {
		for _, path := range []string{"/v1/me", "/v1/pain-logs", "/v1/me/export?format=csv"} {
			a := expect(t, s.send("GET", path, p.access, nil), http.StatusOK)
			if a.header.Get("Cache-Control") != "no-store" || a.header.Get("X-Request-Id") == "" {
				t.Errorf("%s: Cache-Control %q, X-Request-Id %q", path, a.header.Get("Cache-Control"), a.header.Get("X-Request-Id"))
			}
			if v := a.header.Get("Server") + a.header.Get("X-Powered-By"); v != "" {
				t.Errorf("%s names the server software: %q", path, v)
			}
		}
		a := s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": password})
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("tokens may be cached: %v", a.header)
		}
	})
	t.Run("the report page allows no scripts, framing, referrers or indexing", func(t *testing.T) {
		url := expect(t, s.send("POST", "/v1/reports", p.access, map[string]any{}), http.StatusCreated).object(t)["url"].(string)
		a := expect(t, s.send("GET", url, "", nil), http.StatusOK)
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
			"Referrer-Policy":         "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store",
		} {
			if got := a.header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	})
	t.Run("CORS allows only the listed origin, never any, never with credentials", func(t *testing.T) {
		for _, method := range []string{"OPTIONS", "GET"} {
			for _, from := range []string{clinic, "https://attacker.example", "null"} {
				a := s.send(method, "/v1/me", p.access, nil, "Origin", from,
					"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
				origin, creds := a.header.Get("Access-Control-Allow-Origin"), a.header.Get("Access-Control-Allow-Credentials")
				switch {
				case origin == "*" || creds != "":
					t.Errorf("%s from %s: Allow-Origin %q, Allow-Credentials %q", method, from, origin, creds)
				case from == clinic && origin != clinic:
					t.Errorf("%s from the listed origin: Allow-Origin %q", method, origin)
				case from != clinic && origin != "":
					t.Errorf("%s from %s: Allow-Origin %q", method, from, origin)
				}
			}
		}
	})
	t.Run("unknown paths and methods are problems", func(t *testing.T) {
		expect(t, s.send("GET", "/v1/nothing-here", p.access, nil), http.StatusNotFound)
		expect(t, s.send("PUT", "/v1/me", p.access, map[string]any{}), http.StatusMethodNotAllowed)
		expect(t, s.send("GET", "/.env", "", nil), http.StatusNotFound)
		expect(t, s.send("GET", "/debug/pprof/", "", nil), http.StatusNotFound)
	})
	t.Run("a problem echoes no markup", func(t *testing.T) {
		a := expect(t, s.send("GET", "/v1/pain-logs?%3Cscript%3E=1", p.access, nil), http.StatusBadRequest)
		if a.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("a problem naming client input is served as %q", a.header.Get("Content-Type"))
		}
	})
}

// TestEveryRouteAnswersWhenTheDatabaseHangs forces 5xx answers on every
// route: the app is given a store whose database never answers (a port
// that takes connections and says nothing, and server selection with no
// timeout of its own). Every
// request must still end, through the per-request deadline (API4), and
// its 5xx must show nothing of the driver (API8). run cannot serve this
// case: it needs the database to start.
func TestEveryRouteAnswersWhenTheDatabaseHangs(t *testing.T) {
	t.Parallel()
	// A listener that is never accepted from: connections complete, and the
	// database never says a word. It stays open for the whole test, so that
	// no parallel test's server can take its port and answer instead.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + silent.Addr().String()).SetServerSelectionTimeout(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	st := store.New(client.Database("backcare"))
	signer, err := auth.NewSigner([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	registry := prometheus.NewRegistry()
	defer func() {
		answered, err := apitest.FromGatherer(registry)
		if err != nil {
			t.Fatal(err)
		}
		apitest.Check(t, answered)
	}()
	app := handlers.NewServer(handlers.Deps{
		Store: st, Signer: signer, Logger: logger, Registry: registry, Now: time.Now,
		PasswordParams: auth.DefaultParams, Planner: jobs.NewMaterializer(jobs.MaterializeConfig{Store: st, Logger: logger}),
		BaseURL: "http://localhost", RequestTimeout: 150 * time.Millisecond,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.Shutdown() }()
	s := &secureServer{server: &server{t: t, base: "http://" + ln.Addr().String()}, client: &http.Client{Timeout: time.Minute}}
	access, err := signer.Issue(uuid.NewString(), "patient", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := patient{email: "pat@example.com", access: access, marker: "m"}
	// A staff token is made here too: there is no database to sign a
	// clinic up in.
	staffAccess, err := signer.Issue(uuid.NewString(), "staff", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	spec := loadSpec(t)
	var failed []string
	for _, op := range spec.ops {
		t.Run(op.String(), func(t *testing.T) {
			token := access
			switch {
			case op.public:
				token = ""
			case op.staff:
				token = staffAccess
			}
			a := s.send(op.method, fillPath(op.path, placeholderID(op.path)), token, validBodies(p)[op.String()])
			switch op.String() {
			case "GET /healthz", "GET /openapi.yaml", "GET /v1/questionnaires":
				// These read no database.
				expect(t, a, http.StatusOK)
			case "GET /readyz":
				expect(t, a, http.StatusServiceUnavailable)
			default:
				if a.status < 500 {
					t.Fatalf("want a 5xx from a database that does not answer: %v", a)
				}
				failed = append(failed, a.header.Get("X-Request-Id"))
				if code := a.object(t)["code"]; code != "internal" && code != "unavailable" {
					t.Fatalf("code %v: %v", code, a)
				}
			}
		})
	}
	// What the client is not told, the operators are: each failure is
	// logged with its cause under the request id the client got, as an
	// error, or as a warning when the database is away or slow (503).
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN","msg":"request failed"`) {
			failed = slices.DeleteFunc(failed, func(id string) bool { return strings.Contains(line, id) })
		}
	}
	if len(failed) > 0 {
		t.Fatalf("5xx answers logged without their cause: %v\n%s", failed, logs.String())
	}
}
