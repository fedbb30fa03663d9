package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

type careStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	CreateScreening(ctx context.Context, sc models.Screening) error
	LatestScreening(ctx context.Context, patientID string) (models.Screening, error)
	SaveClearance(ctx context.Context, sc models.Screening) error
	CreatePlan(ctx context.Context, p models.Plan) error
	CurrentPlan(ctx context.Context, patientID string) (models.Plan, error)
	Plan(ctx context.Context, patientID, id string) (models.Plan, error)
	SavePlan(ctx context.Context, p models.Plan) (models.Plan, error)
	CreateSession(ctx context.Context, s models.Session) error
	Session(ctx context.Context, patientID, id string) (models.Session, error)
	SaveSession(ctx context.Context, s models.Session) (models.Session, error)
	ListSessions(ctx context.Context, q models.SessionQuery) ([]models.Session, error)
	CancelSourceReminders(ctx context.Context, patientID, sourceID string, now time.Time) error
	HasCareLink(ctx context.Context, patientID string) (bool, error)
	Clinic(ctx context.Context, id string) (models.Clinic, error)
}

type screeningRequest struct {
	Answers map[string]bool `json:"answers"`
}

type clearanceRequest struct {
	Date string `json:"date"`
	Note string `json:"note"`
}

type questionJSON struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type clearanceJSON struct {
	Date       string    `json:"date"`
	Note       string    `json:"note,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
	// By is patient (self-attested) or staff (a clinic stands behind it).
	By           string     `json:"by"`
	SelfAttested bool       `json:"self_attested"`
	Staff        *namedJSON `json:"staff,omitempty"`
	ClinicID     string     `json:"clinic_id,omitempty"`
}

type screeningJSON struct {
	ID             string          `json:"id"`
	TakenAt        time.Time       `json:"taken_at"`
	Answers        map[string]bool `json:"answers"`
	Positive       []string        `json:"positive"`
	NeedsClearance bool            `json:"needs_clearance"`
	Clearance      *clearanceJSON  `json:"clearance,omitempty"`
}

type screeningResponse struct {
	Questions []questionJSON `json:"questions"`
	Latest    *screeningJSON `json:"latest"`
	// Required tells the app to ask the questions (again): there is no
	// screening, or the latest is older than six months.
	Required bool `json:"required"`
	// Advice is set while a "yes" answer waits for a provider's clearance.
	Advice     string  `json:"advice,omitempty"`
	PlanStatus *string `json:"plan_status,omitempty"`
}

func questions() []questionJSON {
	qs := make([]questionJSON, len(models.Contraindications))
	for i, c := range models.Contraindications {
		qs[i] = questionJSON{ID: string(c), Text: c.Question()}
	}
	return qs
}

func toScreening(sc models.Screening, plan *models.Plan, now time.Time) screeningResponse {
	answers := make(map[string]bool, len(sc.Answers))
	for c, yes := range sc.Answers {
		answers[string(c)] = yes
	}
	r := screeningResponse{
		Questions: questions(),
		Latest: &screeningJSON{
			ID: sc.ID, TakenAt: sc.TakenAt, Answers: answers, Positive: strs(sc.Positive()), NeedsClearance: sc.NeedsClearance(),
		},
		Required: sc.IsStale(now),
	}
	if r.Latest.Positive == nil {
		r.Latest.Positive = []string{}
	}
	if sc.Clearance != nil {
		cl := sc.Clearance
		r.Latest.Clearance = &clearanceJSON{Date: cl.Date, Note: cl.Note, RecordedAt: cl.RecordedAt,
			By: string(models.ClearedByPatient), SelfAttested: cl.SelfAttested(), ClinicID: cl.ClinicID}
		if !cl.SelfAttested() {
			r.Latest.Clearance.By = string(models.ClearedByStaff)
			r.Latest.Clearance.Staff = &namedJSON{ID: cl.StaffID, Name: cl.StaffName}
		}
	}
	if sc.NeedsClearance() {
		r.Advice = models.ScreeningAdvice
	}
	if plan != nil {
		status := string(plan.Status)
		r.PlanStatus = &status
	}
	return r
}

// currentPlan returns the patient's open plan, or nil if there is none.
func currentPlan(ctx context.Context, s careStore, patientID string) (*models.Plan, error) {
	p, err := s.CurrentPlan(ctx, patientID)
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &p, nil
}

// followScreening holds or releases the open plan after a screening change.
func followScreening(ctx context.Context, s careStore, patientID string, sc models.Screening, now time.Time) (*models.Plan, error) {
	return updatePlan(ctx, s,
		func() (*models.Plan, error) { return currentPlan(ctx, s, patientID) },
		func(p *models.Plan) bool { return p.ApplyScreening(sc, now) })
}

// updatePlan loads a plan, applies a change and saves the plan if it
// changed. When another request wrote the plan in between, it loads and
// applies again: the change follows from data already saved (a screening, a
// completed session), so losing it to a race would leave the plan wrong.
func updatePlan(ctx context.Context, s careStore, load func() (*models.Plan, error), apply func(*models.Plan) bool) (*models.Plan, error) {
	for attempt := 1; ; attempt++ {
		plan, err := load()
		if err != nil || plan == nil {
			return plan, err
		}
		if !apply(plan) {
			return plan, nil
		}
		saved, err := s.SavePlan(ctx, *plan)
		if err == nil {
			return &saved, nil
		}
		if !models.IsStale(err) || attempt == editAttempts {
			return plan, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return plan, err
		}
	}
}

func handleGetScreening(s careStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sc, err := s.LatestScreening(c.UserContext(), patientID(c))
		if models.ErrorCode(err) == models.ErrNotFound {
			return c.JSON(screeningResponse{Questions: questions(), Required: true})
		}
		if err != nil {
			return err
		}
		plan, err := currentPlan(c.UserContext(), s, patientID(c))
		if err != nil {
			return err
		}
		return c.JSON(toScreening(sc, plan, stamp(now)))
	}
}

func handlePostScreening(s careStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req screeningRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		t := stamp(now)
		sc := models.Screening{ID: uuid.NewString(), PatientID: patientID(c), TakenAt: t, Answers: map[models.Contraindication]bool{}}
		for k, v := range req.Answers {
			sc.Answers[models.Contraindication(k)] = v
		}
		if err := sc.Validate(); err != nil {
			return err
		}
		// An erased account's access token stays valid for minutes; its
		// answers must not be stored after the erasure.
		if _, err := s.PatientByID(c.UserContext(), sc.PatientID); err != nil {
			return err
		}
		if err := s.CreateScreening(c.UserContext(), sc); err != nil {
			return err
		}
		plan, err := followScreening(c.UserContext(), s, sc.PatientID, sc, t)
		if err != nil {
			return err
		}
		rp.after(c, sc.PatientID, t)
		c.Status(fiber.StatusCreated)
		return c.JSON(toScreening(sc, plan, t))
	}
}

// handlePostClearance records the patient's own clearance. A patient whose
// care a clinic steers (an active care link) cannot: the clinic records it,
// and the plan waits for it.
func handlePostClearance(s careStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req clearanceRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		if err := models.ValidateClearance(req.Date, req.Note, stamp(now), p.Location()); err != nil {
			return err
		}
		linked, err := s.HasCareLink(c.UserContext(), p.ID)
		if err != nil {
			return err
		}
		if linked {
			return models.Errorf(models.ErrConflict, "your clinic records the clearance: show them your provider's clearance, and your plan starts once they have recorded it")
		}
		return recordClearance(c, s, nil, rp, req, models.Clearance{By: models.ClearedByPatient}, stamp(now))
	}
}

// recordClearance records a clearance of the request's patient's latest
// screening, by whom by says, and releases the plan it held; a clinic's
// clearance that releases the plan tells the patient through notices.
func recordClearance(c *fiber.Ctx, s careStore, notices clinicCareStore, rp replanner, req clearanceRequest, by models.Clearance, t time.Time) error {
	ctx := c.UserContext()
	p, err := s.PatientByID(ctx, patientID(c))
	if err != nil {
		return err
	}
	sc, err := s.LatestScreening(ctx, p.ID)
	if models.ErrorCode(err) == models.ErrNotFound {
		return models.Errorf(models.ErrConflict, "the safety screening has not been answered yet")
	}
	if err != nil {
		return err
	}
	if err := sc.RecordClearance(req.Date, req.Note, by, t, p.Location()); err != nil {
		return err
	}
	if err := s.SaveClearance(ctx, sc); err != nil {
		return err
	}
	// A clinic's clearance tells the patient when it releases the plan,
	// so the plan is read as it was before; a patient's own needs no read.
	var held *models.Plan
	if notices != nil {
		if held, err = currentPlan(ctx, s, p.ID); err != nil {
			return err
		}
	}
	plan, err := followScreening(ctx, s, p.ID, sc, t)
	if err != nil {
		return err
	}
	rp.after(c, p.ID, t)
	if held != nil && plan != nil && held.Status != plan.Status {
		careNotice(c, notices, p, models.VariantCarePlan, plan.ID, t, rp)
	}
	return c.JSON(toScreening(sc, plan, t))
}
