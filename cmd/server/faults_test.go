package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/notifications/fcmfake"
	"github.com/backcare/backcare/store/embedded"
)

// faultSecret is the JWT_SECRET of servers on an external database.
const faultSecret = "fault-tests-signing-key-0123456789abcdef"

// freeAddr returns a loopback address nothing listens on, for an engine
// that a test starts and stops on a fixed address. The port is taken from
// below the system's ephemeral range: tests run in parallel, and any port
// the kernel hands out for a listener on port 0 or an outgoing connection
// comes from that range, so while this engine is stopped no other test's
// engine or server can take its port and answer in its place.
func freeAddr(t *testing.T) string {
	t.Helper()
	low := 32768
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if fields := strings.Fields(string(raw)); len(fields) == 2 {
			if n, err := strconv.Atoi(fields[0]); err == nil {
				low = n
			}
		}
	}
	floor := max(1024, low-10000)
	if low-floor < 100 {
		t.Fatalf("the ephemeral port range starts at %d: no room below it for a fixed port", low)
	}
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(floor+rand.IntN(low-floor)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		return addr
	}
	t.Fatalf("no free port found below the ephemeral range (%d)", low)
	return ""
}

// dbEngine is an embedded engine on a fixed address and data dir, which a
// test stops and starts again as a database outage would. It stops when
// the test ends, after the servers the test stops itself.
type dbEngine struct {
	t         *testing.T
	dir, addr string
	running   *embedded.Engine
}

func newEngine(t *testing.T, addr string) *dbEngine {
	e := &dbEngine{t: t, dir: t.TempDir(), addr: addr}
	t.Cleanup(e.stop)
	return e
}

func (e *dbEngine) start() {
	e.t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	running, err := embedded.StartAt(context.Background(), e.dir, e.addr, quiet)
	if err != nil {
		e.t.Fatal(err)
	}
	e.running = running
}

func (e *dbEngine) stop() {
	if e.running == nil {
		return
	}
	if err := e.running.Close(); err != nil {
		e.t.Error(err)
	}
	e.running = nil
}

// externalDB is the environment of a server on the database at addr. A
// one-second server selection keeps the 503s of an outage quick.
func externalDB(t *testing.T, addr string) map[string]string {
	return map[string]string{
		"MONGODB_URI": "mongodb://" + addr + "/?serverSelectionTimeoutMS=1000",
		"JWT_SECRET":  faultSecret,
		"DATA_DIR":    t.TempDir(),
	}
}

// waitUntil polls cond until it holds, or fails the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logged counts the server's log lines with message msg.
func logged(s *server, msg string) int {
	return strings.Count(s.out.String(), `"msg":"`+msg+`"`)
}

// send is s.call for when the headers matter, or outside the test's
// goroutine: it fails nothing itself.
func send(s *server, method, path, token string, body any) (reply, http.Header, error) {
	status, header, raw, err := exchange(http.DefaultClient, method, s.base+path, token, body, nil)
	r := reply{status: status, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, header, err
}

// expectUnavailable checks a 503 problem with code unavailable, a
// Retry-After, and nothing of the driver's own text.
func expectUnavailable(t *testing.T, s *server, method, path, token string, body any) {
	t.Helper()
	r, header, err := send(s, method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.body["code"] != "unavailable" ||
		header.Get("Content-Type") != "application/problem+json" || header.Get("Retry-After") == "" {
		t.Fatalf("%s %s: %d %s %s (Retry-After %q), want a 503 unavailable problem with Retry-After",
			method, path, r.status, header.Get("Content-Type"), r.raw, header.Get("Retry-After"))
	}
	for _, leak := range []string{"selection", "topology", "connection", "127.0.0.1"} {
		if strings.Contains(r.raw, leak) {
			t.Fatalf("%s %s: the answer shows the driver's text %q: %s", method, path, leak, r.raw)
		}
	}
}

func register(s *server, email string) string {
	access := s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "a long passphrase", "name": "Sam", "timezone": "UTC",
	}), 201).body["access_token"].(string)
	s.verify(email)
	return access
}

