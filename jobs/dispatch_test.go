package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
	"github.com/backcare/backcare/notifications/fcmfake"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

// noon is 12:00 in UTC, outside the default quiet hours (21:00–08:00).
var noon = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type rig struct {
	t     *testing.T
	store *store.Store
	fake  *fcmfake.Server
	now   time.Time
	mu    sync.Mutex
	// batch is the dispatchers' batch size.
	batch int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	return &rig{t: t, store: storetest.NewStore(t), fake: fake, now: noon, batch: 500}
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) setClock(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = t
}

func (r *rig) sender() *notifications.FCMSender {
	r.t.Helper()
	s, err := notifications.NewFCMSender(context.Background(), notifications.FCMConfig{
		ProjectID: "test", Endpoint: r.fake.URL(), Now: r.clock, SendTimeout: 5 * time.Second,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) dispatcher(sender notifications.Sender) *jobs.Dispatcher {
	return jobs.NewDispatcher(jobs.DispatchConfig{
		Store: r.store, Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: jobs.NewDispatchMetrics(prometheus.NewRegistry()), Now: r.clock, BatchSize: r.batch,
	})
}

// patient stores a patient in zone with one device per token.
func (r *rig) patient(id, zone string, tokens ...string) models.Patient {
	r.t.Helper()
	p := models.NewPatient(id, id+"@example.com", "P", zone, noon.Add(-24*time.Hour))
	if err := r.store.CreatePatient(context.Background(), p); err != nil {
		r.t.Fatal(err)
	}
	for _, tok := range tokens {
		if _, _, err := r.store.UpsertDevice(context.Background(), models.Device{PatientID: id, Token: tok, Platform: "android", AppVersion: "1", LastSeen: noon}); err != nil {
			r.t.Fatal(err)
		}
	}
	return p
}

// due stores a reminder of p's due at `at` that lives for `life`.
func (r *rig) due(p models.Patient, kind models.ReminderKind, variant string, at time.Time, life time.Duration) models.Reminder {
	r.t.Helper()
	rem := models.Reminder{
		PatientID: p.ID, Kind: kind, Source: models.SourceDaily, Variant: variant,
		LocalDate: models.LocalDateOf(at, p.Location()), DueAt: at, ExpiresAt: at.Add(life),
		Status: models.ReminderPending, CreatedAt: noon, UpdatedAt: noon,
	}
	rem.SetKey()
	if _, err := r.store.UpsertReminders(context.Background(), []models.Reminder{rem}); err != nil {
		r.t.Fatal(err)
	}
	return rem
}

func (r *rig) reminder(p models.Patient, id string) models.Reminder {
	r.t.Helper()
	rem, err := r.store.Reminder(context.Background(), p.ID, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return rem
}

func (r *rig) run(d *jobs.Dispatcher) {
	r.t.Helper()
	if err := d.RunOnce(context.Background(), r.clock()); err != nil {
		r.t.Fatal(err)
	}
}

// sentCount counts the pushes the fake accepted for each reminder id.
func (r *rig) sentCount() map[string]int {
	counts := map[string]int{}
	for _, rec := range r.fake.Received() {
		if rec.Status == 200 {
			counts[rec.Data["reminder_id"]]++
		}
	}
	return counts
}

func TestDispatchSendsToEveryDeviceOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	p := r.patient("p1", "Europe/Berlin", "token-phone-aaaaaaaaaaaaaaaaaaaa", "token-tablet-bbbbbbbbbbbbbbbbbbbb")
	rem := r.due(p, models.KindStretching, "", noon.Add(-time.Minute), 6*time.Hour)
	rem.Source = models.SourceDaily
	d := r.dispatcher(r.sender())
	r.run(d)
	r.run(d)

	got := r.fake.Received()
	if len(got) != 2 {
		t.Fatalf("%d pushes, want one per device", len(got))
	}
	for _, rec := range got {
		if rec.Data["reminder_id"] != rem.ID || rec.Data["kind"] != "stretching" || rec.CollapseKey != rem.ID || rec.Title == "" {
			t.Fatalf("push %+v", rec)
		}
		if rec.TTL <= 5*time.Hour || rec.TTL > 6*time.Hour {
			t.Fatalf("TTL %s, want the reminder's remaining life (just under 6 h)", rec.TTL)
		}
	}
	stored := r.reminder(p, rem.ID)
	if stored.Status != models.ReminderSent || stored.SentAt == nil || stored.Attempts != 1 || stored.LeaseToken != "" {
		t.Fatalf("stored %+v", stored)
	}
}

// TestThreeDispatchersSendEachReminderExactlyOnce races three dispatchers
// over the same due reminders. By default a few hundred reminders in
// batches of 25, all three started together, so that every batch is fought
// over: each dispatcher's first look-up finds the same earliest reminders,
// and only the unique claim decides who sends them. The long mode
// (make test-long) sends 5,000 in batches of 500.
func TestThreeDispatchersSendEachReminderExactlyOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	patients, perPatient := storetest.Size(30, 250), storetest.Size(10, 20)
	r.batch = storetest.Size(25, 500)
	var all []models.Reminder
	for i := range patients {
		p := r.patient(fmt.Sprintf("p%03d", i), "UTC", fmt.Sprintf("token-%03d-xxxxxxxxxxxxxxxxxxxx", i))
		for j := range perPatient {
			rem := models.Reminder{
				PatientID: p.ID, Kind: models.KindHydrationAfter, Source: models.SourceSession, SourceID: fmt.Sprintf("s%d", j),
				LocalDate: "2026-11-23", DueAt: noon.Add(-time.Duration(j) * time.Second), ExpiresAt: noon.Add(time.Hour),
				Status: models.ReminderPending, CreatedAt: noon, UpdatedAt: noon,
			}
			rem.SetKey()
			all = append(all, rem)
		}
	}
	if _, err := r.store.UpsertReminders(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	ticks := 2*len(all)/r.batch + 2
	start := make(chan struct{})
	var wg sync.WaitGroup
	senders := make([]*countingSender, 3)
	for i := range senders {
		senders[i] = &countingSender{inner: r.sender()}
		d := r.dispatcher(senders[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range ticks {
				if err := d.RunOnce(context.Background(), r.clock()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	counts := r.sentCount()
	if len(counts) != len(all) {
		t.Fatalf("%d of %d reminders reached FCM", len(counts), len(all))
	}
	for id, n := range counts {
		if n != 1 {
			t.Fatalf("reminder %s was sent %d times", id, n)
		}
	}
	left, err := r.store.ClaimDue(context.Background(), noon, "probe", noon.Add(time.Minute), 10)
	if err != nil || len(left) != 0 {
		t.Fatalf("%d reminders still due after the run (%v)", len(left), err)
	}
	var shares []int
	busy := 0
	for _, c := range senders {
		shares = append(shares, int(c.sent.Load()))
		if c.sent.Load() > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Fatalf("pushes by dispatcher %v: the dispatchers did not race", shares)
	}
	t.Logf("%d reminders, batches of %d, pushes by dispatcher %v: each sent once", len(all), r.batch, shares)
}

// countingSender counts the messages a dispatcher handed to FCM.
type countingSender struct {
	inner notifications.Sender
	sent  atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, msgs []notifications.Message) ([]notifications.Result, error) {
	c.sent.Add(int64(len(msgs)))
	return c.inner.Send(ctx, msgs)
}

// crashingSender delivers, then the dispatcher's process "dies": its
// context is cancelled before it can record anything.
type crashingSender struct {
	inner  notifications.Sender
	cancel context.CancelFunc
}

func (c crashingSender) Send(ctx context.Context, msgs []notifications.Message) ([]notifications.Result, error) {
	res, err := c.inner.Send(ctx, msgs)
	c.cancel()
	return res, err
}

func TestADeadDispatchersClaimIsTakenOverAfterItsLease(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	p := r.patient("p1", "UTC", "token-crash-cccccccccccccccccccc")
	var rems []models.Reminder
	for _, v := range []string{"0h", "2h", "4h"} {
		rems = append(rems, r.due(p, models.KindHydrationAfter, v, noon.Add(-time.Minute), time.Hour))
	}
	ctx, cancel := context.WithCancel(context.Background())
	dead := r.dispatcher(crashingSender{inner: r.sender(), cancel: cancel})
	if err := dead.RunOnce(ctx, noon); err == nil {
		t.Fatal("the dying dispatcher reported success")
	}
	for _, rem := range rems {
		if got := r.reminder(p, rem.ID); got.Status != models.ReminderClaimed {
			t.Fatalf("after the crash: %s is %s, want still claimed", rem.ID, got.Status)
		}
	}
	// Before the lease ends nobody takes the claim over.
	live := r.dispatcher(r.sender())
	r.setClock(noon.Add(time.Minute))
	r.run(live)
	if n := len(r.fake.Received()); n != 3 {
		t.Fatalf("%d pushes before the lease ended, want the dead dispatcher's 3 only", n)
	}
	r.setClock(noon.Add(3 * time.Minute))
	r.run(live)
	for _, rem := range rems {
		if got := r.reminder(p, rem.ID); got.Status != models.ReminderSent {
			t.Fatalf("after the lease: %s is %s, want sent", rem.ID, got.Status)
		}
	}
	// The resends replace the first pushes on the phone: same collapse key.
	byKey := map[string]int{}
	for _, rec := range r.fake.Received() {
		if rec.CollapseKey != rec.Data["reminder_id"] {
			t.Fatalf("collapse key %q for reminder %q", rec.CollapseKey, rec.Data["reminder_id"])
		}
		byKey[rec.CollapseKey]++
	}
	if len(byKey) != 3 {
		t.Fatalf("pushes by collapse key %v, want the three reminders", byKey)
	}
}

func TestFCMErrorOutcomes(t *testing.T) {
	t.Parallel()
	t.Run("dead token is deleted and not retried", func(t *testing.T) {
		for name, f := range map[string]fcmfake.Failure{
			"UNREGISTERED": fcmfake.Unregistered, "INVALID_ARGUMENT": fcmfake.InvalidArgument, "SENDER_ID_MISMATCH": fcmfake.SenderIDMismatch,
		} {
			t.Run(name, func(t *testing.T) {
				r := newRig(t)
				p := r.patient("p1", "UTC", "token-dead-dddddddddddddddddddd")
				rem := r.due(p, models.KindDailyCheckin, "", noon.Add(-time.Minute), time.Hour)
				r.fake.FailToken("token-dead-dddddddddddddddddddd", f)
				r.run(r.dispatcher(r.sender()))
				if got := r.reminder(p, rem.ID); got.Status != models.ReminderFailed {
					t.Fatalf("status %s, want failed", got.Status)
				}
				if devices, _ := r.store.ListDevices(context.Background(), p.ID); len(devices) != 0 {
					t.Fatalf("the dead token is still registered: %v", devices)
				}
			})
		}
	})
	t.Run("server error is retried with backoff, then expires", func(t *testing.T) {
		r := newRig(t)
		p := r.patient("p1", "UTC", "token-flaky-ffffffffffffffffffff")
		rem := r.due(p, models.KindHeatIce, "", noon.Add(-time.Minute), 3*time.Minute)
		r.fake.FailNext(1, fcmfake.Internal.WithRetryAfter(90*time.Second))
		d := r.dispatcher(r.sender())
		r.run(d)
		got := r.reminder(p, rem.ID)
		if got.Status != models.ReminderPending || got.Attempts != 1 || got.DueAt.Before(noon.Add(90*time.Second)) {
			t.Fatalf("after a 500: %+v, want pending, 1 attempt, due no sooner than Retry-After", got)
		}
		r.fake.FailNext(100, fcmfake.Internal)
		r.setClock(got.DueAt)
		r.run(d)
		if got := r.reminder(p, rem.ID); got.Status != models.ReminderExpired || got.Attempts != 2 {
			t.Fatalf("a retry whose backoff outlives the reminder: %+v, want expired", got)
		}
	})
	t.Run("attempts are capped", func(t *testing.T) {
		r := newRig(t)
		p := r.patient("p1", "UTC", "token-down-gggggggggggggggggggg")
		rem := r.due(p, models.KindWeeklySummary, "", noon.Add(-time.Minute), 48*time.Hour)
		r.fake.FailNext(1000, fcmfake.Internal)
		d := r.dispatcher(r.sender())
		for range models.MaxAttempts {
			r.run(d)
			r.setClock(r.reminder(p, rem.ID).DueAt)
		}
		if got := r.reminder(p, rem.ID); got.Status != models.ReminderFailed || got.Attempts != models.MaxAttempts {
			t.Fatalf("after %d failures: %+v", models.MaxAttempts, got)
		}
	})
	t.Run("quota exceeded pauses every dispatcher", func(t *testing.T) {
		r := newRig(t)
		p := r.patient("p1", "UTC", "token-quota-qqqqqqqqqqqqqqqqqqqq")
		first := r.due(p, models.KindStretching, "", noon.Add(-time.Minute), time.Hour)
		r.fake.FailNext(1, fcmfake.QuotaExceeded.WithRetryAfter(2*time.Minute))
		r.run(r.dispatcher(r.sender()))
		if got := r.reminder(p, first.ID); got.Status != models.ReminderPending || got.Attempts != 0 || got.DueAt.Before(noon.Add(2*time.Minute)) {
			t.Fatalf("after a 429: %+v", got)
		}
		second := r.due(p, models.KindDailyCheckin, "", noon.Add(-time.Minute), time.Hour)
		other := r.dispatcher(r.sender())
		r.setClock(noon.Add(time.Minute))
		r.run(other)
		if got := r.reminder(p, second.ID); got.Status != models.ReminderPending || len(r.fake.Received()) != 1 {
			t.Fatalf("another dispatcher sent during the pause: %+v, %d pushes", got, len(r.fake.Received()))
		}
		r.setClock(noon.Add(2*time.Minute + time.Second))
		r.run(other)
		if a, b := r.reminder(p, first.ID), r.reminder(p, second.ID); a.Status != models.ReminderSent || b.Status != models.ReminderSent {
			t.Fatalf("after the pause: %s, %s", a.Status, b.Status)
		}
	})
}

func TestRechecksBeforeSending(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	berlin := r.patient("berlin", "Europe/Berlin", "token-berlin-bbbbbbbbbbbbbbbbbbbb")
	// 22:30 in Berlin (UTC+1 in November) is inside the default quiet hours.
	late := time.Date(2026, 11, 23, 21, 30, 0, 0, time.UTC)
	quiet := r.due(berlin, models.KindHeatIce, "", late, 13*time.Hour)
	quietShort := r.due(berlin, models.KindStretching, "", late, time.Hour)

	logged := r.patient("logged", "UTC", "token-logged-llllllllllllllllllll")
	checkin := r.due(logged, models.KindDailyCheckin, "", late, 2*time.Hour)
	if _, _, err := r.store.PutPainLog(ctx, models.PainLog{
		ID: models.PainLogDocID(logged.ID, "00000000-0000-4000-8000-000000000001"), PatientID: logged.ID,
		LoggedAt: late.Add(-time.Hour), LocalDate: "2026-11-23", Score: 3, CreatedAt: noon, UpdatedAt: noon,
	}); err != nil {
		t.Fatal(err)
	}

	optedOut := r.patient("optout", "UTC", "token-optout-oooooooooooooooooooo")
	optedOut.Preferences[models.KindTakeItEasy] = models.ReminderPreference{Enabled: false}
	optedOut.QuietHours = models.QuietHours{Start: "00:00", End: "00:00"} // none
	// A kind added to the catalog after the patient signed up has no
	// stored preference: it is on, as for a new patient.
	delete(optedOut.Preferences, models.KindCareUpdate)
	if err := r.store.UpdateProfile(ctx, optedOut); err != nil {
		t.Fatal(err)
	}
	off := r.due(optedOut, models.KindTakeItEasy, "", late, 12*time.Hour)
	on := r.due(optedOut, models.KindDailyCheckin, "", late, 2*time.Hour)
	newKind := r.due(optedOut, models.KindCareUpdate, models.VariantCarePlan, late, 24*time.Hour)

	// The server was down: this one's useful life ended an hour ago.
	stale := r.due(optedOut, models.KindHydrationAfter, "", late.Add(-4*time.Hour), 3*time.Hour)

	r.setClock(late)
	r.run(r.dispatcher(r.sender()))

	want := map[string]struct {
		got    models.Reminder
		status models.ReminderStatus
	}{
		"inside quiet hours":      {r.reminder(berlin, quiet.ID), models.ReminderPending},
		"quiet hours outlive it":  {r.reminder(berlin, quietShort.ID), models.ReminderExpired},
		"already logged that day": {r.reminder(logged, checkin.ID), models.ReminderSkipped},
		"kind switched off":       {r.reminder(optedOut, off.ID), models.ReminderSkipped},
		"kind still on":           {r.reminder(optedOut, on.ID), models.ReminderSent},
		"kind with no preference": {r.reminder(optedOut, newKind.ID), models.ReminderSent},
		"expired during downtime": {r.reminder(optedOut, stale.ID), models.ReminderExpired},
	}
	for name, w := range want {
		if w.got.Status != w.status {
			t.Errorf("%s: status %s, want %s", name, w.got.Status, w.status)
		}
	}
	// Moved to 08:00 Berlin time the next morning.
	if got := r.reminder(berlin, quiet.ID).DueAt; !got.Equal(time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("quiet-hours reminder moved to %s, want 2026-11-24T07:00:00Z", got)
	}
	if n := r.sentCount(); len(n) != 2 || n[on.ID] != 1 || n[newKind.ID] != 1 {
		t.Errorf("pushes %v, want only the reminders still on", n)
	}
	r.setClock(time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC))
	r.run(r.dispatcher(r.sender()))
	if got := r.reminder(berlin, quiet.ID); got.Status != models.ReminderSent {
		t.Errorf("at the end of quiet hours: %s, want sent", got.Status)
	}
}
