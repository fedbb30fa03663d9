package fcmfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/notifications/fcmfake"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestServerAnswers(t *testing.T) {
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	var mu sync.Mutex
	var hooked []string
	fake.OnReceive(func(r fcmfake.Received) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, r.Token)
	})
	fake.FailToken("dead", fcmfake.Unregistered)
	fake.FailNext(1, fcmfake.QuotaExceeded.WithRetryAfter(1500*time.Millisecond))
	send := fake.URL() + "/v1/projects/p1/messages:send"

	for _, c := range []struct {
		name, url, body string
		wantStatus      int
		wantBody        string
		wantRetryAfter  string
	}{
		{"quota, from FailNext", send, `{"message":{"token":"alive"}}`, 429,
			`{"error":{"code":429,"message":"Quota exceeded for sending messages.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`, "2"},
		{"unregistered token", send, `{"message":{"token":"dead"}}`, 404,
			`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`, ""},
		{"delivered", send, `{"message":{"token":"alive","android":{"ttl":"3600.5s"}}}`, 200, `{"name":"projects/p1/messages/1"}`, ""},
		{"no token", send, `{"message":{}}`, 400, "", ""},
		{"not JSON", send, `{`, 400, "", ""},
		{"bad ttl", send, `{"message":{"token":"alive","android":{"ttl":"an hour"}}}`, 400, "", ""},
		{"wrong path", fake.URL() + "/v1/projects/p1/messages", `{"message":{"token":"alive"}}`, 404, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, c.url, c.body)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantStatus, body)
			}
			if c.wantBody != "" && strings.TrimSpace(body) != c.wantBody {
				t.Errorf("body %s\nwant %s", body, c.wantBody)
			}
			if got := resp.Header.Get("Retry-After"); got != c.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.wantRetryAfter)
			}
			if c.wantStatus == 400 && !json.Valid([]byte(body)) {
				t.Errorf("error body is not JSON: %s", body)
			}
		})
	}

	got := fake.Received()
	if len(got) != 3 || got[2].TTL != 3600500*time.Millisecond || got[2].Project != "p1" || got[2].MessageID != "projects/p1/messages/1" {
		t.Errorf("received %+v, want the three well-formed sends", got)
	}
	mu.Lock()
	if strings.Join(hooked, ",") != "alive,dead,alive" {
		t.Errorf("OnReceive saw %v", hooked)
	}
	mu.Unlock()

	fake.Reset()
	if resp, _ := post(t, send, `{"message":{"token":"dead"}}`); resp.StatusCode != 200 || len(fake.Received()) != 1 {
		t.Errorf("after Reset: status %d, %d received; want 200 and 1", resp.StatusCode, len(fake.Received()))
	}
}

func TestCloseCutsDelaysShort(t *testing.T) {
	fake := fcmfake.New()
	fake.SetDelay(time.Minute)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Post(fake.URL()+"/v1/projects/p/messages:send", "application/json", strings.NewReader(`{"message":{"token":"t"}}`))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for len(fake.Received()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		fake.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the delayed answer")
	}
	if err := <-errc; err == nil {
		t.Error("the delayed request got an answer after Close")
	}
}
