package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

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

func TestCleanupRemovesDevicesNotSeenFor270Days(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	seen := map[string]time.Time{
		"boundary-kept": now.Add(-jobs.StaleDeviceAge),
		"recent-kept":   now.Add(-24 * time.Hour),
	}
	for i := range 5 {
		seen[fmt.Sprintf("stale-%d", i)] = now.Add(-jobs.StaleDeviceAge - time.Duration(i+1)*time.Hour)
	}
	for name, at := range seen {
		d := models.Device{PatientID: "p", Token: "token-" + name + "-xxxxxxxxxxxxxxxxxxxx", Platform: "android", AppVersion: "1", LastSeen: at}
		if _, _, err := s.UpsertDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	// A batch of two: five stale devices take three deletes, the last one short.
	job := jobs.NewCleanup(jobs.CleanupConfig{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: jobs.NewCleanupMetrics(reg), StaleDeviceBatch: 2})
	if err := job.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	left, err := s.ListDevices(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range left {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(d.Token, "token-"), "-xxxxxxxxxxxxxxxxxxxx"))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"boundary-kept", "recent-kept"}) {
		t.Fatalf("devices left %v, want only those seen within 270 days", names)
	}
	if got := cleanupDeleted(t, reg, "stale_devices"); got != 5 {
		t.Fatalf("backcare_cleanup_deleted_total{what=stale_devices} = %v, want 5", got)
	}
	if err := job.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := cleanupDeleted(t, reg, "stale_devices"); got != 5 {
		t.Fatalf("after a second run the count is %v, want still 5", got)
	}
}

// cleanupDeleted reads the cleanup counter for what from reg.
func cleanupDeleted(t *testing.T, reg *prometheus.Registry, what string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "backcare_cleanup_deleted_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "what" && l.GetValue() == what {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no backcare_cleanup_deleted_total{what=%q}", what)
	return 0
}

func TestCleanupRemovesExpiredLinkCodesAndInvitations(t *testing.T) {
	t.Parallel()
	db, ctx := storetest.NewDatabase(t), context.Background()
	s := storetest.New(db)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	// A code or invitation expiring at now can no longer be used at now
	// (models.LinkCode.Usable, models.Invitation.State), so it goes too.
	expiries := map[string]time.Time{"past": now.Add(-time.Minute), "boundary": now, "live": now.Add(time.Hour)}
	for name, expires := range expiries {
		_, locator, secret, err := models.NewLinkCode()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateLinkCode(ctx, models.LinkCode{ID: locator, SecretHash: secret, Direction: models.CodeFromPatient,
			Scope: models.ScopeView, PatientID: "p-" + name, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateInvitation(ctx, models.Invitation{ID: "inv-" + name, ClinicID: "c", Email: name + "@example.com",
			Role: models.RoleTherapist, TokenHash: "hash-" + name, InvitedBy: "owner", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	job := jobs.NewCleanup(jobs.CleanupConfig{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: jobs.NewCleanupMetrics(reg)})
	if err := job.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := cleanupDeleted(t, reg, "clinic_tokens"); got != 4 {
		t.Fatalf("backcare_cleanup_deleted_total{what=clinic_tokens} = %v, want 4 (two codes, two invitations)", got)
	}
	var left []string
	if err := db.Collection("link_codes").Distinct(ctx, "patient_id", bson.D{}).Decode(&left); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"p-live"}) {
		t.Fatalf("link codes left %v, want only the live one", left)
	}
	for name := range expiries {
		_, err := s.InvitationByTokenHash(ctx, "hash-"+name)
		switch {
		case name == "live" && err != nil:
			t.Fatalf("the live invitation was deleted: %v", err)
		case name != "live" && models.ErrorCode(err) != models.ErrNotFound:
			t.Fatalf("the %s invitation is still there: %v", name, err)
		}
	}
	if err := job.RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := cleanupDeleted(t, reg, "clinic_tokens"); got != 4 {
		t.Fatalf("after a second run the count is %v, want still 4", got)
	}
}
