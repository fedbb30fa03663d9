package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/backcare/backcare/models"
)

// MaterializeStore is what the materializer reads and writes.
type MaterializeStore interface {
	PatientPage(ctx context.Context, after string, limit int) ([]models.Patient, error)
	PatientsByID(ctx context.Context, ids []string) (map[string]models.Patient, error)
	OpenPlansOf(ctx context.Context, patientIDs []string) (map[string]models.Plan, error)
	SessionsOf(ctx context.Context, patientIDs []string, since time.Time) (map[string][]models.Session, error)
	LastQuestionnaireAnswers(ctx context.Context, questionnaire string, patientIDs []string, since time.Time) (map[string]time.Time, error)
	SkipAnsweredQuestionnaireReminders(ctx context.Context, until map[string]time.Time, now time.Time) (int64, error)
	UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error)
	DeletePendingFrom(ctx context.Context, patientID string, from time.Time) error
}

// MaterializeConfig configures a Materializer.
type MaterializeConfig struct {
	Store  MaterializeStore
	Logger *slog.Logger
	// Horizon is how far ahead occurrences are written (default 7 days).
	Horizon time.Duration
	// BatchSize is how many patients are planned per round of reads and one
	// bulk write (default 200).
	BatchSize int
}

// Materializer writes each patient's reminder occurrences for a rolling
// horizon into the reminders collection, from their plan, sessions and
// preferences, in their time zone. Writing is idempotent (an occurrence's
// id is its dedupe key), so every instance may run it at once.
type Materializer struct {
	cfg MaterializeConfig
}

// sessionLookback is how far back sessions are read: far enough for the
// last completed one of a plan in maintenance (at most 6 weeks or a month
// apart, overdue included) and for aftercare still under way.
const sessionLookback = 180 * 24 * time.Hour

// aftercareSpan is how long after a session's end its aftercare runs
// (soreness check-in at +48 h, alive 12 h more).
const aftercareSpan = 72 * time.Hour

// NewMaterializer returns a materializer with cfg's defaults filled in.
func NewMaterializer(cfg MaterializeConfig) *Materializer {
	if cfg.Horizon == 0 {
		cfg.Horizon = 7 * 24 * time.Hour
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 200
	}
	return &Materializer{cfg: cfg}
}

// Name names the job in logs.
func (m *Materializer) Name() string { return "materialize" }

