package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func TestWebSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ann := models.Staff{ID: "st-ann", ClinicID: "c1"}
	bo := models.Staff{ID: "st-bo", ClinicID: "c1"}
	annDesk, annTablet, boDesk := models.NewWebSession(ann, "h-ann-1", "x", t0), models.NewWebSession(ann, "h-ann-2", "y", t0), models.NewWebSession(bo, "h-bo", "z", t0)
	for _, ws := range []models.WebSession{annDesk, annTablet, boDesk} {
		if err := s.CreateWebSession(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateWebSession(ctx, annDesk); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("the same token hash twice: %v", err)
	}

	annDesk.Touch(t0.Add(3 * time.Hour))
	if err := s.TouchWebSession(ctx, annDesk); err != nil {
		t.Fatal(err)
	}
	got, err := s.WebSession(ctx, annDesk.ID)
	if err != nil || !got.LastSeen.Equal(t0.Add(3*time.Hour)) || !got.ExpiresAt.Equal(t0.Add(15*time.Hour)) || got.CSRF != "x" || got.StaffID != ann.ID {
		t.Fatalf("touched session %+v (%v)", got, err)
	}

	// Deactivating Ann ends both of her sessions and none of Bo's.
	if err := s.SignOutStaff(ctx, ann.ID, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{annDesk.ID: models.ErrNotFound, annTablet.ID: models.ErrNotFound, boDesk.ID: ""} {
		if _, err := s.WebSession(ctx, id); (want == "" && err != nil) || (want != "" && models.ErrorCode(err) != want) {
			t.Errorf("session %s after signing Ann out: %v, want %q", id, err, want)
		}
	}
	// A touch racing the sign-out does not bring the session back.
	if err := s.TouchWebSession(ctx, annTablet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, annTablet.ID); models.ErrorCode(err) != models.ErrNotFound {
		t.Errorf("a touch after sign-out: %v", err)
	}

	// The clean-up removes Bo's once it has idled out, and sign-out removes one.
	if err := s.CreateWebSession(ctx, models.NewWebSession(bo, "h-bo-2", "w", t0.Add(20*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExpiredClinicTokens(ctx, t0.Add(models.WebSessionIdle)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, boDesk.ID); models.ErrorCode(err) != models.ErrNotFound {
		t.Errorf("an idle session survived the clean-up: %v", err)
	}
	if err := s.DeleteWebSession(ctx, "h-bo-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, "h-bo-2"); models.ErrorCode(err) != models.ErrNotFound {
		t.Errorf("a signed-out session: %v", err)
	}
}