// TestStartsWithoutTheDatabase starts the server while its database is not
// running: it answers at once, /readyz and the API say 503, the jobs wait;
// once the database starts, it prepares it and serves.
func TestStartsWithoutTheDatabase(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := externalDB(t, addr)
	env["DISPATCH_INTERVAL"] = "1s"
	env["LOG_LEVEL"] = "debug"
	db := newEngine(t, addr)
	s := startServer(t, env)
	defer s.stop()

	s.must(s.call("GET", "/healthz", "", nil), 200)
	expectUnavailable(t, s, "GET", "/readyz", "", nil)
	expectUnavailable(t, s, "POST", "/v1/auth/register", "", map[string]any{
		"email": "early@example.com", "password": "a long passphrase", "name": "Early", "timezone": "UTC",
	})
	// Two failed attempts to prepare the database span more than one
	// dispatch interval: had the jobs started, they would have logged.
	waitUntil(t, 30*time.Second, "two warnings about the database", func() bool { return logged(s, "database not ready; retrying") >= 2 })
	if strings.Contains(s.out.String(), `"job":`) {
		t.Fatalf("jobs ran before the database was ready:\n%s", s.out)
	}

	db.start()
	waitUntil(t, 60*time.Second, "/readyz 200 after the database started", func() bool {
		return s.call("GET", "/readyz", "", nil).status == 200
	})
	if logged(s, "database ready") != 1 {
		t.Fatalf("no database ready line:\n%s", s.out)
	}
	register(s, "late@example.com")
	waitUntil(t, 30*time.Second, "a dispatch run once the database is ready", func() bool {
		return strings.Contains(s.out.String(), `"job":"dispatch"`)
	})
}

// remindersOf returns the status of each reminder of the patient's
// session, by reminder id.
func remindersOf(s *server, access, session string) map[string]string {
	out := map[string]string{}
	for _, it := range s.must(s.call("GET", "/v1/reminders", access, nil), 200).body["items"].([]any) {
		if m := it.(map[string]any); m["session_id"] == session {
			out[m["id"].(string)] = m["status"].(string)
		}
	}
	return out
}

// pushesOf counts what the fake received for each reminder.
func pushesOf(fake *fcmfake.Server) map[string]int {
	n := map[string]int{}
	for _, r := range fake.Received() {
		n[r.Data["reminder_id"]]++
	}
	return n
}

// patientWithPhone signs a patient up with no quiet hours (so that the test
// passes at any hour) and one phone.
func patientWithPhone(s *server, email string) string {
	access := register(s, email)
	s.must(s.call("PATCH", "/v1/me", access, map[string]any{"quiet_hours": map[string]any{"start": "00:00", "end": "00:00"}}), 200)
	name, _, _ := strings.Cut(email, "@")
	s.must(s.call("POST", "/v1/devices", access, map[string]any{
		"token": "fault-phone-" + name + "-" + strings.Repeat("q", 30), "platform": "android", "app_version": "1.0.0",
	}), 201)
	return access
}

