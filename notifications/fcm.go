package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

const (
	// maxBatch is the most messages SendEach takes in one call.
	maxBatch = 500
	// DefaultSendTimeout bounds one SendEach call when FCMConfig sets none;
	// the SDK itself never gives up.
	DefaultSendTimeout = 30 * time.Second
	// MinQuotaBackoff is the least a QuotaExceeded result asks to wait: FCM
	// quotas are per minute, and a shorter wait only spends the next one.
	MinQuotaBackoff = 60 * time.Second
	// maxTTL is FCM's longest TTL. FCM answers a longer one with
	// INVALID_ARGUMENT, which would read as a bad token and delete it.
	maxTTL = 28 * 24 * time.Hour
	// maxReminderID is the longest apns-collapse-id APNs accepts.
	maxReminderID = 64
	// maxRetryAfter caps a server's Retry-After: no reminder lives longer,
	// and a huge value would overflow a Duration.
	maxRetryAfter = 24 * time.Hour
)

// Errors for messages that were not sent at all.
var (
	errNoToken       = errors.New("notifications: message has no device token")
	errNoReminderID  = errors.New("notifications: message has no reminder id")
	errLongID        = fmt.Errorf("notifications: reminder id longer than %d bytes", maxReminderID)
	errExpired       = errors.New("notifications: message TTL is not positive: the reminder has expired")
	errQuotaNotTried = errors.New("notifications: not sent: FCM quota exceeded earlier in this send")
)

// FCMConfig configures an FCMSender.
type FCMConfig struct {
	// ProjectID is the Firebase project; optional with a CredentialsFile
	// that names one.
	ProjectID string
	// CredentialsFile is a service account key. Without it the SDK looks for
	// application default credentials, unless Endpoint is set, in which case
	// requests go unauthenticated (the FCM fake needs none).
	CredentialsFile string
	// Endpoint replaces FCM's base URL, e.g. "http://127.0.0.1:4000" for the
	// fake; the sender adds the /v1 path.
	Endpoint string
	// SendTimeout bounds each SendEach call; DefaultSendTimeout when zero.
	SendTimeout time.Duration
	// Now is the clock for APNs expiry times and Retry-After dates. Required.
	Now func() time.Time
}

// batchSender is the part of messaging.Client the sender uses.
type batchSender interface {
	SendEach(ctx context.Context, messages []*messaging.Message) (*messaging.BatchResponse, error)
}

// FCMSender sends through Firebase Cloud Messaging with the Admin SDK.
type FCMSender struct {
	client  batchSender
	timeout time.Duration
	now     func() time.Time
}

// NewFCMSender returns a sender for the project in cfg.
func NewFCMSender(ctx context.Context, cfg FCMConfig) (*FCMSender, error) {
	if cfg.Now == nil {
		return nil, errors.New("notifications: FCMConfig.Now is required")
	}
	if cfg.SendTimeout < 0 {
		return nil, fmt.Errorf("notifications: negative send timeout %s", cfg.SendTimeout)
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	var opts []option.ClientOption
	switch {
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	case cfg.Endpoint != "":
		opts = append(opts, option.WithoutAuthentication())
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(cfg.Endpoint, "/")+"/v1"))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("notifications: firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("notifications: firebase messaging: %w", err)
	}
	return &FCMSender{client: client, timeout: cfg.SendTimeout, now: cfg.Now}, nil
}

// Send implements Sender. It sends in batches of at most 500, one after the
// other, each under the send timeout. Once FCM reports the quota exceeded it
// sends no further batch: the rest would only be refused too, so they come
// back QuotaExceeded unsent.
func (s *FCMSender) Send(ctx context.Context, msgs []Message) ([]Result, error) {
	results := make([]Result, len(msgs))
	sendable := make([]int, 0, len(msgs))
	for i, m := range msgs {
		if err := m.check(); err != nil {
			results[i] = Result{Outcome: Failed, Err: err}
			continue
		}
		sendable = append(sendable, i)
	}
	now := s.now()
	for start := 0; start < len(sendable); start += maxBatch {
		rest := sendable[start:]
		if err := ctx.Err(); err != nil {
			fill(results, rest, Result{Outcome: Retryable, Err: err})
			return results, err
		}
		batch := rest[:min(maxBatch, len(rest))]
		s.sendBatch(ctx, msgs, batch, results, now)
		if wait, throttled := quotaWait(results, batch); throttled {
			fill(results, rest[len(batch):], Result{Outcome: QuotaExceeded, RetryAfter: wait, Err: errQuotaNotTried})
			break
		}
	}
	return results, ctx.Err()
}

