package models

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Side is one end of a conversation: the patient, or their clinic's staff.
type Side string

// The sides of a conversation.
const (
	SidePatient Side = "patient"
	SideStaff   Side = "staff"
)

// Other returns the side that reads what s writes.
func (s Side) Other() Side {
	if s == SidePatient {
		return SideStaff
	}
	return SidePatient
}

// Message limits.
const (
	MaxMessageLength = 2000
	// SymptomReplyWindow is how long after a session ends, or after a log
	// with a red flag, a patient's message is taken as their answer to the
	// soreness check-ins (at +24 h and +48 h, each worth 12 h) or to the
	// red flag's advice: 72 h covers the last check-in's whole life and a
	// day to reply to it.
	SymptomReplyWindow = 72 * time.Hour
	// messageNoticeLife is how long a message's push may wait: FCM's
	// longest time to live. No quiet hours are that long, so a push moved
	// by them is never dropped as expired; reading the conversation first
	// cancels it, and the message is in the app either way.
	messageNoticeLife = 28 * 24 * time.Hour
)

// Message is one message of the conversation of a care link: between one
// patient and the staff of one clinic. Its _id is "<link id>:<client
// uuid>", as a pain log's is "<patient id>:<client uuid>": the phone (or
// the dashboard) picks the UUID, so a retry of a send makes one message,
// and one conversation's id can never name another's message. A message is
// never edited: only its read state changes.
type Message struct {
	ID        string `bson:"_id"`
	LinkID    string `bson:"link_id"`
	PatientID string `bson:"patient_id"`
	ClinicID  string `bson:"clinic_id"`
	Author    Side   `bson:"author"`
	// StaffID and StaffName are the staff member who wrote it, for a
	// staff message; the name as it was when they wrote.
	StaffID   string    `bson:"staff_id,omitempty"`
	StaffName string    `bson:"staff_name,omitempty"`
	Text      string    `bson:"text"`
	CreatedAt time.Time `bson:"created_at"`
	// UnreadBy is the side that has not read the message yet (the one that
	// did not write it), and empty once it has: an equality an index
	// serves for the unread counts.
	UnreadBy Side       `bson:"unread_by"`
	ReadAt   *time.Time `bson:"read_at,omitempty"`
	// UpdatedAt moves when the message is read, for sync.
	UpdatedAt time.Time `bson:"updated_at"`
}

// MessageDocID is the _id of the message with clientID in the conversation
// of link linkID.
func MessageDocID(linkID, clientID string) string {
	return linkID + ":" + clientID
}

// ClientID returns the UUID the sender chose.
func (m Message) ClientID() string {
	return strings.TrimPrefix(m.ID, m.LinkID+":")
}

// CleanMessageText checks what a sender wrote — some text, at most
// MaxMessageLength characters, no control characters but line breaks and
// tabs — and returns it with its line breaks as LF: a browser's form sends
// CR LF, a phone LF, and a retry must match what was stored either way.
func CleanMessageText(text string) (string, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var probs Problems
	switch {
	case !utf8.ValidString(text):
		probs.Add("text", "must be valid UTF-8 text")
	case strings.TrimSpace(text) == "":
		probs.Add("text", "is required")
	case utf8.RuneCountInString(text) > MaxMessageLength:
		probs.Add("text", "must be at most %d characters", MaxMessageLength)
	case strings.ContainsFunc(text, func(r rune) bool { return isControl(r) && r != '\n' && r != '\t' }):
		probs.Add("text", "must not contain control characters other than line breaks and tabs")
	}
	return text, probs.Err()
}

// SameSend reports whether b is a retry of a: the same sender and text.
// A different one under the same id is a conflict, never an edit.
func (m Message) SameSend(b Message) bool {
	return m.Author == b.Author && m.StaffID == b.StaffID && m.Text == b.Text
}

// Closed reports whether a conversation on link l takes no new messages:
// once the patient revokes the link, the clinic has no say in their care.
func (l CareLink) Closed() bool { return l.Status != LinkActive }

// MessageNotice returns the push telling patient p that their clinic wrote
// in the conversation of link linkID: due at now, moved by quiet hours like
// every push, and alive long enough never to be dropped by them. earlier is
// how many message notices the conversation has had: the notice's dedupe
// key counts them, so that senders racing each other while none is pending
// make one notice between them. Nil when p switched the kind off; the
// message is in the app either way.
func MessageNotice(p Patient, linkID string, earlier int, now time.Time) *Reminder {
	if !p.Wants(KindMessage) {
		return nil
	}
	r := Reminder{PatientID: p.ID, Kind: KindMessage, Source: SourceClinic, SourceID: linkID,
		Variant: strconv.Itoa(earlier), LocalDate: LocalDateOf(now, p.Location()), DueAt: now,
		Status: ReminderPending, ExpiresAt: now.Add(messageNoticeLife)}
	r.SetKey()
	return &r
}