// TestDatabaseOutageMidRun stops the database under a running server and
// starts it again on the same files: requests get 503 meanwhile, the
// server recovers without a restart, and the reminders that fell due during
// the outage are sent, each exactly once.
func TestDatabaseOutageMidRun(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	db := newEngine(t, addr)
	db.start()
	fake := fcmfake.New()
	defer fake.Close()
	env := externalDB(t, addr)
	env["DISPATCH_INTERVAL"] = "1s"
	env["FCM_ENDPOINT"] = fake.URL()
	s := startServer(t, env)
	defer s.stop()
	waitUntil(t, 30*time.Second, "/readyz 200", func() bool { return s.call("GET", "/readyz", "", nil).status == 200 })
	access := patientWithPhone(s, "outage@example.com")

	// A session 2 h and 12 s away: its "in 2 hours" and "drink water"
	// reminders fall due 12 s from now, time enough, with other tests
	// running beside this one, to book it and stop the database first.
	due := time.Now().Add(12 * time.Second).Truncate(time.Second)
	session := s.must(s.call("POST", "/v1/sessions", access, map[string]any{
		"scheduled_at": due.Add(2 * time.Hour).Format(time.RFC3339),
	}), 201).body["id"].(string)
	before := remindersOf(s, access, session)
	if len(before) != 2 {
		t.Fatalf("reminders before the session: %v, want session_upcoming and hydration_before", before)
	}
	db.stop()
	if time.Now().After(due) {
		t.Skip("the machine is too slow: the reminders fell due before the database stopped")
	}

	expectUnavailable(t, s, "GET", "/v1/reminders", access, nil)
	expectUnavailable(t, s, "GET", "/readyz", "", nil)
	waitUntil(t, 30*time.Second, "a dispatch run failing after the reminders fell due", func() bool {
		return time.Now().After(due.Add(time.Second)) && logged(s, "job skipped: database unavailable") >= 2
	})
	if n := len(fake.Received()); n != 0 {
		t.Fatalf("%d pushes while the database was down", n)
	}

	db.start()
	waitUntil(t, 60*time.Second, "both reminders recorded as sent after the outage", func() bool {
		r := s.call("GET", "/v1/reminders", access, nil)
		if r.status != 200 {
			return false
		}
		sent := 0
		for _, status := range remindersOf(s, access, session) {
			if status == "sent" {
				sent++
			}
		}
		return sent == 2
	})
	// Recorded as sent, they cannot be claimed again: the count is final.
	pushes := pushesOf(fake)
	for id := range before {
		if pushes[id] != 1 {
			t.Fatalf("pushes by reminder %v, want each of %v once", pushes, before)
		}
	}
	s.must(s.call("GET", "/readyz", "", nil), 200)
}

// holdingProxy forwards TCP connections to a database. Armed, it holds
// back the next request that carries a marker until released: a database
// slow to answer one particular query.
type holdingProxy struct {
	ln     net.Listener
	target string
	marker []byte
	mu     sync.Mutex
	armed  *trap
}

// trap is one armed hold: held closes when a request is caught, and the
// request goes on when release is closed.
type trap struct{ held, release chan struct{} }

func newHoldingProxy(t *testing.T, target, marker string) *holdingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{ln: ln, target: target, marker: []byte(marker)}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close() })
	return p
}

func (p *holdingProxy) arm() *trap {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = &trap{held: make(chan struct{}), release: make(chan struct{})}
	return p.armed
}

func (p *holdingProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		db, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		go func() {
			_, _ = io.Copy(client, db)
			_ = client.Close()
		}()
		go func() {
			p.forward(db, client)
			_ = db.Close()
		}()
	}
}

