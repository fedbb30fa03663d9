package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
)

func init() { register("triage", runTriage) }

// triageCommandsTarget is what one triage call may cost in database
// commands, whatever the clinic's size: the staff check, the links, and one
// read per collection for all linked patients at once.
const triageCommandsTarget = 10

// triageSizes is how large the two clinics are and how often the list is asked for.
type triageSizes struct {
	// patients is the large clinic's, small the second one's: the command
	// count must be the same for both.
	patients, small, days int
	// calls is how many calls are timed and counted per clinic, one after another.
	calls int
}

func triageSizesFor(env benchEnv) triageSizes {
	if env.Quick {
		return triageSizes{patients: 60, small: 10, days: 30, calls: 5}
	}
	return triageSizes{patients: 300, small: 30, days: 90, calls: 20}
}

// maxFailuresInARow ends a clinic's calls early: on the embedded engine a
// clinic's list can run past the server's request deadline (10 s), and
// more calls would only repeat that answer, ten seconds each.
const maxFailuresInARow = 2

// triageClinic is one seeded clinic: its owner signs in through the API.
type triageClinic struct {
	id, ownerEmail string
	patients       int
	token          string
}

// runTriage measures GET /v1/clinic/patients, the therapist's triage list,
// through the real server binary: a clinic of 300 linked patients with 90
// days of records each, and one of 30 in the same database.
//
// The server's database connection goes through a proxy in this process
// that counts the commands it sends (wirecount.go): a command monitor would
// see only this process's own client. So on the embedded default this
// process runs the engine, on the files the seeding wrote, and the server
// is pointed at it through the proxy, as at a MongoDB. Before the calls,
// with the server idle, the store's reads run once per clinic in this
// process under the driver's command monitor, with no request deadline:
// what each read costs, even where the server's call runs past its
// deadline.
func runTriage(ctx context.Context, env benchEnv) ([]row, error) {
	sizes := triageSizesFor(env)
	now := time.Now()
	dataDir := filepath.Join(env.Dir, "data")
	engineDir := filepath.Join(dataDir, "db")
	dbName := "backcare"
	if env.MongoURI != "" {
		dbName = "bench_triage_" + randomHex(6)
	}
	seedStart := time.Now()
	clinics, docs, err := seedTriage(ctx, env.MongoURI, engineDir, dbName, sizes, now)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	seeded := time.Since(seedStart)
	uri := env.MongoURI
	if uri == "" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		engine, err := embedded.Start(ctx, engineDir, logger)
		if err != nil {
			return nil, err
		}
		defer engine.Close()
		uri = engine.URI()
	} else {
		defer dropDatabase(env.MongoURI, dbName)
	}
	upstream, err := singleHost(uri)
	if err != nil {
		return nil, err
	}
	proxy, err := startWireCounter(upstream)
	if err != nil {
		return nil, err
	}
	defer proxy.close()
	bin, err := buildServer(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, bin, nil, []string{"DATA_DIR=" + dataDir, "JWT_SECRET=" + randomHex(32), "MONGODB_DATABASE=" + dbName,
		"DISPATCH_INTERVAL=1h", "MONGODB_URI=mongodb://" + proxy.addr() + "/?directConnection=true"}, false)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	// The server plans everyone's reminders at start; the calls wait until
	// it has sent no command for a while.
	if err := proxy.waitQuiet(ctx, 3*time.Second, 5*time.Minute); err != nil {
		return nil, err
	}
	rows := []row{
		{Metric: "seeding (info)", Value: round(seeded.Seconds(), 1), Unit: "s"},
		{Metric: "seeded days of records", Value: float64(sizes.days), Unit: "days"},
		{Metric: "seeded pain logs (both clinics)", Value: float64(docs.logs), Unit: "documents"},
		{Metric: "seeded sessions (both clinics)", Value: float64(docs.sessions), Unit: "documents"},
		{Metric: "seeded reminders (both clinics)", Value: float64(docs.reminders), Unit: "documents"},
	}
	inProcess, err := storeTriage(ctx, "mongodb://"+upstream+"/?directConnection=true", dbName, clinics, now)
	if err != nil {
		return nil, err
	}
	rows = append(rows, inProcess...)
	client := newLoadClient(1)
	for i := range clinics {
		measured, err := measureTriage(ctx, client, srv.baseURL, proxy, &clinics[i], sizes.calls)
		if err != nil {
			return nil, err
		}
		rows = append(rows, measured...)
	}
	return rows, proxy.err()
}

