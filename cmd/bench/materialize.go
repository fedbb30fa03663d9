package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
)

func init() { register("materialize", benchMaterialize) }

// benchMaterialize plans a 7-day horizon for patients who each have an
// active plan, a session completed yesterday (aftercare under way) and one
// booked in three days: the materializer's full run, as at start and every
// half hour.
func benchMaterialize(ctx context.Context, env benchEnv) ([]row, error) {
	patients := 10_000
	if env.Quick {
		patients = 500
	}
	counter := &commandCounter{}
	st, db, closeDB, err := openStore(ctx, env, counter.monitor())
	if err != nil {
		return nil, err
	}
	defer closeDB()
	now := time.Now()
	if _, err := seedPatients(ctx, db, 0, patients, now); err != nil {
		return nil, err
	}
	var plans, sessions []any
	for i := range patients {
		id := fmt.Sprintf("p%07d", i)
		start := now.AddDate(0, 0, -7)
		plan, err := models.NewPlan("plan-"+id, id, start.Format(time.DateOnly), models.DefaultCadence(start.Weekday()), false, now)
		if err != nil {
			return nil, err
		}
		// As stored: the open plan is keyed by its patient (see store.planDoc).
		plans = append(plans, struct {
			models.Plan `bson:",inline"`
			OpenKey     string `bson:"open_key"`
		}{plan, id})
		done := now.Add(-24 * time.Hour)
		sessions = append(sessions,
			models.Session{
				ID: "s1-" + id, PatientID: id, PlanID: plan.ID, ScheduledAt: done, DurationMinutes: 60,
				Status: models.SessionCompleted, CompletedAt: &now, CreatedAt: now, UpdatedAt: now,
			},
			models.Session{
				ID: "s2-" + id, PatientID: id, PlanID: plan.ID, ScheduledAt: now.Add(72 * time.Hour), DurationMinutes: 60,
				Status: models.SessionScheduled, CreatedAt: now, UpdatedAt: now,
			})
	}
	if err := insertAll(ctx, db.Collection("plans"), plans); err != nil {
		return nil, err
	}
	if err := insertAll(ctx, db.Collection("sessions"), sessions); err != nil {
		return nil, err
	}

	m := jobs.NewMaterializer(jobs.MaterializeConfig{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cpu0 := cpuTime()
	counter.start()
	start := time.Now()
	if err := m.RunOnce(ctx, now); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	counter.stop()
	cpu := cpuTime() - cpu0
	written, err := db.Collection("reminders").EstimatedDocumentCount(ctx)
	if err != nil {
		return nil, err
	}
	if written == 0 {
		return nil, fmt.Errorf("the materializer wrote no reminders")
	}
	commands := float64(counter.count())
	byName := commandRows(counter)

	// Every half hour the materializer runs again over occurrences that
	// mostly exist already.
	counter.start()
	start = time.Now()
	if err := m.RunOnce(ctx, now); err != nil {
		return nil, err
	}
	again := time.Since(start)
	counter.stop()
	rows := []row{
		{Metric: "patients", Value: float64(patients), Unit: "patients"},
		{Metric: "reminders written (7 days)", Value: float64(written), Unit: "reminders"},
		{Metric: "time", Value: round(elapsed.Seconds(), 2), Unit: "s"},
		{Metric: "DB commands", Value: commands, Unit: "commands"},
		{Metric: "DB commands per patient", Value: round(commands/float64(patients), 3), Unit: "commands"},
		{Metric: "CPU (materializer + engine)", Value: round(cpu.Seconds(), 2), Unit: "s"},
		{Metric: "run again, all exist: time", Value: round(again.Seconds(), 2), Unit: "s"},
		{Metric: "run again, all exist: DB commands", Value: float64(counter.count()), Unit: "commands"},
	}
	return append(rows, byName...), nil
}
