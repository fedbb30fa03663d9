package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications/fcmfake"
)

const testProject = "backcare-test"

var testNow = time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)

// recordingClient notes the size and deadline of every SendEach call before
// passing it on to the real SDK client.
type recordingClient struct {
	next         batchSender
	sizes        []int
	hadDeadlines []bool
}

func (c *recordingClient) SendEach(ctx context.Context, msgs []*messaging.Message) (*messaging.BatchResponse, error) {
	_, ok := ctx.Deadline()
	c.sizes = append(c.sizes, len(msgs))
	c.hadDeadlines = append(c.hadDeadlines, ok)
	return c.next.SendEach(ctx, msgs)
}

// newTestSender returns a sender on the real SDK pointed at a fresh fake.
func newTestSender(t *testing.T, timeout time.Duration) (*FCMSender, *fcmfake.Server, *recordingClient) {
	t.Helper()
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	s, err := NewFCMSender(t.Context(), FCMConfig{
		ProjectID:   testProject,
		Endpoint:    fake.URL(),
		SendTimeout: timeout,
		Now:         func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingClient{next: s.client}
	s.client = rec
	return s, fake, rec
}

func testMessage(i int) Message {
	title, body, _ := Text("en", models.KindHeatIce, "")
	return Message{
		ReminderID: fmt.Sprintf("rem-%04d", i),
		Kind:       models.KindHeatIce,
		Token:      fmt.Sprintf("token-%04d", i),
		Title:      title,
		Body:       body,
		TTL:        90 * time.Minute,
	}
}

func receivedByToken(fake *fcmfake.Server) map[string][]fcmfake.Received {
	byToken := map[string][]fcmfake.Received{}
	for _, r := range fake.Received() {
		byToken[r.Token] = append(byToken[r.Token], r)
	}
	return byToken
}

func TestFCMSenderDelivers(t *testing.T) {
	s, fake, _ := newTestSender(t, 0)
	msgs := []Message{testMessage(1), testMessage(2)}
	msgs[1].Kind = models.KindSessionUpcoming
	msgs[1].Title, msgs[1].Body, _ = Text("en", models.KindSessionUpcoming, models.VariantUpcomingHours)
	msgs[1].TTL = 60 * 24 * time.Hour

	results, err := s.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	byToken := receivedByToken(fake)
	for i, m := range msgs {
		if results[i].Outcome != Delivered || results[i].Err != nil {
			t.Fatalf("result %d = %+v, want delivered", i, results[i])
		}
		got := byToken[m.Token]
		if len(got) != 1 {
			t.Fatalf("fake got %d messages for %s, want 1", len(got), m.Token)
		}
		r := got[0]
		wantTTL := min(m.TTL, 28*24*time.Hour)
		wantAPNS := map[string]string{
			"apns-collapse-id": m.ReminderID,
			"apns-expiration":  strconv.FormatInt(testNow.Add(wantTTL).Unix(), 10),
			"apns-priority":    "10",
		}
		switch {
		case results[i].MessageID != r.MessageID || !strings.HasPrefix(r.MessageID, "projects/"+testProject+"/messages/"):
			t.Errorf("message id %q, fake named it %q", results[i].MessageID, r.MessageID)
		case r.Title != m.Title || r.Body != m.Body:
			t.Errorf("notification %q / %q, want %q / %q", r.Title, r.Body, m.Title, m.Body)
		case len(r.Data) != 2 || r.Data["reminder_id"] != m.ReminderID || r.Data["kind"] != string(m.Kind):
			t.Errorf("data %v", r.Data)
		case r.CollapseKey != m.ReminderID || r.Tag != m.ReminderID || r.Priority != "high" || r.TTL != wantTTL:
			t.Errorf("android collapse key %q, tag %q, priority %q, ttl %s; want %s as key and tag, high, %s", r.CollapseKey, r.Tag, r.Priority, r.TTL, m.ReminderID, wantTTL)
		case fmt.Sprint(r.APNSHeaders) != fmt.Sprint(wantAPNS):
			t.Errorf("apns headers %v, want %v", r.APNSHeaders, wantAPNS)
		}
	}
}

func TestFCMSenderOutcomes(t *testing.T) {
	s, fake, _ := newTestSender(t, 0)
	for _, c := range []struct {
		name           string
		failure        fcmfake.Failure
		want           Outcome
		wantRetryAfter time.Duration
	}{
		{"unregistered", fcmfake.Unregistered, BadToken, 0},
		{"invalid token", fcmfake.InvalidArgument, BadToken, 0},
		{"sender id mismatch", fcmfake.SenderIDMismatch, BadToken, 0},
		{"quota with a long Retry-After", fcmfake.QuotaExceeded.WithRetryAfter(90 * time.Second), QuotaExceeded, 90 * time.Second},
		{"quota with a short Retry-After", fcmfake.QuotaExceeded.WithRetryAfter(5 * time.Second), QuotaExceeded, MinQuotaBackoff},
		{"quota without Retry-After", fcmfake.QuotaExceeded.WithRetryAfter(0), QuotaExceeded, MinQuotaBackoff},
		{"internal with Retry-After", fcmfake.Internal.WithRetryAfter(7 * time.Second), Retryable, 7 * time.Second},
		{"internal", fcmfake.Internal, Retryable, 0},
		// The SDK retries a 503 itself unless Retry-After exceeds two minutes.
		{"unavailable with a long Retry-After", fcmfake.Unavailable.WithRetryAfter(3 * time.Minute), Retryable, 3 * time.Minute},
		{"bad gateway", fcmfake.Failure{HTTPStatus: http.StatusBadGateway, Status: "UNKNOWN"}, Retryable, 0},
		{"our credentials", fcmfake.Failure{HTTPStatus: http.StatusUnauthorized, Status: "UNAUTHENTICATED"}, Failed, 0},
		{"apns auth", fcmfake.Failure{HTTPStatus: http.StatusUnauthorized, Status: "UNAUTHENTICATED", ErrorCode: "THIRD_PARTY_AUTH_ERROR"}, Failed, 0},
		{"bad payload", fcmfake.Failure{HTTPStatus: http.StatusBadRequest, Status: "INVALID_ARGUMENT"}, Failed, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake.Reset()
			ok, bad := testMessage(1), testMessage(2)
			fake.FailToken(bad.Token, c.failure)

			results, err := s.Send(t.Context(), []Message{ok, bad})
			if err != nil {
				t.Fatal(err)
			}
			if results[0].Outcome != Delivered {
				t.Errorf("healthy message: %v (%v), want delivered", results[0].Outcome, results[0].Err)
			}
			got := results[1]
			if got.Outcome != c.want || got.RetryAfter != c.wantRetryAfter || got.Err == nil {
				t.Errorf("failing message: %v after %s (%v), want %v after %s", got.Outcome, got.RetryAfter, got.Err, c.want, c.wantRetryAfter)
			}
			if n := len(receivedByToken(fake)[bad.Token]); n != 1 {
				t.Errorf("fake got %d attempts, want 1", n)
			}
		})
	}
}

func TestFCMSenderLetsTheSDKRetryA503(t *testing.T) {
	s, fake, _ := newTestSender(t, 0)
	fake.FailNext(1, fcmfake.Unavailable)
	m := testMessage(1)

	results, err := s.Send(t.Context(), []Message{m})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Outcome != Delivered {
		t.Errorf("outcome %v (%v), want delivered after the SDK's own retry", results[0].Outcome, results[0].Err)
	}
	got := receivedByToken(fake)[m.Token]
	if len(got) != 2 || got[0].Status != http.StatusServiceUnavailable || got[1].Status != http.StatusOK {
		t.Errorf("fake answered %d attempts, want a 503 then a 200", len(got))
	}
}

func TestFCMSenderTimesOut(t *testing.T) {
	s, fake, rec := newTestSender(t, 200*time.Millisecond)
	fake.SetDelay(time.Minute)
	msgs := []Message{testMessage(1), testMessage(2), testMessage(3)}

	start := time.Now()
	results, err := s.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Send took %s with a 200ms send timeout", took)
	}
	for i, r := range results {
		if r.Outcome != Retryable || r.Err == nil {
			t.Errorf("result %d = %v (%v), want retryable", i, r.Outcome, r.Err)
		}
	}
	if len(rec.hadDeadlines) != 1 || !rec.hadDeadlines[0] {
		t.Errorf("SendEach deadlines %v, want one call with a deadline", rec.hadDeadlines)
	}
}