// measureTriage signs the clinic's owner in and makes up to calls triage
// calls, one after another, after one that is neither timed nor counted,
// each timed and its commands counted on the wire. Latencies and counts are
// of the calls answered 2xx; a call cut off at the server's deadline sends
// fewer commands, whose count goes to stderr. The count per call is the
// median: a job of the server's own (the cleanup every ten minutes) may
// fall into one call's window.
func measureTriage(ctx context.Context, client *http.Client, baseURL string, proxy *wireCounter, c *triageClinic, calls int) ([]row, error) {
	if err := c.signIn(ctx, client, baseURL); err != nil {
		return nil, err
	}
	var (
		answered, failed []time.Duration
		counts           []wireCall
		inARow           int
	)
	if err := c.triage(ctx, client, baseURL); err != nil {
		inARow++
	}
	for len(answered)+len(failed) < calls && inARow < maxFailuresInARow {
		proxy.start()
		start := time.Now()
		err := c.triage(ctx, client, baseURL)
		elapsed := time.Since(start)
		sent, onWire := proxy.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			failed, inARow = append(failed, elapsed), inARow+1
			fmt.Fprintf(os.Stderr, "triage: %d patients: a call failed after %s and %d commands (%s): %v\n",
				c.patients, elapsed.Round(time.Millisecond), total(sent), describeCounts(sent, onWire), err)
			continue
		}
		answered, inARow = append(answered, elapsed), 0
		counts = append(counts, wireCall{sent, onWire})
	}
	label := fmt.Sprintf("GET /v1/clinic/patients, %d patients", c.patients)
	rows := []row{{Metric: label + ", calls answered 2xx", Value: float64(len(answered)), Unit: "calls"}}
	if len(answered) > 0 {
		sortedDurations(answered)
		slices.SortFunc(counts, func(a, b wireCall) int { return cmp.Compare(total(a.counts), total(b.counts)) })
		median := counts[len(counts)/2]
		fmt.Fprintf(os.Stderr, "triage: %d patients: a median call's %d commands: %s\n", c.patients, total(median.counts), describeCounts(median.counts, median.took))
		rows = append(rows,
			row{Metric: label + ", latency p50", Value: ms(percentile(answered, 50)), Unit: "ms"},
			row{Metric: label + ", latency p95", Value: ms(percentile(answered, 95)), Unit: "ms"},
			row{Metric: label + ", DB commands per call", Value: float64(total(median.counts)), Unit: "commands"}.check("<=", triageCommandsTarget),
			row{Metric: label + ", DB commands, most in one call", Value: float64(total(counts[len(counts)-1].counts)), Unit: "commands"})
	}
	if len(failed) > 0 {
		sortedDurations(failed)
		rows = append(rows, row{Metric: label + ", failed calls' time p50", Value: ms(percentile(failed, 50)), Unit: "ms"})
	}
	return append(rows, row{Metric: label + ", errors", Value: float64(len(failed)), Unit: "calls"}.check("<=", 0)), nil
}

// wireCall is one call's commands on the wire, and their time to reply.
type wireCall struct {
	counts map[string]int64
	took   map[string]time.Duration
}

