package handlers

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

// cadenceFields are the plan settings a patient may choose; absent ones
// keep their default or current value.
type cadenceFields struct {
	InitialSessions    *int    `json:"initial_sessions"`
	MaintenanceWeeks   *int    `json:"maintenance_weeks"`
	MaintenanceMonthly *bool   `json:"maintenance_monthly"`
	PreferredWeekday   *string `json:"preferred_weekday"`
	PreferredTime      *string `json:"preferred_time"`
	SessionMinutes     *int    `json:"session_minutes"`
	Aftercare          *string `json:"aftercare"`
	StretchingTime     *string `json:"stretching_time"`
	Stretching         *bool   `json:"stretching"`
}

type createPlanRequest struct {
	StartDate string `json:"start_date"`
	cadenceFields
}

type patchPlanRequest struct {
	// Action is pause, resume or complete.
	Action        *string `json:"action"`
	EffectiveFrom *string `json:"effective_from"`
	cadenceFields
}

type cadenceJSON struct {
	InitialSessions    int    `json:"initial_sessions"`
	MaintenanceWeeks   int    `json:"maintenance_weeks,omitempty"`
	MaintenanceMonthly bool   `json:"maintenance_monthly"`
	PreferredWeekday   string `json:"preferred_weekday"`
	PreferredTime      string `json:"preferred_time"`
	SessionMinutes     int    `json:"session_minutes"`
	Aftercare          string `json:"aftercare"`
	StretchingTime     string `json:"stretching_time"`
	Stretching         bool   `json:"stretching"`
}

type cadenceVersionJSON struct {
	EffectiveFrom string      `json:"effective_from"`
	Cadence       cadenceJSON `json:"cadence"`
}

type planChangeJSON struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
	From string    `json:"from,omitempty"`
	To   string    `json:"to"`
}

type nextSessionJSON struct {
	DueDate          string    `json:"due_date"`
	DueAt            time.Time `json:"due_at"`
	Overdue          bool      `json:"overdue"`
	BookedSessionID  *string   `json:"booked_session_id"`
	CompletedInPhase int       `json:"completed_in_phase"`
	InitialSessions  int       `json:"initial_sessions"`
}

