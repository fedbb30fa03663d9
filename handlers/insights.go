package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type recordStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	RecordsOf(ctx context.Context, patientID string) (models.PatientRecords, error)
	ProgressOf(ctx context.Context, patientID string) (models.PatientRecords, error)
	CurrentPlan(ctx context.Context, patientID string) (models.Plan, error)
	ErasePatient(ctx context.Context, p models.Patient, now time.Time) error
	auditStore
	CreateReport(ctx context.Context, r models.Report) error
	ReportByTokenHash(ctx context.Context, hash string) (models.Report, error)
	RevokeReport(ctx context.Context, patientID, id string, now time.Time) (bool, error)
}

// insightsOf computes a patient's insights over [from, to] (local dates;
// empty means the last 30 days) from everything held about them.
func insightsOf(recs models.PatientRecords, plan *models.Plan, from, to string, now time.Time) (models.Insights, error) {
	loc := recs.Patient.Location()
	today := models.LocalDateOf(now, loc)
	if to == "" {
		to = today
	}
	if from == "" {
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return models.Insights{}, invalid("to", "must be a date as YYYY-MM-DD")
		}
		from = t.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	return models.ComputeInsights(models.InsightsInput{
		From: from, To: to, Today: today, Logs: recs.PainLogs, Sessions: recs.Sessions,
		Plan: plan, Reminders: recs.Reminders, Responses: recs.Responses, Loc: loc,
	})
}

// openPlan returns the plan of recs that is not completed, or nil.
func openPlan(recs models.PatientRecords) *models.Plan {
	for _, p := range recs.Plans {
		if p.Status != models.PlanCompleted {
			return &p
		}
	}
	return nil
}

// handleInsights answers ?from&to (local dates, by default the last 30
// days) with the patient's progress figures, each with the number of data
// points it rests on.
func handleInsights(s recordStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c, "from", "to"); err != nil {
			return err
		}
		recs, err := s.ProgressOf(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		in, err := insightsOf(recs, openPlan(recs), c.Query("from"), c.Query("to"), stamp(now))
		if err != nil {
			return err
		}
		return c.JSON(toInsightsJSON(in))
	}
}