// storeTriage calls store.ClinicPatients for each clinic in this process,
// with no request deadline, and times each of its commands with the
// driver's command monitor: what the server's call spends its time on, and
// its command count even where the server's call runs past its deadline.
func storeTriage(ctx context.Context, uri, dbName string, clinics []triageClinic, now time.Time) ([]row, error) {
	timer := &commandTimer{}
	opts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second).SetTimeout(5 * time.Minute).SetMonitor(timer.monitor())
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(context.Background())
	st := store.New(client.Database(dbName))
	since := now.AddDate(0, 0, -models.TriageRangeDays-1) // as handlers.triageOf asks
	var rows []row
	// The server's planning at start added reminders to the seeded ones.
	for _, col := range []string{"pain_logs", "sessions", "reminders"} {
		n, err := client.Database(dbName).Collection(col).CountDocuments(ctx, bson.D{})
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{Metric: col + " in the database when measured", Value: float64(n), Unit: "documents"})
	}
	for ci, c := range clinics {
		timer.start()
		start := time.Now()
		inputs, err := st.ClinicPatients(ctx, c.id, since)
		took := time.Since(start)
		commands := timer.stop()
		if err != nil {
			return nil, err
		}
		start = time.Now()
		entries := make([]models.TriageEntry, len(inputs))
		for i, in := range inputs {
			entries[i] = models.Triage(in, now)
		}
		models.SortTriage(entries)
		computed := time.Since(start)
		label := fmt.Sprintf("store.ClinicPatients in-process, %d patients", c.patients)
		rows = append(rows,
			row{Metric: label + ", time", Value: ms(took), Unit: "ms"},
			row{Metric: label + ", DB commands", Value: float64(len(commands)), Unit: "commands"},
			row{Metric: fmt.Sprintf("models.Triage + SortTriage, %d patients", c.patients), Value: ms(computed), Unit: "ms"})
		for _, cmd := range commands {
			rows = append(rows, row{Metric: fmt.Sprintf("%d patients, in-process %s", c.patients, cmd.name), Value: ms(cmd.took), Unit: "ms"})
		}
		// How near each reply comes to MongoDB's 16 MiB, past which the
		// rest would need a getMore, a command more.
		for _, cmd := range commands {
			if ci == 0 && cmd.bytes > 1<<20 {
				rows = append(rows, row{Metric: fmt.Sprintf("%d patients, %s reply", c.patients, cmd.name), Value: round(float64(cmd.bytes)/(1<<20), 1), Unit: "MiB"})
			}
		}
	}
	return rows, nil
}

// timedCommand is one command the monitor saw, and how long it took.
type timedCommand struct {
	name  string // "find pain_logs"
	took  time.Duration
	bytes int // of the reply
}

// commandTimer records the commands of a client, in order, while it is on.
type commandTimer struct {
	mu       sync.Mutex
	on       bool
	names    map[int64]string
	finished []timedCommand
}

func (t *commandTimer) monitor() *event.CommandMonitor {
	finish := func(e event.CommandFinishedEvent, reply bson.Raw) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if name, ok := t.names[e.RequestID]; ok {
			t.finished = append(t.finished, timedCommand{name: name, took: e.Duration, bytes: len(reply)})
			delete(t.names, e.RequestID)
		}
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if !t.on || handshakeCommands[e.CommandName] {
				return
			}
			name := e.CommandName
			if coll, ok := e.Command.Index(0).Value().StringValueOK(); ok {
				name += " " + coll
			} else if v, err := e.Command.LookupErr("collection"); err == nil {
				name += " " + v.StringValue()
			}
			t.names[e.RequestID] = name
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { finish(e.CommandFinishedEvent, e.Reply) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { finish(e.CommandFinishedEvent, nil) },
	}
}

// start forgets what was recorded and starts recording.
func (t *commandTimer) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on, t.names, t.finished = true, map[int64]string{}, nil
}

// stop stops recording and returns the commands finished since start.
func (t *commandTimer) stop() []timedCommand {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	return t.finished
}

// signIn signs the clinic's owner in through the API.
func (c *triageClinic) signIn(ctx context.Context, client *http.Client, baseURL string) error {
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, c.ownerEmail, benchPassword)
	if err := exchange(ctx, client, http.MethodPost, baseURL+"/v1/clinic/auth/login", "", body, &tokens); err != nil {
		return fmt.Errorf("sign in a clinic's owner: %w", err)
	}
	c.token = tokens.AccessToken
	return nil
}

