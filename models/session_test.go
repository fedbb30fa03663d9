package models_test

import (
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func scheduledAt(id, at string, minutes int, status models.SessionStatus) models.Session {
	return models.Session{
		ID: id, PatientID: "patient-1", PlanID: "plan-1",
		ScheduledAt: mustTime(at), DurationMinutes: minutes, Status: status,
	}
}

func TestSessionValidate(t *testing.T) {
	now := mustTime("2026-03-02T15:00:00Z")
	tests := []struct {
		name   string
		change func(*models.Session)
		want   string
	}{
		{"a 60-minute session next week", func(*models.Session) {}, ""},
		{"a 90-minute session with therapist, clinic and feedback", func(s *models.Session) {
			s.DurationMinutes, s.Therapist, s.Clinic = 90, "Ana Ruiz", "Bow Valley Massage"
			s.Feedback = &models.SessionFeedback{PressureFelt: 5, SorenessAfter: 0, Note: strings.Repeat("ü", 1000)}
		}, ""},
		{"a session in the past is recorded", func(s *models.Session) { s.ScheduledAt = now.AddDate(0, -3, 0) }, ""},
		{"exactly two years ahead", func(s *models.Session) { s.ScheduledAt = now.AddDate(2, 0, 0) }, ""},
		{"more than two years ahead", func(s *models.Session) { s.ScheduledAt = now.AddDate(2, 0, 0).Add(time.Minute) }, "invalid scheduled_at"},
		{"no time", func(s *models.Session) { s.ScheduledAt = time.Time{} }, "invalid scheduled_at"},
		{"59 minutes", func(s *models.Session) { s.DurationMinutes = 59 }, "invalid duration_minutes"},
		{"91 minutes", func(s *models.Session) { s.DurationMinutes = 91 }, "invalid duration_minutes"},
		{"a therapist's name over 100 characters", func(s *models.Session) { s.Therapist = strings.Repeat("a", 101) }, "invalid therapist"},
		{"a clinic with a line break", func(s *models.Session) { s.Clinic = "Bow\nValley" }, "invalid clinic"},
		{"feedback out of range", func(s *models.Session) {
			s.Feedback = &models.SessionFeedback{PressureFelt: 0, SorenessAfter: 11, Note: strings.Repeat("a", 1001)}
		}, "invalid feedback.pressure_felt feedback.soreness_after feedback.note"},
		{"pressure above 5 and negative soreness", func(s *models.Session) {
			s.Feedback = &models.SessionFeedback{PressureFelt: 6, SorenessAfter: -1}
		}, "invalid feedback.pressure_felt feedback.soreness_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduledAt("s1", "2026-03-09T17:00:00Z", 60, models.SessionScheduled)
			tt.change(&s)
			if got := codeAndFields(s.Validate(now)); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSessionComplete(t *testing.T) {
	start := "2026-03-02T17:00:00Z"
	earlier := &models.SessionFeedback{PressureFelt: 2, SorenessAfter: 6}
	feedback := &models.SessionFeedback{PressureFelt: 3, SorenessAfter: 4, Note: "right side tight"}
	tests := []struct {
		name        string
		status      models.SessionStatus
		now         string
		feedback    *models.SessionFeedback
		wantChanged bool
		wantErr     string
	}{
		{"right after it ended, with feedback", models.SessionScheduled, "2026-03-02T18:05:00Z", feedback, true, ""},
		{"from its start time on, without feedback", models.SessionScheduled, start, nil, true, ""},
		{"a missed session the patient did go to", models.SessionMissed, "2026-03-03T09:00:00Z", feedback, true, ""},
		{"a minute before it starts", models.SessionScheduled, "2026-03-02T16:59:00Z", nil, false, "invalid scheduled_at"},
		{"with bad feedback", models.SessionScheduled, "2026-03-02T18:05:00Z", &models.SessionFeedback{PressureFelt: 9}, false, "invalid feedback.pressure_felt"},
		{"already completed: reported, not repeated", models.SessionCompleted, "2026-03-02T19:00:00Z", feedback, false, ""},
		{"a cancelled session", models.SessionCancelled, "2026-03-02T18:05:00Z", nil, false, "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduledAt("s1", start, 60, tt.status)
			if tt.status == models.SessionCompleted {
				doneAt := mustTime("2026-03-02T18:00:00Z")
				s.CompletedAt, s.Feedback = &doneAt, earlier
			}
			before := s
			now := mustTime(tt.now)
			changed, err := s.Complete(now, tt.feedback)
			if changed != tt.wantChanged || codeAndFields(err) != tt.wantErr {
				t.Fatalf("Complete() = %v, %q; want %v, %q", changed, codeAndFields(err), tt.wantChanged, tt.wantErr)
			}
			if !changed {
				if s.Status != before.Status || s.Feedback != before.Feedback || s.CompletedAt != before.CompletedAt {
					t.Errorf("session changed: %+v", s)
				}
				return
			}
			if s.Status != models.SessionCompleted || s.CompletedAt == nil || !s.CompletedAt.Equal(now) ||
				s.Feedback != tt.feedback || !s.UpdatedAt.Equal(now) {
				t.Errorf("completed session = %+v", s)
			}
		})
	}
}

func TestSessionCancelMissReschedule(t *testing.T) {
	start := "2026-03-09T17:00:00Z"
	moveTo := mustTime("2026-03-10T17:00:00Z")
	actions := map[string]func(*models.Session, time.Time) error{
		"cancel":      (*models.Session).Cancel,
		"mark missed": (*models.Session).MarkMissed,
		"reschedule":  func(s *models.Session, now time.Time) error { return s.Reschedule(moveTo, now) },
		"reschedule three years out": func(s *models.Session, now time.Time) error {
			return s.Reschedule(now.AddDate(3, 0, 0), now)
		},
	}
	tests := []struct {
		action     string
		status     models.SessionStatus
		now        string
		want       string
		wantStatus models.SessionStatus
	}{
		{"cancel", models.SessionScheduled, "2026-03-02T15:00:00Z", "", models.SessionCancelled},
		{"cancel", models.SessionCompleted, "2026-03-10T15:00:00Z", "conflict", models.SessionCompleted},
		{"cancel", models.SessionCancelled, "2026-03-02T15:00:00Z", "conflict", models.SessionCancelled},
		{"mark missed", models.SessionScheduled, start, "", models.SessionMissed},
		{"mark missed", models.SessionScheduled, "2026-03-09T16:59:00Z", "invalid scheduled_at", models.SessionScheduled},
		{"mark missed", models.SessionMissed, "2026-03-10T15:00:00Z", "conflict", models.SessionMissed},
		{"mark missed", models.SessionCompleted, "2026-03-10T15:00:00Z", "conflict", models.SessionCompleted},
		{"reschedule", models.SessionScheduled, "2026-03-02T15:00:00Z", "", models.SessionScheduled},
		{"reschedule", models.SessionMissed, "2026-03-10T15:00:00Z", "conflict", models.SessionMissed},
		{"reschedule", models.SessionCancelled, "2026-03-02T15:00:00Z", "conflict", models.SessionCancelled},
		{"reschedule three years out", models.SessionScheduled, "2026-03-02T15:00:00Z", "invalid scheduled_at", models.SessionScheduled},
	}
	for _, tt := range tests {
		t.Run(tt.action+" a "+string(tt.status)+" session at "+tt.now, func(t *testing.T) {
			s := scheduledAt("s1", start, 60, tt.status)
			now := mustTime(tt.now)
			if got := codeAndFields(actions[tt.action](&s, now)); got != tt.want {
				t.Fatalf("%s = %q, want %q", tt.action, got, tt.want)
			}
			if s.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", s.Status, tt.wantStatus)
			}
			wantAt := mustTime(start)
			if tt.action == "reschedule" && tt.want == "" {
				wantAt = moveTo
			}
			if !s.ScheduledAt.Equal(wantAt) {
				t.Errorf("scheduled at %s, want %s", s.ScheduledAt, wantAt)
			}
			if changed := tt.want == ""; changed != s.UpdatedAt.Equal(now) {
				t.Errorf("updated at %s after %q", s.UpdatedAt, tt.want)
			}
		})
	}
}

func TestCheckOverlap(t *testing.T) {
	// The new session runs 10:00–11:00 UTC.
	s := scheduledAt("new", "2026-03-09T10:00:00Z", 60, models.SessionScheduled)
	otherPatient := scheduledAt("o", "2026-03-09T10:30:00Z", 60, models.SessionScheduled)
	otherPatient.PatientID = "patient-2"
	tests := []struct {
		name  string
		other models.Session
		want  string
	}{
		{"a scheduled one starting inside it", scheduledAt("o", "2026-03-09T10:30:00Z", 60, models.SessionScheduled), "conflict scheduled_at"},
		{"a 90-minute one that ends inside it", scheduledAt("o", "2026-03-09T08:45:00Z", 90, models.SessionScheduled), "conflict scheduled_at"},
		{"a completed one at the same time", scheduledAt("o", "2026-03-09T10:00:00Z", 60, models.SessionCompleted), "conflict scheduled_at"},
		{"one that ends as it starts", scheduledAt("o", "2026-03-09T09:00:00Z", 60, models.SessionScheduled), ""},
		{"one that starts as it ends", scheduledAt("o", "2026-03-09T11:00:00Z", 60, models.SessionScheduled), ""},
		{"a cancelled one at the same time", scheduledAt("o", "2026-03-09T10:00:00Z", 60, models.SessionCancelled), ""},
		{"a missed one at the same time", scheduledAt("o", "2026-03-09T10:00:00Z", 60, models.SessionMissed), ""},
		{"its own stored version, before rescheduling", scheduledAt("new", "2026-03-09T10:30:00Z", 60, models.SessionScheduled), ""},
		{"another patient's", otherPatient, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codeAndFields(models.CheckOverlap(s, []models.Session{tt.other})); got != tt.want {
				t.Errorf("CheckOverlap() = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("the message names the other session's time", func(t *testing.T) {
		err := models.CheckOverlap(s, []models.Session{scheduledAt("o", "2026-03-09T10:30:00Z", 60, models.SessionScheduled)})
		want := "overlaps your session from 2026-03-09T10:30:00Z to 2026-03-09T11:30:00Z"
		if f := models.FieldsOf(err); len(f) != 1 || f[0].Message != want {
			t.Errorf("fields = %+v, want %q", f, want)
		}
	})
}
