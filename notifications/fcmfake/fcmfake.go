// Package fcmfake is a stand-in for Firebase Cloud Messaging: an HTTP server
// that speaks enough of the FCM HTTP v1 send API for the Firebase Admin SDK,
// records what it is sent, and fails on request with FCM's own error bodies.
// Tests use it, and the dev server runs it in-process when it has no
// Firebase credentials.
//
// Point the SDK at it with option.WithEndpoint(server.URL()+"/v1") and
// option.WithoutAuthentication(); it then posts each message to
// /v1/projects/{project}/messages:send.
package fcmfake

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Failure is an error answer in the shape FCM gives it, which the SDK turns
// into errors that messaging.IsUnregistered and its siblings recognise.
type Failure struct {
	// HTTPStatus is the response status, e.g. 404.
	HTTPStatus int
	// Status is the google.rpc status name, e.g. "NOT_FOUND".
	Status string
	// ErrorCode is the FcmError code in the details, e.g. "UNREGISTERED".
	ErrorCode string
	Message   string
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
}

// WithRetryAfter returns f answering with a Retry-After of d.
func (f Failure) WithRetryAfter(d time.Duration) Failure {
	f.RetryAfter = d
	return f
}

// The failures FCM answers a send with, as documented for the v1 API.
var (
	Unregistered     = Failure{http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.", 0}
	InvalidArgument  = Failure{http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", 0}
	SenderIDMismatch = Failure{http.StatusForbidden, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch", 0}
	QuotaExceeded    = Failure{http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for sending messages.", time.Minute}
	Internal         = Failure{http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.", 0}
	Unavailable      = Failure{http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.", 0}
)

// Received is one send request as the fake saw it.
type Received struct {
	At          time.Time
	Project     string
	Token       string
	Title, Body string
	Data        map[string]string
	// Android settings.
	CollapseKey string
	TTL         time.Duration
	Priority    string
	Tag         string
	APNSHeaders map[string]string
	// Status is the HTTP status the fake answered; MessageID is the name it
	// gave the message when that was 200.
	Status    int
	MessageID string
}

// Fields returns every field of the push a phone or its lock screen could
// show or read, by name: title, body, collapse_key, tag, priority, each
// data entry as data.<key> and each APNs header by its name; so that a test
// can hold every one of them to what it may say.
func (r Received) Fields() map[string]string {
	f := map[string]string{"title": r.Title, "body": r.Body, "collapse_key": r.CollapseKey, "tag": r.Tag, "priority": r.Priority}
	for k, v := range r.Data {
		f["data."+k] = v
	}
	for k, v := range r.APNSHeaders {
		f[k] = v
	}
	return f
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	url     string
	srv     *http.Server
	closing chan struct{}
	once    sync.Once

	mu            sync.Mutex
	received      []Received
	tokenFailures map[string]Failure
	nextFailure   Failure
	nextCount     int
	delay         time.Duration
	onReceive     func(Received)
	lastID        int
}

// New starts a fake on a free port of 127.0.0.1. Like httptest.NewServer it
// panics if it cannot listen.
func New() *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fcmfake: listen: %v", err))
	}
	s := &Server{
		url:           "http://" + ln.Addr().String(),
		closing:       make(chan struct{}),
		tokenFailures: map[string]Failure{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.handleSend)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// URL is the fake's base URL, without the /v1 path.
func (s *Server) URL() string { return s.url }

// Close stops the fake, cutting short any delayed answer.
func (s *Server) Close() {
	s.once.Do(func() {
		// Connections go first, so a delayed handler that wakes up has no
		// client left to send an empty answer to.
		_ = s.srv.Close()
		close(s.closing)
	})
}

// Received returns every message received so far, in order of arrival.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Reset forgets what was received and every failure and delay set; the
// OnReceive hook stays.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = nil
	s.tokenFailures = map[string]Failure{}
	s.nextCount = 0
	s.delay = 0
}

// FailToken makes every send to token fail with f until Reset.
func (s *Server) FailToken(token string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFailures[token] = f
}

// FailNext makes the next n sends fail with f, whatever their token; it
// takes precedence over FailToken.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFailure, s.nextCount = f, n
}

// SetDelay makes the fake wait d before each answer, as a slow FCM would.
// The message counts as received on arrival.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// OnReceive sets a function called with each message on arrival, outside
// any lock. The token is passed as is: a caller that logs it masks it.
func (s *Server) OnReceive(f func(Received)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onReceive = f
}

// sendRequest is the FCM v1 request body, as far as the fake reads it.
type sendRequest struct {
	Message *struct {
		Token        string            `json:"token"`
		Data         map[string]string `json:"data"`
		Notification *struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"notification"`
		Android *struct {
			CollapseKey  string `json:"collapse_key"`
			Priority     string `json:"priority"`
			TTL          string `json:"ttl"`
			Notification *struct {
				Tag string `json:"tag"`
			} `json:"notification"`
		} `json:"android"`
		APNS *struct {
			Headers map[string]string `json:"headers"`
		} `json:"apns"`
	} `json:"message"`
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	rec, err := parseSend(r.PathValue("project"), http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeFailure(w, Failure{HTTPStatus: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: err.Error()})
		return
	}
	rec.At = time.Now()

	s.mu.Lock()
	failure, failed := s.failureFor(rec.Token)
	if failed {
		rec.Status = failure.HTTPStatus
	} else {
		s.lastID++
		rec.Status = http.StatusOK
		rec.MessageID = fmt.Sprintf("projects/%s/messages/%d", rec.Project, s.lastID)
	}
	s.received = append(s.received, rec)
	delay, hook := s.delay, s.onReceive
	s.mu.Unlock()

	if hook != nil {
		hook(rec)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
	if failed {
		writeFailure(w, failure)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": rec.MessageID})
}

// failureFor returns the failure the next send to token gets, if any. The
// caller holds s.mu.
func (s *Server) failureFor(token string) (Failure, bool) {
	if s.nextCount > 0 {
		s.nextCount--
		return s.nextFailure, true
	}
	f, ok := s.tokenFailures[token]
	return f, ok
}

func parseSend(project string, body io.Reader) (Received, error) {
	var req sendRequest
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		return Received{}, fmt.Errorf("invalid JSON payload: %v", err)
	}
	m := req.Message
	if m == nil || m.Token == "" {
		return Received{}, fmt.Errorf("message.token is required")
	}
	rec := Received{Project: project, Token: m.Token, Data: m.Data}
	if n := m.Notification; n != nil {
		rec.Title, rec.Body = n.Title, n.Body
	}
	if a := m.Android; a != nil {
		rec.CollapseKey, rec.Priority = a.CollapseKey, a.Priority
		if a.TTL != "" {
			// FCM writes a TTL as seconds with an "s" suffix, which
			// time.ParseDuration also reads.
			ttl, err := time.ParseDuration(a.TTL)
			if err != nil {
				return Received{}, fmt.Errorf("invalid android.ttl %q", a.TTL)
			}
			rec.TTL = ttl
		}
		if a.Notification != nil {
			rec.Tag = a.Notification.Tag
		}
	}
	if m.APNS != nil {
		rec.APNSHeaders = m.APNS.Headers
	}
	return rec, nil
}

// writeFailure answers with f in FCM's error body shape.
func writeFailure(w http.ResponseWriter, f Failure) {
	type detail struct {
		Type      string `json:"@type"`
		ErrorCode string `json:"errorCode"`
	}
	body := struct {
		Error struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Status  string   `json:"status"`
			Details []detail `json:"details,omitempty"`
		} `json:"error"`
	}{}
	body.Error.Code, body.Error.Message, body.Error.Status = f.HTTPStatus, f.Message, f.Status
	if f.ErrorCode != "" {
		body.Error.Details = []detail{{"type.googleapis.com/google.firebase.fcm.v1.FcmError", f.ErrorCode}}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	writeJSON(w, f.HTTPStatus, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
