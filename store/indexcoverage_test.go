package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/embedded"
)

// sortKey is one key of a sort or of an index, with its direction (1 or -1).
type sortKey struct {
	field string
	dir   int
}

// queryShape is one query as the store sends it: the fields its filter pins
// to values (equality or $in), the fields it bounds ($gt, $lte, ...), and
// its sort. Other conditions ($exists, $ne) bound nothing and are left out.
type queryShape struct {
	method, collection, command string
	equal, ranged               []string
	sort                        []sortKey
}

func (q queryShape) String() string {
	var parts []string
	for _, f := range q.equal {
		parts = append(parts, f+": equal")
	}
	for _, f := range q.ranged {
		parts = append(parts, f+": range")
	}
	s := fmt.Sprintf("%s: %s %s {%s}", q.method, q.collection, q.command, strings.Join(parts, ", "))
	if len(q.sort) > 0 {
		s += fmt.Sprintf(" sort %v", q.sort)
	}
	return s
}

// servedBy tells whether an index with keys serves q the way MongoDB plans
// it (equality, then sort, then range): the index's leading keys are pinned
// by equality, the sort follows them in index order (or all reversed), and
// the first key is bounded by the filter, so the query reads a range of the
// index instead of scanning the collection.
func (q queryShape) servedBy(keys []sortKey) bool {
	if len(keys) == 0 || !(slices.Contains(q.equal, keys[0].field) || slices.Contains(q.ranged, keys[0].field)) {
		return false
	}
	i := 0
	for i < len(keys) && slices.Contains(q.equal, keys[i].field) {
		i++
	}
	direction := 0
	for j, s := range q.sort {
		if i+j >= len(keys) || keys[i+j].field != s.field {
			return false
		}
		rel := keys[i+j].dir * s.dir
		if direction == 0 {
			direction = rel
		} else if rel != direction {
			return false
		}
	}
	return true
}

// declaredIndexes returns the index keys the store declares for col, and _id's.
func declaredIndexes(col string) [][]sortKey {
	out := [][]sortKey{{{field: "_id", dir: 1}}}
	for _, ix := range indexes[col] {
		var keys []sortKey
		for _, e := range ix.keys {
			keys = append(keys, sortKey{field: e.Key, dir: toDir(e.Value)})
		}
		out = append(out, keys)
	}
	return out
}

func toDir(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int32:
		return int(n)
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// covered tells whether some declared index serves the query. A filter
// with $or is served if its other conditions are, or else if every branch
// (with those conditions) is: MongoDB then answers each branch from an index.
func covered(q queryShape, branches [][]queryShape) bool {
	served := func(q queryShape) bool {
		return slices.ContainsFunc(declaredIndexes(q.collection), q.servedBy)
	}
	if served(q) {
		return true
	}
	if len(branches) == 0 {
		return false
	}
	for _, alts := range branches {
		for _, b := range alts {
			if !served(b) {
				return false
			}
		}
	}
	return true
}

// filterShape reads the bounds of a filter into q, and returns the
// shapes of its $or branches, each with the filter's other conditions.
func filterShape(q queryShape, filter bson.D) (queryShape, [][]queryShape) {
	var ors []bson.A
	collectBounds(&q, filter, &ors)
	var branches [][]queryShape
	for _, or := range ors {
		var alts []queryShape
		for _, b := range or {
			shape, _ := filterShape(cloneShape(q), b.(bson.D))
			alts = append(alts, shape)
		}
		branches = append(branches, alts)
	}
	return q, branches
}

// collectBounds adds the fields filter pins or bounds to q, looking into
// $and, and gathers its $or lists.
func collectBounds(q *queryShape, filter bson.D, ors *[]bson.A) {
	for _, e := range filter {
		switch e.Key {
		case "$or":
			*ors = append(*ors, e.Value.(bson.A))
		case "$and":
			for _, sub := range e.Value.(bson.A) {
				collectBounds(q, sub.(bson.D), ors)
			}
		default:
			ops, isOps := e.Value.(bson.D)
			if !isOps || len(ops) == 0 || !strings.HasPrefix(ops[0].Key, "$") {
				q.equal = appendNew(q.equal, e.Key)
				continue
			}
			for _, op := range ops {
				switch op.Key {
				case "$eq", "$in":
					q.equal = appendNew(q.equal, e.Key)
				case "$gt", "$gte", "$lt", "$lte":
					q.ranged = appendNew(q.ranged, e.Key)
				}
			}
		}
	}
}

func cloneShape(q queryShape) queryShape {
	q.equal, q.ranged = slices.Clone(q.equal), slices.Clone(q.ranged)
	return q
}

func appendNew(fields []string, f string) []string {
	if slices.Contains(fields, f) {
		return fields
	}
	return append(fields, f)
}

func sortOf(d bson.D) []sortKey {
	var keys []sortKey
	for _, e := range d {
		keys = append(keys, sortKey{field: e.Key, dir: toDir(e.Value)})
	}
	return keys
}

// commandsWithoutFilter are commands the store sends that select no
// documents by a filter. Any command not listed here or handled in
// shapesOf fails the test, so a new kind of query cannot go unchecked.
var commandsWithoutFilter = map[string]bool{
	"insert": true, "ping": true, "listIndexes": true, "createIndexes": true, "getMore": true,
	"killCursors": true, "endSessions": true, "listCollections": true,
}

// querySpec is the filter and sort one statement of a command carries.
type querySpec struct {
	filter, sort bson.D
}

// shapesOf returns the filters and sorts a command carries.
func shapesOf(name string, cmd bson.D) ([]querySpec, error) {
	get := func(d bson.D, key string) bson.D {
		for _, e := range d {
			if e.Key == key {
				if v, ok := e.Value.(bson.D); ok {
					return v
				}
			}
		}
		return nil
	}
	each := func(arrayKey, filterKey string) []querySpec {
		var out []querySpec
		for _, e := range cmd {
			if e.Key == arrayKey {
				for _, stmt := range e.Value.(bson.A) {
					out = append(out, querySpec{filter: get(stmt.(bson.D), filterKey)})
				}
			}
		}
		return out
	}
	switch name {
	case "find":
		return []querySpec{{filter: get(cmd, "filter"), sort: get(cmd, "sort")}}, nil
	case "findAndModify":
		return []querySpec{{filter: get(cmd, "query"), sort: get(cmd, "sort")}}, nil
	case "count", "distinct":
		if name == "count" && get(cmd, "query") == nil {
			// An estimated count, answered from the collection's metadata.
			return nil, nil
		}
		return []querySpec{{filter: get(cmd, "query")}}, nil
	case "update":
		return each("updates", "q"), nil
	case "delete":
		return each("deletes", "q"), nil
	case "aggregate":
		var spec querySpec
		for _, e := range cmd {
			if e.Key != "pipeline" {
				continue
			}
			for _, stage := range e.Value.(bson.A) {
				st := stage.(bson.D)
				switch st[0].Key {
				case "$match":
					if spec.filter == nil {
						spec.filter = get(st, "$match")
					}
				case "$sort":
					if spec.sort == nil {
						spec.sort = get(st, "$sort")
					}
				}
			}
		}
		return []querySpec{spec}, nil
	}
	if commandsWithoutFilter[name] {
		return nil, nil
	}
	return nil, fmt.Errorf("command %q is not analysed; teach shapesOf what it selects", name)
}

// recordedCommand is a command as the monitor saw it, and the store method that sent it.
type recordedCommand struct {
	method, name string
	command      bson.Raw
}

// recorder keeps every command a client sends, naming the method running.
type recorder struct {
	mu       sync.Mutex
	method   string
	commands []recordedCommand
}

func (r *recorder) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.commands = append(r.commands, recordedCommand{method: r.method, name: e.CommandName, command: slices.Clone(e.Command)})
	}}
}

