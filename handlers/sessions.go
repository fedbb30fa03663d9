package handlers

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

type sessionRequest struct {
	ScheduledAt     string `json:"scheduled_at"`
	DurationMinutes *int   `json:"duration_minutes"`
	Therapist       string `json:"therapist"`
	Clinic          string `json:"clinic"`
}

type sessionPatch struct {
	// Action is cancel or missed; without it the fields reschedule or edit.
	Action          *string `json:"action"`
	ScheduledAt     *string `json:"scheduled_at"`
	DurationMinutes *int    `json:"duration_minutes"`
	Therapist       *string `json:"therapist"`
	Clinic          *string `json:"clinic"`
}

type completeRequest struct {
	PressureFelt  *int   `json:"pressure_felt"`
	SorenessAfter *int   `json:"soreness_after"`
	Note          string `json:"note"`
}

type feedbackJSON struct {
	PressureFelt  int    `json:"pressure_felt"`
	SorenessAfter int    `json:"soreness_after"`
	Note          string `json:"note,omitempty"`
}

type sessionResponse struct {
	ID              string        `json:"id"`
	PlanID          string        `json:"plan_id,omitempty"`
	ScheduledAt     time.Time     `json:"scheduled_at"`
	EndsAt          time.Time     `json:"ends_at"`
	DurationMinutes int           `json:"duration_minutes"`
	Status          string        `json:"status"`
	Therapist       string        `json:"therapist,omitempty"`
	Clinic          string        `json:"clinic,omitempty"`
	Feedback        *feedbackJSON `json:"feedback,omitempty"`
	CompletedAt     *time.Time    `json:"completed_at,omitempty"`
	// ClinicID is set for a session the clinic booked; its cancellation
	// window then applies to the patient's changes.
	ClinicID string `json:"clinic_id,omitempty"`
	// SharedNote is the summary the clinic shared with the patient.
	SharedNote *sharedNoteJSON `json:"shared_note,omitempty"`
	// Note is the clinic's whole note, on the clinic's routes only.
	Note *noteJSON `json:"note,omitempty"`
	// AlreadyCompleted tells a retried completion that nothing new happened.
	AlreadyCompleted bool      `json:"already_completed,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

type sharedNoteJSON struct {
	Summary   string    `json:"summary"`
	Author    namedJSON `json:"author"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toSession(s models.Session) sessionResponse {
	r := sessionResponse{
		ID: s.ID, PlanID: s.PlanID, ScheduledAt: s.ScheduledAt, EndsAt: s.End(), DurationMinutes: s.DurationMinutes,
		Status: string(s.Status), Therapist: s.Therapist, Clinic: s.Clinic, CompletedAt: s.CompletedAt, ClinicID: s.ClinicID,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
	if s.Feedback != nil {
		r.Feedback = &feedbackJSON{PressureFelt: s.Feedback.PressureFelt, SorenessAfter: s.Feedback.SorenessAfter, Note: s.Feedback.Note}
	}
	return r
}

// overlapWindow is how far around a session to look for others that could
// overlap it: longer than the longest session.
const overlapWindow = 3 * time.Hour

func checkOverlap(ctx context.Context, s careStore, ss models.Session) error {
	near, err := s.ListSessions(ctx, models.SessionQuery{
		PatientID: ss.PatientID, From: ss.ScheduledAt.Add(-overlapWindow), To: ss.ScheduledAt.Add(overlapWindow), Limit: 100,
	})
	if err != nil {
		return err
	}
	return models.CheckOverlap(ss, near)
}

// sessionOf loads the session named in the path: {sid} on the clinic's
// routes, whose {id} is the patient, and {id} on the patient's.
func sessionOf(c *fiber.Ctx, s careStore) (models.Session, error) {
	id := c.Params("sid")
	if id == "" {
		id = c.Params("id")
	}
	if _, err := uuid.Parse(id); err != nil {
		return models.Session{}, models.Errorf(models.ErrNotFound, "session not found")
	}
	return s.Session(c.UserContext(), patientID(c), id)
}

// changeableSession loads the session in the path for a change: on a
// clinic's route, a session another clinic booked is not this clinic's to
// change (it sees it, as the patient consented to, but the other clinic
// keeps it).
func changeableSession(c *fiber.Ctx, s careStore) (models.Session, error) {
	ss, err := sessionOf(c, s)
	if err != nil {
		return ss, err
	}
	if st, staff := staffOf(c); staff && ss.ClinicID != "" && ss.ClinicID != st.ClinicID {
		return models.Session{}, models.Errorf(models.ErrNotFound, "session not found among the ones your clinic keeps")
	}
	return ss, nil
}

// withNotes adds to sessions the clinic's notes on them: the whole note on
// a clinic's route, the shared summary on the patient's.
func withNotes(c *fiber.Ctx, s clinicCareStore, sessions []sessionResponse) error {
	ids := make([]string, len(sessions))
	for i, ss := range sessions {
		ids[i] = ss.ID
	}
	notes, err := s.NotesOf(c.UserContext(), patientID(c), ids)
	if err != nil {
		return err
	}
	st, staff := staffOf(c)
	for i := range sessions {
		n, ok := notes[sessions[i].ID]
		switch {
		case !ok:
		case staff && n.ClinicID != st.ClinicID:
			// Another clinic's note is that clinic's record.
		case staff:
			note := toNote(n)
			sessions[i].Note = &note
		case n.Shared:
			sessions[i].SharedNote = &sharedNoteJSON{Summary: n.Summary, Author: namedJSON{ID: n.AuthorID, Name: n.AuthorName}, UpdatedAt: n.UpdatedAt}
		}
	}
	return nil
}

func handleBookSession(s careStore, notices clinicCareStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req sessionRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		ctx, t := c.UserContext(), stamp(now)
		var probs models.Problems
		ss := models.Session{
			ID: uuid.NewString(), PatientID: patientID(c), ScheduledAt: parseInstant(&probs, "scheduled_at", req.ScheduledAt),
			DurationMinutes: models.DefaultSessionMinutes, Status: models.SessionScheduled,
			Therapist: req.Therapist, Clinic: req.Clinic, CreatedAt: t, UpdatedAt: t,
		}
		p, err := s.PatientByID(ctx, ss.PatientID)
		if err != nil {
			return err
		}
		plan, err := currentPlan(ctx, s, ss.PatientID)
		if err != nil {
			return err
		}
		if plan != nil {
			ss.PlanID = plan.ID
			ss.DurationMinutes = plan.CadenceOn(models.LocalDateOf(ss.ScheduledAt, p.Location())).SessionMinutes
		}
		if req.DurationMinutes != nil {
			ss.DurationMinutes = *req.DurationMinutes
		}
		st, staff := staffOf(c)
		if staff {
			clinic, err := s.Clinic(ctx, st.ClinicID)
			if err != nil {
				return err
			}
			ss.ClinicID, ss.BookedBy = clinic.ID, st.ID
			if ss.Clinic == "" {
				ss.Clinic = clinic.Name
			}
			if ss.Therapist == "" {
				ss.Therapist = st.Name
			}
		}
		probs.Merge(ss.Validate(t))
		if err := probs.Err(); err != nil {
			return err
		}
		if err := checkOverlap(ctx, s, ss); err != nil {
			return err
		}
		if err := s.CreateSession(ctx, ss); err != nil {
			return err
		}
		rp.after(c, ss.PatientID, t)
		careNotice(c, notices, p, models.VariantCareSession, ss.ID, t, rp)
		c.Status(fiber.StatusCreated)
		return c.JSON(toSession(ss))
	}
}

// handleListSessions lists sessions starting in ?from&to (RFC 3339
// instants; by default from 90 days ago to a year ahead).
func handleListSessions(s careStore, notes clinicCareStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := stamp(now)
		from, to, limit, err := instantWindow(c, t.AddDate(0, 0, -90), t.AddDate(1, 0, 0), 3*maxRangeDays*24*time.Hour)
		if err != nil {
			return err
		}
		sessions, err := s.ListSessions(c.UserContext(), models.SessionQuery{PatientID: patientID(c), From: from, To: to, Limit: limit})
		if err != nil {
			return err
		}
		items := make([]sessionResponse, len(sessions))
		for i, ss := range sessions {
			items[i] = toSession(ss)
		}
		if err := withNotes(c, notes, items); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"items": items})
	}
}

