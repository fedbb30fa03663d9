package models_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func keyed(r models.Reminder) models.Reminder {
	r.SetKey()
	return r
}

func TestReminderSetKey(t *testing.T) {
	base := models.Reminder{
		PatientID: "patient-1", Kind: models.KindSessionUpcoming, Source: models.SourceSession,
		SourceID: "session-1", Variant: models.VariantUpcomingDayBefore, LocalDate: "2026-03-07",
	}
	r := keyed(base)
	if want := "patient-1|session_upcoming|session-1|24h|2026-03-07"; r.DedupeKey != want {
		t.Errorf("DedupeKey = %q, want %q", r.DedupeKey, want)
	}
	sum := sha256.Sum256([]byte(r.DedupeKey))
	if want := hex.EncodeToString(sum[:16]); r.ID != want {
		t.Errorf("ID = %q, want %q", r.ID, want)
	}
	// The due time is not part of the key: a moved occurrence is the same one.
	moved := base
	moved.DueAt = mustTime("2026-03-07T20:00:00Z")
	if keyed(moved).ID != r.ID {
		t.Error("the due time changed the id")
	}
	others := map[string]func(*models.Reminder){
		"patient": func(r *models.Reminder) { r.PatientID = "patient-2" },
		"kind":    func(r *models.Reminder) { r.Kind = models.KindHydrationBefore },
		"source":  func(r *models.Reminder) { r.SourceID = "session-2" },
		"variant": func(r *models.Reminder) { r.Variant = models.VariantUpcomingHours },
		"date":    func(r *models.Reminder) { r.LocalDate = "2026-03-08" },
	}
	for name, change := range others {
		o := base
		change(&o)
		if keyed(o).ID == r.ID {
			t.Errorf("a different %s gave the same id", name)
		}
	}
}

func TestReminderSnooze(t *testing.T) {
	now := mustTime("2026-06-10T17:00:00Z")
	due := mustTime("2026-06-10T16:30:00Z")
	earlier := mustTime("2026-06-10T15:00:00Z")
	lease := mustTime("2026-06-10T16:31:00Z")
	base := models.Reminder{
		Kind: models.KindDailyCheckin, Status: models.ReminderSent, DueAt: due,
		ExpiresAt: mustTime("2026-06-10T22:00:00Z"), Attempts: 2, LastError: "UNAVAILABLE",
		LeaseToken: "lease-1", LeaseUntil: &lease,
	}
	tests := []struct {
		name        string
		change      func(*models.Reminder)
		d           time.Duration
		wantErr     string
		wantDue     string
		wantSnoozed string
	}{
		{"a sent reminder", nil, 30 * time.Minute, "", "2026-06-10T17:30:00Z", "2026-06-10T16:30:00Z"},
		{"a pending reminder", func(r *models.Reminder) { r.Status = models.ReminderPending }, time.Hour, "", "2026-06-10T18:00:00Z", "2026-06-10T16:30:00Z"},
		{"again: keeps the original due time", func(r *models.Reminder) { r.SnoozedFrom = &earlier }, 15 * time.Minute, "", "2026-06-10T17:15:00Z", "2026-06-10T15:00:00Z"},
		{"the longest", nil, 4 * time.Hour, "", "2026-06-10T21:00:00Z", "2026-06-10T16:30:00Z"},
		{"too short", nil, 14 * time.Minute, "invalid minutes", "", ""},
		{"too long", nil, 4*time.Hour + time.Minute, "invalid minutes", "", ""},
		{"up to the expiry", func(r *models.Reminder) { r.ExpiresAt = mustTime("2026-06-10T17:30:00Z") }, 30 * time.Minute, "invalid minutes", "", ""},
		{"past the expiry", func(r *models.Reminder) { r.ExpiresAt = mustTime("2026-06-10T17:20:00Z") }, 30 * time.Minute, "invalid minutes", "", ""},
		{"already done", func(r *models.Reminder) { r.AckedAt = &now }, 30 * time.Minute, "conflict", "", ""},
		{"being sent", func(r *models.Reminder) { r.Status = models.ReminderClaimed }, 30 * time.Minute, "conflict", "", ""},
		{"skipped", func(r *models.Reminder) { r.Status = models.ReminderSkipped }, 30 * time.Minute, "conflict", "", ""},
		{"expired", func(r *models.Reminder) { r.Status = models.ReminderExpired }, 30 * time.Minute, "conflict", "", ""},
		{"cancelled", func(r *models.Reminder) { r.Status = models.ReminderCancelled }, 30 * time.Minute, "conflict", "", ""},
		{"failed", func(r *models.Reminder) { r.Status = models.ReminderFailed }, 30 * time.Minute, "conflict", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			if tt.change != nil {
				tt.change(&r)
			}
			before := r
			got, err := r.Snooze(tt.d, now)
			if code := codeAndFields(err); code != tt.wantErr {
				t.Fatalf("error = %q (%v), want %q", code, err, tt.wantErr)
			}
			if r != before {
				t.Error("Snooze changed its receiver")
			}
			if err != nil {
				return
			}
			if got.Status != models.ReminderPending || got.Attempts != 0 || got.LastError != "" ||
				got.LeaseToken != "" || got.LeaseUntil != nil || !got.UpdatedAt.Equal(now) {
				t.Errorf("not a fresh pending delivery: %+v", got)
			}
			if d := got.DueAt.UTC().Format(time.RFC3339); d != tt.wantDue {
				t.Errorf("DueAt = %s, want %s", d, tt.wantDue)
			}
			if s := got.SnoozedFrom.UTC().Format(time.RFC3339); s != tt.wantSnoozed {
				t.Errorf("SnoozedFrom = %s, want %s", s, tt.wantSnoozed)
			}
		})
	}
}

