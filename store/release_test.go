package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

// TestReleasedClaimsCanBeClaimedAtOnce: a dispatcher that stops after
// claiming gives back what it did not send; another claims those in the same
// lease window, while what it kept stays its own.
func TestReleasedClaimsCanBeClaimedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	now := time.Date(2026, 11, 23, 12, 0, 30, 0, time.UTC)
	var rs []models.Reminder
	for i := range 3 {
		r := models.Reminder{
			PatientID: fmt.Sprintf("p%d", i), Kind: models.KindStretching, Source: models.SourceDaily,
			LocalDate: "2026-11-23", DueAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour),
			Status: models.ReminderPending, CreatedAt: now, UpdatedAt: now,
		}
		r.SetKey()
		rs = append(rs, r)
	}
	if _, err := s.UpsertReminders(ctx, rs); err != nil {
		t.Fatal(err)
	}
	leaseUntil := now.Add(2 * time.Minute)
	claimed, err := s.ClaimDue(ctx, now, "lease-a", leaseUntil, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("first claim: %d, %v", len(claimed), err)
	}
	give := []string{rs[0].ID, rs[1].ID}

	if n, err := s.ReleaseClaims(ctx, "lease-other", give, now); err != nil || n != 0 {
		t.Fatalf("a stranger's lease released %d (%v), want 0", n, err)
	}
	if n, err := s.ReleaseClaims(ctx, "lease-a", give, now); err != nil || n != 2 {
		t.Fatalf("released %d (%v), want 2", n, err)
	}
	for _, want := range rs[:2] {
		r, err := s.Reminder(ctx, want.PatientID, want.ID)
		if err != nil || r.Status != models.ReminderPending || r.LeaseToken != "" || r.LeaseUntil != nil || !r.DueAt.Equal(want.DueAt) {
			t.Fatalf("released reminder %+v (%v), want pending without a lease at its due time", r, err)
		}
	}

	// Same instant, same lease window: only the released ones are free.
	again, err := s.ClaimDue(ctx, now.Add(time.Second), "lease-b", leaseUntil.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range again {
		got[r.ID] = true
	}
	if len(again) != 2 || !got[give[0]] || !got[give[1]] {
		t.Fatalf("second claim took %v, want exactly the released %v", got, give)
	}
	kept, err := s.Reminder(ctx, rs[2].PatientID, rs[2].ID)
	if err != nil || kept.Status != models.ReminderClaimed || kept.LeaseToken != "lease-a" {
		t.Fatalf("the reminder not released: %+v (%v), want still claimed under lease-a", kept, err)
	}
}
