// Package notifications sends reminder pushes: the texts per locale, the
// Sender the dispatcher calls, and an FCM implementation of it on the
// Firebase Admin SDK. Package fcmfake stands in for FCM in tests and on a
// developer's machine.
package notifications

import (
	"context"
	"fmt"
	"time"

	"github.com/backcare/backcare/models"
)

// Message is one push about one reminder to one device.
type Message struct {
	ReminderID string
	// CollapseKey replaces an earlier push with the same key on the
	// phone (see models.Reminder.CollapseKey); the reminder id when empty.
	CollapseKey string
	Kind        models.ReminderKind
	Token       string
	Title       string
	Body        string
	// TTL is how long FCM may hold the push for an offline device: the time
	// left until the reminder expires, so it never arrives after that.
	TTL time.Duration
}

// Outcome tells the caller what to do about a message after a send.
type Outcome int

// Outcomes of a send. The zero Outcome is none of them, so a Result nobody
// filled in is never mistaken for a delivery.
const (
	// Delivered: FCM accepted the message.
	Delivered Outcome = iota + 1
	// BadToken: the device token is dead or not ours; delete it, do not retry.
	BadToken
	// QuotaExceeded: FCM throttles the project; every send waits RetryAfter.
	QuotaExceeded
	// Retryable: a transient failure; retry with exponential backoff and
	// jitter, waiting at least RetryAfter.
	Retryable
	// Failed: anything else; retrying would fail the same way.
	Failed
)

var outcomeNames = map[Outcome]string{
	Delivered:     "delivered",
	BadToken:      "bad_token",
	QuotaExceeded: "quota_exceeded",
	Retryable:     "retryable",
	Failed:        "failed",
}

// String returns a snake_case name fit for logs and metric labels.
func (o Outcome) String() string {
	if name, ok := outcomeNames[o]; ok {
		return name
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is what became of one Message.
type Result struct {
	// Err is why the message was not delivered; nil when it was.
	Err     error
	Outcome Outcome
	// RetryAfter is the least wait before the next attempt, for
	// QuotaExceeded and Retryable; zero when the server named none.
	RetryAfter time.Duration
	// MessageID is FCM's name for a delivered message.
	MessageID string
}

// Sender sends pushes. Send returns one Result per message, in the order of
// msgs, even when it also returns ctx's error because ctx ended during the
// send: the messages it cut short are Retryable.
type Sender interface {
	Send(ctx context.Context, msgs []Message) ([]Result, error)
}