func TestReminderMarkDone(t *testing.T) {
	now := mustTime("2026-06-10T17:00:00Z")
	first := mustTime("2026-06-10T16:00:00Z")
	tests := []struct {
		status      models.ReminderStatus
		acked       *time.Time
		wantErr     string
		wantChanged bool
		wantStatus  models.ReminderStatus
		wantAcked   time.Time
	}{
		// Not sent yet: acknowledged early, so it is not sent at all.
		{models.ReminderPending, nil, "", true, models.ReminderSkipped, now},
		// The dispatcher holds the lease and records the outcome.
		{models.ReminderClaimed, nil, "", true, models.ReminderClaimed, now},
		{models.ReminderSent, nil, "", true, models.ReminderSent, now},
		{models.ReminderSkipped, nil, "", true, models.ReminderSkipped, now},
		{models.ReminderExpired, nil, "", true, models.ReminderExpired, now},
		{models.ReminderFailed, nil, "", true, models.ReminderFailed, now},
		{models.ReminderCancelled, nil, "conflict", false, models.ReminderCancelled, time.Time{}},
		{models.ReminderSent, &first, "", false, models.ReminderSent, first},
		{models.ReminderCancelled, &first, "", false, models.ReminderCancelled, first},
	}
	for _, tt := range tests {
		r := models.Reminder{Status: tt.status, AckedAt: tt.acked}
		got, changed, err := r.MarkDone(now)
		if code := codeAndFields(err); code != tt.wantErr {
			t.Errorf("%s: error = %q, want %q", tt.status, code, tt.wantErr)
		}
		if changed != tt.wantChanged || got.Status != tt.wantStatus {
			t.Errorf("%s: changed %v, status %s; want %v, %s", tt.status, changed, got.Status, tt.wantChanged, tt.wantStatus)
		}
		var acked time.Time
		if got.AckedAt != nil {
			acked = *got.AckedAt
		}
		if !acked.Equal(tt.wantAcked) {
			t.Errorf("%s: AckedAt = %v, want %v", tt.status, acked, tt.wantAcked)
		}
		if r.AckedAt != tt.acked {
			t.Errorf("%s: MarkDone changed its receiver", tt.status)
		}
	}
}