// triage asks for the first page of the triage list and checks that it
// covers every linked patient.
func (c *triageClinic) triage(ctx context.Context, client *http.Client, baseURL string) error {
	var page struct {
		Items []json.RawMessage `json:"items"`
		Total int               `json:"total"`
	}
	if err := exchange(ctx, client, http.MethodGet, baseURL+"/v1/clinic/patients", c.token, nil, &page); err != nil {
		return err
	}
	if page.Total != c.patients || len(page.Items) == 0 {
		return fmt.Errorf("triage of a clinic of %d patients listed %d (%d on the page)", c.patients, page.Total, len(page.Items))
	}
	return nil
}

// singleHost is the host:port of a mongodb:// URI naming one host, which
// the counting proxy forwards to.
func singleHost(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "mongodb" || u.Host == "" || strings.Contains(u.Host, ",") {
		return "", fmt.Errorf("the triage scenario counts commands through a proxy: MONGODB_URI must be mongodb://host:port with one host")
	}
	if q := u.Query(); q.Get("tls") == "true" || q.Get("ssl") == "true" || u.User != nil {
		return "", fmt.Errorf("the triage scenario counts commands through a proxy: MONGODB_URI must use neither TLS nor credentials")
	}
	if u.Port() == "" {
		return u.Host + ":27017", nil
	}
	return u.Host, nil
}

// seededDocs counts what seedTriage wrote in bulk.
type seededDocs struct{ logs, sessions, reminders int }

// seedTriage writes the two clinics, their owners and their linked
// patients with days of records each. The records go in bulk; the clinics,
// links and plans go through the store, which gives them their stored shape
// (a link's and a plan's unique keys).
func seedTriage(ctx context.Context, uri, engineDir, dbName string, sizes triageSizes, now time.Time) ([]triageClinic, seededDocs, error) {
	var docs seededDocs
	db, closeDB, err := openSeedDatabase(ctx, uri, engineDir, dbName)
	if err != nil {
		return nil, docs, err
	}
	defer closeDB()
	st := store.New(db)
	hash, err := auth.HashPassword(benchPassword, auth.DefaultParams)
	if err != nil {
		return nil, docs, err
	}
	rng := mrand.New(mrand.NewPCG(3, 4))
	zones := []string{"Europe/Berlin", "America/Edmonton", "America/New_York", "Australia/Sydney"}
	var patients, logs, sessions, reminders, screenings []any
	var clinics []triageClinic
	for ci, size := range []int{sizes.patients, sizes.small} {
		created := now.AddDate(0, 0, -sizes.days-30).UTC().Truncate(time.Second)
		clinic := models.Clinic{ID: uuid.NewString(), Name: fmt.Sprintf("Bench Clinic of %d", size), Timezone: "Europe/Berlin",
			CancellationHours: models.DefaultCancellationHours, CreatedAt: created, UpdatedAt: created}
		owner := models.Staff{ID: uuid.NewString(), ClinicID: clinic.ID, Email: fmt.Sprintf("owner%d@clinic.bench.example", ci),
			PasswordHash: hash, Name: "Bench Owner", Role: models.RoleOwner, Active: true, CreatedAt: created, UpdatedAt: created}
		if err := st.CreateClinic(ctx, clinic, owner); err != nil {
			return nil, docs, err
		}
		clinics = append(clinics, triageClinic{id: clinic.ID, ownerEmail: owner.Email, patients: size})
		for i := range size {
			p := models.NewPatient(uuid.NewString(), fmt.Sprintf("triage%d-%04d@bench.example", ci, i), fmt.Sprintf("Patient %d-%04d", ci, i),
				zones[i%len(zones)], created)
			patients = append(patients, p)
			h, err := patientHistory(rng, p, clinic.ID, owner.ID, sizes.days, now)
			if err != nil {
				return nil, docs, err
			}
			if _, err := st.LinkPatient(ctx, h.link); err != nil {
				return nil, docs, err
			}
			if err := st.CreatePlan(ctx, h.plan); err != nil {
				return nil, docs, err
			}
			logs, sessions, reminders = append(logs, h.logs...), append(sessions, h.sessions...), append(reminders, h.reminders...)
			screenings = append(screenings, h.screening)
		}
	}
	for _, batch := range []struct {
		col  string
		docs []any
	}{{"patients", patients}, {"pain_logs", logs}, {"sessions", sessions}, {"reminders", reminders}, {"screenings", screenings}} {
		if err := insertChunks(ctx, db.Collection(batch.col), batch.docs); err != nil {
			return nil, docs, err
		}
	}
	docs = seededDocs{logs: len(logs), sessions: len(sessions), reminders: len(reminders)}
	return clinics, docs, nil
}

