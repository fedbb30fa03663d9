package models

import (
	"strings"
	"time"
)

// MailKind names one of the mails BackCare sends; each has a template per
// locale in package mail.
type MailKind string

// The mails. None of them ever carries health data: they are about the
// account, never about the care.
const (
	MailPasswordReset   MailKind = "password_reset"
	MailPasswordChanged MailKind = "password_changed"
	MailVerifyEmail     MailKind = "verify_email"
	// MailEmailChange goes to a new address, to verify it; MailEmailChanged
	// tells the old one that the account now signs in with another.
	MailEmailChange     MailKind = "email_change"
	MailEmailChanged    MailKind = "email_changed"
	MailStaffInvitation MailKind = "staff_invitation"
)

// MaxMailNameLength bounds a recipient's display name in a mail header.
const MaxMailNameLength = 200

// Mail is one mail, composed and waiting in the outbox or sent. The request
// that causes it writes it; the outbox job sends it (see jobs.Outbox).
type Mail struct {
	ID      string   `bson:"_id"`
	Kind    MailKind `bson:"kind"`
	To      string   `bson:"to"`
	ToName  string   `bson:"to_name,omitempty"`
	Subject string   `bson:"subject"`
	Text    string   `bson:"text"`
	HTML    string   `bson:"html"`

	CreatedAt time.Time `bson:"created_at"`

	// The outbox's bookkeeping (see store/outbox.go and jobs.Outbox).
	Status MailStatus `bson:"status"`
	// Attempts counts the sends tried; a mail handed back unsent is not one.
	Attempts int `bson:"attempts,omitempty"`
	// NextAttemptAt is when a pending mail is due to be sent (again).
	NextAttemptAt time.Time  `bson:"next_attempt_at"`
	LeaseToken    string     `bson:"lease_token,omitempty"`
	LeaseUntil    *time.Time `bson:"lease_until,omitempty"`
	SentAt        *time.Time `bson:"sent_at,omitempty"`
	// FinishedAt is when the mail was sent or given up; the cleanup job
	// deletes it a week later.
	FinishedAt *time.Time `bson:"finished_at,omitempty"`
	LastError  string     `bson:"last_error,omitempty"`
	// Version counts the mail's changes, for the write markers that let one
	// outbox job at a time claim it.
	Version int64 `bson:"version,omitempty"`
}

// MailStatus is where a mail is in the outbox.
type MailStatus string

// A mail is pending until an outbox job claims it (sending); it ends sent,
// or failed when the server refused it for good or the retries ran out.
const (
	MailPending MailStatus = "pending"
	MailSending MailStatus = "sending"
	MailSent    MailStatus = "sent"
	MailFailed  MailStatus = "failed"
)

// MailOutcome is what one send (or a hand-back) did to a claimed mail.
type MailOutcome struct {
	ID string
	// Version is the mail's version as its outbox job claimed it.
	Version int64
	Status  MailStatus
	// NextAttemptAt is when a mail put back to pending is due again.
	NextAttemptAt time.Time
	// Attempted counts the send as an attempt; a mail handed back unsent
	// is not.
	Attempted bool
	LastError string
}

// Validate refuses a mail whose header fields could carry more headers:
// an address or a name with a line break would let a sign-up form write
// its own Bcc.
func (m Mail) Validate() error {
	probs := Problems{}
	if _, err := ValidateEmail(m.To); err != nil {
		probs.Add("to", "%s", err)
	}
	if strings.ContainsAny(m.ToName, "\r\n") {
		probs.Add("to_name", "must be one line")
	} else if len([]rune(m.ToName)) > MaxMailNameLength {
		probs.Add("to_name", "must be at most %d characters", MaxMailNameLength)
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
		probs.Add("subject", "must be one line")
	}
	if m.Text == "" || m.HTML == "" {
		probs.Add("body", "must have a text and an HTML part")
	}
	return probs.Err()
}