// sendBatch sends msgs[i] for each i in batch and records the results.
func (s *FCMSender) sendBatch(ctx context.Context, msgs []Message, batch []int, results []Result, now time.Time) {
	fcm := make([]*messaging.Message, len(batch))
	for j, i := range batch {
		fcm[j] = fcmMessage(msgs[i], now)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.client.SendEach(ctx, fcm)
	if err != nil {
		// SendEach fails as a whole only on a batch it will not send at all
		// (empty, too large, invalid), which check rules out; nothing was sent.
		fill(results, batch, Result{Outcome: Failed, Err: err})
		return
	}
	answered := s.now()
	for j, r := range resp.Responses {
		if r.Success {
			results[batch[j]] = Result{Outcome: Delivered, MessageID: r.MessageID}
			continue
		}
		results[batch[j]] = classify(r.Error, answered)
	}
}

// check rejects a message FCM would refuse for its payload: such a refusal
// reads as INVALID_ARGUMENT, the same as a bad token, and would cost the
// patient a device.
func (m Message) check() error {
	switch {
	case m.Token == "":
		return errNoToken
	case m.ReminderID == "":
		return errNoReminderID
	case len(m.ReminderID) > maxReminderID || len(m.CollapseKey) > maxReminderID:
		return errLongID
	case m.TTL <= 0:
		return errExpired
	}
	return nil
}

// fcmMessage builds the FCM message for m. The collapse key (the reminder
// id unless the message names another) is the Android collapse key and
// notification tag and the APNs collapse id, so a resend
// after a crash or an ambiguous 503 replaces the notification already shown
// instead of stacking a second one. (Android keeps only four collapse keys
// per offline device; reminders are few and short-lived, and the tag is
// what replaces a shown notification.)
func fcmMessage(m Message, now time.Time) *messaging.Message {
	ttl := min(m.TTL, maxTTL)
	collapse := m.CollapseKey
	if collapse == "" {
		collapse = m.ReminderID
	}
	return &messaging.Message{
		Token:        m.Token,
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
		Data:         map[string]string{"reminder_id": m.ReminderID, "kind": string(m.Kind)},
		Android: &messaging.AndroidConfig{
			CollapseKey:  collapse,
			Priority:     "high",
			TTL:          &ttl,
			Notification: &messaging.AndroidNotification{Tag: collapse},
		},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{
				"apns-collapse-id": collapse,
				"apns-expiration":  strconv.FormatInt(now.Add(ttl).Unix(), 10),
				"apns-priority":    "10",
			},
		},
	}
}

// classify maps an error from FCM to what the caller should do.
//
// The SDK retries a 503 and network errors itself (up to four times, within
// the send timeout, honouring Retry-After up to two minutes), so a 503 seen
// here has outlasted those retries, and a send timeout may surface as the
// bare context error without the server's Retry-After.
func classify(err error, now time.Time) Result {
	switch {
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err), messaging.IsInvalidArgument(err):
		return Result{Outcome: BadToken, Err: err}
	case messaging.IsQuotaExceeded(err), errorutils.IsResourceExhausted(err):
		return Result{Outcome: QuotaExceeded, Err: err, RetryAfter: max(MinQuotaBackoff, retryAfter(err, now))}
	case transient(err):
		return Result{Outcome: Retryable, Err: err, RetryAfter: retryAfter(err, now)}
	}
	return Result{Outcome: Failed, Err: err}
}

// transient reports whether err may pass on its own: the server is down or
// busy, or the request timed out or never got an answer — in which case FCM
// may or may not have delivered it.
func transient(err error) bool {
	if messaging.IsUnavailable(err) || messaging.IsInternal(err) ||
		errorutils.IsUnavailable(err) || errorutils.IsInternal(err) || errorutils.IsDeadlineExceeded(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		// A transport failure the SDK could not name, such as a reset
		// connection: it carries the Unknown code and no response.
		return errorutils.IsUnknown(err)
	}
	return resp.StatusCode >= http.StatusInternalServerError
}

// retryAfter returns the wait the server asked for in the Retry-After
// header of err's response, or zero.
func retryAfter(err error, now time.Time) time.Duration {
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return 0
	}
	return parseRetryAfter(resp.Header.Get("Retry-After"), now)
}

// parseRetryAfter reads a Retry-After value, delay seconds or an HTTP date
// (RFC 9110), as a wait from now, at most maxRetryAfter; zero when it is
// absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return min(at.Sub(now), maxRetryAfter)
	}
	return 0
}

// quotaWait reports whether any message in batch hit the quota, and the
// longest wait asked for.
func quotaWait(results []Result, batch []int) (time.Duration, bool) {
	var wait time.Duration
	throttled := false
	for _, i := range batch {
		if results[i].Outcome == QuotaExceeded {
			throttled = true
			wait = max(wait, results[i].RetryAfter)
		}
	}
	return wait, throttled
}

// fill sets results[i] to r for each i in idx.
func fill(results []Result, idx []int, r Result) {
	for _, i := range idx {
		results[i] = r
	}
}