// RunOnce plans every patient, a batch at a time.
func (m *Materializer) RunOnce(ctx context.Context, now time.Time) error {
	after := ""
	var written int64
	for {
		patients, err := m.cfg.Store.PatientPage(ctx, after, m.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(patients) == 0 {
			break
		}
		n, err := m.plan(ctx, patients, now)
		if err != nil {
			return err
		}
		written += n
		after = patients[len(patients)-1].ID
	}
	if written > 0 {
		m.cfg.Logger.Info("reminders materialized", "new", written)
	}
	return nil
}

// Replan re-plans one patient at once, after a change that moves their
// occurrences: a session booked, moved, cancelled or completed, a plan or
// screening change, a new time zone, quiet hours or preference. Pending
// occurrences from now on are dropped and planned afresh; sent ones keep
// their ids and are not sent again; snoozed ones keep their snooze.
func (m *Materializer) Replan(ctx context.Context, patientID string, now time.Time) error {
	// A pending occurrence that another writer held (a dispatcher claiming
	// it) is not dropped; the rest are still planned afresh, and the held
	// one keeps its id, so planning adds no second copy of it.
	if err := m.cfg.Store.DeletePendingFrom(ctx, patientID, now); err != nil && !models.IsStale(err) {
		return err
	} else if err != nil {
		m.cfg.Logger.Warn("re-plan: some pending reminders were being written by another; they keep their times", "patient_id", patientID, "error", err)
	}
	byID, err := m.cfg.Store.PatientsByID(ctx, []string{patientID})
	if err != nil {
		return err
	}
	p, ok := byID[patientID]
	if !ok {
		return nil
	}
	_, err = m.plan(ctx, []models.Patient{p}, now)
	return err
}

// plan writes the occurrences of a batch of patients: one read of their
// plans, one of their sessions, one of their recent questionnaire answers,
// one bulk write.
func (m *Materializer) plan(ctx context.Context, patients []models.Patient, now time.Time) (int64, error) {
	ids := make([]string, len(patients))
	for i, p := range patients {
		ids[i] = p.ID
	}
	plans, err := m.cfg.Store.OpenPlansOf(ctx, ids)
	if err != nil {
		return 0, err
	}
	sessions, err := m.cfg.Store.SessionsOf(ctx, ids, now.Add(-sessionLookback))
	if err != nil {
		return 0, err
	}
	// Only an answer in the last QuestionnaireAnswerWindow covers an
	// occurrence due from now on.
	answers, err := m.cfg.Store.LastQuestionnaireAnswers(ctx, models.QuestionnairePEG3, ids, now.Add(-models.QuestionnaireAnswerWindow))
	if err != nil {
		return 0, err
	}
	if err := m.skipAnswered(ctx, answers, now); err != nil {
		return 0, err
	}
	until := now.Add(m.cfg.Horizon)
	var rs []models.Reminder
	for _, p := range patients {
		rs = append(rs, occurrencesOf(p, plans, sessions[p.ID], answers[p.ID], now, until)...)
	}
	for i := range rs {
		rs[i].CreatedAt, rs[i].UpdatedAt = now, now
	}
	n, err := m.cfg.Store.UpsertReminders(ctx, rs)
	if err != nil {
		return 0, fmt.Errorf("write reminders: %w", err)
	}
	return n, nil
}

// skipAnswered skips the questionnaire_due occurrences planned before an
// answer came that now covers them. The dispatcher does not look at answers,
// so this, every run, is what keeps them from being sent; one due before the
// next run may still go.
func (m *Materializer) skipAnswered(ctx context.Context, answers map[string]time.Time, now time.Time) error {
	until := make(map[string]time.Time, len(answers))
	for id, at := range answers {
		until[id] = at.Add(models.QuestionnaireAnswerWindow)
	}
	n, err := m.cfg.Store.SkipAnsweredQuestionnaireReminders(ctx, until, now)
	switch {
	case models.IsStale(err):
		// Another writer held some; the next run skips them.
		m.cfg.Logger.Warn("questionnaire reminders: some answered ones were being written by another", "error", err)
	case err != nil:
		return fmt.Errorf("skip answered questionnaire reminders: %w", err)
	case n > 0:
		m.cfg.Logger.Info("questionnaire reminders skipped: already answered", "skipped", n)
	}
	return nil
}

// occurrencesOf is one patient's occurrences due before until: the daily
// routine, the reminders before each scheduled session, the aftercare of
// sessions that ended recently, and the questionnaire (lastAnswer is the
// patient's latest recent answer, zero when there is none).
func occurrencesOf(p models.Patient, plans map[string]models.Plan, sessions []models.Session, lastAnswer, now, until time.Time) []models.Reminder {
	var plan *models.Plan
	var next models.NextSession
	status := models.PlanStatus("")
	if pl, ok := plans[p.ID]; ok {
		plan, status = &pl, pl.Status
		next = pl.NextSession(sessions, now, p.Location())
	}
	out := models.DailyReminders(p, plan, next, now, until)
	out = append(out, models.QuestionnaireReminders(p, status, sessions, lastAnswer, now, until)...)
	for _, s := range sessions {
		switch {
		case s.Status == models.SessionScheduled && s.ScheduledAt.After(now) && s.ScheduledAt.Before(until.Add(24*time.Hour)):
			out = append(out, models.SessionReminders(p, s, status, now)...)
		case s.Status == models.SessionCompleted && s.End().After(now.Add(-aftercareSpan)):
			for _, r := range models.AftercareReminders(p, s) {
				if r.ExpiresAt.After(now) {
					out = append(out, r)
				}
			}
		}
	}
	return out
}
