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
