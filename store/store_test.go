package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func entry(patient, id string, at time.Time, score int) models.PainLog {
	return models.PainLog{
		ID: models.PainLogDocID(patient, id), PatientID: patient, LoggedAt: at, LocalDate: at.Format(time.DateOnly),
		Score: score, CreatedAt: t0, UpdatedAt: t0,
	}
}

func TestPutPainLogCreatesOnceAndRefusesTombstones(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	l := entry("p1", "a", t0.Add(-time.Hour), 4)
	if _, created, err := s.PutPainLog(ctx, l); err != nil || !created {
		t.Fatalf("first put: created=%v err=%v", created, err)
	}
	l.Score, l.UpdatedAt = 6, t0.Add(time.Minute)
	l.CreatedAt = t0.Add(time.Minute)
	stored, created, err := s.PutPainLog(ctx, l)
	if err != nil || created || stored.Score != 6 || !stored.CreatedAt.Equal(t0) {
		t.Fatalf("second put: %+v created=%v err=%v", stored, created, err)
	}
	if err := s.DeletePainLog(ctx, "p1", "a", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutPainLog(ctx, l); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("put over a tombstone: %v, want conflict", err)
	}
	if _, err := s.PainLog(ctx, "p1", "a"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("get a tombstone: %v, want not found", err)
	}
	if err := s.DeletePainLog(ctx, "p1", "missing", t0); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("delete of nothing: %v, want not found", err)
	}
}

func TestUpdatePainLogDetectsConcurrentEdits(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	l := entry("p1", "a", t0.Add(-time.Hour), 4)
	if _, _, err := s.PutPainLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	first := l
	first.Score, first.UpdatedAt = 5, t0.Add(time.Second)
	written, err := s.UpdatePainLog(ctx, first)
	if err != nil || written.Version != 1 {
		t.Fatalf("first edit: version %d, %v", written.Version, err)
	}
	second := l
	second.Score, second.UpdatedAt = 1, t0.Add(2*time.Second)
	if _, err := s.UpdatePainLog(ctx, second); models.ErrorCode(err) != models.ErrConflict || !models.IsStale(err) {
		t.Fatalf("an edit of a version no longer current: %v, want a stale conflict", err)
	}
}

func TestPagingVisitsEveryEntryOnce(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	// Pairs share a logged_at, so the cursor must break ties by id.
	for i := 0; i < 7; i++ {
		l := entry("p1", fmt.Sprintf("e%d", i), t0.Add(-time.Duration(i/2)*time.Hour), i)
		l.UpdatedAt = t0.Add(time.Duration(i/3) * time.Second)
		if _, _, err := s.PutPainLog(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.PutPainLog(ctx, entry("p2", "e0", t0, 9)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var after *models.PainLogCursor
	for pages := 0; ; pages++ {
		logs, next, err := s.ListPainLogs(ctx, models.PainLogQuery{PatientID: "p1", After: after, Limit: 2})
		if err != nil || pages > 10 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, l := range logs {
			seen[l.ID]++
		}
		if next == nil {
			break
		}
		after = next
	}
	if len(seen) != 7 {
		t.Fatalf("listing saw %d entries, want 7: %v", len(seen), seen)
	}
	synced := map[string]int{}
	after = nil
	for pages := 0; ; pages++ {
		logs, next, err := s.PainLogChanges(ctx, models.SyncQuery{PatientID: "p1", Since: t0, After: after, Limit: 3})
		if err != nil || pages > 10 {
			t.Fatalf("sync page %d: %v", pages, err)
		}
		for _, l := range logs {
			synced[l.ID]++
		}
		if next == nil {
			break
		}
		after = next
	}
	for id, n := range synced {
		if n != 1 {
			t.Fatalf("sync sent %s %d times", id, n)
		}
	}
	if len(synced) != 7 {
		t.Fatalf("sync saw %d entries, want 7", len(synced))
	}
}

func TestRefreshTokenIsUsedOnce(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	for _, h := range []string{"h1", "h2"} {
		if err := s.CreateRefreshToken(ctx, models.RefreshToken{Hash: h, PatientID: "p1", FamilyID: "f1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UseRefreshToken(ctx, "h1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefreshToken(ctx, "h1", t0); models.ErrorCode(err) != models.ErrUnauthorized {
		t.Fatalf("reuse: %v, want unauthorized", err)
	}
	if _, err := s.UseRefreshToken(ctx, "h2", t0); models.ErrorCode(err) != models.ErrUnauthorized {
		t.Fatalf("a sibling after reuse: %v, want unauthorized (family revoked)", err)
	}
	n, err := s.DeleteExpiredRefreshTokens(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("cleanup deleted %d (%v), want 2", n, err)
	}
}

func TestLoginFailureWindows(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	for i := 1; i <= 3; i++ {
		n, err := s.RecordLoginFailure(ctx, "A@example.com", t0.Add(time.Duration(i)*time.Minute))
		if err != nil || n != i {
			t.Fatalf("failure %d counted as %d (%v)", i, n, err)
		}
	}
	n, end, err := s.LoginFailures(ctx, "a@example.com", t0.Add(5*time.Minute))
	if err != nil || n != 3 || !end.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("failures %d until %v (%v)", n, end, err)
	}
	if n, _, _ := s.LoginFailures(ctx, "a@example.com", t0.Add(16*time.Minute)); n != 0 {
		t.Fatalf("a new window starts at %d failures", n)
	}
	if removed, err := s.DeleteExpiredLoginWindows(ctx, t0.Add(16*time.Minute)); err != nil || removed != 1 {
		t.Fatalf("cleanup removed %d (%v)", removed, err)
	}
}

func TestDeviceTokenMovesBetweenPatients(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	d := models.Device{PatientID: "p1", Token: "tok-123", Platform: "ios", AppVersion: "1", LastSeen: t0}
	if _, moved, err := s.UpsertDevice(ctx, d); err != nil || moved != "" {
		t.Fatalf("register: moved=%q err=%v", moved, err)
	}
	d.PatientID, d.LastSeen = "p2", t0.Add(time.Hour)
	stored, moved, err := s.UpsertDevice(ctx, d)
	if err != nil || moved != "p1" || !stored.CreatedAt.Equal(t0) {
		t.Fatalf("move: %+v moved=%q err=%v", stored, moved, err)
	}
	if list, _ := s.ListDevices(ctx, "p1"); len(list) != 0 {
		t.Fatalf("p1 still has %d devices", len(list))
	}
	if list, _ := s.ListDevices(ctx, "p2"); len(list) != 1 {
		t.Fatalf("p2 has %d devices", len(list))
	}
}
