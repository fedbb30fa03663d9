package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func resetToken(account, hash string, now time.Time) models.AccountToken {
	return models.AccountToken{ID: models.AccountTokenID(models.PurposePasswordReset, models.AudiencePatient, account),
		TokenHash: hash, Purpose: models.PurposePasswordReset, Audience: models.AudiencePatient, AccountID: account,
		Email: account + "@example.com", CreatedAt: now, ExpiresAt: now.Add(models.ResetTTL)}
}

func TestAccountTokenReplacedAndSpentOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.PutAccountToken(ctx, resetToken("p1", "h1", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccountToken(ctx, resetToken("p1", "h2", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountTokenByHash(ctx, "h1"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("the replaced token is still found: %v", err)
	}
	cur, err := s.AccountTokenByHash(ctx, "h2")
	if err != nil || cur.Version != 1 {
		t.Fatalf("the newer token %+v (%v)", cur, err)
	}

	const racers = 6
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() { errs[i] = s.SpendAccountToken(ctx, cur, t0.Add(2*time.Minute)) })
	}
	wg.Wait()
	spent := 0
	for _, err := range errs {
		switch {
		case err == nil:
			spent++
		case !models.IsStale(err):
			t.Fatalf("spend: %v", err)
		}
	}
	if spent != 1 {
		t.Fatalf("%d spends of one token", spent)
	}
}

// TestWrongCodesCountedOnceEach races wrong codes: each counts, none is
// lost to another's write.
func TestWrongCodesCountedOnceEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.PutAccountToken(ctx, resetToken("p2", "h", t0)); err != nil {
		t.Fatal(err)
	}
	read, err := s.AccountTokenByHash(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := s.CountWrongCode(ctx, read); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.AccountTokenByHash(ctx, "h")
	if err != nil || got.Tries != 3 {
		t.Fatalf("tries %d after three wrong codes (%v)", got.Tries, err)
	}
}

func TestVerifyPatientEmailToATakenAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, p := range []models.Patient{
		models.NewPatient("p-a", "a@example.com", "A", "UTC", t0),
		models.NewPatient("p-b", "b@example.com", "B", "UTC", t0),
	} {
		if err := s.CreatePatient(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.VerifyPatientEmail(ctx, "p-a", "b@example.com", t0); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("verifying a taken address: %v", err)
	}
	if err := s.VerifyPatientEmail(ctx, "p-a", "c@example.com", t0); err != nil {
		t.Fatal(err)
	}
	p, err := s.PatientByID(ctx, "p-a")
	if err != nil || p.Email != "c@example.com" || p.EmailVerifiedAt == nil || !p.EmailVerifiedAt.Equal(t0) {
		t.Fatalf("patient after verifying %+v (%v)", p, err)
	}
}