// history is one linked patient's records over the seeded days.
type history struct {
	link                      models.CareLink
	plan                      models.Plan
	screening                 models.Screening
	logs, sessions, reminders []any
}

// patientHistory makes days of one patient's records, as the app and the
// clinic would have written them: a screening the day before the plan
// started (some with a contraindication, half of those cleared), an open
// plan, one or two pain logs a day (a tenth of patients stopped logging a
// week or so ago, a few logged a red flag lately), weekly sessions (most
// completed, some missed or no-shows, two booked ahead) and the reminders
// that were sent: the daily check-in and stretching, and four aftercare
// reminders after each completed session, some of each acknowledged.
// A plan waiting for a clearance has no sessions yet.
func patientHistory(rng *mrand.Rand, p models.Patient, clinicID, staffID string, days int, now time.Time) (history, error) {
	loc := p.Location()
	local := now.In(loc)
	startDay := time.Date(local.Year(), local.Month(), local.Day()-days, 0, 0, 0, 0, loc)
	at := func(day time.Time, hour, minute int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), hour, minute, 0, 0, loc).UTC()
	}
	created := startDay.UTC()
	var h history

	h.screening = models.Screening{ID: uuid.NewString(), PatientID: p.ID, Answers: map[models.Contraindication]bool{},
		TakenAt: at(startDay.AddDate(0, 0, -1), 10, 0)}
	for _, c := range models.Contraindications {
		h.screening.Answers[c] = false
	}
	if rng.IntN(100) < 8 {
		h.screening.Answers[models.HeartCondition] = true
		if rng.IntN(2) == 0 {
			h.screening.Clearance = &models.Clearance{Date: startDay.AddDate(0, 0, -1).Format(time.DateOnly),
				RecordedAt: h.screening.TakenAt.Add(time.Hour), By: models.ClearedByPatient}
		}
	}
	waiting := h.screening.NeedsClearance()

	scope := models.ScopeCare
	if rng.IntN(100) < 15 {
		scope = models.ScopeView
	}
	h.link = models.CareLink{ID: uuid.NewString(), PatientID: p.ID, ClinicID: clinicID, LinkedBy: staffID, Scope: scope,
		Status: models.LinkActive, CreatedAt: created, UpdatedAt: created}

	plan, err := models.NewPlan(uuid.NewString(), p.ID, startDay.Format(time.DateOnly), models.Cadence{
		InitialSessions: models.MaxInitialSessions, MaintenanceWeeks: 2, PreferredWeekday: startDay.Weekday(),
		PreferredTime: "18:00", SessionMinutes: 60, Aftercare: models.AftercareEither, StretchingTime: "08:00",
	}, waiting, created)
	if err != nil {
		return h, err
	}
	plan.ClinicID, plan.UpdatedAt = clinicID, created
	h.plan = plan

	reminder := func(kind models.ReminderKind, source models.ReminderSource, sourceID string, due time.Time, ackShare int) {
		if !due.Before(now) {
			return
		}
		r := models.Reminder{PatientID: p.ID, Kind: kind, Source: source, SourceID: sourceID, LocalDate: models.LocalDateOf(due, loc),
			DueAt: due, ExpiresAt: due.Add(6 * time.Hour), Status: models.ReminderSent, Attempts: 1, SentAt: &due,
			CreatedAt: created, UpdatedAt: due}
		if rng.IntN(100) < ackShare {
			acked := due.Add(time.Duration(10+rng.IntN(120)) * time.Minute)
			r.AckedAt, r.UpdatedAt = &acked, acked
		}
		r.SetKey()
		h.reminders = append(h.reminders, r)
	}

	quietDays := 0
	if rng.IntN(100) < 10 {
		quietDays = 5 + rng.IntN(8)
	}
	redDay := -1
	if rng.IntN(100) < 4 {
		redDay = 1 + rng.IntN(10)
	}
	base, improve := 5+rng.IntN(3), rng.IntN(4)
	for d := days; d >= 0; d-- {
		day := startDay.AddDate(0, 0, days-d)
		reminder(models.KindDailyCheckin, models.SourceDaily, "", at(day, 20, 0), 60)
		if !waiting {
			reminder(models.KindStretching, models.SourcePlan, plan.ID, at(day, 8, 0), 45)
		}
		if d < quietDays {
			continue
		}
		times := []time.Time{at(day, 7, 30+rng.IntN(90))}
		if rng.IntN(2) == 0 {
			times = append(times, at(day, 20, rng.IntN(120)))
		}
		for n, t := range times {
			if t.After(now) {
				continue
			}
			score := min(max(base-improve*(days-d)/max(days, 1)+rng.IntN(3)-1, 0), 10)
			stiffness := rng.IntN(11)
			l := models.PainLog{ID: models.PainLogDocID(p.ID, uuid.NewString()), PatientID: p.ID, LoggedAt: t,
				LocalDate: models.LocalDateOf(t, loc), Score: score, Areas: []models.BodyArea{"lower_back"}, Stiffness: &stiffness,
				CreatedAt: t, UpdatedAt: t}
			if d == redDay && n == 0 {
				l.RedFlags, l.Urgent = []models.RedFlag{models.RedFlags[rng.IntN(len(models.RedFlags))]}, true
			}
			h.logs = append(h.logs, l)
		}
	}

	for week := 0; !waiting; week++ {
		day := startDay.AddDate(0, 0, 7*week)
		start := at(day, 18, 0)
		if start.After(now.AddDate(0, 0, 14)) {
			break
		}
		ss := models.Session{ID: uuid.NewString(), PatientID: p.ID, PlanID: plan.ID, ScheduledAt: start, DurationMinutes: 60,
			Status: models.SessionScheduled, Therapist: "Bench Owner", ClinicID: clinicID, BookedBy: staffID, CreatedAt: created, UpdatedAt: created}
		if end := ss.End(); end.Before(now) {
			switch r := rng.IntN(100); {
			case r < 80:
				ss.Status, ss.CompletedAt, ss.UpdatedAt = models.SessionCompleted, &end, end
				if rng.IntN(2) == 0 {
					ss.Feedback = &models.SessionFeedback{PressureFelt: 2 + rng.IntN(3), SorenessAfter: rng.IntN(7)}
				}
				reminder(models.KindHydrationAfter, models.SourceSession, ss.ID, end.Add(30*time.Minute), 55)
				reminder(models.KindTakeItEasy, models.SourceSession, ss.ID, end.Add(2*time.Hour), 55)
				reminder(models.KindHeatIce, models.SourceSession, ss.ID, at(day.AddDate(0, 0, 1), 9, 0), 55)
				reminder(models.KindSorenessCheckin, models.SourceSession, ss.ID, at(day.AddDate(0, 0, 2), 18, 0), 55)
			case r < 92:
				ss.Status, ss.UpdatedAt = models.SessionMissed, end
			default:
				ss.Status, ss.UpdatedAt = models.SessionNoShow, end
			}
		}
		h.sessions = append(h.sessions, ss)
	}
	return h, nil
}
