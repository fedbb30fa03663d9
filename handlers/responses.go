package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type responseStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	PutQuestionnaireResponse(ctx context.Context, r models.QuestionnaireResponse) (models.QuestionnaireResponse, bool, error)
	QuestionnaireResponse(ctx context.Context, patientID, clientID string) (models.QuestionnaireResponse, error)
	DeleteQuestionnaireResponse(ctx context.Context, patientID, clientID string, now time.Time) error
	ListQuestionnaireResponses(ctx context.Context, q models.PainLogQuery) ([]models.QuestionnaireResponse, *models.PainLogCursor, error)
	QuestionnaireResponseChanges(ctx context.Context, q models.SyncQuery) ([]models.QuestionnaireResponse, *models.PainLogCursor, error)
}

// responseRequest is a completed questionnaire as the phone sends it. An
// answer is a pointer so that null is told apart from 0.
type responseRequest struct {
	Questionnaire string          `json:"questionnaire"`
	AnsweredAt    string          `json:"answered_at"`
	Answers       map[string]*int `json:"answers"`
}

// response is the request as a response, checked against the catalog at now.
func (req responseRequest) response(now time.Time) (models.QuestionnaireResponse, error) {
	var probs models.Problems
	r := models.QuestionnaireResponse{Questionnaire: req.Questionnaire, AnsweredAt: parseInstant(&probs, "answered_at", req.AnsweredAt),
		Answers: map[string]int{}}
	for k, v := range req.Answers {
		if v == nil {
			probs.Add("answers."+k, "must be a whole number, not null")
			continue
		}
		r.Answers[k] = *v
	}
	if len(probs) == 0 {
		probs.Merge(r.Validate(now))
	}
	return r, probs.Err()
}

// responseJSON is a live response or a tombstone (deleted, without answers).
type responseJSON struct {
	ID            string         `json:"id"`
	Deleted       bool           `json:"deleted"`
	Questionnaire string         `json:"questionnaire"`
	AnsweredAt    time.Time      `json:"answered_at"`
	LocalDate     string         `json:"local_date"`
	Answers       map[string]int `json:"answers,omitempty"`
	Score         *float64       `json:"score,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

func toResponse(r models.QuestionnaireResponse) responseJSON {
	j := responseJSON{ID: r.ClientID(), Deleted: r.Deleted, Questionnaire: r.Questionnaire, AnsweredAt: r.AnsweredAt, LocalDate: r.LocalDate,
		Answers: r.Answers, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if !r.Deleted {
		score := r.Score
		j.Score = &score
	}
	return j
}

// handlePutResponse stores a completed questionnaire under the phone's
// UUID: a retry of the same id makes one response, which the retry
// replaces. The score is the server's, from the answers. The patient's
// reminders are re-planned at once, so that a questionnaire reminder the
// answer makes pointless is not sent.
func handlePutResponse(s responseStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return invalid("id", "must be a UUID")
		}
		if c.Get(fiber.HeaderIfMatch) != "" {
			return invalid(fiber.HeaderIfMatch, "is not taken here: a questionnaire is answered again, not edited, and a PUT replaces it")
		}
		var req responseRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		t := stamp(now)
		r, err := req.response(t)
		if err != nil {
			return err
		}
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		r.ID, r.PatientID, r.CreatedAt, r.UpdatedAt = models.PainLogDocID(p.ID, id), p.ID, t, t
		r.Finish(p.Location())
		stored, created, err := s.PutQuestionnaireResponse(c.UserContext(), r)
		if err != nil {
			return err
		}
		rp.after(c, p.ID, t)
		if created {
			c.Status(fiber.StatusCreated)
		}
		setETag(c, stored.Version)
		return c.JSON(toResponse(stored))
	}
}

func handleGetResponse(s responseStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return models.Errorf(models.ErrNotFound, "questionnaire response not found")
		}
		r, err := s.QuestionnaireResponse(c.UserContext(), patientID(c), id)
		if err != nil {
			return err
		}
		setETag(c, r.Version)
		return c.JSON(toResponse(r))
	}
}

// handleDeleteResponse deletes a response; the reminders are re-planned,
// since the answer no longer covers the week.
func handleDeleteResponse(s responseStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := clientID(c)
		if err != nil {
			return models.Errorf(models.ErrNotFound, "questionnaire response not found")
		}
		t := stamp(now)
		if err := s.DeleteQuestionnaireResponse(c.UserContext(), patientID(c), id, t); err != nil {
			return err
		}
		rp.after(c, patientID(c), t)
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// handleListResponses lists responses as handleListPainLogs lists pain
// logs: by date, or every change since ?updated_since.
func handleListResponses(s responseStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		list, sync, err := diaryListing(c)
		if err != nil {
			return err
		}
		var (
			rs   []models.QuestionnaireResponse
			next *models.PainLogCursor
		)
		if sync != nil {
			rs, next, err = s.QuestionnaireResponseChanges(c.UserContext(), *sync)
		} else {
			rs, next, err = s.ListQuestionnaireResponses(c.UserContext(), *list)
		}
		if err != nil {
			return err
		}
		items := make([]responseJSON, len(rs))
		for i, r := range rs {
			items[i] = toResponse(r)
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": cursorOf(next)})
	}
}
