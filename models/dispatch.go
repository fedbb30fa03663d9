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
}
