package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
)

func init() {
	register("dispatch-1", func(ctx context.Context, env benchEnv) ([]row, error) { return benchDispatch(ctx, env, 1) })
	register("dispatch-3", func(ctx context.Context, env benchEnv) ([]row, error) { return benchDispatch(ctx, env, 3) })
}

// Targets of the dispatch path.
const (
	// commandsPerPushTarget: claim, read-back, device look-up and result
	// write per batch of hundreds, not per reminder.
	commandsPerPushTarget = 0.02
	// Peak resident memory of one server while it dispatches.
	dispatchRSSEmbedded = 150 // MB, the engine runs in the same process
	dispatchRSSExternal = 80  // MB, against MongoDB
)

// remindersPerPatient is how many reminders each patient has due at once
// (an aftercare day: water, take it easy, check-ins...).
const remindersPerPatient = 10

// dueKinds are the kinds the seeded reminders cycle through: session
// aftercare, which the dispatcher checks against nothing else, and the
// daily check-in, which makes it look up that day's pain logs.
var dueKinds = []struct {
	kind   models.ReminderKind
	source models.ReminderSource
}{
	{models.KindHydrationAfter, models.SourceSession},
	{models.KindTakeItEasy, models.SourceSession},
	{models.KindSorenessCheckin, models.SourceSession},
	{models.KindHeatIce, models.SourceSession},
	{models.KindDailyCheckin, models.SourceDaily},
}

// seedPatients inserts n patients (ids p<first>..), every other one with two
// devices, and returns how many devices each has, by id. Quiet hours are
// off, so that the bench does not depend on the hour it runs at.
func seedPatients(ctx context.Context, db *mongo.Database, first, n int, now time.Time) (map[string]int, error) {
	devices := map[string]int{}
	var patients, devs []any
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("p%07d", i)
		p := models.NewPatient(id, id+"@bench.example", "Bench Patient", "Europe/Berlin", now)
		p.QuietHours = models.QuietHours{Start: "00:00", End: "00:00"}
		patients = append(patients, p)
		devices[id] = 1 + i%2
		for d := range devices[id] {
			token := fmt.Sprintf("fcm-token-%s-%d-%s", id, d, "abcdefghijklmnopqrstuvwxyz0123456789")
			devs = append(devs, models.Device{
				ID: models.DeviceID(token), PatientID: id, Token: token, Platform: "android", AppVersion: "1.0.0",
				CreatedAt: now, LastSeen: now,
			})
		}
	}
	if err := insertAll(ctx, db.Collection("patients"), patients); err != nil {
		return nil, err
	}
	return devices, insertAll(ctx, db.Collection("devices"), devs)
}

// dueReminders returns perPatient pending reminders for each patient, due
// at `due`; tag keeps the ids of different calls apart.
func dueReminders(patientIDs []string, perPatient int, due time.Time, tag string) []any {
	rs := make([]any, 0, len(patientIDs)*perPatient)
	for _, id := range patientIDs {
		for j := range perPatient {
			k := dueKinds[j%len(dueKinds)]
			r := models.Reminder{
				PatientID: id, Kind: k.kind, Source: k.source, Variant: tag + strconv.Itoa(j),
				LocalDate: due.In(time.UTC).Format(time.DateOnly), DueAt: due, ExpiresAt: due.Add(6 * time.Hour),
				Status: models.ReminderPending, CreatedAt: due, UpdatedAt: due,
			}
			if k.source == models.SourceSession {
				r.SourceID = "session-" + id
			}
			r.SetKey()
			rs = append(rs, r)
		}
	}
	return rs
}

// insertAll inserts docs a thousand at a time (seeding, not measured).
func insertAll(ctx context.Context, col *mongo.Collection, docs []any) error {
	for start := 0; start < len(docs); start += 1000 {
		if _, err := col.InsertMany(ctx, docs[start:min(start+1000, len(docs))]); err != nil {
			return fmt.Errorf("seed %s: %w", col.Name(), err)
		}
	}
	return nil
}

// dispatchInstance is one server's dispatcher with its own client.
type dispatchInstance struct {
	dispatcher *jobs.Dispatcher
	client     *mongo.Client
}

func newDispatchInstances(ctx context.Context, d *database, n int, counter *commandCounter, fcmURL string) ([]dispatchInstance, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out []dispatchInstance
	for range n {
		st, client, err := d.connect(counter.monitor())
		if err != nil {
			return out, err
		}
		out = append(out, dispatchInstance{client: client})
		sender, err := notifications.NewFCMSender(ctx, notifications.FCMConfig{ProjectID: "bench", Endpoint: fcmURL, Now: time.Now})
		if err != nil {
			return out, err
		}
		out[len(out)-1].dispatcher = jobs.NewDispatcher(jobs.DispatchConfig{
			Store: st, Sender: sender, Logger: quiet, Metrics: jobs.NewDispatchMetrics(prometheus.NewRegistry()), Now: time.Now,
		})
	}
	return out, nil
}

func disconnectAll(instances []dispatchInstance) {
	for _, in := range instances {
		_ = in.client.Disconnect(context.Background())
	}
}

// idlePoll is how long an instance waits when a run sent nothing while
// others still hold reminders: a tick interval, shortened for the bench.
const idlePoll = 100 * time.Millisecond

