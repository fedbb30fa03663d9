package models

import (
	"strings"
	"time"
	"unicode/utf8"
)

// SessionStatus is where a massage session stands.
type SessionStatus string

// Session statuses. Only a scheduled session can change; the others are final,
// except that a missed one can still be completed (see Complete).
const (
	SessionScheduled SessionStatus = "scheduled"
	SessionCompleted SessionStatus = "completed"
	SessionMissed    SessionStatus = "missed"
	SessionCancelled SessionStatus = "cancelled"
	// SessionNoShow is the clinic's record that the patient did not come:
	// unlike missed, which the patient says, only staff set it.
	SessionNoShow SessionStatus = "no_show"
)

// Session limits.
const (
	MinSessionMinutes = 60
	MaxSessionMinutes = 90
	// MaxSessionYearsAhead bounds booking: a date further out is a typo.
	MaxSessionYearsAhead = 2
	MaxPlaceLength       = 100
	MinPressureFelt      = 1
	MaxPressureFelt      = 5
	MaxSorenessAfter     = 10
)

// Session is one massage appointment.
type Session struct {
	ID        string `bson:"_id"`
	PatientID string `bson:"patient_id"`
	// PlanID is the plan the session belongs to; empty for one outside a plan.
	PlanID          string        `bson:"plan_id,omitempty"`
	ScheduledAt     time.Time     `bson:"scheduled_at"`
	DurationMinutes int           `bson:"duration_minutes"`
	Status          SessionStatus `bson:"status"`
	Therapist       string        `bson:"therapist,omitempty"`
	Clinic          string        `bson:"clinic,omitempty"`
	// ClinicID is set for a session the clinic booked: the clinic's
	// cancellation window then applies to the patient's changes.
	ClinicID string `bson:"clinic_id,omitempty"`
	// BookedBy is the staff member who booked it; empty for the patient.
	BookedBy    string           `bson:"booked_by,omitempty"`
	Feedback    *SessionFeedback `bson:"feedback,omitempty"`
	CompletedAt *time.Time       `bson:"completed_at,omitempty"`
	CreatedAt   time.Time        `bson:"created_at"`
	UpdatedAt   time.Time        `bson:"updated_at"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// SessionFeedback is how a completed session felt.
type SessionFeedback struct {
	// PressureFelt runs from 1 (too light) to 5 (too strong); 3 is right.
	PressureFelt int `bson:"pressure_felt"`
	// SorenessAfter is 0 (none) to 10 (worst imaginable), like a pain score.
	SorenessAfter int    `bson:"soreness_after"`
	Note          string `bson:"note,omitempty"`
}

// End returns when the session is over.
func (s Session) End() time.Time {
	return s.ScheduledAt.Add(time.Duration(s.DurationMinutes) * time.Minute)
}

// Validate checks the fields a patient sets when booking or editing a session.
func (s Session) Validate(now time.Time) error {
	var probs Problems
	checkScheduledAt(&probs, s.ScheduledAt, now)
	if s.DurationMinutes < MinSessionMinutes || s.DurationMinutes > MaxSessionMinutes {
		probs.Add("duration_minutes", "must be from %d to %d", MinSessionMinutes, MaxSessionMinutes)
	}
	checkShortName(&probs, "therapist", s.Therapist)
	checkShortName(&probs, "clinic", s.Clinic)
	if s.Feedback != nil {
		s.Feedback.validate(&probs)
	}
	return probs.Err()
}

func (f SessionFeedback) validate(probs *Problems) {
	if f.PressureFelt < MinPressureFelt || f.PressureFelt > MaxPressureFelt {
		probs.Add("feedback.pressure_felt", "must be a whole number from %d (too light) to %d (too strong)", MinPressureFelt, MaxPressureFelt)
	}
	if f.SorenessAfter < 0 || f.SorenessAfter > MaxSorenessAfter {
		probs.Add("feedback.soreness_after", "must be a whole number from 0 to %d", MaxSorenessAfter)
	}
	checkNoteText(probs, "feedback.note", f.Note, MaxNoteLength)
}

// Past sessions may be recorded, so only the future is bounded.
func checkScheduledAt(probs *Problems, at, now time.Time) {
	switch {
	case at.IsZero():
		probs.Add("scheduled_at", "is required")
	case at.After(now.AddDate(MaxSessionYearsAhead, 0, 0)):
		probs.Add("scheduled_at", "must be at most %d years ahead", MaxSessionYearsAhead)
	}
}

// checkShortName checks an optional one-line name such as a therapist's or a clinic's.
func checkShortName(probs *Problems, field, name string) {
	switch {
	case !utf8.ValidString(name):
		probs.Add(field, "must be valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxPlaceLength:
		probs.Add(field, "must be at most %d characters", MaxPlaceLength)
	case strings.ContainsFunc(name, isControl):
		probs.Add(field, "must not contain control characters")
	}
}

// Complete marks the session done at now with optional feedback. It reports
// changed=false, and no error, for a session that is already completed: a
// phone retrying the request must not start a second round of aftercare. A
// missed session can be completed, because the patient may tell the app
// after it was marked missed; a cancelled one cannot.
func (s *Session) Complete(now time.Time, feedback *SessionFeedback) (changed bool, err error) {
	switch s.Status {
	case SessionCompleted:
		return false, nil
	case SessionCancelled:
		return false, Errorf(ErrConflict, "a cancelled session cannot be completed")
	}
	var probs Problems
	if now.Before(s.ScheduledAt) {
		probs.Add("scheduled_at", "is in the future: a session can be completed once it has started")
	}
	if feedback != nil {
		feedback.validate(&probs)
	}
	if err := probs.Err(); err != nil {
		return false, err
	}
	s.Status = SessionCompleted
	s.Feedback = feedback
	s.CompletedAt = &now
	s.UpdatedAt = now
	return true, nil
}

// Cancel calls off a scheduled session.
func (s *Session) Cancel(now time.Time) error {
	if err := s.mustBeScheduled("cancel"); err != nil {
		return err
	}
	s.Status = SessionCancelled
	s.UpdatedAt = now
	return nil
}

// MarkMissed records that a scheduled session did not happen; only once it
// was due to start.
func (s *Session) MarkMissed(now time.Time) error {
	if err := s.mustBeScheduled("mark as missed"); err != nil {
		return err
	}
	if now.Before(s.ScheduledAt) {
		return Problems{{Field: "scheduled_at", Message: "has not come yet: a session can be marked missed once its time has passed"}}.Err()
	}
	s.Status = SessionMissed
	s.UpdatedAt = now
	return nil
}

// MarkNoShow records that the patient did not come to a scheduled session,
// once its time has passed.
func (s *Session) MarkNoShow(now time.Time) error {
	if err := s.mustBeScheduled("mark as a no-show"); err != nil {
		return err
	}
	if now.Before(s.ScheduledAt) {
		return Problems{{Field: "scheduled_at", Message: "has not come yet: a session is a no-show once its time has passed"}}.Err()
	}
	s.Status = SessionNoShow
	s.UpdatedAt = now
	return nil
}

// Reschedule moves a scheduled session to at. The caller checks the new time
// against the patient's other sessions with CheckOverlap.
func (s *Session) Reschedule(at, now time.Time) error {
	if err := s.mustBeScheduled("reschedule"); err != nil {
		return err
	}
	var probs Problems
	checkScheduledAt(&probs, at, now)
	if err := probs.Err(); err != nil {
		return err
	}
	s.ScheduledAt = at
	s.UpdatedAt = now
	return nil
}

func (s *Session) mustBeScheduled(verb string) error {
	if s.Status != SessionScheduled {
		return Errorf(ErrConflict, "cannot %s the session: its status is %s", verb, s.Status)
	}
	return nil
}

// CheckOverlap refuses s, a new or rescheduled session, when it overlaps
// another scheduled or completed session of the same patient. Cancelled and
// missed sessions do not block the time, s does not overlap itself (others
// may hold its stored version), and back-to-back sessions do not overlap.
func CheckOverlap(s Session, others []Session) error {
	for _, o := range others {
		if o.ID == s.ID || o.PatientID != s.PatientID ||
			(o.Status != SessionScheduled && o.Status != SessionCompleted) {
			continue
		}
		if s.ScheduledAt.Before(o.End()) && o.ScheduledAt.Before(s.End()) {
			return &Error{
				Code:    ErrConflict,
				Message: "the session overlaps another of your sessions",
				Fields: []FieldError{{
					Field: "scheduled_at",
					Message: "overlaps your session from " + o.ScheduledAt.UTC().Format(time.RFC3339) +
						" to " + o.End().UTC().Format(time.RFC3339),
				}},
			}
		}
	}
	return nil
}

// SessionQuery selects a patient's sessions by start time.
type SessionQuery struct {
	PatientID string
	// PlanID, if set, keeps only that plan's sessions.
	PlanID   string
	From, To time.Time
	Limit    int
}