// handleGetSession returns one session, with its version as ETag.
func handleGetSession(s careStore, notes clinicCareStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ss, err := sessionOf(c, s)
		if err != nil {
			return err
		}
		one := []sessionResponse{toSession(ss)}
		if err := withNotes(c, notes, one); err != nil {
			return err
		}
		setETag(c, ss.Version)
		return c.JSON(one[0])
	}
}

// handlePatchSession cancels a session, marks it missed, or reschedules or
// edits it: the version If-Match names, or else the current one (see edit).
func handlePatchSession(s careStore, notices clinicCareStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req sessionPatch
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		ctx := c.UserContext()
		var (
			ss models.Session
			t  time.Time
		)
		err = edit(c, pre, func() error {
			var err error
			t = stamp(now)
			if ss, err = changeableSession(c, s); err != nil {
				return err
			}
			if err := pre.check(ss.Version); err != nil {
				return err
			}
			if err := withinWindow(c, s, ss, req, t); err != nil {
				return err
			}
			if err := changeSession(c, s, &ss, req, t); err != nil {
				return err
			}
			ss, err = s.SaveSession(ctx, ss)
			return err
		})
		if err != nil {
			return err
		}
		if req.Action != nil {
			// Its reminders stay listed, as cancelled, rather than vanish.
			// The session is saved by now: if a dispatcher kept winning the
			// race for its reminders, the re-plan below still drops the
			// pending ones, so the request answers what was saved.
			if err := s.CancelSourceReminders(ctx, ss.PatientID, ss.ID, t); err != nil && !models.IsStale(err) {
				return err
			} else if err != nil {
				rp.logger.WarnContext(ctx, "cancelling a session's reminders lost to concurrent writes; the re-plan drops them",
					"request_id", requestID(c), "session_id", ss.ID, "error", err)
			}
		}
		rp.after(c, ss.PatientID, t)
		if _, staff := staffOf(c); staff {
			if p, err := s.PatientByID(ctx, ss.PatientID); err == nil {
				careNotice(c, notices, p, models.VariantCarePlan, ss.ID, t, rp)
			}
		}
		setETag(c, ss.Version)
		return c.JSON(toSession(ss))
	}
}

