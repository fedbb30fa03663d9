package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
)

// Monday 15 June 2026, 08:00 CEST; in the week after it, Wednesday's
// session at 09:00 CEST makes Tuesday's 10:00 questionnaire_due, and
// Sunday the 21st has the weekly one.
var (
	questionnaireNow = time.Date(2026, 6, 15, 6, 0, 0, 0, time.UTC)
	sessionStart     = time.Date(2026, 6, 17, 7, 0, 0, 0, time.UTC)
	dayBeforeDue     = time.Date(2026, 6, 16, 8, 0, 0, 0, time.UTC)
)

func (r *rig) materializer(horizon time.Duration) *jobs.Materializer {
	return jobs.NewMaterializer(jobs.MaterializeConfig{Store: r.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Horizon: horizon})
}

func (r *rig) materialize(m *jobs.Materializer, now time.Time) {
	r.t.Helper()
	if err := m.RunOnce(context.Background(), now); err != nil {
		r.t.Fatal(err)
	}
}

// questionnairePatient stores a patient in zone with questionnaire_due as
// their only reminder kind, at its defaults (Sunday 10:00), and one device.
func (r *rig) questionnairePatient(id, zone string) models.Patient {
	r.t.Helper()
	p := models.NewPatient(id, id+"@example.com", "P", zone, noon.Add(-24*time.Hour))
	for kind, pref := range p.Preferences {
		pref.Enabled = kind == models.KindQuestionnaireDue
		p.Preferences[kind] = pref
	}
	ctx := context.Background()
	if err := r.store.CreatePatient(ctx, p); err != nil {
		r.t.Fatal(err)
	}
	if _, _, err := r.store.UpsertDevice(ctx, models.Device{PatientID: id, Token: "tok-" + id, Platform: "android", AppVersion: "1", LastSeen: noon}); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// carePlan stores an active plan for p with a session at sessionStart.
func (r *rig) carePlan(p models.Patient) models.Plan {
	r.t.Helper()
	plan, err := models.NewPlan("plan-"+p.ID, p.ID, "2026-06-01", models.DefaultCadence(time.Wednesday), false, questionnaireNow.AddDate(0, 0, -14))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.store.CreatePlan(ctx, plan); err != nil {
		r.t.Fatal(err)
	}
	s := models.Session{ID: "session-" + p.ID, PatientID: p.ID, PlanID: plan.ID, ScheduledAt: sessionStart, DurationMinutes: 60,
		Status: models.SessionScheduled, CreatedAt: questionnaireNow, UpdatedAt: questionnaireNow}
	if err := r.store.CreateSession(ctx, s); err != nil {
		r.t.Fatal(err)
	}
	return plan
}

// answer stores p's PEG-3 answer at `at`, a tombstone when deleted.
func (r *rig) answer(p models.Patient, clientID string, at time.Time, deleted bool) {
	r.t.Helper()
	ctx := context.Background()
	resp := models.QuestionnaireResponse{ID: models.PainLogDocID(p.ID, clientID), PatientID: p.ID, Questionnaire: models.QuestionnairePEG3,
		AnsweredAt: at, LocalDate: models.LocalDateOf(at, p.Location()), Answers: map[string]int{"pain": 4, "enjoyment": 3, "activity": 3},
		Score: 3.3, CreatedAt: at, UpdatedAt: at}
	if _, _, err := r.store.PutQuestionnaireResponse(ctx, resp); err != nil {
		r.t.Fatal(err)
	}
	if deleted {
		if err := r.store.DeleteQuestionnaireResponse(ctx, p.ID, clientID, at); err != nil {
			r.t.Fatal(err)
		}
	}
}

// questionnaires returns p's questionnaire_due occurrences, earliest first.
func (r *rig) questionnaires(p models.Patient) []models.Reminder {
	r.t.Helper()
	all, err := r.store.ListReminders(context.Background(), models.ReminderQuery{PatientID: p.ID,
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []models.Reminder
	for _, rem := range all {
		if rem.Kind == models.KindQuestionnaireDue {
			out = append(out, rem)
		}
	}
	return out
}

// questionnaireViews shows occurrences as "local date source status local
// time (UTC instant)".
func questionnaireViews(rs []models.Reminder, loc *time.Location) []string {
	var out []string
	for _, rem := range rs {
		out = append(out, rem.LocalDate+" "+string(rem.Source)+" "+string(rem.Status)+" "+
			rem.DueAt.In(loc).Format("15:04 MST")+" ("+rem.DueAt.UTC().Format(time.RFC3339)+")")
	}
	return out
}

func checkQuestionnaires(t *testing.T, r *rig, p models.Patient, want []string) []models.Reminder {
	t.Helper()
	got := r.questionnaires(p)
	if views := questionnaireViews(got, p.Location()); !slices.Equal(views, want) {
		t.Errorf("%s: got\n\t%q\nwant\n\t%q", p.ID, views, want)
	}
	return got
}

// TestMaterializeQuestionnaireWeeklyAcrossDST plans three weeks around a
// change of clocks in each zone: every Sunday at 10:00 local, whatever the
// offset, and a second run adds nothing.
func TestMaterializeQuestionnaireWeeklyAcrossDST(t *testing.T) {
	r := newRig(t)
	m := r.materializer(21 * 24 * time.Hour)
	tests := []struct {
		name, zone string
		now        time.Time
		want       []string
	}{
		{"New York, spring", "America/New_York", time.Date(2026, 2, 23, 12, 0, 0, 0, time.UTC), []string{
			"2026-03-01 daily pending 10:00 EST (2026-03-01T15:00:00Z)",
			"2026-03-08 daily pending 10:00 EDT (2026-03-08T14:00:00Z)",
			"2026-03-15 daily pending 10:00 EDT (2026-03-15T14:00:00Z)",
		}},
		{"New York, autumn", "America/New_York", time.Date(2026, 10, 19, 12, 0, 0, 0, time.UTC), []string{
			"2026-10-25 daily pending 10:00 EDT (2026-10-25T14:00:00Z)",
			"2026-11-01 daily pending 10:00 EST (2026-11-01T15:00:00Z)",
			"2026-11-08 daily pending 10:00 EST (2026-11-08T15:00:00Z)",
		}},
		{"Berlin, spring", "Europe/Berlin", time.Date(2026, 3, 16, 12, 0, 0, 0, time.UTC), []string{
			"2026-03-22 daily pending 10:00 CET (2026-03-22T09:00:00Z)",
			"2026-03-29 daily pending 10:00 CEST (2026-03-29T08:00:00Z)",
			"2026-04-05 daily pending 10:00 CEST (2026-04-05T08:00:00Z)",
		}},
		{"Berlin, autumn", "Europe/Berlin", time.Date(2026, 10, 12, 12, 0, 0, 0, time.UTC), []string{
			"2026-10-18 daily pending 10:00 CEST (2026-10-18T08:00:00Z)",
			"2026-10-25 daily pending 10:00 CET (2026-10-25T09:00:00Z)",
			"2026-11-01 daily pending 10:00 CET (2026-11-01T09:00:00Z)",
		}},
		{"Sydney, autumn", "Australia/Sydney", time.Date(2026, 3, 23, 12, 0, 0, 0, time.UTC), []string{
			"2026-03-29 daily pending 10:00 AEDT (2026-03-28T23:00:00Z)",
			"2026-04-05 daily pending 10:00 AEST (2026-04-05T00:00:00Z)",
			"2026-04-12 daily pending 10:00 AEST (2026-04-12T00:00:00Z)",
		}},
		{"Sydney, spring", "Australia/Sydney", time.Date(2026, 9, 21, 12, 0, 0, 0, time.UTC), []string{
			"2026-09-27 daily pending 10:00 AEST (2026-09-27T00:00:00Z)",
			"2026-10-04 daily pending 10:00 AEDT (2026-10-03T23:00:00Z)",
			"2026-10-11 daily pending 10:00 AEDT (2026-10-10T23:00:00Z)",
		}},
		{"Kolkata, no DST", "Asia/Kolkata", time.Date(2026, 3, 23, 12, 0, 0, 0, time.UTC), []string{
			"2026-03-29 daily pending 10:00 IST (2026-03-29T04:30:00Z)",
			"2026-04-05 daily pending 10:00 IST (2026-04-05T04:30:00Z)",
			"2026-04-12 daily pending 10:00 IST (2026-04-12T04:30:00Z)",
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := r.questionnairePatient(string(rune('a'+i))+"-patient", tt.zone)
			r.materialize(m, tt.now)
			first := checkQuestionnaires(t, r, p, tt.want)
			r.materialize(m, tt.now.Add(30*time.Minute))
			again := r.questionnaires(p)
			if len(again) != len(first) {
				t.Fatalf("a second run: %d occurrences, then %d", len(first), len(again))
			}
			for j := range first {
				if again[j].ID != first[j].ID || again[j].Version != first[j].Version {
					t.Errorf("%s: rewritten by a second run", first[j].DedupeKey)
				}
			}
		})
	}
}

// TestMaterializeQuestionnaireBeforeSession plans the extra occurrence on
// the date before a session, at the patient's time, until the session
// starts; planning again keeps it as it is.
func TestMaterializeQuestionnaireBeforeSession(t *testing.T) {
	r := newRig(t)
	m := r.materializer(0)
	p := r.questionnairePatient("patient", "Europe/Berlin")
	r.carePlan(p)
	r.materialize(m, questionnaireNow)
	want := []string{
		"2026-06-16 session pending 10:00 CEST (2026-06-16T08:00:00Z)",
		"2026-06-21 daily pending 10:00 CEST (2026-06-21T08:00:00Z)",
	}
	got := checkQuestionnaires(t, r, p, want)
	if len(got) == 2 && (got[0].SourceID != "session-patient" || !got[0].ExpiresAt.Equal(sessionStart)) {
		t.Errorf("the day before: source %q, expires %s; want the session's, at its start %s", got[0].SourceID, got[0].ExpiresAt, sessionStart)
	}
	r.materialize(m, questionnaireNow.Add(30*time.Minute))
	checkQuestionnaires(t, r, p, want)
}

// TestMaterializeQuestionnaireSkippedWhenAnswered: an answer in the five
// days before an occurrence keeps it from being planned, or, when it came
// after planning, skips it at the next run, so the dispatcher never sends
// it. A deleted answer or one six days old covers nothing.
func TestMaterializeQuestionnaireSkippedWhenAnswered(t *testing.T) {
	r := newRig(t)
	m := r.materializer(0)
	before := r.questionnairePatient("answered-before", "Europe/Berlin")
	later := r.questionnairePatient("answered-later", "Europe/Berlin")
	deleted := r.questionnairePatient("answer-deleted", "Europe/Berlin")
	old := r.questionnairePatient("answered-long-ago", "Europe/Berlin")
	for _, p := range []models.Patient{before, later, deleted, old} {
		r.carePlan(p)
	}
	// Sunday evening: it covers Tuesday, not the next Sunday.
	r.answer(before, "a", time.Date(2026, 6, 14, 18, 0, 0, 0, time.UTC), false)
	r.answer(deleted, "a", time.Date(2026, 6, 14, 18, 0, 0, 0, time.UTC), true)
	r.answer(old, "a", time.Date(2026, 6, 9, 8, 0, 0, 0, time.UTC), false)
	r.materialize(m, questionnaireNow)

	weekly := "2026-06-21 daily pending 10:00 CEST (2026-06-21T08:00:00Z)"
	both := []string{"2026-06-16 session pending 10:00 CEST (2026-06-16T08:00:00Z)", weekly}
	checkQuestionnaires(t, r, before, []string{weekly})
	checkQuestionnaires(t, r, later, both)
	checkQuestionnaires(t, r, deleted, both)
	checkQuestionnaires(t, r, old, both)

	// Answered an hour after planning: the next run skips Tuesday's.
	r.answer(later, "a", questionnaireNow.Add(time.Hour), false)
	r.materialize(m, questionnaireNow.Add(90*time.Minute))
	got := checkQuestionnaires(t, r, later, []string{"2026-06-16 session skipped 10:00 CEST (2026-06-16T08:00:00Z)", weekly})

	r.setClock(dayBeforeDue)
	r.run(r.dispatcher(r.sender()))
	sent := r.sentCount()
	if len(got) > 0 && sent[got[0].ID] != 0 {
		t.Errorf("the skipped occurrence was sent %d times", sent[got[0].ID])
	}
	for _, p := range []models.Patient{deleted, old} {
		if rs := r.questionnaires(p); len(rs) == 0 || sent[rs[0].ID] != 1 || rs[0].Status != models.ReminderSent {
			t.Errorf("%s: the day before's was not sent once: %q, sent %v", p.ID, questionnaireViews(rs, p.Location()), sent)
		}
	}
}

// TestMaterializeNoQuestionnaireWhilePlanNeedsClearance: a plan held for
// clearance plans none, and one that comes to be held drops those planned
// at the re-plan that follows the screening.
func TestMaterializeNoQuestionnaireWhilePlanNeedsClearance(t *testing.T) {
	r := newRig(t)
	m := r.materializer(0)
	ctx := context.Background()
	held := r.questionnairePatient("held", "Europe/Berlin")
	plan, err := models.NewPlan("plan-held", held.ID, "2026-06-01", models.DefaultCadence(time.Wednesday), true, questionnaireNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreatePlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreateSession(ctx, models.Session{ID: "session-held", PatientID: held.ID, PlanID: plan.ID, ScheduledAt: sessionStart,
		DurationMinutes: 60, Status: models.SessionScheduled, CreatedAt: questionnaireNow, UpdatedAt: questionnaireNow}); err != nil {
		t.Fatal(err)
	}
	becomesHeld := r.questionnairePatient("becomes-held", "Europe/Berlin")
	active := r.carePlan(becomesHeld)
	r.materialize(m, questionnaireNow)

	checkQuestionnaires(t, r, held, nil)
	checkQuestionnaires(t, r, becomesHeld, []string{
		"2026-06-16 session pending 10:00 CEST (2026-06-16T08:00:00Z)",
		"2026-06-21 daily pending 10:00 CEST (2026-06-21T08:00:00Z)",
	})

	at := questionnaireNow.Add(time.Hour)
	if !active.ApplyScreening(models.Screening{Answers: map[models.Contraindication]bool{models.RecentSurgery: true}, TakenAt: at}, at) {
		t.Fatal("a positive screening did not hold the plan")
	}
	if _, err := r.store.SavePlan(ctx, active); err != nil {
		t.Fatal(err)
	}
	if err := m.Replan(ctx, becomesHeld.ID, at); err != nil {
		t.Fatal(err)
	}
	r.materialize(m, at.Add(30*time.Minute))
	checkQuestionnaires(t, r, becomesHeld, nil)
}
