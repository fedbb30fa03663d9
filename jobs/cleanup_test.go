package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func TestCleanupDeletesOnlyWhatExpired(t *testing.T) {
	s, ctx := storetest.NewStore(t), context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for hash, expires := range map[string]time.Time{"old": now.Add(-time.Minute), "live": now.Add(time.Hour)} {
		if err := s.CreateRefreshToken(ctx, models.RefreshToken{Hash: hash, PatientID: "p", FamilyID: "f", CreatedAt: now, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordLoginFailure(ctx, "a@example.com", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	job := jobs.NewCleanup(jobs.CleanupConfig{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := job.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RefreshTokenByHash(ctx, "old"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("expired token still there: %v", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, "live"); err != nil {
		t.Fatalf("live token deleted: %v", err)
	}
	if n, _, _ := s.LoginFailures(ctx, "a@example.com", now.Add(-time.Hour)); n != 0 {
		t.Fatalf("an ended failure window survived with %d failures", n)
	}
}