// forward copies what the client sends to the database, holding the chunk
// with the marker while armed. Requests are small, so a marker does not
// straddle two reads here.
func (p *holdingProxy) forward(db, client net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && bytes.Contains(buf[:n], p.marker) {
			p.mu.Lock()
			tr := p.armed
			p.armed = nil
			p.mu.Unlock()
			if tr != nil {
				close(tr.held)
				<-tr.release
			}
		}
		if n > 0 {
			if _, werr := db.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestShutdownFinishesARequestInFlight stops the server while a request is
// waiting on a slow database: the request still gets its whole answer, and
// run returns without error.
func TestShutdownFinishesARequestInFlight(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	db := newEngine(t, addr)
	db.start()
	const entry = "7c0e4b1a-3d2f-4a5b-9c8d-0e1f2a3b4c5d"
	proxy := newHoldingProxy(t, addr, entry)
	s := startServer(t, externalDB(t, proxy.ln.Addr().String()))
	waitUntil(t, 30*time.Second, "/readyz 200", func() bool { return s.call("GET", "/readyz", "", nil).status == 200 })
	access := register(s, "inflight@example.com")
	s.must(s.call("PUT", "/v1/pain-logs/"+entry, access, map[string]any{
		"logged_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "score": 6,
	}), 201)

	hold := proxy.arm()
	answer := make(chan reply, 1)
	go func() {
		r, _, err := send(s, "GET", "/v1/pain-logs/"+entry, access, nil)
		if err != nil {
			r.raw = err.Error()
		}
		answer <- r
	}()
	select {
	case <-hold.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the read never reached the database")
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.stop()
	}()
	waitUntil(t, 10*time.Second, "the shutdown to begin", func() bool {
		return logged(s, "shutting down: finishing in-flight requests and jobs") == 1
	})
	close(hold.release)
	select {
	case r := <-answer:
		if r.status != 200 || r.body["score"] != float64(6) {
			t.Fatalf("the request in flight at shutdown got %d %s, want its entry", r.status, r.raw)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request in flight at shutdown got no answer")
	}
	<-stopped
}

// completeSession books and completes a massage that ended half an hour
// ago: its first aftercare (water, take it easy) is due at once.
func completeSession(s *server, access string) string {
	started := time.Now().UTC().Add(-90 * time.Minute).Truncate(time.Second)
	id := s.must(s.call("POST", "/v1/sessions", access, map[string]any{"scheduled_at": started.Format(time.RFC3339)}), 201).body["id"].(string)
	s.must(s.call("POST", "/v1/sessions/"+id+"/complete", access, nil), 200)
	return id
}

// sentAll reports whether every one of ids is recorded as sent.
func sentAll(s *server, access, session string, ids map[string]bool) bool {
	status := remindersOf(s, access, session)
	for id := range ids {
		if status[id] != "sent" {
			return false
		}
	}
	return true
}

// TestShutdownMidDispatchLosesNothing stops the server while FCM holds a
// batch of pushes unanswered, and starts it again on the same data: the
// reminders recorded as sent before are not sent again, and the ones cut
// short were handed back and are sent by the restarted server at once,
// not after their lease. Those were already at FCM when the send was cut,
// so the phone gets them twice, under one collapse key: the second
// replaces the first on the screen.
func TestShutdownMidDispatchLosesNothing(t *testing.T) {
	t.Parallel()
	fake := fcmfake.New()
	defer fake.Close()
	env := map[string]string{"DATA_DIR": t.TempDir(), "DISPATCH_INTERVAL": "1s", "FCM_ENDPOINT": fake.URL(), "SHUTDOWN_GRACE": "1s"}
	s := startServer(t, env)
	first := patientWithPhone(s, "first@example.com")
	firstSession := completeSession(s, first)
	var firstIDs map[string]bool
	waitUntil(t, 60*time.Second, "the first patient's aftercare sent", func() bool {
		firstIDs = map[string]bool{}
		for id, n := range pushesOf(fake) {
			if _, ok := remindersOf(s, first, firstSession)[id]; ok && n > 0 {
				firstIDs[id] = true
			}
		}
		return len(firstIDs) == 2 && sentAll(s, first, firstSession, firstIDs)
	})

	fake.SetDelay(time.Hour)
	second := patientWithPhone(s, "second@example.com")
	secondSession := completeSession(s, second)
	inFlight := map[string]bool{}
	waitUntil(t, 60*time.Second, "the second patient's aftercare at FCM", func() bool {
		ofSession := remindersOf(s, second, secondSession)
		for id := range pushesOf(fake) {
			if _, ok := ofSession[id]; ok {
				inFlight[id] = true
			}
		}
		return len(inFlight) == 2
	})
	s.stop()
	if !strings.Contains(s.out.String(), `"msg":"dispatch stopped: unsent reminders given back","reminders":2`) {
		t.Fatalf("the stopped batch did not hand its two reminders back:\n%s", s.out)
	}

	fake.SetDelay(0)
	s = startServer(t, env)
	defer s.stop()
	waitUntil(t, 60*time.Second, "the handed-back reminders sent after the restart", func() bool {
		return sentAll(s, second, secondSession, inFlight)
	})
	pushes := pushesOf(fake)
	for id := range firstIDs {
		if pushes[id] != 1 {
			t.Fatalf("reminder %s recorded as sent before the shutdown was pushed %d times, want once", id, pushes[id])
		}
	}
	for id := range inFlight {
		if pushes[id] != 2 {
			t.Fatalf("reminder %s cut short by the shutdown was pushed %d times, want twice (once cut short, once after the restart)", id, pushes[id])
		}
	}
}