type planResponse struct {
	ID          string               `json:"id"`
	Status      string               `json:"status"`
	Phase       string               `json:"phase"`
	StartDate   string               `json:"start_date"`
	Cadence     cadenceJSON          `json:"cadence"`
	Versions    []cadenceVersionJSON `json:"cadence_versions"`
	History     []planChangeJSON     `json:"history"`
	NextSession *nextSessionJSON     `json:"next_session"`
	// Advice is set while the plan waits for a provider's clearance.
	Advice string `json:"advice,omitempty"`
	// HomeCare is the therapist's home-care instructions.
	HomeCare string `json:"home_care,omitempty"`
	// ClinicID is the clinic that wrote or last changed the plan.
	ClinicID  string    `json:"clinic_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toCadence(c models.Cadence) cadenceJSON {
	return cadenceJSON{
		InitialSessions: c.InitialSessions, MaintenanceWeeks: c.MaintenanceWeeks, MaintenanceMonthly: c.MaintenanceMonthly,
		PreferredWeekday: strings.ToLower(c.PreferredWeekday.String()), PreferredTime: c.PreferredTime,
		SessionMinutes: c.SessionMinutes, Aftercare: string(c.Aftercare), StretchingTime: c.StretchingTime,
		Stretching: !c.StretchingOff,
	}
}

func toPlan(p models.Plan, sessions []models.Session, now time.Time, loc *time.Location) planResponse {
	r := planResponse{
		ID: p.ID, Status: string(p.Status), Phase: string(p.Phase), StartDate: p.StartDate(),
		Cadence:  toCadence(p.CadenceOn(models.LocalDateOf(now, loc))),
		HomeCare: p.HomeCare, ClinicID: p.ClinicID, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	for _, v := range p.Cadences {
		r.Versions = append(r.Versions, cadenceVersionJSON{EffectiveFrom: v.From, Cadence: toCadence(v.Cadence)})
	}
	for _, h := range p.History {
		r.History = append(r.History, planChangeJSON{At: h.At, What: string(h.What), From: h.From, To: h.To})
	}
	if p.Status != models.PlanCompleted {
		n := p.NextSession(sessions, now, loc)
		r.NextSession = &nextSessionJSON{
			DueDate: n.DueDate, DueAt: n.DueAt.UTC(), Overdue: n.Overdue,
			CompletedInPhase: n.CompletedInPhase, InitialSessions: n.InitialSessions,
		}
		if n.Booked != nil {
			r.NextSession.BookedSessionID = &n.Booked.ID
		}
	}
	if p.Status == models.PlanNeedsClearance {
		r.Advice = models.ScreeningAdvice
	}
	return r
}

// applyCadence sets the fields f names on c.
func applyCadence(c *models.Cadence, f cadenceFields, probs *models.Problems) {
	if f.InitialSessions != nil {
		c.InitialSessions = *f.InitialSessions
	}
	if f.MaintenanceWeeks != nil {
		c.MaintenanceWeeks = *f.MaintenanceWeeks
		c.MaintenanceMonthly = false
	}
	if f.MaintenanceMonthly != nil {
		c.MaintenanceMonthly = *f.MaintenanceMonthly
		switch {
		case c.MaintenanceMonthly && f.MaintenanceWeeks == nil:
			c.MaintenanceWeeks = 0
		case !c.MaintenanceMonthly && c.MaintenanceWeeks == 0:
			c.MaintenanceWeeks = models.DefaultMaintenanceWeeks
		}
	}
	if f.PreferredWeekday != nil {
		d, ok := parseWeekday(*f.PreferredWeekday)
		if !ok {
			probs.Add("preferred_weekday", "must be a weekday such as monday")
		}
		c.PreferredWeekday = d
	}
	if f.PreferredTime != nil {
		c.PreferredTime = *f.PreferredTime
	}
	if f.SessionMinutes != nil {
		c.SessionMinutes = *f.SessionMinutes
	}
	if f.Aftercare != nil {
		c.Aftercare = models.Aftercare(*f.Aftercare)
	}
	if f.StretchingTime != nil {
		c.StretchingTime = *f.StretchingTime
	}
	if f.Stretching != nil {
		c.StretchingOff = !*f.Stretching
	}
}

func (f cadenceFields) empty() bool { return f == cadenceFields{} }

// planSessions returns every session of a plan: a plan has tens, not thousands.
func planSessions(ctx context.Context, s careStore, p models.Plan) ([]models.Session, error) {
	return s.ListSessions(ctx, models.SessionQuery{
		PatientID: p.PatientID, PlanID: p.ID, From: time.Time{}, To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 10_000,
	})
}

func handleCreatePlan(s careStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req createPlanRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		plan, err := newPlanFor(ctx, s, p, req.StartDate, req.cadenceFields, t)
		if err != nil {
			return err
		}
		if err := s.CreatePlan(ctx, plan); err != nil {
			return err
		}
		rp.after(c, p.ID, t)
		c.Status(fiber.StatusCreated)
		return c.JSON(toPlan(plan, nil, t, p.Location()))
	}
}

// newPlanFor makes patient p's new plan from start (a local date, today
// when empty) and the cadence fields f: the patient's own or their clinic's.
// The screening must be answered, and recent.
func newPlanFor(ctx context.Context, s careStore, p models.Patient, start string, f cadenceFields, t time.Time) (models.Plan, error) {
	loc := p.Location()
	sc, err := s.LatestScreening(ctx, p.ID)
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return models.Plan{}, screeningRequired("the safety screening must be answered before a deep tissue massage plan starts")
	case err != nil:
		return models.Plan{}, err
	case sc.IsStale(t):
		return models.Plan{}, screeningRequired("the safety screening is more than 6 months old; it must be answered again before a plan starts")
	}
	var probs models.Problems
	if start == "" {
		start = models.LocalDateOf(t, loc)
	}
	startDay, err := time.Parse(time.DateOnly, start)
	if err != nil {
		probs.Add("start_date", "must be a date as YYYY-MM-DD")
	}
	cadence := models.DefaultCadence(startDay.Weekday())
	applyCadence(&cadence, f, &probs)
	if err := probs.Err(); err != nil {
		return models.Plan{}, err
	}
	return models.NewPlan(uuid.NewString(), p.ID, start, cadence, sc.NeedsClearance(), t)
}

func screeningRequired(msg string) error {
	return &models.Error{Code: models.ErrConflict, Message: msg,
		Fields: []models.FieldError{{Field: "screening", Message: "is required"}}}
}

// handleGetCurrentPlan returns the open plan, with its version as ETag.
func handleGetCurrentPlan(s careStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, t := c.UserContext(), stamp(now)
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		plan, err := s.CurrentPlan(ctx, p.ID)
		if err != nil {
			return err
		}
		sessions, err := planSessions(ctx, s, plan)
		if err != nil {
			return err
		}
		setETag(c, plan.Version)
		return c.JSON(toPlan(plan, sessions, t, p.Location()))
	}
}

// handlePatchPlan changes the cadence from a date, or pauses, resumes or
// completes the plan: the version If-Match names, or else the current one
// (see edit).
func handlePatchPlan(s careStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req patchPlanRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "plan not found")
		}
		ctx := c.UserContext()
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		loc := p.Location()
		var (
			plan models.Plan
			t    time.Time
		)
		err = edit(c, pre, func() error {
			var err error
			t = stamp(now)
			if plan, err = s.Plan(ctx, p.ID, c.Params("id")); err != nil {
				return err
			}
			if err := pre.check(plan.Version); err != nil {
				return err
			}
			if err := req.apply(&plan, t, loc); err != nil {
				return err
			}
			plan, err = s.SavePlan(ctx, plan)
			return err
		})
		if err != nil {
			return err
		}
		rp.after(c, p.ID, t)
		sessions, err := planSessions(ctx, s, plan)
		if err != nil {
			return err
		}
		setETag(c, plan.Version)
		return c.JSON(toPlan(plan, sessions, t, loc))
	}
}

// apply makes the change req asks of plan.
func (req patchPlanRequest) apply(plan *models.Plan, now time.Time, loc *time.Location) error {
	if req.Action == nil && req.EffectiveFrom == nil && req.cadenceFields.empty() {
		return invalid("body", "name an action or the cadence fields to change")
	}
	if !req.cadenceFields.empty() || req.EffectiveFrom != nil {
		if req.EffectiveFrom == nil {
			return invalid("effective_from", "is required when the cadence changes: from which date does it apply?")
		}
		var probs models.Problems
		cadence := plan.CadenceOn(*req.EffectiveFrom)
		applyCadence(&cadence, req.cadenceFields, &probs)
		if err := probs.Err(); err != nil {
			return err
		}
		if err := plan.ChangeCadence(*req.EffectiveFrom, cadence, now, loc); err != nil {
			return err
		}
	}
	if req.Action == nil {
		return nil
	}
	switch *req.Action {
	case "pause":
		return plan.Pause(now)
	case "resume":
		return plan.Resume(now)
	case "complete":
		return plan.Complete(now)
	default:
		return invalid("action", "must be pause, resume or complete")
	}
}