func TestFCMSenderStopsWhenCancelled(t *testing.T) {
	s, fake, _ := newTestSender(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	results, err := s.Send(ctx, []Message{testMessage(1), testMessage(2)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	for i, r := range results {
		if r.Outcome != Retryable {
			t.Errorf("result %d = %v, want retryable", i, r.Outcome)
		}
	}
	if n := len(fake.Received()); n != 0 {
		t.Errorf("fake got %d messages after cancellation", n)
	}
}

func TestFCMSenderBatches(t *testing.T) {
	s, fake, rec := newTestSender(t, 0)
	msgs := make([]Message, 1200)
	for i := range msgs {
		msgs[i] = testMessage(i)
	}

	results, err := s.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.sizes) != "[500 500 200]" {
		t.Errorf("SendEach calls of %v messages, want [500 500 200]", rec.sizes)
	}
	received := fake.Received()
	if len(received) != len(msgs) {
		t.Fatalf("fake got %d messages, want %d", len(received), len(msgs))
	}
	reminderOf := map[string]string{}
	for _, r := range received {
		reminderOf[r.MessageID] = r.Data["reminder_id"]
	}
	for i, r := range results {
		if r.Outcome != Delivered || reminderOf[r.MessageID] != msgs[i].ReminderID {
			t.Fatalf("result %d: %v for reminder %q, want delivered for %q", i, r.Outcome, reminderOf[r.MessageID], msgs[i].ReminderID)
		}
	}
}

func TestFCMSenderStopsOnQuota(t *testing.T) {
	s, fake, rec := newTestSender(t, 0)
	fake.FailNext(1, fcmfake.QuotaExceeded.WithRetryAfter(2*time.Minute))
	msgs := make([]Message, 1200)
	for i := range msgs {
		msgs[i] = testMessage(i)
	}

	results, err := s.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Outcome]int{}
	for _, r := range results[500:] {
		if r.Outcome != QuotaExceeded || r.RetryAfter != 2*time.Minute {
			t.Fatalf("unsent message: %v after %s, want quota_exceeded after 2m", r.Outcome, r.RetryAfter)
		}
	}
	for _, r := range results[:500] {
		counts[r.Outcome]++
	}
	if counts[Delivered] != 499 || counts[QuotaExceeded] != 1 {
		t.Errorf("first batch: %v, want 499 delivered and 1 quota_exceeded", counts)
	}
	if len(rec.sizes) != 1 || len(fake.Received()) != 500 {
		t.Errorf("%d SendEach calls, %d messages at the fake; want 1 and 500", len(rec.sizes), len(fake.Received()))
	}
}

func TestFCMSenderRefusesUnsendableMessages(t *testing.T) {
	s, fake, _ := newTestSender(t, 0)
	edit := func(f func(*Message)) Message {
		m := testMessage(2)
		f(&m)
		return m
	}
	msgs := []Message{
		edit(func(m *Message) { m.Token = "" }),
		edit(func(m *Message) { m.ReminderID = "" }),
		edit(func(m *Message) { m.ReminderID = strings.Repeat("x", 65) }),
		edit(func(m *Message) { m.TTL = 0 }),
		testMessage(1),
	}

	results, err := s.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results[:4] {
		if r.Outcome != Failed || r.Err == nil {
			t.Errorf("message %d: %v (%v), want failed", i, r.Outcome, r.Err)
		}
	}
	if results[4].Outcome != Delivered {
		t.Errorf("valid message: %v (%v)", results[4].Outcome, results[4].Err)
	}
	if got := fake.Received(); len(got) != 1 || got[0].Token != msgs[4].Token {
		t.Errorf("fake got %d messages, want only the valid one", len(got))
	}
}

func TestNewFCMSenderConfig(t *testing.T) {
	// The SDK also looks for a project in these.
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	t.Setenv("GCLOUD_PROJECT", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	now := func() time.Time { return testNow }
	for _, c := range []struct {
		name    string
		cfg     FCMConfig
		wantErr bool
	}{
		{"no clock", FCMConfig{ProjectID: testProject, Endpoint: "http://127.0.0.1:1"}, true},
		{"negative timeout", FCMConfig{ProjectID: testProject, Endpoint: "http://127.0.0.1:1", Now: now, SendTimeout: -time.Second}, true},
		{"no project", FCMConfig{Endpoint: "http://127.0.0.1:1", Now: now}, true},
		{"fake endpoint", FCMConfig{ProjectID: testProject, Endpoint: "http://127.0.0.1:1/", Now: now}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewFCMSender(t.Context(), c.cfg)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error: %v", err, c.wantErr)
			}
			if err == nil && s.timeout != DefaultSendTimeout {
				t.Errorf("send timeout %s, want the default %s", s.timeout, DefaultSendTimeout)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 30 ", 30 * time.Second},
		{"-5", 0},
		{"99999999999999", 24 * time.Hour},
		{testNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{testNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(c.header, testNow); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", c.header, got, c.want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	if got := fmt.Sprint(Delivered, BadToken, QuotaExceeded, Retryable, Failed, Outcome(0)); got != "delivered bad_token quota_exceeded retryable failed Outcome(0)" {
		t.Errorf("outcome names %q", got)
	}
}