// withinWindow refuses a patient's cancellation or move of a session their
// clinic booked, inside the clinic's cancellation window: they call the
// clinic. Staff may still make the change.
func withinWindow(c *fiber.Ctx, s careStore, ss models.Session, req sessionPatch, now time.Time) error {
	if _, staff := staffOf(c); staff || ss.ClinicID == "" || ss.Status != models.SessionScheduled {
		return nil
	}
	cancels := req.Action != nil && *req.Action == "cancel"
	if !cancels && req.ScheduledAt == nil {
		return nil
	}
	clinic, err := s.Clinic(c.UserContext(), ss.ClinicID)
	if err != nil {
		return err
	}
	if !clinic.InsideCancellationWindow(ss.ScheduledAt, now) {
		return nil
	}
	return models.Errorf(models.ErrConflict, "this massage starts within %d hours, inside %s's cancellation window: contact the clinic to cancel or move it",
		clinic.CancellationHours, clinic.Name)
}

// changeSession makes the change req asks of ss.
func changeSession(c *fiber.Ctx, s careStore, ss *models.Session, req sessionPatch, now time.Time) error {
	if req.Action == nil {
		if err := editSession(ss, req, now); err != nil {
			return err
		}
		return checkOverlap(c.UserContext(), s, *ss)
	}
	if req.ScheduledAt != nil || req.DurationMinutes != nil || req.Therapist != nil || req.Clinic != nil {
		return invalid("action", "cannot be combined with changes to the session")
	}
	switch *req.Action {
	case "cancel":
		return ss.Cancel(now)
	case "missed":
		return ss.MarkMissed(now)
	}
	if _, staff := staffOf(c); staff && *req.Action == "no_show" {
		return ss.MarkNoShow(now)
	} else if staff {
		return invalid("action", "must be cancel, missed or no_show")
	}
	return invalid("action", "must be cancel or missed")
}

