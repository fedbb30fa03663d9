package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/backcare/backcare/notifications/fcmfake"
)

// The FCM fake runs in a process of its own (`bench -fcmfake`), so that its
// work and memory are not charged to the dispatcher being measured; the two
// still talk over loopback HTTP, as the server and FCM would over the network.

// fakeStats is what the fake process reports about the pushes it received.
type fakeStats struct {
	Received int `json:"received"`
	// Reminders is the number of distinct reminder ids received.
	Reminders int `json:"reminders"`
	// Duplicates counts pushes of a reminder to a device that already had it.
	Duplicates int `json:"duplicates"`
	// FirstArrival is, per reminder id, when its first push arrived (Unix
	// nanoseconds); only filled when asked for.
	FirstArrival map[string]int64 `json:"first_arrival,omitempty"`
}

// fakeRecorder counts what the fake receives. It keeps one entry per
// reminder and device, not whole messages, and the fake is reset after
// each message so that it keeps nothing.
type fakeRecorder struct {
	mu       sync.Mutex
	received int
	first    map[string]int64
	seen     map[string]bool // reminder id + "|" + token
	dups     int
}

func newFakeRecorder() *fakeRecorder {
	return &fakeRecorder{first: map[string]int64{}, seen: map[string]bool{}}
}

func (r *fakeRecorder) record(m fcmfake.Received) {
	id := m.Data["reminder_id"]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received++
	if _, ok := r.first[id]; !ok {
		r.first[id] = m.At.UnixNano()
	}
	key := id + "|" + m.Token
	if r.seen[key] {
		r.dups++
	}
	r.seen[key] = true
}

func (r *fakeRecorder) stats(arrivals bool) fakeStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := fakeStats{Received: r.received, Reminders: len(r.first), Duplicates: r.dups}
	if arrivals {
		s.FirstArrival = r.first
	}
	return s
}

func (r *fakeRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received, r.dups = 0, 0
	r.first, r.seen = map[string]int64{}, map[string]bool{}
}

// runFakeFCM is the fake process: it prints the fake's URL and its control
// URL on one line, then serves until its standard input closes.
func runFakeFCM(stdin io.Reader, stdout io.Writer) error {
	fake := fcmfake.New()
	defer fake.Close()
	rec := newFakeRecorder()
	fake.OnReceive(func(m fcmfake.Received) {
		rec.record(m)
		// The fake keeps every message it receives; the bench sends
		// hundreds of thousands and needs only the recorder's counts.
		fake.Reset()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(rec.stats(r.URL.Query().Has("arrivals")))
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		rec.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	control := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = control.Serve(ln) }()
	defer control.Close()
	fmt.Fprintf(stdout, "%s http://%s\n", fake.URL(), ln.Addr())
	_, err = io.Copy(io.Discard, stdin)
	return err
}

// fakeProcess is a running FCM fake process.
type fakeProcess struct {
	URL     string
	control string
	cmd     *exec.Cmd
	stdin   io.Closer
}

// startFakeFCM starts the FCM fake in a child process.
func startFakeFCM(ctx context.Context) (*fakeProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-fcmfake")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) != 2 {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("FCM fake did not start: %q: %v", line, err)
	}
	return &fakeProcess{URL: fields[0], control: fields[1], cmd: cmd, stdin: stdin}, nil
}

// stats asks the fake what it received; arrivals adds each reminder's first arrival.
func (f *fakeProcess) stats(ctx context.Context, arrivals bool) (fakeStats, error) {
	url := f.control + "/stats"
	if arrivals {
		url += "?arrivals"
	}
	var s fakeStats
	err := f.call(ctx, http.MethodGet, url, &s)
	return s, err
}

// reset makes the fake forget what it received.
func (f *fakeProcess) reset(ctx context.Context) error {
	return f.call(ctx, http.MethodPost, f.control+"/reset", nil)
}

func (f *fakeProcess) call(ctx context.Context, method, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("FCM fake %s: status %d", url, resp.StatusCode)
	}
	if dst == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(dst)
}

// close stops the fake process.
func (f *fakeProcess) close() error {
	err := f.stdin.Close()
	var exit *exec.ExitError
	if werr := f.cmd.Wait(); werr != nil && !errors.As(werr, &exit) {
		err = errors.Join(err, werr)
	}
	return err
}