func (r *recorder) running(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.method = method
}

// monitoredStore returns a store over a fresh database whose client reports
// every command to rec: on the MongoDB named by MONGODB_URI, or on an
// embedded engine of its own.
func monitoredStore(t *testing.T, rec *recorder) *Store {
	t.Helper()
	opts := options.Client().SetMonitor(rec.monitor())
	var storeOpts []Option
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		engine, err := embedded.Start(context.Background(), t.TempDir(), logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = engine.Close() })
		uri = engine.URI()
		opts.SetMaxPoolSize(EmbeddedMaxPoolSize)
		storeOpts = append(storeOpts, WithWriteBatch(EmbeddedWriteBatch))
	}
	client, err := mongo.Connect(opts.ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(fmt.Sprintf("coverage_%d", time.Now().UnixNano()))
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return New(db, storeOpts...)
}

// exercise runs one store method, through each branch that sends a
// different query.
type exercise struct {
	method string
	run    func(ctx context.Context, s *Store) error
}

// exercises calls every method of the store that takes a context, in an
// order that gives each something to find. TestEveryQueryIsServedByAnIndex
// fails when a method is missing here.
func exercises() []exercise {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const pid = "p1"
	patient := models.Patient{ID: pid, Email: "pat@example.com", Name: "Pat", Timezone: "UTC", CreatedAt: t0, UpdatedAt: t0}
	painLog := models.PainLog{ID: models.PainLogDocID(pid, "a"), PatientID: pid, LoggedAt: t0, LocalDate: "2026-11-22", Score: 4, CreatedAt: t0, UpdatedAt: t0}
	device := models.Device{PatientID: pid, Token: "tok-1", Platform: "ios", AppVersion: "1", LastSeen: t0}
	screening := models.Screening{ID: "sc1", PatientID: pid, TakenAt: t0}
	plan := models.Plan{ID: "plan1", PatientID: pid, Status: models.PlanActive, Phase: models.PhaseInitial,
		Cadences: []models.CadenceVersion{{From: "2026-11-01"}}, CreatedAt: t0, UpdatedAt: t0}
	session := models.Session{ID: "s1", PatientID: pid, PlanID: plan.ID, ScheduledAt: t0.Add(time.Hour), DurationMinutes: 60, Status: models.SessionScheduled, CreatedAt: t0, UpdatedAt: t0}
	reminder := func(id string, due time.Time) models.Reminder {
		return models.Reminder{ID: id, PatientID: pid, Kind: "stretching", Source: models.SourcePlan, SourceID: plan.ID, DueAt: due,
			ExpiresAt: due.Add(time.Hour), Status: models.ReminderPending, DedupeKey: id, CreatedAt: t0, UpdatedAt: t0}
	}
	report := models.Report{ID: "r1", PatientID: pid, TokenHash: "hash-r1", From: "2026-11-01", To: "2026-11-22", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	ignore := func(err error, code string) error {
		if models.ErrorCode(err) == code {
			return nil
		}
		return err
	}
	var lease string
	clinic := models.Clinic{ID: "c1", Name: "Clinic", Timezone: "UTC", CancellationHours: 24, CreatedAt: t0, UpdatedAt: t0}
	owner := models.Staff{ID: "st1", ClinicID: clinic.ID, Email: "owner@example.com", Name: "Owner", Role: models.RoleOwner, Active: true, CreatedAt: t0, UpdatedAt: t0}
	invitation := func(id string) models.Invitation {
		return models.Invitation{ID: id, ClinicID: clinic.ID, Email: id + "@example.com", Role: models.RoleTherapist, TokenHash: "hash-" + id,
			InvitedBy: owner.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	therapist := func(id, email string) models.Staff {
		return models.Staff{ID: id, ClinicID: clinic.ID, Email: email, Name: id, Role: models.RoleTherapist, Active: true, CreatedAt: t0, UpdatedAt: t0}
	}
	link := func(id, clinicID string, scope models.Scope) models.CareLink {
		return models.CareLink{ID: id, PatientID: pid, ClinicID: clinicID, LinkedBy: owner.ID, Scope: scope, Status: models.LinkActive, CreatedAt: t0, UpdatedAt: t0}
	}
	_, locator, secret, err := models.NewLinkCode()
	if err != nil {
		panic(err)
	}
	code := models.LinkCode{ID: locator, SecretHash: secret, Direction: models.CodeFromPatient, Scope: models.ScopeCare, PatientID: pid, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	message := models.Message{ID: models.MessageDocID("l1", "m"), LinkID: "l1", PatientID: pid, ClinicID: clinic.ID, Author: models.SidePatient,
		Text: "Sore on day three", CreatedAt: t0, UnreadBy: models.SideStaff, UpdatedAt: t0}
	note := models.SessionNote{ID: session.ID, PatientID: pid, ClinicID: clinic.ID, NoteContent: models.NoteContent{Subjective: "stiff", Shared: true, Summary: "rest"},
		AuthorID: owner.ID, AuthorName: owner.Name, CreatedAt: t0, UpdatedAt: t0}
	return []exercise{
		{"Ping", func(ctx context.Context, s *Store) error { return s.Ping(ctx) }},
		{"EnsureIndexes", func(ctx context.Context, s *Store) error { return s.EnsureIndexes(ctx) }},
		{"CreatePatient", func(ctx context.Context, s *Store) error { return s.CreatePatient(ctx, patient) }},
		{"PatientByID", func(ctx context.Context, s *Store) error { _, err := s.PatientByID(ctx, pid); return err }},
		{"PatientByEmail", func(ctx context.Context, s *Store) error { _, err := s.PatientByEmail(ctx, patient.Email); return err }},
		{"UpdateProfile", func(ctx context.Context, s *Store) error { return s.UpdateProfile(ctx, patient) }},
		{"SetPassword", func(ctx context.Context, s *Store) error { return s.SetPassword(ctx, pid, "new-hash", t0) }},
		{"PatientsByID", func(ctx context.Context, s *Store) error { _, err := s.PatientsByID(ctx, []string{pid}); return err }},
		{"PatientPage", func(ctx context.Context, s *Store) error { _, err := s.PatientPage(ctx, "", 10); return err }},
		{"RecordLoginFailure", func(ctx context.Context, s *Store) error {
			_, err := s.RecordLoginFailure(ctx, patient.Email, t0)
			return err
		}},
		{"LoginFailures", func(ctx context.Context, s *Store) error {
			_, _, err := s.LoginFailures(ctx, patient.Email, t0)
			return err
		}},
		{"ClearLoginFailures", func(ctx context.Context, s *Store) error { return s.ClearLoginFailures(ctx, patient.Email, t0) }},
		{"DeleteExpiredLoginWindows", func(ctx context.Context, s *Store) error {
			_, err := s.DeleteExpiredLoginWindows(ctx, t0)
			return err
		}},
		{"CreateRefreshToken", func(ctx context.Context, s *Store) error {
			return s.CreateRefreshToken(ctx, models.RefreshToken{Hash: "h1", PatientID: pid, FamilyID: "f1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		}},
		{"UseRefreshToken", func(ctx context.Context, s *Store) error {
			if _, err := s.UseRefreshToken(ctx, "h1", t0); err != nil {
				return err
			}
			// A replay takes the path that revokes the family.
			_, err := s.UseRefreshToken(ctx, "h1", t0)
			return ignore(err, models.ErrUnauthorized)
		}},
		{"RefreshTokenByHash", func(ctx context.Context, s *Store) error { _, err := s.RefreshTokenByHash(ctx, "h1"); return err }},
		{"RevokePatientRefreshTokens", func(ctx context.Context, s *Store) error { return s.RevokePatientRefreshTokens(ctx, pid, t0) }},
		{"RevokeRefreshFamily", func(ctx context.Context, s *Store) error { return s.RevokeRefreshFamily(ctx, "f1", t0) }},
		{"DeleteExpiredRefreshTokens", func(ctx context.Context, s *Store) error {
			_, err := s.DeleteExpiredRefreshTokens(ctx, t0)
			return err
		}},
		{"UpsertDevice", func(ctx context.Context, s *Store) error {
			if _, _, err := s.UpsertDevice(ctx, device); err != nil {
				return err
			}
			_, _, err := s.UpsertDevice(ctx, device)
			return err
		}},
		{"ListDevices", func(ctx context.Context, s *Store) error { _, err := s.ListDevices(ctx, pid); return err }},
		{"DevicesOf", func(ctx context.Context, s *Store) error { _, err := s.DevicesOf(ctx, []string{pid}); return err }},
		{"DeleteDeviceTokens", func(ctx context.Context, s *Store) error { return s.DeleteDeviceTokens(ctx, []string{"tok-gone"}) }},
		{"DeleteDevice", func(ctx context.Context, s *Store) error {
			return s.DeleteDevice(ctx, pid, models.DeviceID(device.Token))
		}},
		{"PutPainLog", func(ctx context.Context, s *Store) error {
			if _, _, err := s.PutPainLog(ctx, painLog); err != nil {
				return err
			}
			// A retry of the same entry replaces it.
			_, _, err := s.PutPainLog(ctx, painLog)
			return err
		}},
		{"PainLog", func(ctx context.Context, s *Store) error { _, err := s.PainLog(ctx, pid, "a"); return err }},
		{"UpdatePainLog", func(ctx context.Context, s *Store) error {
			stored, err := s.PainLog(ctx, pid, "a")
			if err != nil {
				return err
			}
			_, err = s.UpdatePainLog(ctx, stored)
			return err
		}},
		{"ListPainLogs", func(ctx context.Context, s *Store) error {
			if _, _, err := s.ListPainLogs(ctx, models.PainLogQuery{PatientID: pid, Limit: 10}); err != nil {
				return err
			}
			_, _, err := s.ListPainLogs(ctx, models.PainLogQuery{PatientID: pid, From: "2026-10-23", To: "2026-11-22",
				After: &models.PainLogCursor{At: t0, ID: painLog.ID}, Limit: 10})
			return err
		}},
		{"PainLogChanges", func(ctx context.Context, s *Store) error {
			_, _, err := s.PainLogChanges(ctx, models.SyncQuery{PatientID: pid, Since: t0.Add(-time.Hour),
				After: &models.PainLogCursor{At: t0.Add(-time.Hour), ID: ""}, Limit: 10})
			return err
		}},
		{"LoggedDays", func(ctx context.Context, s *Store) error {
			_, err := s.LoggedDays(ctx, []string{pid}, []string{"2026-11-22"})
			return err
		}},
		{"DeletePainLog", func(ctx context.Context, s *Store) error {
			if err := s.DeletePainLog(ctx, pid, "a", t0); err != nil {
				return err
			}
			// Deleting again looks the entry up to tell a tombstone from nothing.
			return s.DeletePainLog(ctx, pid, "a", t0)
		}},
		{"PutQuestionnaireResponse", func(ctx context.Context, s *Store) error {
			r := models.QuestionnaireResponse{ID: models.PainLogDocID(pid, "q"), PatientID: pid, Questionnaire: "peg3", AnsweredAt: t0,
				LocalDate: "2026-11-22", Answers: map[string]int{"pain": 5, "enjoyment": 4, "activity": 3}, Score: 4, CreatedAt: t0, UpdatedAt: t0}
			if _, _, err := s.PutQuestionnaireResponse(ctx, r); err != nil {
				return err
			}
			// A retry of the same response replaces it.
			_, _, err := s.PutQuestionnaireResponse(ctx, r)
			return err
		}},
		{"QuestionnaireResponse", func(ctx context.Context, s *Store) error {
			_, err := s.QuestionnaireResponse(ctx, pid, "q")
			return err
		}},
		{"ListQuestionnaireResponses", func(ctx context.Context, s *Store) error {
			if _, _, err := s.ListQuestionnaireResponses(ctx, models.PainLogQuery{PatientID: pid, Limit: 10}); err != nil {
				return err
			}
			_, _, err := s.ListQuestionnaireResponses(ctx, models.PainLogQuery{PatientID: pid, From: "2026-10-23", To: "2026-11-22",
				After: &models.PainLogCursor{At: t0, ID: "x"}, Limit: 10})
			return err
		}},
		{"QuestionnaireResponseChanges", func(ctx context.Context, s *Store) error {
			_, _, err := s.QuestionnaireResponseChanges(ctx, models.SyncQuery{PatientID: pid, Since: t0.Add(-time.Hour),
				After: &models.PainLogCursor{At: t0.Add(-time.Hour), ID: ""}, Limit: 10})
			return err
		}},
		{"DeleteQuestionnaireResponse", func(ctx context.Context, s *Store) error {
			if err := s.DeleteQuestionnaireResponse(ctx, pid, "q", t0); err != nil {
				return err
			}
			return s.DeleteQuestionnaireResponse(ctx, pid, "q", t0)
		}},
		{"LastQuestionnaireAnswers", func(ctx context.Context, s *Store) error {
			_, err := s.LastQuestionnaireAnswers(ctx, models.QuestionnairePEG3, []string{pid}, t0.Add(-time.Hour))
			return err
		}},
		{"SkipAnsweredQuestionnaireReminders", func(ctx context.Context, s *Store) error {
			r := reminder("questionnaire", t0)
			r.Kind, r.Source, r.SourceID = models.KindQuestionnaireDue, models.SourceDaily, ""
			if _, err := s.UpsertReminders(ctx, []models.Reminder{r}); err != nil {
				return err
			}
			n, err := s.SkipAnsweredQuestionnaireReminders(ctx, map[string]time.Time{pid: t0.Add(time.Hour), "p2": t0}, t0)
			if err == nil && n != 1 {
				err = fmt.Errorf("SkipAnsweredQuestionnaireReminders skipped %d reminders, want 1", n)
			}
			return err
		}},
		{"CreateScreening", func(ctx context.Context, s *Store) error { return s.CreateScreening(ctx, screening) }},
		{"LatestScreening", func(ctx context.Context, s *Store) error { _, err := s.LatestScreening(ctx, pid); return err }},
		{"SaveClearance", func(ctx context.Context, s *Store) error {
			sc := screening
			sc.Clearance = &models.Clearance{Date: "2026-11-22", RecordedAt: t0}
			return s.SaveClearance(ctx, sc)
		}},
		{"CreatePlan", func(ctx context.Context, s *Store) error { return s.CreatePlan(ctx, plan) }},
		{"CurrentPlan", func(ctx context.Context, s *Store) error { _, err := s.CurrentPlan(ctx, pid); return err }},
		{"Plan", func(ctx context.Context, s *Store) error { _, err := s.Plan(ctx, pid, plan.ID); return err }},
		{"SavePlan", func(ctx context.Context, s *Store) error { _, err := s.SavePlan(ctx, plan); return err }},
		{"OpenPlansOf", func(ctx context.Context, s *Store) error { _, err := s.OpenPlansOf(ctx, []string{pid}); return err }},
		{"CreateSession", func(ctx context.Context, s *Store) error { return s.CreateSession(ctx, session) }},
		{"Session", func(ctx context.Context, s *Store) error { _, err := s.Session(ctx, pid, session.ID); return err }},
		{"SaveSession", func(ctx context.Context, s *Store) error { _, err := s.SaveSession(ctx, session); return err }},
		{"ListSessions", func(ctx context.Context, s *Store) error {
			q := models.SessionQuery{PatientID: pid, From: t0, To: t0.Add(24 * time.Hour), Limit: 10}
			if _, err := s.ListSessions(ctx, q); err != nil {
				return err
			}
			q.PlanID = plan.ID
			_, err := s.ListSessions(ctx, q)
			return err
		}},
		{"SessionsOf", func(ctx context.Context, s *Store) error { _, err := s.SessionsOf(ctx, []string{pid}, t0); return err }},
		{"UpsertReminders", func(ctx context.Context, s *Store) error {
			_, err := s.UpsertReminders(ctx, []models.Reminder{reminder("due", t0.Add(-time.Minute)), reminder("later", t0.Add(time.Hour))})
			return err
		}},
		{"ListReminders", func(ctx context.Context, s *Store) error {
			_, err := s.ListReminders(ctx, models.ReminderQuery{PatientID: pid, From: t0, To: t0.Add(24 * time.Hour), Limit: 10})
			return err
		}},
		{"Reminder", func(ctx context.Context, s *Store) error { _, err := s.Reminder(ctx, pid, "later"); return err }},
		{"SaveReminder", func(ctx context.Context, s *Store) error {
			r, err := s.Reminder(ctx, pid, "later")
			if err != nil {
				return err
			}
			_, err = s.SaveReminder(ctx, r)
			return err
		}},
		{"ClaimDue", func(ctx context.Context, s *Store) error {
			lease = "lease-1"
			_, err := s.ClaimDue(ctx, t0, lease, t0.Add(2*time.Minute), 10)
			return err
		}},
		{"RecordOutcomes", func(ctx context.Context, s *Store) error {
			sent := t0
			_, err := s.RecordOutcomes(ctx, lease, []models.ReminderOutcome{{ID: "due", Status: models.ReminderSent, Attempted: true, SentAt: &sent}}, t0)
			return err
		}},
		{"ReleaseClaims", func(ctx context.Context, s *Store) error {
			_, err := s.ReleaseClaims(ctx, lease, []string{"due"}, t0)
			return err
		}},
		{"DeleteOldMarkers", func(ctx context.Context, s *Store) error { _, err := s.DeleteOldMarkers(ctx, t0); return err }},
		{"EnqueueMail", func(ctx context.Context, s *Store) error {
			return s.EnqueueMail(ctx, models.Mail{ID: "mail1", Kind: models.MailVerifyEmail, To: patient.Email, Subject: "s", Text: "t", HTML: "h"}, t0)
		}},
		{"Mail", func(ctx context.Context, s *Store) error { _, err := s.Mail(ctx, "mail1"); return err }},
		{"ClaimDueMails", func(ctx context.Context, s *Store) error {
			_, err := s.ClaimDueMails(ctx, t0, "mail-lease", t0.Add(time.Minute), 10)
			return err
		}},
		{"RecordMailOutcomes", func(ctx context.Context, s *Store) error {
			_, err := s.RecordMailOutcomes(ctx, "mail-lease", []models.MailOutcome{{ID: "mail1", Version: 1, Status: models.MailSent, Attempted: true}}, t0)
			return err
		}},
		{"DeleteOldMails", func(ctx context.Context, s *Store) error { _, err := s.DeleteOldMails(ctx, t0); return err }},
		{"PutAccountToken", func(ctx context.Context, s *Store) error {
			reset := models.AccountToken{ID: models.AccountTokenID(models.PurposePasswordReset, models.AudiencePatient, pid), TokenHash: "reset-hash",
				Purpose: models.PurposePasswordReset, Audience: models.AudiencePatient, AccountID: pid, Email: patient.Email, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := s.PutAccountToken(ctx, reset); err != nil {
				return err
			}
			// The second replaces the first.
			reset.TokenHash = "reset-hash-2"
			return s.PutAccountToken(ctx, reset)
		}},
		{"AccountToken", func(ctx context.Context, s *Store) error {
			_, err := s.AccountToken(ctx, models.AccountTokenID(models.PurposePasswordReset, models.AudiencePatient, pid))
			return err
		}},
		{"AccountTokenByHash", func(ctx context.Context, s *Store) error {
			_, err := s.AccountTokenByHash(ctx, "reset-hash-2")
			return err
		}},
		{"CountWrongCode", func(ctx context.Context, s *Store) error {
			t, err := s.AccountTokenByHash(ctx, "reset-hash-2")
			if err != nil {
				return err
			}
			_, err = s.CountWrongCode(ctx, t)
			return err
		}},
		{"SpendAccountToken", func(ctx context.Context, s *Store) error {
			t, err := s.AccountTokenByHash(ctx, "reset-hash-2")
			if err != nil {
				return err
			}
			return s.SpendAccountToken(ctx, t, t0)
		}},
		{"VerifyPatientEmail", func(ctx context.Context, s *Store) error { return s.VerifyPatientEmail(ctx, pid, patient.Email, t0) }},
		{"DeleteExpiredAccountTokens", func(ctx context.Context, s *Store) error {
			_, err := s.DeleteExpiredAccountTokens(ctx, t0)
			return err
		}},
		{"DeleteAccountTokens", func(ctx context.Context, s *Store) error {
			return s.DeleteAccountTokens(ctx, models.AudienceStaff, "nobody")
		}},
		{"DeleteStaleDevices", func(ctx context.Context, s *Store) error {
			_, err := s.DeleteStaleDevices(ctx, t0.Add(time.Hour), 100)
			return err
		}},
		{"PauseFCM", func(ctx context.Context, s *Store) error { return s.PauseFCM(ctx, t0.Add(time.Minute)) }},
		{"FCMPausedUntil", func(ctx context.Context, s *Store) error { _, err := s.FCMPausedUntil(ctx); return err }},
		{"CancelSourceReminders", func(ctx context.Context, s *Store) error { return s.CancelSourceReminders(ctx, pid, plan.ID, t0) }},
		{"DeletePendingFrom", func(ctx context.Context, s *Store) error { return s.DeletePendingFrom(ctx, pid, t0) }},
		{"AppendAudit", func(ctx context.Context, s *Store) error {
			return s.AppendAudit(ctx, models.AuditEntry{ID: "a1", At: t0, Subject: pid, Actor: pid, Action: models.AuditExport, Outcome: "ok"})
		}},
		{"AuditOf", func(ctx context.Context, s *Store) error { _, err := s.AuditOf(ctx, pid); return err }},
		{"AppendAudits", func(ctx context.Context, s *Store) error {
			return s.AppendAudits(ctx, []models.AuditEntry{{ID: "a2", At: t0, Subject: pid, Actor: "staff:s1", ActorKind: models.ActorStaff, Action: "staff_view", Outcome: "ok"}})
		}},
		{"StaffAccessOf", func(ctx context.Context, s *Store) error {
			if _, err := s.StaffAccessOf(ctx, pid, nil, 10); err != nil {
				return err
			}
			_, err := s.StaffAccessOf(ctx, pid, &models.AuditCursor{At: t0, ID: "a2"}, 10)
			return err
		}},
		{"CreateReport", func(ctx context.Context, s *Store) error { return s.CreateReport(ctx, report) }},
		{"ReportByTokenHash", func(ctx context.Context, s *Store) error {
			_, err := s.ReportByTokenHash(ctx, report.TokenHash)
			return err
		}},
		{"RevokeReport", func(ctx context.Context, s *Store) error {
			_, err := s.RevokeReport(ctx, pid, report.ID, t0)
			return err
		}},
		{"ProgressOf", func(ctx context.Context, s *Store) error { _, err := s.ProgressOf(ctx, pid); return err }},
		{"CreateClinic", func(ctx context.Context, s *Store) error {
			if err := s.CreateClinic(ctx, clinic, owner); err != nil {
				return err
			}
			// A clash of the clinic's id removes the owner made for it.
			other := owner
			other.ID, other.Email = "st-clash", "clash@example.com"
			return ignore(s.CreateClinic(ctx, clinic, other), models.ErrConflict)
		}},
		{"Clinic", func(ctx context.Context, s *Store) error { _, err := s.Clinic(ctx, clinic.ID); return err }},
		{"ClinicsByID", func(ctx context.Context, s *Store) error {
			_, err := s.ClinicsByID(ctx, []string{clinic.ID})
			return err
		}},
		{"SaveClinic", func(ctx context.Context, s *Store) error { _, err := s.SaveClinic(ctx, clinic); return err }},
		{"CreateStaff", func(ctx context.Context, s *Store) error {
			return s.CreateStaff(ctx, therapist("st2", "st2@example.com"))
		}},
		{"StaffByID", func(ctx context.Context, s *Store) error { _, err := s.StaffByID(ctx, owner.ID); return err }},
		{"StaffByEmail", func(ctx context.Context, s *Store) error { _, err := s.StaffByEmail(ctx, owner.Email); return err }},
		{"StaffOf", func(ctx context.Context, s *Store) error { _, err := s.StaffOf(ctx, clinic.ID); return err }},
		{"StaffByIDs", func(ctx context.Context, s *Store) error {
			_, err := s.StaffByIDs(ctx, []string{owner.ID, "st2"})
			return err
		}},
		{"SaveStaff", func(ctx context.Context, s *Store) error {
			_, err := s.SaveStaff(ctx, therapist("st2", "st2@example.com"))
			return err
		}},
		{"CreateInvitation", func(ctx context.Context, s *Store) error {
			for _, id := range []string{"inv1", "inv2"} {
				if err := s.CreateInvitation(ctx, invitation(id)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"InvitationsOf", func(ctx context.Context, s *Store) error { _, err := s.InvitationsOf(ctx, clinic.ID); return err }},
		{"InvitationByTokenHash", func(ctx context.Context, s *Store) error {
			_, err := s.InvitationByTokenHash(ctx, "hash-inv1")
			return err
		}},
		{"AcceptInvitation", func(ctx context.Context, s *Store) error {
			inv := invitation("inv1")
			// An email in use refuses; then one acceptance; then a second
			// one loses and its account is removed again.
			if err := ignore(s.AcceptInvitation(ctx, inv, therapist("st3", owner.Email), t0), models.ErrConflict); err != nil {
				return err
			}
			if err := s.AcceptInvitation(ctx, inv, therapist("st3", inv.Email), t0); err != nil {
				return err
			}
			return ignore(s.AcceptInvitation(ctx, inv, therapist("st4", "st4@example.com"), t0), models.ErrNotFound)
		}},
		{"RevokeInvitation", func(ctx context.Context, s *Store) error {
			if _, err := s.RevokeInvitation(ctx, clinic.ID, "inv2", t0); err != nil {
				return err
			}
			// One no longer pending is only read.
			_, err := s.RevokeInvitation(ctx, clinic.ID, "inv2", t0)
			return err
		}},
		{"SignOutStaff", func(ctx context.Context, s *Store) error { return s.SignOutStaff(ctx, owner.ID, t0) }},
		{"Invitation", func(ctx context.Context, s *Store) error { _, err := s.Invitation(ctx, clinic.ID, "inv1"); return err }},
		{"ChangeStaff", func(ctx context.Context, s *Store) error {
			return s.ChangeStaff(ctx, owner.ID, func(st *models.Staff) { st.EmailVerifiedAt = &t0 })
		}},
		{"LinkPatient", func(ctx context.Context, s *Store) error {
			if _, err := s.LinkPatient(ctx, link("l1", clinic.ID, models.ScopeView)); err != nil {
				return err
			}
			// A second link with another scope changes the active one's.
			if _, err := s.LinkPatient(ctx, link("l1b", clinic.ID, models.ScopeCare)); err != nil {
				return err
			}
			_, err := s.LinkPatient(ctx, link("l2", "c2", models.ScopeView))
			return err
		}},
		{"ActiveLink", func(ctx context.Context, s *Store) error { _, err := s.ActiveLink(ctx, pid, clinic.ID); return err }},
		{"LinksOfPatient", func(ctx context.Context, s *Store) error { _, err := s.LinksOfPatient(ctx, pid); return err }},
		{"ActiveLinksOf", func(ctx context.Context, s *Store) error { _, err := s.ActiveLinksOf(ctx, clinic.ID); return err }},
		{"HasCareLink", func(ctx context.Context, s *Store) error { _, err := s.HasCareLink(ctx, pid); return err }},
		{"PutMessage", func(ctx context.Context, s *Store) error {
			if _, _, err := s.PutMessage(ctx, message); err != nil {
				return err
			}
			// A retry finds the message stored.
			_, _, err := s.PutMessage(ctx, message)
			return err
		}},
		{"Message", func(ctx context.Context, s *Store) error { _, err := s.Message(ctx, "l1", "m"); return err }},
		{"ListMessages", func(ctx context.Context, s *Store) error {
			_, _, err := s.ListMessages(ctx, "l1", &models.PainLogCursor{At: t0.Add(time.Hour), ID: "x"}, 10)
			return err
		}},
		{"MessageChanges", func(ctx context.Context, s *Store) error {
			_, _, err := s.MessageChanges(ctx, "l1", t0.Add(-time.Hour), &models.PainLogCursor{At: t0.Add(-time.Hour), ID: ""}, 10)
			return err
		}},
		{"UnreadCounts", func(ctx context.Context, s *Store) error {
			_, err := s.UnreadCounts(ctx, pid, models.SideStaff)
			return err
		}},
		{"ClinicMessages", func(ctx context.Context, s *Store) error {
			_, err := s.ClinicMessages(ctx, clinic.ID, t0.Add(-time.Hour))
			return err
		}},
		{"MarkRead", func(ctx context.Context, s *Store) error {
			n, err := s.MarkRead(ctx, "l1", models.SideStaff, message, t0)
			if err == nil && n != 1 {
				err = fmt.Errorf("MarkRead marked %d messages, want 1", n)
			}
			return err
		}},
		{"MessageNotices", func(ctx context.Context, s *Store) error { _, err := s.MessageNotices(ctx, pid, "l1"); return err }},
		{"RevokeLink", func(ctx context.Context, s *Store) error {
			if _, err := s.RevokeLink(ctx, pid, "l2", "patient", t0); err != nil {
				return err
			}
			_, err := s.RevokeLink(ctx, pid, "l2", "patient", t0)
			return err
		}},
		{"CreateLinkCode", func(ctx context.Context, s *Store) error { return s.CreateLinkCode(ctx, code) }},
		{"CheckLinkCode", func(ctx context.Context, s *Store) error {
			if _, err := s.CheckLinkCode(ctx, code.ID, "wrong", code.Direction, true, t0); models.ErrorCode(err) != models.ErrNotFound {
				return fmt.Errorf("a wrong secret: %v, want not found", err)
			}
			if _, err := s.CheckLinkCode(ctx, code.ID, code.SecretHash, code.Direction, false, t0); err != nil {
				return err
			}
			_, err := s.CheckLinkCode(ctx, code.ID, code.SecretHash, code.Direction, true, t0)
			return err
		}},
		{"CreateWebSession", func(ctx context.Context, s *Store) error {
			return s.CreateWebSession(ctx, models.NewWebSession(owner, "ws1", "csrf", t0))
		}},
		{"WebSession", func(ctx context.Context, s *Store) error { _, err := s.WebSession(ctx, "ws1"); return err }},
		{"TouchWebSession", func(ctx context.Context, s *Store) error {
			ws := models.NewWebSession(owner, "ws1", "csrf", t0)
			ws.Touch(t0.Add(time.Hour))
			return s.TouchWebSession(ctx, ws)
		}},
		{"DeleteWebSession", func(ctx context.Context, s *Store) error { return s.DeleteWebSession(ctx, "ws1") }},
		{"DeleteExpiredClinicTokens", func(ctx context.Context, s *Store) error {
			_, err := s.DeleteExpiredClinicTokens(ctx, t0)
			return err
		}},
		{"SaveSessionNote", func(ctx context.Context, s *Store) error {
			stored, err := s.SaveSessionNote(ctx, note)
			if err != nil {
				return err
			}
			_, err = s.SaveSessionNote(ctx, stored)
			return err
		}},
		{"SessionNote", func(ctx context.Context, s *Store) error { _, err := s.SessionNote(ctx, pid, session.ID); return err }},
		{"NotesOf", func(ctx context.Context, s *Store) error {
			_, err := s.NotesOf(ctx, pid, []string{session.ID})
			return err
		}},
		{"ClinicPatients", func(ctx context.Context, s *Store) error {
			in, err := s.ClinicPatients(ctx, clinic.ID, t0.Add(-90*24*time.Hour))
			if err == nil && len(in) != 1 {
				err = fmt.Errorf("ClinicPatients read %d patients, want 1", len(in))
			}
			return err
		}},
		{"LinkedPatient", func(ctx context.Context, s *Store) error {
			l, err := s.ActiveLink(ctx, pid, clinic.ID)
			if err != nil {
				return err
			}
			_, err = s.LinkedPatient(ctx, l, t0.Add(-90*24*time.Hour))
			return err
		}},
		{"CollectionSizes", func(ctx context.Context, s *Store) error { _, err := s.CollectionSizes(ctx); return err }},
		{"RecordsOf", func(ctx context.Context, s *Store) error { _, err := s.RecordsOf(ctx, pid); return err }},
		{"ErasePatient", func(ctx context.Context, s *Store) error { return s.ErasePatient(ctx, patient, t0) }},
	}
}

// TestEveryQueryIsServedByAnIndex runs every store method that takes a
// context against a monitored client, and checks that each filter the store
// sends is served by an index it declares (or by _id): on MongoDB, no
// phone-app call or job scans a collection.
func TestEveryQueryIsServedByAnIndex(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := monitoredStore(t, rec)
	ctx := context.Background()
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}

	all := exercises()
	exercised := map[string]bool{}
	for _, ex := range all {
		exercised[ex.method] = true
	}
	ctxType := reflect.TypeFor[context.Context]()
	storeType := reflect.TypeFor[*Store]()
	for i := range storeType.NumMethod() {
		m := storeType.Method(i)
		if m.Type.NumIn() > 1 && m.Type.In(1) == ctxType && !exercised[m.Name] {
			t.Errorf("(*Store).%s is not exercised: add it to exercises() so that its queries are checked", m.Name)
		}
		delete(exercised, m.Name)
	}
	for name := range exercised {
		t.Errorf("exercises() names %s, which *Store does not have", name)
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, ex := range all {
		rec.running(ex.method)
		if err := ex.run(ctx, s); err != nil {
			t.Fatalf("%s: %v", ex.method, err)
		}
	}
	rec.running("")

	sent := map[string]int{}
	checked := map[string]bool{}
	for _, c := range rec.commands {
		sent[c.method]++
		var cmd bson.D
		if err := bson.Unmarshal(c.command, &cmd); err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		specs, err := shapesOf(c.name, cmd)
		if err != nil {
			t.Errorf("%s: %v", c.method, err)
			continue
		}
		col, _ := cmd[0].Value.(string)
		for _, spec := range specs {
			q, branches := filterShape(queryShape{method: c.method, collection: col, command: c.name, sort: sortOf(spec.sort)}, spec.filter)
			shape := q.String()
			for _, alts := range branches {
				shape += fmt.Sprintf(" $or %v", alts)
			}
			if checked[shape] {
				continue
			}
			checked[shape] = true
			if !covered(q, branches) {
				t.Errorf("no declared index serves %s", shape)
			} else {
				t.Logf("served: %s", shape)
			}
		}
	}
	for _, ex := range all {
		if sent[ex.method] == 0 {
			t.Errorf("%s sent no command: its exercise checks nothing", ex.method)
		}
	}
}

// TestIndexRule checks the rule by which a query counts as served, on
// shapes that are and are not.
func TestIndexRule(t *testing.T) {
	t.Parallel()
	idx := func(keys ...sortKey) []sortKey { return keys }
	k := func(f string, dir int) sortKey { return sortKey{field: f, dir: dir} }
	tests := []struct {
		name  string
		shape queryShape
		index []sortKey
		want  bool
	}{
		{"equality on the first key", queryShape{equal: []string{"email"}}, idx(k("email", 1)), true},
		{"equality on a later key only", queryShape{equal: []string{"due_at"}}, idx(k("status", 1), k("due_at", 1)), false},
		{"no filter", queryShape{}, idx(k("email", 1)), false},
		{"range on the first key", queryShape{ranged: []string{"expires_at"}}, idx(k("expires_at", 1)), true},
		{"equality then sort", queryShape{equal: []string{"status"}, ranged: []string{"due_at"}, sort: []sortKey{k("due_at", 1)}},
			idx(k("status", 1), k("due_at", 1)), true},
		{"sort reversed in full", queryShape{equal: []string{"patient_id"}, sort: []sortKey{k("logged_at", 1), k("_id", 1)}},
			idx(k("patient_id", 1), k("logged_at", -1), k("_id", -1)), true},
		{"sort reversed in part", queryShape{equal: []string{"patient_id"}, sort: []sortKey{k("logged_at", -1), k("_id", 1)}},
			idx(k("patient_id", 1), k("logged_at", -1), k("_id", -1)), false},
		{"sort the index does not hold", queryShape{equal: []string{"patient_id"}, sort: []sortKey{k("name", 1)}},
			idx(k("patient_id", 1), k("logged_at", -1)), false},
		{"sort before equality", queryShape{equal: []string{"status"}, sort: []sortKey{k("due_at", 1)}},
			idx(k("due_at", 1), k("status", 1)), false},
	}
	for _, tt := range tests {
		if got := tt.shape.servedBy(tt.index); got != tt.want {
			t.Errorf("%s: servedBy = %v, want %v", tt.name, got, tt.want)
		}
	}

	t.Run("$or needs every branch served", func(t *testing.T) {
		due := bson.D{{Key: "status", Value: "pending"}, {Key: "due_at", Value: bson.D{{Key: "$lte", Value: 1}}}}
		leased := bson.D{{Key: "status", Value: "claimed"}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: 1}}}}
		unindexed := bson.D{{Key: "kind", Value: "stretching"}}
		if q, branches := filterShape(queryShape{collection: colReminders}, bson.D{{Key: "$or", Value: bson.A{due, leased}}}); !covered(q, branches) {
			t.Errorf("an $or whose branches are indexed counts as not served")
		}
		if q, branches := filterShape(queryShape{collection: colReminders}, bson.D{{Key: "$or", Value: bson.A{due, unindexed}}}); covered(q, branches) {
			t.Errorf("an $or with an unindexed branch counts as served")
		}
	})
}