// editSession applies a reschedule or an edit of a scheduled session.
func editSession(ss *models.Session, req sessionPatch, now time.Time) error {
	if req.ScheduledAt == nil && req.DurationMinutes == nil && req.Therapist == nil && req.Clinic == nil {
		return invalid("body", "name an action or the fields to change")
	}
	var probs models.Problems
	if req.ScheduledAt != nil {
		at := parseInstant(&probs, "scheduled_at", *req.ScheduledAt)
		if err := probs.Err(); err != nil {
			return err
		}
		if err := ss.Reschedule(at, now); err != nil {
			return err
		}
	} else if ss.Status != models.SessionScheduled {
		return models.Errorf(models.ErrConflict, "only a scheduled session can be changed; this one is %s", ss.Status)
	}
	if req.DurationMinutes != nil {
		ss.DurationMinutes = *req.DurationMinutes
	}
	if req.Therapist != nil {
		ss.Therapist = *req.Therapist
	}
	if req.Clinic != nil {
		ss.Clinic = *req.Clinic
	}
	ss.UpdatedAt = now
	return ss.Validate(now)
}

// handleCompleteSession records that a session took place, once: a retry,
// or a request that lost the race to complete it, answers
// already_completed and starts nothing new. Completing the initial phase's
// last session moves the plan to maintenance.
func handleCompleteSession(s careStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req completeRequest
		if len(bytes.TrimSpace(c.Body())) > 0 {
			if err := decodeBody(c, &req); err != nil {
				return err
			}
		}
		feedback, err := req.feedback()
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		var (
			ss      models.Session
			t       time.Time
			changed bool
		)
		err = edit(c, nil, func() error {
			var err error
			t = stamp(now)
			if ss, err = changeableSession(c, s); err != nil {
				return err
			}
			if _, staff := staffOf(c); !staff && ss.Status == models.SessionNoShow {
				return models.Errorf(models.ErrConflict, "your clinic recorded this session as a no-show; contact them if that is wrong")
			}
			if changed, err = ss.Complete(t, feedback); err != nil || !changed {
				return requestFields(err)
			}
			ss, err = s.SaveSession(ctx, ss)
			return err
		})
		if err != nil {
			return err
		}
		if ss.PlanID != "" {
			if err := advancePlan(ctx, s, ss, t); err != nil {
				return err
			}
		}
		if changed {
			rp.after(c, ss.PatientID, t)
		}
		setETag(c, ss.Version)
		r := toSession(ss)
		r.AlreadyCompleted = !changed
		return c.JSON(r)
	}
}

// requestFields names feedback errors by the request's own top-level fields.
func requestFields(err error) error {
	var e *models.Error
	if !errors.As(err, &e) {
		return err
	}
	for i, f := range e.Fields {
		e.Fields[i].Field = strings.TrimPrefix(f.Field, "feedback.")
	}
	return e
}

func (r completeRequest) feedback() (*models.SessionFeedback, error) {
	if r.PressureFelt == nil && r.SorenessAfter == nil && r.Note == "" {
		return nil, nil
	}
	var probs models.Problems
	if r.PressureFelt == nil {
		probs.Add("pressure_felt", "is required with feedback")
	}
	if r.SorenessAfter == nil {
		probs.Add("soreness_after", "is required with feedback")
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return &models.SessionFeedback{PressureFelt: *r.PressureFelt, SorenessAfter: *r.SorenessAfter, Note: r.Note}, nil
}

// advancePlan moves the session's plan to maintenance when the completion
// ends its initial phase. It runs on a retried completion too, so a plan
// change lost to a failure after the session was saved is made up.
func advancePlan(ctx context.Context, s careStore, ss models.Session, now time.Time) error {
	p, err := s.PatientByID(ctx, ss.PatientID)
	if err != nil {
		return err
	}
	var sessions []models.Session
	_, err = updatePlan(ctx, s,
		func() (*models.Plan, error) {
			plan, err := s.Plan(ctx, ss.PatientID, ss.PlanID)
			if err != nil {
				return nil, err
			}
			sessions, err = planSessions(ctx, s, plan)
			return &plan, err
		},
		func(plan *models.Plan) bool {
			completed := 0
			for _, x := range sessions {
				if x.Status == models.SessionCompleted {
					completed++
				}
			}
			return plan.ApplyCompletion(completed, now, p.Location())
		})
	return err
}