// benchDispatch seeds patients with devices and reminders all due at once,
// then runs `instances` dispatchers on the same database, each with its own
// client and sender, into the FCM fake until every reminder arrived.
func benchDispatch(ctx context.Context, env benchEnv, instances int) ([]row, error) {
	patients := 2_000
	if env.Quick {
		patients = 200
	}
	d, _, db, closeDB, err := openDatabase(ctx, env, nil)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	now := time.Now()
	devices, err := seedPatients(ctx, db, 0, patients, now)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(devices))
	wantPushes := 0
	for id, n := range devices {
		ids = append(ids, id)
		wantPushes += n * remindersPerPatient
	}
	slices.Sort(ids)
	reminders := dueReminders(ids, remindersPerPatient, now, "d")
	if err := insertAll(ctx, db.Collection("reminders"), reminders); err != nil {
		return nil, err
	}

	fake, err := startFakeFCM(ctx)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	counter := &commandCounter{}
	ins, err := newDispatchInstances(ctx, d, instances, counter, fake.URL)
	defer disconnectAll(ins)
	if err != nil {
		return nil, err
	}

	if err := resetPeakRSS(); err != nil {
		return nil, err
	}
	cpu0 := cpuTime()
	counter.start()
	start := time.Now()
	if err := runUntilSent(ctx, ins, fake, len(reminders)); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	counter.stop()
	cpu := cpuTime() - cpu0
	rss, err := peakRSS(0)
	if err != nil {
		return nil, err
	}

	st, err := fake.stats(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := checkDelivery(ctx, db, st, len(reminders), wantPushes); err != nil {
		return nil, err
	}
	// Every reminder fell due when the dispatch started (an 8 a.m. burst),
	// so lateness is first arrival at FCM minus that moment.
	lateness := make([]time.Duration, 0, len(st.FirstArrival))
	for _, at := range st.FirstArrival {
		lateness = append(lateness, max(0, time.Unix(0, at).Sub(start)))
	}
	slices.Sort(lateness)
	pushes := float64(st.Received)
	commands := float64(counter.count())
	rssTarget := float64(dispatchRSSEmbedded)
	if env.MongoURI != "" {
		rssTarget = dispatchRSSExternal
	}
	rssRow := row{Metric: "peak RSS while dispatching", Value: rss, Unit: "MB"}
	if instances == 1 {
		rssRow = rssRow.check("<=", rssTarget)
	}
	rows := []row{
		{Metric: "reminders sent", Value: float64(st.Reminders), Unit: "reminders"},
		{Metric: "pushes sent (1-2 devices each)", Value: pushes, Unit: "pushes"},
		{Metric: "time to send all", Value: round(elapsed.Seconds(), 2), Unit: "s"},
		{Metric: "pushes/s", Value: round(pushes/elapsed.Seconds(), 0), Unit: "/s"},
		{Metric: "lateness p50", Value: ms(percentile(lateness, 50)), Unit: "ms"},
		{Metric: "lateness p99", Value: ms(percentile(lateness, 99)), Unit: "ms"},
		{Metric: "DB commands per 1,000 pushes", Value: round(commands/pushes*1000, 2), Unit: "commands"},
		row{Metric: "DB commands per push", Value: round(commands/pushes, 4), Unit: "commands"}.check("<=", commandsPerPushTarget),
		{Metric: "CPU per 1,000 pushes (dispatcher + engine)", Value: round(cpu.Seconds()/pushes*1000, 3), Unit: "s"},
		rssRow,
	}
	return append(rows, commandRows(counter)...), nil
}

// runUntilSent runs every instance's dispatcher, each in a loop as its
// ticker would, until the fake has received every reminder. An instance
// whose run sent nothing waits a poll interval: the rest are held by others.
func runUntilSent(ctx context.Context, ins []dispatchInstance, fake *fakeProcess, reminders int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(ins))
	for _, in := range ins {
		wg.Go(func() {
			for {
				before, err := fake.stats(ctx, false)
				if err == nil {
					err = in.dispatcher.RunOnce(ctx, time.Now())
				}
				var after fakeStats
				if err == nil {
					after, err = fake.stats(ctx, false)
				}
				if err != nil {
					errs <- err
					cancel()
					return
				}
				if after.Reminders >= reminders {
					return
				}
				if after.Received == before.Received {
					select {
					case <-ctx.Done():
						errs <- ctx.Err()
						return
					case <-time.After(idlePoll):
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// checkDelivery fails unless every reminder reached every device of its
// patient exactly once and is recorded as sent.
func checkDelivery(ctx context.Context, db *mongo.Database, st fakeStats, reminders, pushes int) error {
	sent, err := db.Collection("reminders").CountDocuments(ctx, bson.D{{Key: "status", Value: models.ReminderSent}})
	if err != nil {
		return err
	}
	if st.Reminders != reminders || st.Received != pushes || st.Duplicates != 0 || int(sent) != reminders {
		return fmt.Errorf("not sent exactly once: %d of %d reminders and %d of %d pushes arrived, %d duplicates, %d recorded sent",
			st.Reminders, reminders, st.Received, pushes, st.Duplicates, sent)
	}
	return nil
}

// commandRows breaks the counted commands down by name.
func commandRows(c *commandCounter) []row {
	counts := c.counts()
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	slices.Sort(names)
	rows := make([]row, len(names))
	for i, name := range names {
		rows[i] = row{Metric: "DB commands: " + name, Value: float64(counts[name]), Unit: "commands"}
	}
	return rows
}
