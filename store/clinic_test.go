package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

// The clinic side's once-only changes — a link code spent, a wrong try
// counted, an invitation accepted, a care link made or revoked — are
// decided by write markers and unique inserts (markers.go), on the
// embedded engine as on MongoDB.

// racers is how many requests race in each test below.
const racers = 8

// newCode stores a fresh link code made by patient pid and returns it with
// the code as shown. Codes whose halves are all digits are skipped: a
// stored hash is lowercase hex, so a half with a letter in it can only be
// found in a document that holds the code in clear.
func newCode(t *testing.T, s *store.Store, pid string) (models.LinkCode, string) {
	t.Helper()
	for {
		display, locator, secret, err := models.NewLinkCode()
		if err != nil {
			t.Fatal(err)
		}
		first, second, _ := strings.Cut(display, "-")
		if strings.Trim(first, "0123456789") == "" || strings.Trim(second, "0123456789") == "" {
			continue
		}
		c := models.LinkCode{ID: locator, SecretHash: secret, Direction: models.CodeFromPatient, Scope: models.ScopeCare,
			PatientID: pid, CreatedAt: t0, ExpiresAt: t0.Add(models.LinkCodeTTL)}
		if err := s.CreateLinkCode(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return c, display
	}
}

// typed returns the hashes of a code as someone typed it.
func typed(t *testing.T, code string) (locator, secret string) {
	t.Helper()
	locator, secret, ok := models.ParseLinkCode(code)
	if !ok {
		t.Fatalf("%q does not parse as a code", code)
	}
	return locator, secret
}

// wrongSecret returns display with its last character changed.
func wrongSecret(display string) string {
	last := display[len(display)-1]
	if last == '2' {
		return display[:len(display)-1] + "3"
	}
	return display[:len(display)-1] + "2"
}

func isBadCode(err error) bool { return models.ErrorCode(err) == models.ErrNotFound }

func TestClinicLinkCodeChecks(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	from := models.CodeFromPatient

	t.Run("a preview does not use the code", func(t *testing.T) {
		_, display := newCode(t, s, "p-preview")
		locator, secret := typed(t, strings.ToLower(strings.ReplaceAll(display, "-", " ")))
		for range 2 {
			if c, err := s.CheckLinkCode(ctx, locator, secret, from, false, t0); err != nil || c.UsedAt != nil || c.Tries != 0 {
				t.Fatalf("preview: %+v, %v", c, err)
			}
		}
		c, err := s.CheckLinkCode(ctx, locator, secret, from, true, t0)
		if err != nil || c.UsedAt == nil || !c.UsedAt.Equal(t0) {
			t.Fatalf("spend after previews: %+v, %v", c, err)
		}
		if _, err := s.CheckLinkCode(ctx, locator, secret, from, true, t0); !isBadCode(err) {
			t.Fatalf("second spend: %v, want the bad-code answer", err)
		}
		if _, err := s.CheckLinkCode(ctx, locator, secret, from, false, t0); !isBadCode(err) {
			t.Fatalf("preview of a used code: %v, want the bad-code answer", err)
		}
	})

	t.Run("each wrong secret counts, and then the right one fails", func(t *testing.T) {
		_, display := newCode(t, s, "p-tries")
		locator, secret := typed(t, display)
		_, wrong := typed(t, wrongSecret(display))
		for try := 1; try <= models.LinkCodeMaxTries; try++ {
			// A preview counts a wrong secret as a spend does.
			if _, err := s.CheckLinkCode(ctx, locator, wrong, from, try%2 == 0, t0); !isBadCode(err) {
				t.Fatalf("wrong try %d: %v, want the bad-code answer", try, err)
			}
			if try == models.LinkCodeMaxTries {
				break
			}
			c, err := s.CheckLinkCode(ctx, locator, secret, from, false, t0)
			if err != nil || c.Tries != try {
				t.Fatalf("after %d wrong tries: tries %d, %v", try, c.Tries, err)
			}
		}
		for _, spend := range []bool{false, true} {
			if _, err := s.CheckLinkCode(ctx, locator, secret, from, spend, t0); !isBadCode(err) {
				t.Fatalf("the right code after %d wrong tries (spend=%v): %v, want the bad-code answer", models.LinkCodeMaxTries, spend, err)
			}
		}
	})

	t.Run("an expired code fails", func(t *testing.T) {
		c, display := newCode(t, s, "p-expiry")
		locator, secret := typed(t, display)
		if _, err := s.CheckLinkCode(ctx, locator, secret, from, false, c.ExpiresAt.Add(-time.Second)); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		for _, at := range []time.Time{c.ExpiresAt, c.ExpiresAt.Add(time.Hour)} {
			if _, err := s.CheckLinkCode(ctx, locator, secret, from, true, at); !isBadCode(err) {
				t.Fatalf("at %v (expiry %v): %v, want the bad-code answer", at, c.ExpiresAt, err)
			}
		}
	})

	t.Run("a code redeemed by the side that made it fails", func(t *testing.T) {
		_, display := newCode(t, s, "p-direction")
		locator, secret := typed(t, display)
		if _, err := s.CheckLinkCode(ctx, locator, secret, models.CodeFromClinic, true, t0); !isBadCode(err) {
			t.Fatalf("a patient's code redeemed as a clinic's: %v, want the bad-code answer", err)
		}
		if c, err := s.CheckLinkCode(ctx, locator, secret, from, true, t0); err != nil || c.Tries != 0 {
			t.Fatalf("the code after a mismatched direction: %+v, %v (the mismatch must not use or count)", c, err)
		}
	})

	t.Run("an unknown code fails", func(t *testing.T) {
		locator, secret := typed(t, "ZZZZ-ZZZZ")
		if _, err := s.CheckLinkCode(ctx, locator, secret, from, true, t0); !isBadCode(err) {
			t.Fatalf("an unknown code: %v, want the bad-code answer", err)
		}
	})
}

func TestClinicLinkCodesAreNeverStoredInClear(t *testing.T) {
	t.Parallel()
	db, ctx := storetest.NewDatabase(t), context.Background()
	s := storetest.New(db)
	var shown []string
	for i := range 3 {
		_, display := newCode(t, s, fmt.Sprintf("p%d", i))
		shown = append(shown, display)
	}
	// A wrong try and a spend rewrite the documents; they must not add the code.
	locator, secret := typed(t, shown[0])
	_, wrong := typed(t, wrongSecret(shown[0]))
	if _, err := s.CheckLinkCode(ctx, locator, wrong, models.CodeFromPatient, true, t0); !isBadCode(err) {
		t.Fatal(err)
	}
	if _, err := s.CheckLinkCode(ctx, locator, secret, models.CodeFromPatient, true, t0); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Collection("link_codes").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(shown) {
		t.Fatalf("%d link code documents, want %d", len(docs), len(shown))
	}
	for _, doc := range docs {
		text := doc.String() + string(doc)
		for _, display := range shown {
			first, second, _ := strings.Cut(display, "-")
			for _, part := range []string{display, first + second, first, second} {
				if strings.Contains(text, part) {
					t.Fatalf("a link code document holds %q of the code %s: %s", part, display, doc)
				}
			}
		}
	}
}

func TestClinicLinkCodeIsSpentOnceByRacers(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	for round := range 3 {
		_, display := newCode(t, s, fmt.Sprintf("p%d", round))
		locator, secret := typed(t, display)
		errs := together(racers, func(int) error {
			_, err := s.CheckLinkCode(ctx, locator, secret, models.CodeFromPatient, true, t0)
			return err
		})
		spent := 0
		for i, err := range errs {
			switch {
			case err == nil:
				spent++
			case !isBadCode(err):
				t.Fatalf("round %d: racer %d: %v", round, i, err)
			}
		}
		if spent != 1 {
			t.Fatalf("round %d: %d of %d racers spent one code, want exactly 1", round, spent, racers)
		}
	}
}

func TestClinicRacingWrongGuessesAreEachCounted(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	// Fewer guessers than the tries allowed: every guess shows in tries and
	// the right code still works. More: the code is burnt.
	for _, guessers := range []int{models.LinkCodeMaxTries - 1, racers} {
		_, display := newCode(t, s, fmt.Sprintf("p%d", guessers))
		locator, secret := typed(t, display)
		_, wrong := typed(t, wrongSecret(display))
		errs := together(guessers, func(i int) error {
			_, err := s.CheckLinkCode(ctx, locator, wrong, models.CodeFromPatient, i%2 == 0, t0)
			return err
		})
		for i, err := range errs {
			if !isBadCode(err) {
				t.Fatalf("%d guessers: guess %d: %v, want the bad-code answer", guessers, i, err)
			}
		}
		c, err := s.CheckLinkCode(ctx, locator, secret, models.CodeFromPatient, false, t0)
		switch {
		case guessers < models.LinkCodeMaxTries && (err != nil || c.Tries != guessers):
			t.Fatalf("%d racing wrong guesses counted as %d tries (%v)", guessers, c.Tries, err)
		case guessers >= models.LinkCodeMaxTries && !isBadCode(err):
			t.Fatalf("after %d racing wrong guesses the right code answers %+v, %v; want it burnt", guessers, c, err)
		}
		t.Logf("%d racing wrong guesses: tries %d, right code then: %v", guessers, c.Tries, err)
	}
}

// clinicWithOwner stores a clinic and its owner.
func clinicWithOwner(t *testing.T, s *store.Store, id string) (models.Clinic, models.Staff) {
	t.Helper()
	c := models.Clinic{ID: id, Name: "Clinic " + id, Timezone: "Europe/Berlin", CancellationHours: 24, CreatedAt: t0, UpdatedAt: t0}
	owner := staffMember(id+"-owner", id, id+"-owner@example.com", models.RoleOwner)
	if err := s.CreateClinic(context.Background(), c, owner); err != nil {
		t.Fatal(err)
	}
	return c, owner
}

func staffMember(id, clinicID, email string, role models.Role) models.Staff {
	return models.Staff{ID: id, ClinicID: clinicID, Email: email, Name: id, Role: role, Active: true, CreatedAt: t0, UpdatedAt: t0}
}

func TestClinicInvitationIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	c, owner := clinicWithOwner(t, s, "c1")
	// With one email, as callers give (the invitation's), the unique email
	// decides; with an email each, the invitation's spend must.
	for _, sameEmail := range []bool{true, false} {
		inv := models.Invitation{ID: fmt.Sprintf("inv-%v", sameEmail), ClinicID: c.ID, Email: fmt.Sprintf("new-%v@example.com", sameEmail),
			Role: models.RoleTherapist, TokenHash: fmt.Sprintf("hash-%v", sameEmail), InvitedBy: owner.ID, CreatedAt: t0, ExpiresAt: t0.Add(models.InvitationTTL)}
		if err := s.CreateInvitation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		accounts := func(i int) models.Staff {
			email := inv.Email
			if !sameEmail {
				email = fmt.Sprintf("racer-%d@example.com", i)
			}
			return staffMember(fmt.Sprintf("%s-st%d", inv.ID, i), c.ID, email, inv.Role)
		}
		errs := together(racers, func(i int) error { return s.AcceptInvitation(ctx, inv, accounts(i), t0) })
		winner := -1
		for i, err := range errs {
			switch code := models.ErrorCode(err); {
			case err == nil && winner >= 0:
				t.Fatalf("same email %v: racers %d and %d both accepted", sameEmail, winner, i)
			case err == nil:
				winner = i
			case code != models.ErrConflict && code != models.ErrNotFound:
				t.Fatalf("same email %v: racer %d: %v", sameEmail, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("same email %v: no racer accepted: %v", sameEmail, errs)
		}
		staff, err := s.StaffOf(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var made []string
		for _, st := range staff {
			if strings.HasPrefix(st.ID, inv.ID+"-") {
				made = append(made, st.ID)
			}
		}
		if len(made) != 1 || made[0] != accounts(winner).ID {
			t.Fatalf("same email %v: staff accounts left %v, want only the winner's %s", sameEmail, made, accounts(winner).ID)
		}
		got, err := s.InvitationByTokenHash(ctx, inv.TokenHash)
		if err != nil || got.State(t0) != "accepted" || got.StaffID != accounts(winner).ID || got.Version != 1 {
			t.Fatalf("same email %v: invitation %+v, %v; want accepted once by %s", sameEmail, got, err, accounts(winner).ID)
		}
		late := staffMember(inv.ID+"-late", c.ID, inv.ID+"-late@example.com", inv.Role)
		if err := s.AcceptInvitation(ctx, inv, late, t0); models.ErrorCode(err) != models.ErrNotFound {
			t.Fatalf("same email %v: accepting a used invitation: %v, want not found", sameEmail, err)
		}
		if _, err := s.StaffByID(ctx, late.ID); models.ErrorCode(err) != models.ErrNotFound {
			t.Fatalf("same email %v: a refused acceptance left its account: %v", sameEmail, err)
		}
	}
}

func TestClinicInvitationForAnEmailInUseStaysUsable(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	c, owner := clinicWithOwner(t, s, "c1")
	inv := models.Invitation{ID: "inv", ClinicID: c.ID, Email: owner.Email, Role: models.RoleTherapist, TokenHash: "hash",
		InvitedBy: owner.ID, CreatedAt: t0, ExpiresAt: t0.Add(models.InvitationTTL)}
	if err := s.CreateInvitation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := s.AcceptInvitation(ctx, inv, staffMember("st-new", c.ID, inv.Email, inv.Role), t0); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("accepting with an email in use: %v, want conflict", err)
	}
	if got, err := s.InvitationByTokenHash(ctx, inv.TokenHash); err != nil || got.State(t0) != "pending" || got.Version != 0 {
		t.Fatalf("after the refusal the invitation is %+v, %v; want it pending", got, err)
	}
	if st, err := s.StaffByEmail(ctx, inv.Email); err != nil || st.ID != owner.ID {
		t.Fatalf("the email's account is %+v, %v; want the owner's untouched", st, err)
	}
	// Still usable: once the email is free (the owner moved to another
	// address), the same invitation is accepted.
	owner.Email = "owner-moved@example.com"
	if _, err := s.SaveStaff(ctx, owner); err != nil {
		t.Fatal(err)
	}
	if err := s.AcceptInvitation(ctx, inv, staffMember("st-new", c.ID, inv.Email, inv.Role), t0); err != nil {
		t.Fatalf("accepting once the email is free: %v", err)
	}
}

func careLink(id, patientID, clinicID string, scope models.Scope) models.CareLink {
	return models.CareLink{ID: id, PatientID: patientID, ClinicID: clinicID, LinkedBy: clinicID + "-owner", Scope: scope,
		Status: models.LinkActive, CreatedAt: t0, UpdatedAt: t0}
}

func TestClinicRacingLinksLeaveOneActiveLink(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	// One scope, as a double-tapped "link" sends; then mixed scopes, where
	// each racer's consent is stored in turn.
	for round, scopes := range [][]models.Scope{{models.ScopeView}, {models.ScopeView, models.ScopeCare}} {
		pid := fmt.Sprintf("p%d", round)
		n := racers
		if len(scopes) > 1 {
			// A racer whose scope others keep changing loses once per
			// other racer; fewer than models.StaleRetries of them.
			n = models.StaleRetries - 2
		}
		links := make([]models.CareLink, n)
		errs := together(n, func(i int) error {
			var err error
			links[i], err = s.LinkPatient(ctx, careLink(fmt.Sprintf("%s-l%d", pid, i), pid, "c1", scopes[i%len(scopes)]))
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: racer %d: %v", round, i, err)
			}
		}
		all, err := s.LinksOfPatient(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		active, err := s.ActiveLinksOf(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		var mine []models.CareLink
		for _, l := range active {
			if l.PatientID == pid {
				mine = append(mine, l)
			}
		}
		if len(all) != 1 || len(mine) != 1 {
			t.Fatalf("round %d: %d links stored, %d active, want one", round, len(all), len(mine))
		}
		for i, l := range links {
			if l.ID != mine[0].ID {
				t.Fatalf("round %d: racer %d was told of link %s, but %s is the one stored", round, i, l.ID, mine[0].ID)
			}
		}
	}
}

func TestClinicLinkScopeAndRevocation(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	if _, err := s.LinkPatient(ctx, careLink("l1", "p1", "c1", models.ScopeView)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.HasCareLink(ctx, "p1"); err != nil || ok {
		t.Fatalf("a view link counts as care: %v, %v", ok, err)
	}
	later := careLink("l2", "p1", "c1", models.ScopeCare)
	later.UpdatedAt = t0.Add(time.Hour)
	got, err := s.LinkPatient(ctx, later)
	if err != nil || got.ID != "l1" || got.Scope != models.ScopeCare || got.Version != 1 {
		t.Fatalf("a second link with another scope: %+v, %v; want l1 with scope care", got, err)
	}
	if stored, err := s.ActiveLink(ctx, "p1", "c1"); err != nil || stored.ID != "l1" || stored.Scope != models.ScopeCare || !stored.UpdatedAt.Equal(later.UpdatedAt) {
		t.Fatalf("stored link %+v, %v", stored, err)
	}
	if ok, err := s.HasCareLink(ctx, "p1"); err != nil || !ok {
		t.Fatalf("a care link is not found: %v, %v", ok, err)
	}

	revoked := together(4, func(int) error {
		ok, err := s.RevokeLink(ctx, "p1", "l1", "patient", t0.Add(2*time.Hour))
		if err == nil && !ok {
			return errNotThisOne
		}
		return err
	})
	won := 0
	for i, err := range revoked {
		switch err {
		case nil:
			won++
		case errNotThisOne:
		default:
			t.Fatalf("revoker %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 4 racing revocations reported true, want 1", won)
	}
	if ok, err := s.RevokeLink(ctx, "p1", "l1", "patient", t0.Add(3*time.Hour)); err != nil || ok {
		t.Fatalf("a second revocation: %v, %v; want false", ok, err)
	}
	if _, err := s.ActiveLink(ctx, "p1", "c1"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("a revoked link is still active: %v", err)
	}
	if _, err := s.RevokeLink(ctx, "p2", "l1", "patient", t0); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("another patient revoking the link: %v, want not found", err)
	}
	links, err := s.LinksOfPatient(ctx, "p1")
	if err != nil || len(links) != 1 || links[0].Status != models.LinkRevoked || links[0].RevokedBy != "patient" || !links[0].RevokedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("links after revocation: %+v, %v", links, err)
	}
	// A new link after the revocation is a new link, not the old one back.
	if got, err := s.LinkPatient(ctx, careLink("l3", "p1", "c1", models.ScopeView)); err != nil || got.ID != "l3" {
		t.Fatalf("linking again: %+v, %v", got, err)
	}
}

// errNotThisOne marks a revocation that found the link already revoked.
var errNotThisOne = errors.New("already revoked")

// seedPatient stores a patient with one of everything triage reads.
func seedPatient(t *testing.T, s *store.Store, pid string) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreatePatient(ctx, models.Patient{ID: pid, Email: pid + "@example.com", Name: pid, Timezone: "UTC", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutPainLog(ctx, entry(pid, "a", t0.Add(-24*time.Hour), 5)); err != nil {
		t.Fatal(err)
	}
	plan, err := models.NewPlan(pid+"-plan", pid, "2026-11-01", models.DefaultCadence(time.Monday), false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, models.Session{ID: pid + "-s1", PatientID: pid, PlanID: plan.ID, ScheduledAt: t0.Add(48 * time.Hour),
		DurationMinutes: 60, Status: models.SessionScheduled, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	due := t0.Add(time.Hour)
	if _, err := s.UpsertReminders(ctx, []models.Reminder{{ID: pid + "-r1", PatientID: pid, Kind: "stretching", Source: models.SourcePlan,
		SourceID: plan.ID, DueAt: due, ExpiresAt: due.Add(time.Hour), Status: models.ReminderPending, DedupeKey: pid + "-r1", CreatedAt: t0, UpdatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{t0.Add(-48 * time.Hour), t0.Add(-time.Hour)} {
		if err := s.CreateScreening(ctx, models.Screening{ID: fmt.Sprintf("%s-sc%d", pid, i), PatientID: pid, TakenAt: at}); err != nil {
			t.Fatal(err)
		}
	}
}

// commandCounter counts the commands a client sends.
type commandCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string
}

func (c *commandCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.n.Add(1)
		c.mu.Lock()
		c.names = append(c.names, e.CommandName)
		c.mu.Unlock()
	}}
}

func (c *commandCounter) reset() {
	c.n.Store(0)
	c.mu.Lock()
	c.names = nil
	c.mu.Unlock()
}

// monitoredStore returns a store over a fresh database (with the store's
// indexes) through a client that reports its commands to counter.
func monitoredStore(t *testing.T, counter *commandCounter) *store.Store {
	t.Helper()
	name := storetest.NewDatabase(t).Name()
	opts := options.Client().ApplyURI(storetest.URI(t)).SetMonitor(counter.monitor())
	if storetest.Embedded() {
		opts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return storetest.New(client.Database(name))
}

func TestClinicPatientsReadsOncePerCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	since := t0.Add(-30 * 24 * time.Hour)
	commands := map[int]int64{}
	for _, size := range []int{3, 12} {
		counter := &commandCounter{}
		s := monitoredStore(t, counter)
		for i := range size {
			pid := fmt.Sprintf("p%02d", i)
			seedPatient(t, s, pid)
			if _, err := s.LinkPatient(ctx, careLink(pid+"-l", pid, "c1", models.ScopeCare)); err != nil {
				t.Fatal(err)
			}
		}
		// Neither another clinic's patient nor one who revoked is read.
		seedPatient(t, s, "other")
		if _, err := s.LinkPatient(ctx, careLink("other-l", "other", "c2", models.ScopeCare)); err != nil {
			t.Fatal(err)
		}
		seedPatient(t, s, "gone")
		if _, err := s.LinkPatient(ctx, careLink("gone-l", "gone", "c1", models.ScopeCare)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeLink(ctx, "gone", "gone-l", "patient", t0); err != nil {
			t.Fatal(err)
		}

		counter.reset()
		in, err := s.ClinicPatients(ctx, "c1", since)
		if err != nil {
			t.Fatal(err)
		}
		commands[size] = counter.n.Load()
		counter.mu.Lock()
		t.Logf("%d patients: %d commands %v", size, commands[size], counter.names)
		counter.mu.Unlock()

		if len(in) != size {
			t.Fatalf("%d patients linked, ClinicPatients read %d", size, len(in))
		}
		for _, p := range in {
			id := p.Patient.ID
			switch {
			case id == "other" || id == "gone":
				t.Fatalf("ClinicPatients read %s, who is not linked to c1", id)
			case p.Link.ID != id+"-l" || p.Link.ClinicID != "c1":
				t.Fatalf("%s: link %+v", id, p.Link)
			case len(p.Logs) != 1 || p.Logs[0].PatientID != id || p.Logs[0].Score != 5:
				t.Fatalf("%s: logs %+v", id, p.Logs)
			case len(p.Sessions) != 1 || p.Sessions[0].ID != id+"-s1":
				t.Fatalf("%s: sessions %+v", id, p.Sessions)
			case len(p.Reminders) != 1 || p.Reminders[0].PatientID != id || p.Reminders[0].Status != models.ReminderPending:
				t.Fatalf("%s: reminders %+v", id, p.Reminders)
			case p.Plan == nil || p.Plan.ID != id+"-plan":
				t.Fatalf("%s: plan %+v", id, p.Plan)
			case p.Screening == nil || p.Screening.ID != id+"-sc1":
				t.Fatalf("%s: screening %+v, want the latest (%s-sc1)", id, p.Screening, id)
			}
		}
	}
	// One linked patient's summary reads that patient's data the same way.
	counter := &commandCounter{}
	s := monitoredStore(t, counter)
	for _, pid := range []string{"p1", "p2"} {
		seedPatient(t, s, pid)
		if _, err := s.LinkPatient(ctx, careLink(pid+"-l", pid, "c1", models.ScopeView)); err != nil {
			t.Fatal(err)
		}
	}
	link, err := s.ActiveLink(ctx, "p2", "c1")
	if err != nil {
		t.Fatal(err)
	}
	counter.reset()
	one, err := s.LinkedPatient(ctx, link, since)
	if err != nil || one.Patient.ID != "p2" || one.Link.ID != "p2-l" || len(one.Logs) != 1 || one.Logs[0].PatientID != "p2" ||
		len(one.Sessions) != 1 || len(one.Reminders) != 1 || one.Plan == nil || one.Screening == nil || one.Screening.ID != "p2-sc1" {
		t.Fatalf("LinkedPatient: %+v, %v", one, err)
	}
	if n := counter.n.Load(); n != 8 {
		t.Fatalf("LinkedPatient sent %d commands, want 8 (ClinicPatients' reads without the links')", n)
	}
	if commands[3] != commands[12] {
		t.Fatalf("ClinicPatients sent %d commands for 3 patients and %d for 12: a query per patient", commands[3], commands[12])
	}
	// The links, the patients, their plans, and one read each of pain
	// logs, sessions, reminders, screenings, questionnaire responses and
	// unread messages.
	if commands[3] != 9 {
		t.Fatalf("ClinicPatients sent %d commands, want 9 (one per collection)", commands[3])
	}
}

func TestClinicErasureRevokesLinksFirstAndRemovesClinicData(t *testing.T) {
	t.Parallel()
	db, ctx := storetest.NewDatabase(t), context.Background()
	s := storetest.New(db)
	const pid = "p1"
	seedPatient(t, s, pid)
	patient, err := s.PatientByID(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"c1", "c2"} {
		if _, err := s.LinkPatient(ctx, careLink(c+"-l", pid, c, models.ScopeCare)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.LinkPatient(ctx, careLink("old-l", pid, "c3", models.ScopeView)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeLink(ctx, pid, "old-l", "patient", t0); err != nil {
		t.Fatal(err)
	}
	note := models.SessionNote{ID: pid + "-s1", PatientID: pid, ClinicID: "c1", NoteContent: models.NoteContent{Subjective: "stiff"},
		AuthorID: "c1-owner", AuthorName: "Owner", CreatedAt: t0, UpdatedAt: t0}
	if _, err := s.SaveSessionNote(ctx, note); err != nil {
		t.Fatal(err)
	}
	code, display := newCode(t, s, pid)
	// Another patient's link, note and code stay.
	if _, err := s.LinkPatient(ctx, careLink("p2-l", "p2", "c1", models.ScopeCare)); err != nil {
		t.Fatal(err)
	}
	other := note
	other.ID, other.PatientID = "p2-s1", "p2"
	if _, err := s.SaveSessionNote(ctx, other); err != nil {
		t.Fatal(err)
	}
	otherCode, _ := newCode(t, s, "p2")

	// Each active link's revocation is written while the patient's data
	// is all still there: no clinic reads a half-erased record.
	var revokedWithData []string
	store.SetAfterMarkers(s, func(ids []string) error {
		for _, id := range ids {
			if !strings.HasPrefix(id, "care_links/") {
				continue
			}
			if _, err := s.SessionNote(ctx, pid, note.ID); err != nil {
				return fmt.Errorf("revoking %s after the note went: %v", id, err)
			}
			if logs, _, err := s.ListPainLogs(ctx, models.PainLogQuery{PatientID: pid, Limit: 10}); err != nil || len(logs) != 1 {
				return fmt.Errorf("revoking %s after the pain logs went: %d, %v", id, len(logs), err)
			}
			revokedWithData = append(revokedWithData, strings.Split(id, "/")[1])
		}
		return nil
	})
	if err := s.ErasePatient(ctx, patient, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	store.SetAfterMarkers(s, nil)
	if len(revokedWithData) != 2 || !containsAll(revokedWithData, "c1-l", "c2-l") {
		t.Fatalf("links revoked before the data went: %v, want c1-l and c2-l", revokedWithData)
	}

	for col, filter := range map[string]bson.D{
		"care_links":    {{Key: "patient_id", Value: pid}},
		"session_notes": {{Key: "patient_id", Value: pid}},
		"link_codes":    {{Key: "patient_id", Value: pid}},
	} {
		if n, err := db.Collection(col).CountDocuments(ctx, filter); err != nil || n != 0 {
			t.Fatalf("%s of the erased patient: %d left (%v)", col, n, err)
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if _, err := s.ActiveLink(ctx, pid, c); models.ErrorCode(err) != models.ErrNotFound {
			t.Fatalf("%s still sees the erased patient: %v", c, err)
		}
	}
	locator, secret := typed(t, display)
	if _, err := s.CheckLinkCode(ctx, locator, secret, code.Direction, false, t0); !isBadCode(err) {
		t.Fatalf("the erased patient's code still works: %v", err)
	}
	if _, err := s.ActiveLink(ctx, "p2", "c1"); err != nil {
		t.Fatalf("another patient's link went: %v", err)
	}
	if _, err := s.SessionNote(ctx, "p2", "p2-s1"); err != nil {
		t.Fatalf("another patient's note went: %v", err)
	}
	if n, err := db.Collection("link_codes").CountDocuments(ctx, bson.D{{Key: "_id", Value: otherCode.ID}}); err != nil || n != 1 {
		t.Fatalf("another patient's code went: %d, %v", n, err)
	}
	// Erasure is idempotent: run again, it finds nothing to revoke.
	if err := s.ErasePatient(ctx, patient, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("a second erasure: %v", err)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}