// MessageNoticePending reports whether one of a conversation's notices is
// still to be sent, so that a further message needs none of its own.
func MessageNoticePending(notices []Reminder) bool {
	for _, r := range notices {
		if r.Kind == KindMessage && (r.Status == ReminderPending || r.Status == ReminderClaimed) {
			return true
		}
	}
	return false
}

// CollapseKey is the push's collapse key and notification tag: the
// reminder's id, so that a resend replaces what the phone shows, except for
// message notices, which collapse per conversation, so that a phone shows
// one "new message" per clinic however many notices reached it. It is a
// hash of the link's id: the push names no clinic.
func (r Reminder) CollapseKey() string {
	if r.Kind != KindMessage {
		return r.ID
	}
	sum := sha256.Sum256([]byte("conversation|" + r.SourceID))
	return "conversation-" + hex.EncodeToString(sum[:16])
}

// AnswersSymptomQuestion reports whether a patient's message m reads as an
// answer to a question the app asked about symptoms: written within
// SymptomReplyWindow after the end of a completed session (the soreness
// check-ins ask how the soreness is) or after a pain log with a red flag
// was entered (its advice asks them to seek care). A staff message never is.
func AnswersSymptomQuestion(m Message, sessions []Session, logs []PainLog) bool {
	if m.Author != SidePatient {
		return false
	}
	within := func(from time.Time) bool {
		return !m.CreatedAt.Before(from) && m.CreatedAt.Before(from.Add(SymptomReplyWindow))
	}
	for _, s := range sessions {
		if s.Status == SessionCompleted && within(s.End()) {
			return true
		}
	}
	for _, l := range logs {
		if !l.Deleted && l.HasRedFlags() && within(l.CreatedAt) {
			return true
		}
	}
	return false
}

// Conversation is one line of a clinic's inbox: a linked patient's
// conversation, with what the clinic has not read.
type Conversation struct {
	Patient TriageEntry
	// Unread counts the patient's messages no one at the clinic has read.
	Unread int
	// Last is when the conversation's latest message was written, and
	// LastBy who wrote it.
	Last   time.Time
	LastBy Side
}

// Inbox lists the conversations of a clinic's linked patients that have a
// message among messages (the clinic's unread ones and its recent ones),
// each patient's entry from entries: those with unread messages first, an
// answer to a symptom question before the rest, then the one waiting
// longest; then the others, latest first. Messages of a link that is not
// the patient's active one (revoked since) are left out.
func Inbox(entries []TriageEntry, links map[string]string, messages []Message) []Conversation {
	byPatient := map[string]*Conversation{}
	oldestUnread := map[string]time.Time{}
	var out []*Conversation
	for _, m := range messages {
		if links[m.PatientID] != m.LinkID {
			continue
		}
		c := byPatient[m.PatientID]
		if c == nil {
			c = &Conversation{}
			byPatient[m.PatientID] = c
			out = append(out, c)
		}
		if m.CreatedAt.After(c.Last) {
			c.Last, c.LastBy = m.CreatedAt, m.Author
		}
		if m.Author == SidePatient && m.UnreadBy == SideStaff {
			c.Unread++
			if at, ok := oldestUnread[m.PatientID]; !ok || m.CreatedAt.Before(at) {
				oldestUnread[m.PatientID] = m.CreatedAt
			}
		}
	}
	for _, e := range entries {
		if c := byPatient[e.PatientID]; c != nil {
			c.Patient = e
		}
	}
	list := make([]Conversation, 0, len(out))
	for _, c := range out {
		if c.Patient.PatientID != "" {
			list = append(list, *c)
		}
	}
	rank := func(c Conversation) int {
		switch {
		case c.Unread > 0 && c.Patient.SymptomMessage:
			return 0
		case c.Unread > 0:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(list, func(a, b Conversation) int {
		if r := cmp.Compare(rank(a), rank(b)); r != 0 {
			return r
		}
		if rank(a) < 2 {
			return cmp.Or(oldestUnread[a.Patient.PatientID].Compare(oldestUnread[b.Patient.PatientID]), strings.Compare(a.Patient.PatientID, b.Patient.PatientID))
		}
		return cmp.Or(b.Last.Compare(a.Last), strings.Compare(a.Patient.PatientID, b.Patient.PatientID))
	})
	return list
}
