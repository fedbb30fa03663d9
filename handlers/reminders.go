package handlers

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
)

type reminderStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	ListReminders(ctx context.Context, q models.ReminderQuery) ([]models.Reminder, error)
	Reminder(ctx context.Context, patientID, id string) (models.Reminder, error)
	SaveReminder(ctx context.Context, r models.Reminder) (models.Reminder, error)
}

// Planner re-plans a patient's reminder occurrences after a change that
// moves them (the materializer job implements it).
type Planner interface {
	Replan(ctx context.Context, patientID string, now time.Time) error
}

// replanner re-plans a patient's reminders after a handler saved a change.
type replanner struct {
	planner Planner
	logger  *slog.Logger
}

// after re-plans the reminders of the request's patient. It does not fail
// the request: what the patient changed is saved, and the periodic
// materializer plans the occurrences if this attempt did not.
func (rp replanner) after(c *fiber.Ctx, patientID string, now time.Time) {
	if err := rp.planner.Replan(c.UserContext(), patientID, now); err != nil {
		rp.logger.ErrorContext(c.UserContext(), "re-planning reminders failed; the materializer will catch up",
			"request_id", requestID(c), "patient_id", patientID, "error", err)
	}
}

type snoozeRequest struct {
	Minutes *int `json:"minutes"`
}

type reminderResponse struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	Status      string     `json:"status"`
	Source      string     `json:"source"`
	SessionID   string     `json:"session_id,omitempty"`
	LocalDate   string     `json:"local_date"`
	DueAt       time.Time  `json:"due_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
	SnoozedFrom *time.Time `json:"snoozed_from,omitempty"`
}

func toReminder(r models.Reminder, locale string) reminderResponse {
	title, body, _ := notifications.Text(locale, r.Kind, r.Variant)
	resp := reminderResponse{
		ID: r.ID, Kind: string(r.Kind), Title: title, Body: body, Status: string(r.Status), Source: string(r.Source),
		LocalDate: r.LocalDate, DueAt: r.DueAt, ExpiresAt: r.ExpiresAt, SentAt: r.SentAt, DoneAt: r.AckedAt, SnoozedFrom: r.SnoozedFrom,
	}
	if r.Source == models.SourceSession {
		resp.SessionID = r.SourceID
	}
	// A reminder out for delivery is, to the patient, still upcoming.
	if r.Status == models.ReminderClaimed {
		resp.Status = string(models.ReminderPending)
	}
	return resp
}

var validReminderID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// maxReminderRange is the widest ?from&to window of the reminders list.
const maxReminderRange = 62 * 24 * time.Hour

// handleListReminders lists reminders due in ?from&to (RFC 3339 instants;
// by default the last 7 days and the next 7), past ones with their outcome.
func handleListReminders(s reminderStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := stamp(now)
		from, to, limit, err := instantWindow(c, t.AddDate(0, 0, -7), t.AddDate(0, 0, 7), maxReminderRange)
		if err != nil {
			return err
		}
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		rs, err := s.ListReminders(c.UserContext(), models.ReminderQuery{PatientID: p.ID, From: from, To: to, Limit: limit})
		if err != nil {
			return err
		}
		items := make([]reminderResponse, len(rs))
		for i, r := range rs {
			items[i] = toReminder(r, p.Locale)
		}
		return c.JSON(fiber.Map{"items": items})
	}
}

// reminderOf loads the reminder named by the {id} path parameter.
func reminderOf(c *fiber.Ctx, s reminderStore) (models.Patient, models.Reminder, error) {
	if !validReminderID.MatchString(c.Params("id")) {
		return models.Patient{}, models.Reminder{}, models.Errorf(models.ErrNotFound, "reminder not found")
	}
	p, err := s.PatientByID(c.UserContext(), patientID(c))
	if err != nil {
		return p, models.Reminder{}, err
	}
	r, err := s.Reminder(c.UserContext(), p.ID, c.Params("id"))
	return p, r, err
}

// handleReminderDone records that the patient did what the reminder asked:
// adherence data. Saying so twice, or at once, keeps the first time; one
// that a dispatcher is recording meanwhile is read again and marked over
// the dispatcher's write (see edit).
func handleReminderDone(s reminderStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var (
			p    models.Patient
			done models.Reminder
		)
		err := edit(c, nil, func() error {
			var (
				r   models.Reminder
				err error
			)
			if p, r, err = reminderOf(c, s); err != nil {
				return err
			}
			var changed bool
			if done, changed, err = r.MarkDone(stamp(now)); err != nil || !changed {
				return err
			}
			done, err = s.SaveReminder(c.UserContext(), done)
			return err
		})
		if err != nil {
			return err
		}
		setETag(c, done.Version)
		return c.JSON(toReminder(done, p.Locale))
	}
}

// handleSnoozeReminder sends the reminder again in 15 minutes to 4 hours,
// within its useful life. Each snooze moves the reminder anew, so of
// snoozes racing for one version one is made and the others answer 409,
// rather than be made one over the other.
func handleSnoozeReminder(s reminderStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req snoozeRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.Minutes == nil {
			return invalid("minutes", "is required")
		}
		p, r, err := reminderOf(c, s)
		if err != nil {
			return err
		}
		snoozed, err := r.Snooze(time.Duration(*req.Minutes)*time.Minute, stamp(now))
		if err != nil {
			return err
		}
		if snoozed, err = s.SaveReminder(c.UserContext(), snoozed); err != nil {
			return err
		}
		setETag(c, snoozed.Version)
		return c.JSON(toReminder(snoozed, p.Locale))
	}
}
