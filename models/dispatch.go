package models

import "time"

// ReminderQuery selects a patient's reminders by due time.
type ReminderQuery struct {
	PatientID string
	From, To  time.Time
	Limit     int
}

// ReminderOutcome is what a dispatcher decided for one claimed reminder.
type ReminderOutcome struct {
	ID     string
	Status ReminderStatus
	// DueAt moves a reminder that goes back to pending (a retry, quiet
	// hours); zero leaves it.
	DueAt time.Time
	// Attempted counts one more delivery attempt.
	Attempted bool
	SentAt    *time.Time
	LastError string
	// Version and AckedAt are the reminder as the dispatcher claimed it,
	// when it knows (Version 0: it does not): the store can then take the
	// reminder's next move without reading it again first.
	Version int64
	AckedAt *time.Time
}

// AfterDone returns o for a reminder the patient marked done while it was
// being sent: one that was to be tried again is skipped instead, since the
// patient has already done what it asks.
func (o ReminderOutcome) AfterDone() ReminderOutcome {
	if o.Status == ReminderPending {
		o.Status = ReminderSkipped
		o.DueAt = time.Time{}
	}
	return o
}
