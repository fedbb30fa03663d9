package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

// The write-marker tests run on the embedded engine, or on the MongoDB
// named by MONGODB_URI: both must decide each race the same way.

func logEngine(t *testing.T) {
	t.Helper()
	if storetest.Embedded() {
		t.Log("engine: embedded (FerretDB 1.24 on SQLite); set MONGODB_URI to run on MongoDB")
	} else {
		t.Log("engine: MongoDB at MONGODB_URI")
	}
}

// storeAt returns a store over db whose clock stands at at: a process
// started at that time.
func storeAt(db *mongo.Database, at time.Time) *store.Store {
	opts := []store.Option{store.WithClock(func() time.Time { return at })}
	if storetest.Embedded() {
		opts = append(opts, store.WithWriteBatch(store.EmbeddedWriteBatch))
	}
	return store.New(db, opts...)
}

// together runs f(0..n-1) on goroutines released at the same moment and
// returns their errors.
func together(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// rounds is how often each race below is run.
const rounds = 10

func TestOneWriterWinsEachVersion(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	const writers = 4
	for round := range rounds {
		l := entry("p1", fmt.Sprintf("e%d", round), t0.Add(-time.Hour), 0)
		if _, _, err := s.PutPainLog(ctx, l); err != nil {
			t.Fatal(err)
		}
		errs := together(writers, func(i int) error {
			edit := l
			edit.Score = i + 1
			_, err := s.UpdatePainLog(ctx, edit)
			return err
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both changed version 0", round, winner, i)
			case err == nil:
				winner = i
			case !models.IsStale(err):
				t.Fatalf("round %d: writer %d: %v, want a stale conflict", round, i, err)
			}
		}
		got, err := s.PainLog(ctx, "p1", fmt.Sprintf("e%d", round))
		if err != nil {
			t.Fatal(err)
		}
		if winner < 0 || got.Score != winner+1 || got.Version != 1 {
			t.Fatalf("round %d: winner %d, stored score %d at version %d", round, winner, got.Score, got.Version)
		}
	}
}

func TestARefreshTokenIsSpentOnce(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	const racers = 4
	for round := range rounds {
		hash, family := fmt.Sprintf("h%d", round), fmt.Sprintf("f%d", round)
		if err := s.CreateRefreshToken(ctx, models.RefreshToken{Hash: hash, PatientID: "p", FamilyID: family, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		errs := together(racers, func(int) error { _, err := s.UseRefreshToken(ctx, hash, t0); return err })
		spent := 0
		for _, err := range errs {
			switch code := models.ErrorCode(err); {
			case err == nil:
				spent++
			case code != models.ErrUnauthorized:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if spent != 1 {
			t.Fatalf("round %d: the token was spent %d times", round, spent)
		}
		// The others were replays: the family is revoked, and so is a
		// child made into it after the revocation began.
		child := models.RefreshToken{Hash: hash + "-child", PatientID: "p", FamilyID: family, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateRefreshToken(ctx, child); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RefreshTokenByHash(ctx, child.Hash); err != nil || got.RevokedAt == nil {
			t.Fatalf("round %d: a child made into a revoked family lives: %+v, %v", round, got, err)
		}
	}
}

// errCrash stands for the process dying between a marker and its write.
var errCrash = errors.New("crashed after the marker")

func TestAWriterThatDiedAfterItsMarkerBlocksOnlyUntilTheLease(t *testing.T) {
	logEngine(t)
	db, ctx := storetest.NewDatabase(t), context.Background()
	crashed := storeAt(db, t0)
	store.SetAfterMarkers(crashed, func([]string) error { return errCrash })
	l := entry("p1", "a", t0.Add(-time.Hour), 4)
	if _, _, err := crashed.PutPainLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	edit := l
	edit.Score = 9
	if _, err := crashed.UpdatePainLog(ctx, edit); !errors.Is(err, errCrash) {
		t.Fatalf("the crashing edit: %v", err)
	}

	// A restarted process, within the lease: the marker's owner might
	// still be writing.
	restarted := storeAt(db, t0.Add(30*time.Second))
	edit.Score = 7
	if _, err := restarted.UpdatePainLog(ctx, edit); !models.IsStale(err) {
		t.Fatalf("an edit while the dead writer's marker is within its lease: %v, want a stale conflict", err)
	}
	if got, _ := restarted.PainLog(ctx, "p1", "a"); got.Score != 4 || got.Version != 0 {
		t.Fatalf("the document changed: %+v", got)
	}

	// Past the lease, the document is provably still at version 0: the
	// next edit takes over, once.
	later := storeAt(db, t0.Add(121*time.Second))
	errs := together(3, func(i int) error {
		e := edit
		e.Score = i
		_, err := later.UpdatePainLog(ctx, e)
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !models.IsStale(err) {
			t.Fatal(err)
		}
	}
	got, err := later.PainLog(ctx, "p1", "a")
	if err != nil || won != 1 || got.Version != 1 {
		t.Fatalf("after the lease: %d edits took over, stored %+v, %v", won, got, err)
	}
	// And the version after works as ever.
	got.Note = "fine"
	if _, err := later.UpdatePainLog(ctx, got); err != nil {
		t.Fatalf("the next edit: %v", err)
	}
}

func TestATokenWhoseSpendDiedCanBeSpentAfterTheLease(t *testing.T) {
	logEngine(t)
	db, ctx := storetest.NewDatabase(t), context.Background()
	crashed := storeAt(db, t0)
	store.SetAfterMarkers(crashed, func([]string) error { return errCrash })
	if err := crashed.CreateRefreshToken(ctx, models.RefreshToken{Hash: "h", PatientID: "p", FamilyID: "f", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.UseRefreshToken(ctx, "h", t0); !errors.Is(err, errCrash) {
		t.Fatalf("the crashing refresh: %v", err)
	}
	// The phone's retry within the lease is not a replay: it is told to
	// try again, and the family lives.
	retry := storeAt(db, t0.Add(30*time.Second))
	if _, err := retry.UseRefreshToken(ctx, "h", t0.Add(30*time.Second)); models.ErrorCode(err) != models.ErrUnavailable {
		t.Fatalf("a retry within the dead refresh's lease: %v, want unavailable (try again)", err)
	}
	if got, err := retry.RefreshTokenByHash(ctx, "h"); err != nil || got.RevokedAt != nil || got.UsedAt != nil {
		t.Fatalf("after the retry within the lease: %+v, %v; want the token unspent and its family alive", got, err)
	}
	later := storeAt(db, t0.Add(121*time.Second))
	if _, err := later.UseRefreshToken(ctx, "h", t0.Add(121*time.Second)); err != nil {
		t.Fatalf("a refresh after the dead one's lease: %v", err)
	}
	if _, err := later.UseRefreshToken(ctx, "h", t0.Add(122*time.Second)); models.ErrorCode(err) != models.ErrUnauthorized {
		t.Fatalf("the token spent twice: %v", err)
	}
}

func TestAReminderWhoseClaimDiedIsClaimedAfterTheLease(t *testing.T) {
	logEngine(t)
	db, ctx := storetest.NewDatabase(t), context.Background()
	now := t0
	r := dueReminder("p1", now)
	crashed := storeAt(db, now)
	if _, err := crashed.UpsertReminders(ctx, []models.Reminder{r}); err != nil {
		t.Fatal(err)
	}
	store.SetAfterMarkers(crashed, func([]string) error { return errCrash })
	if _, err := crashed.ClaimDue(ctx, now, "dead", now.Add(2*time.Minute), 10); !errors.Is(err, errCrash) {
		t.Fatalf("the crashing claim: %v", err)
	}
	within := storeAt(db, now.Add(30*time.Second))
	if got, err := within.ClaimDue(ctx, now.Add(30*time.Second), "early", now.Add(3*time.Minute), 10); err != nil || len(got) != 0 {
		t.Fatalf("a claim within the dead claim's lease: %d, %v", len(got), err)
	}
	later := storeAt(db, now.Add(121*time.Second))
	got, err := later.ClaimDue(ctx, now.Add(121*time.Second), "late", now.Add(4*time.Minute), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("a claim after the lease: %d, %v", len(got), err)
	}
}

// storeDueReminder stores a reminder of patient's due at t0.
func storeDueReminder(t *testing.T, s *store.Store, patient string) models.Reminder {
	t.Helper()
	r := dueReminder(patient, t0)
	if _, err := s.UpsertReminders(context.Background(), []models.Reminder{r}); err != nil {
		t.Fatal(err)
	}
	return r
}

func dueReminder(patient string, now time.Time) models.Reminder {
	r := models.Reminder{
		PatientID: patient, Kind: models.KindStretching, Source: models.SourceDaily,
		LocalDate: now.Format(time.DateOnly), DueAt: now.Add(-time.Minute), ExpiresAt: now.Add(3 * time.Hour),
		Status: models.ReminderPending, CreatedAt: now, UpdatedAt: now,
	}
	r.SetKey()
	return r
}

// markDone is what the done route does: read, mark, save, and read again
// after a stale conflict.
func markDone(ctx context.Context, s *store.Store, patient, id string, now time.Time) (models.Reminder, error) {
	for try := 0; ; try++ {
		if try == 10 {
			return models.Reminder{}, errors.New("marking done lost 10 races in a row")
		}
		r, err := s.Reminder(ctx, patient, id)
		if err != nil {
			return r, err
		}
		done, changed, err := r.MarkDone(now)
		if err != nil || !changed {
			return done, err
		}
		done, err = s.SaveReminder(ctx, done)
		if !models.IsStale(err) {
			return done, err
		}
	}
}

// TestDoneRacingADispatcherIsKept: a patient marks a reminder done while a
// dispatcher claims it and records a retry. Either the patient was first
// (it is skipped, never claimed) or the dispatcher was (the retry is turned
// into skipped: it is not sent again); the acknowledgement is never lost.
func TestDoneRacingADispatcherIsKept(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	for round := range rounds {
		patient := fmt.Sprintf("p%d", round)
		r := storeDueReminder(t, s, patient)
		var claimed []models.Reminder
		errs := together(2, func(i int) error {
			if i == 1 {
				_, err := markDone(ctx, s, patient, r.ID, t0)
				return err
			}
			var err error
			if claimed, err = s.ClaimDue(ctx, t0, "lease", t0.Add(2*time.Minute), 100); err != nil || len(claimed) == 0 {
				return err
			}
			retry := models.ReminderOutcome{ID: r.ID, Status: models.ReminderPending, DueAt: t0.Add(time.Minute), Attempted: true, LastError: "unavailable"}
			if round%2 == 0 {
				// As the dispatcher records: with the reminder as claimed,
				// so the store does not read it again first.
				retry.Version, retry.AckedAt = claimed[0].Version, claimed[0].AckedAt
			}
			_, err = s.RecordOutcomes(ctx, "lease", []models.ReminderOutcome{retry}, t0)
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got, err := s.Reminder(ctx, patient, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AckedAt == nil || got.Status != models.ReminderSkipped {
			t.Fatalf("round %d (claimed %d): status %s, acked %v: the acknowledgement was lost or the reminder will be sent again",
				round, len(claimed), got.Status, got.AckedAt)
		}
	}
}

// TestSnoozeRacingADispatcherIsKeptOrRefused: a snooze that reports
// success moved the reminder, and a dispatcher does not send it at its old
// time; one that loses to the claim is refused, not lost.
func TestSnoozeRacingADispatcherIsKeptOrRefused(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	for round := range rounds {
		patient := fmt.Sprintf("p%d", round)
		r := storeDueReminder(t, s, patient)
		var claimed []models.Reminder
		var snoozed models.Reminder
		errs := together(2, func(i int) error {
			if i == 1 {
				read, err := s.Reminder(ctx, patient, r.ID)
				if err != nil {
					return err
				}
				if snoozed, err = read.Snooze(30*time.Minute, t0); err != nil {
					return err
				}
				snoozed, err = s.SaveReminder(ctx, snoozed)
				return err
			}
			var err error
			claimed, err = s.ClaimDue(ctx, t0, "lease", t0.Add(2*time.Minute), 100)
			return err
		})
		got, err := s.Reminder(ctx, patient, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case errs[0] != nil:
			t.Fatalf("round %d: claim: %v", round, errs[0])
		case errs[1] == nil && (len(claimed) > 0 || !got.DueAt.Equal(snoozed.DueAt) || got.Status != models.ReminderPending):
			t.Fatalf("round %d: the snooze succeeded, yet the reminder was claimed (%d) or is %s due at %v", round, len(claimed), got.Status, got.DueAt)
		case errs[1] != nil && models.ErrorCode(errs[1]) != models.ErrConflict:
			t.Fatalf("round %d: snooze: %v", round, errs[1])
		case errs[1] != nil && (len(claimed) != 1 || got.Status != models.ReminderClaimed):
			t.Fatalf("round %d: the snooze was refused, yet the claim did not take the reminder: %s", round, got.Status)
		}
	}
}

func TestDocumentsFromBeforeVersionsAreEditable(t *testing.T) {
	logEngine(t)
	db, ctx := storetest.NewDatabase(t), context.Background()
	s := storetest.New(db)
	// As written before versions: no version field at all.
	if _, err := db.Collection("pain_logs").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "p1:old"}, {Key: "patient_id", Value: "p1"}, {Key: "logged_at", Value: t0}, {Key: "local_date", Value: "2026-11-22"},
		{Key: "score", Value: 3}, {Key: "urgent", Value: false}, {Key: "created_at", Value: t0}, {Key: "updated_at", Value: t0},
		{Key: "deleted", Value: false},
	}); err != nil {
		t.Fatal(err)
	}
	l, err := s.PainLog(ctx, "p1", "old")
	if err != nil || l.Version != 0 {
		t.Fatalf("read: %+v, %v", l, err)
	}
	l.Score = 5
	if l, err = s.UpdatePainLog(ctx, l); err != nil || l.Version != 1 {
		t.Fatalf("edit of a document without a version: %+v, %v", l, err)
	}
	if err := s.DeletePainLog(ctx, "p1", "old", t0); err != nil {
		t.Fatal(err)
	}
}

func TestARePlannedReminderIsNotBlockedByItsPredecessorsMarker(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	r := dueReminder("p1", t0)
	r.DueAt = t0.Add(time.Hour)
	if _, err := s.UpsertReminders(ctx, []models.Reminder{r}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePendingFrom(ctx, "p1", t0); err != nil {
		t.Fatal(err)
	}
	again := r
	again.CreatedAt, again.UpdatedAt = t0.Add(time.Second), t0.Add(time.Second)
	if n, err := s.UpsertReminders(ctx, []models.Reminder{again}); err != nil || n != 1 {
		t.Fatalf("planned afresh: %d, %v", n, err)
	}
	if _, err := markDone(ctx, s, "p1", r.ID, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("done right after a re-plan: %v", err)
	}
}

func TestOldMarkersAreDeleted(t *testing.T) {
	logEngine(t)
	db, ctx := storetest.NewDatabase(t), context.Background()
	for i, at := range []time.Time{t0.Add(-25 * time.Hour), t0.Add(-time.Hour)} {
		s := storeAt(db, at)
		l := entry("p1", fmt.Sprintf("e%d", i), t0.Add(-time.Hour), 1)
		if _, _, err := s.PutPainLog(ctx, l); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdatePainLog(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	n, err := storetest.New(db).DeleteOldMarkers(ctx, t0)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d markers, %v; want the one a day old", n, err)
	}
	left, err := db.Collection("write_markers").CountDocuments(ctx, bson.D{})
	if err != nil || left != 1 {
		t.Fatalf("%d markers left, %v", left, err)
	}
}

func TestAShareLinkIsRevokedOnce(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	const racers = 4
	for round := range rounds {
		r := models.Report{ID: fmt.Sprintf("r%d", round), PatientID: "p1", TokenHash: fmt.Sprintf("t%d", round), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		revoked := make([]bool, racers)
		errs := together(racers, func(i int) error {
			var err error
			revoked[i], err = s.RevokeReport(ctx, "p1", r.ID, t0)
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		n := 0
		for _, ok := range revoked {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d of %d revocations say they revoked the link, want 1", round, n, racers)
		}
	}
}

// TestAPasswordChangeAndAProfileChangeAtOnceBothStay: the embedded engine
// writes whole documents back, so without markers one would undo the other.
func TestAPasswordChangeAndAProfileChangeAtOnceBothStay(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	for round := range rounds {
		p := models.NewPatient(fmt.Sprintf("p%d", round), fmt.Sprintf("p%d@example.com", round), "Pat", "UTC", t0)
		if err := s.CreatePatient(ctx, p); err != nil {
			t.Fatal(err)
		}
		errs := together(2, func(i int) error {
			if i == 0 {
				return s.SetPassword(ctx, p.ID, "new-hash", t0)
			}
			for try := 0; ; try++ {
				if try == 10 {
					return errors.New("the profile change lost 10 races in a row")
				}
				read, err := s.PatientByID(ctx, p.ID)
				if err != nil {
					return err
				}
				read.Name = "Renamed"
				if err := s.UpdateProfile(ctx, read); !models.IsStale(err) {
					return err
				}
			}
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got, err := s.PatientByID(ctx, p.ID)
		if err != nil || got.PasswordHash != "new-hash" || got.Name != "Renamed" || got.Version != 2 {
			t.Fatalf("round %d: %+v, %v: a change was lost", round, got, err)
		}
	}
}

// TestAPasswordChangeRevokesTheChildOfARefreshInFlight: a refresh that
// spent its token before a password change revoked the patient's tokens,
// and makes its new token after, is revoked too.
func TestAPasswordChangeRevokesTheChildOfARefreshInFlight(t *testing.T) {
	logEngine(t)
	s, ctx := storetest.NewStore(t), context.Background()
	if err := s.CreateRefreshToken(ctx, models.RefreshToken{Hash: "h", PatientID: "p", FamilyID: "f", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefreshToken(ctx, "h", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokePatientRefreshTokens(ctx, "p", t0); err != nil {
		t.Fatal(err)
	}
	child := models.RefreshToken{Hash: "h-child", PatientID: "p", FamilyID: "f", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, child); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RefreshTokenByHash(ctx, child.Hash); err != nil || got.RevokedAt == nil {
		t.Fatalf("the refresh's new token outlived the password change: %+v, %v", got, err)
	}
}
