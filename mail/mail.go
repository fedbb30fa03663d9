// Package mail composes BackCare's mails from templates per locale and
// sends them: over SMTP (go-mail) in production, or to the log in
// development. Requests never send: they compose a mail and queue it in the
// outbox (store.EnqueueMail), and the outbox job (jobs.Outbox) sends it
// through a Mailer.
package mail

import (
	"context"
	"errors"
	"strings"

	"github.com/backcare/backcare/models"
)

// Mailer sends one composed mail.
type Mailer interface {
	// Send delivers m or returns why not; an error that IsPermanent marks
	// a mail the server refused for good (a 5xx reply to it), any other a
	// failure worth trying again (the server away, a 4xx reply).
	Send(ctx context.Context, m models.Mail) error
}

// PermanentError is a send the server refused for good: sending the same
// mail again would be refused again.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "refused for good: " + e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a refusal for good.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// MaskAddress shows enough of an address for its owner to recognise it
// and no more: "j…@example.com" for "jane@example.com". The email_changed
// notice names the new address this way, so that a mail read by someone
// else (the old address may be a shared or lost mailbox) does not give the
// account's new sign-in away.
func MaskAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "…"
	}
	first := []rune(addr[:at])[0]
	return string(first) + "…" + addr[at:]
}

// maskForLog shows a recipient in logs as "j@…": the log keeps no address.
func maskForLog(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "…"
	}
	return string([]rune(addr[:at])[0]) + "@…"
}
