package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

func outboxMail(to string) models.Mail {
	return models.Mail{Kind: models.MailPasswordReset, To: to, Subject: "Reset your BackCare password",
		Text: "https://app.example/reset?t=secret 123456", HTML: "<p>secret</p>"}
}

// enqueue queues m, which has an id, and returns it as stored.
func enqueue(t *testing.T, s *store.Store, m models.Mail, now time.Time) models.Mail {
	t.Helper()
	if err := s.EnqueueMail(context.Background(), m, now); err != nil {
		t.Fatal(err)
	}
	got, err := s.Mail(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOutboxEnqueueClaimAndRecordSent(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

	if err := s.EnqueueMail(ctx, outboxMail("jane@example.com"), t0); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDueMails(ctx, t0, "lease-a", t0.Add(2*time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d (%v), want the queued mail", len(claimed), err)
	}
	m := claimed[0]
	if m.ID == "" || m.Status != models.MailSending || m.LeaseToken != "lease-a" || m.Version != 1 || !m.CreatedAt.Equal(t0) {
		t.Fatalf("claimed %+v", m)
	}
	if again, err := s.ClaimDueMails(ctx, t0.Add(time.Minute), "lease-b", t0.Add(3*time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("a mail under a live lease was claimed again: %d (%v)", len(again), err)
	}
	n, err := s.RecordMailOutcomes(ctx, "lease-a", []models.MailOutcome{{ID: m.ID, Version: m.Version, Status: models.MailSent, Attempted: true}}, t0.Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("recorded %d (%v)", n, err)
	}
	got, err := s.Mail(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != models.MailSent || got.SentAt == nil || got.FinishedAt == nil || got.Attempts != 1 || got.LeaseToken != "" || got.LeaseUntil != nil {
		t.Fatalf("after sending: %+v", got)
	}
	if got.Text != "" || got.HTML != "" || got.Subject == "" || got.To != "jane@example.com" {
		t.Fatalf("a sent mail keeps its body (text %q, html %q) or lost its header fields", got.Text, got.HTML)
	}
	if left, err := s.ClaimDueMails(ctx, t0.Add(time.Hour), "lease-c", t0.Add(time.Hour+time.Minute), 10); err != nil || len(left) != 0 {
		t.Fatalf("a sent mail was claimed: %d (%v)", len(left), err)
	}
}

func TestOutboxEnqueueRefusesAnInvalidOrDuplicateMail(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	bad := outboxMail("jane@example.com")
	bad.ToName = "Jane\r\nBcc: all@example.com"
	if err := s.EnqueueMail(ctx, bad, t0); models.ErrorCode(err) != models.ErrInvalid {
		t.Fatalf("a mail with a header in its name: %v, want invalid", err)
	}
	m := outboxMail("jane@example.com")
	m.ID = "reset-1"
	enqueue(t, s, m, t0)
	if err := s.EnqueueMail(ctx, m, t0); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("the same id twice: %v, want conflict", err)
	}
}

func TestOutboxRetryWaitsForItsTime(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	m := outboxMail("jane@example.com")
	m.ID = "retry-1"
	enqueue(t, s, m, t0)
	claimed, err := s.ClaimDueMails(ctx, t0, "lease-a", t0.Add(2*time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d (%v)", len(claimed), err)
	}
	retryAt := t0.Add(time.Minute)
	if _, err := s.RecordMailOutcomes(ctx, "lease-a", []models.MailOutcome{{ID: m.ID, Version: claimed[0].Version,
		Status: models.MailPending, NextAttemptAt: retryAt, Attempted: true, LastError: "451 try again"}}, t0); err != nil {
		t.Fatal(err)
	}
	if early, err := s.ClaimDueMails(ctx, retryAt.Add(-time.Second), "lease-b", retryAt.Add(time.Minute), 10); err != nil || len(early) != 0 {
		t.Fatalf("claimed %d before its retry time (%v)", len(early), err)
	}
	again, err := s.ClaimDueMails(ctx, retryAt, "lease-b", retryAt.Add(2*time.Minute), 10)
	if err != nil || len(again) != 1 {
		t.Fatalf("claimed %d at its retry time (%v)", len(again), err)
	}
	if got := again[0]; got.Attempts != 1 || got.LastError != "451 try again" || got.Text == "" {
		t.Fatalf("retried mail %+v", got)
	}
}

func TestOutboxExpiredLeaseIsTakenOverAndTheOldOwnerWritesNothing(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	m := outboxMail("jane@example.com")
	m.ID = "lease-1"
	enqueue(t, s, m, t0)
	dead, err := s.ClaimDueMails(ctx, t0, "lease-dead", t0.Add(2*time.Minute), 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claimed %d (%v)", len(dead), err)
	}
	live, err := s.ClaimDueMails(ctx, t0.Add(3*time.Minute), "lease-live", t0.Add(5*time.Minute), 10)
	if err != nil || len(live) != 1 || live[0].Version != dead[0].Version+1 {
		t.Fatalf("after the lease: claimed %+v (%v), want the mail taken over", live, err)
	}
	n, err := s.RecordMailOutcomes(ctx, "lease-dead", []models.MailOutcome{{ID: m.ID, Version: dead[0].Version, Status: models.MailSent, Attempted: true}}, t0.Add(4*time.Minute))
	if err != nil || n != 0 {
		t.Fatalf("the old owner wrote %d (%v), want nothing", n, err)
	}
	if got, _ := s.Mail(ctx, m.ID); got.Status != models.MailSending || got.LeaseToken != "lease-live" {
		t.Fatalf("after the old owner's write: %+v", got)
	}
	if n, err := s.RecordMailOutcomes(ctx, "lease-live", []models.MailOutcome{{ID: m.ID, Version: live[0].Version, Status: models.MailSent, Attempted: true}}, t0.Add(4*time.Minute)); err != nil || n != 1 {
		t.Fatalf("the new owner wrote %d (%v)", n, err)
	}
}

func TestOutboxDeletesFinishedMailsAfterAWeek(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"sent", "failed", "pending"} {
		m := outboxMail("jane@example.com")
		m.ID = id
		enqueue(t, s, m, t0)
	}
	claimed, err := s.ClaimDueMails(ctx, t0, "lease", t0.Add(2*time.Minute), 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claimed %d (%v)", len(claimed), err)
	}
	var outcomes []models.MailOutcome
	for _, m := range claimed {
		o := models.MailOutcome{ID: m.ID, Version: m.Version, Status: models.MailStatus(m.ID), Attempted: true}
		if m.ID == "pending" {
			o.NextAttemptAt = t0.Add(time.Hour)
		}
		outcomes = append(outcomes, o)
	}
	if _, err := s.RecordMailOutcomes(ctx, "lease", outcomes, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteOldMails(ctx, t0.Add(store.MailRetention-time.Minute)); err != nil || n != 0 {
		t.Fatalf("deleted %d before a week (%v)", n, err)
	}
	if n, err := s.DeleteOldMails(ctx, t0.Add(store.MailRetention+time.Minute)); err != nil || n != 2 {
		t.Fatalf("deleted %d after a week (%v), want the sent and the failed", n, err)
	}
	if _, err := s.Mail(ctx, "pending"); err != nil {
		t.Fatalf("a pending mail was deleted: %v", err)
	}
}
