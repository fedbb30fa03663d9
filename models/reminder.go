package models

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// ReminderStatus is where one reminder occurrence stands in dispatch.
type ReminderStatus string

// Reminder statuses. A reminder is materialized pending; a dispatcher claims
// it under a lease and records sent, failed (FCM gave up) or expired (too late
// to be worth sending). Skipped means there was no need to send it (for
// example the patient already did it); cancelled means its reason went away
// (the session was cancelled or moved).
const (
	ReminderPending   ReminderStatus = "pending"
	ReminderClaimed   ReminderStatus = "claimed"
	ReminderSent      ReminderStatus = "sent"
	ReminderSkipped   ReminderStatus = "skipped"
	ReminderExpired   ReminderStatus = "expired"
	ReminderCancelled ReminderStatus = "cancelled"
	ReminderFailed    ReminderStatus = "failed"
)

// ReminderSource is what a reminder occurrence was derived from.
type ReminderSource string

// Reminder sources: a session (SourceID is the session's id), a plan
// (SourceID is the plan's id) or the patient's daily routine (no SourceID).
const (
	SourceSession ReminderSource = "session"
	SourcePlan    ReminderSource = "plan"
	SourceDaily   ReminderSource = "daily"
	// SourceClinic is a notice of a clinic's change; a re-plan keeps it.
	SourceClinic ReminderSource = "clinic"
)

// Variants tell apart the occurrences one source has of one kind.
const (
	VariantUpcomingDayBefore = "24h"
	VariantUpcomingHours     = "2h"
	VariantHydrationAtEnd    = "0h"
	VariantHydration2h       = "2h"
	VariantHydration4h       = "4h"
	VariantHeatIceDay1       = "day1"
	VariantHeatIceDay2       = "day2"
	VariantSoreness24h       = "24h"
	VariantSoreness48h       = "48h"
	VariantCarePlan          = "plan"
	VariantCareSession       = "session"
)

// Reminder limits.
const (
	// MaxAttempts bounds how often a dispatcher tries to send one reminder.
	MaxAttempts = 5
	// MinSnooze and MaxSnooze bound a snooze: shorter is a double tap, and
	// longer is better served by the next occurrence.
	MinSnooze = 15 * time.Minute
	MaxSnooze = 4 * time.Hour
)

// Reminder is one occurrence of a reminder kind for one patient.
type Reminder struct {
	// ID is derived from DedupeKey (see SetKey): materializing an occurrence
	// twice writes the same document, and a resend after a crash carries the
	// same id as FCM collapse key, so it replaces the first push on the phone.
	ID        string         `bson:"_id"`
	PatientID string         `bson:"patient_id"`
	Kind      ReminderKind   `bson:"kind"`
	Source    ReminderSource `bson:"source"`
	// SourceID is the session's or plan's id; empty for daily kinds.
	SourceID string `bson:"source_id"`
	// Variant tells apart occurrences of one kind from one source on one
	// date, such as the 24 h and 2 h session_upcoming; empty when there is one.
	Variant string `bson:"variant"`
	// LocalDate is the patient's date ("YYYY-MM-DD") the occurrence belongs to.
	LocalDate string    `bson:"local_date"`
	DueAt     time.Time `bson:"due_at"`
	// ExpiresAt is when sending becomes pointless: after downtime a stale
	// reminder expires instead of arriving late and in a burst.
	ExpiresAt  time.Time      `bson:"expires_at"`
	Status     ReminderStatus `bson:"status"`
	LeaseToken string         `bson:"lease_token,omitempty"`
	LeaseUntil *time.Time     `bson:"lease_until,omitempty"`
	Attempts   int            `bson:"attempts"`
	DedupeKey  string         `bson:"dedupe_key"`
	SentAt     *time.Time     `bson:"sent_at,omitempty"`
	// AckedAt is when the patient said they did it: adherence data.
	AckedAt *time.Time `bson:"acked_at,omitempty"`
	// SnoozedFrom is the due time before the first snooze.
	SnoozedFrom *time.Time `bson:"snoozed_from,omitempty"`
	LastError   string     `bson:"last_error,omitempty"`
	CreatedAt   time.Time  `bson:"created_at"`
	UpdatedAt   time.Time  `bson:"updated_at"`
	// Version: see PainLog.Version. The dispatcher's writes advance it
	// too, so a patient's change and a dispatcher's take turns.
	Version int64 `bson:"version,omitempty"`
}

// SetKey sets DedupeKey to patient|kind|source id|variant|local date and ID
// to the hex of the first 16 bytes of its SHA-256, so the same occurrence
// always gets the same id. The parts are ids the server generates and fixed
// names, none of which contains "|", so distinct occurrences cannot collide.
func (r *Reminder) SetKey() {
	r.DedupeKey = strings.Join([]string{r.PatientID, string(r.Kind), r.SourceID, r.Variant, r.LocalDate}, "|")
	sum := sha256.Sum256([]byte(r.DedupeKey))
	r.ID = hex.EncodeToString(sum[:16])
}

// Snooze returns r due again d after now. Only a pending or sent reminder
// that is not done yet can be snoozed, for MinSnooze to MaxSnooze, and only
// to a time before it expires. The snoozed reminder is a fresh delivery: its
// attempts and last error start over, and SnoozedFrom keeps the original due
// time across repeated snoozes.
func (r Reminder) Snooze(d time.Duration, now time.Time) (Reminder, error) {
	switch {
	case r.AckedAt != nil:
		return r, Errorf(ErrConflict, "the reminder is already done")
	case r.Status != ReminderPending && r.Status != ReminderSent:
		return r, Errorf(ErrConflict, "cannot snooze the reminder: its status is %s", r.Status)
	}
	due := now.Add(d)
	var probs Problems
	switch {
	case d < MinSnooze || d > MaxSnooze:
		probs.Add("minutes", "must be from %d to %d", int(MinSnooze.Minutes()), int(MaxSnooze.Minutes()))
	case !due.Before(r.ExpiresAt):
		probs.Add("minutes", "would be past the reminder's useful life: it expires at %s", r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := probs.Err(); err != nil {
		return r, err
	}
	if r.SnoozedFrom == nil {
		from := r.DueAt
		r.SnoozedFrom = &from
	}
	r.Status = ReminderPending
	r.DueAt = due
	r.Attempts = 0
	r.LastError = ""
	r.LeaseToken = ""
	r.LeaseUntil = nil
	r.UpdatedAt = now
	return r, nil
}

// MarkDone records that the patient did what r asks, and reports whether r
// changed: acknowledging twice keeps the first time. Acknowledgements are
// adherence data, so any status is accepted (an expired or failed push does
// not mean the patient skipped the heat pack) except cancelled, whose reason
// is gone. A pending reminder acknowledged before it was sent becomes
// skipped, so it is not sent; a claimed one is the dispatcher's, under its
// lease, and keeps its status.
func (r Reminder) MarkDone(now time.Time) (Reminder, bool, error) {
	if r.AckedAt != nil {
		return r, false, nil
	}
	if r.Status == ReminderCancelled {
		return r, false, Errorf(ErrConflict, "the reminder was cancelled")
	}
	r.AckedAt = &now
	if r.Status == ReminderPending {
		r.Status = ReminderSkipped
	}
	r.UpdatedAt = now
	return r, true, nil
}
