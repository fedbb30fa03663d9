package store

import (
	"context"
	"maps"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/models"
)

// colResponses holds questionnaire responses, kept like pain logs: per
// patient ids, versions, tombstones for sync.
const colResponses = "questionnaire_responses"

// PutQuestionnaireResponse creates r, or replaces the live response with
// the same id, as PutPainLog does: a phone's retry makes one response, and
// a deleted one is not brought back.
func (s *Store) PutQuestionnaireResponse(ctx context.Context, r models.QuestionnaireResponse) (stored models.QuestionnaireResponse, created bool, err error) {
	col := s.db.Collection(colResponses)
	r.Version = 0
	_, err = col.InsertOne(ctx, r)
	if err == nil {
		return r, true, nil
	}
	if models.ErrorCode(mapErr(err, "")) != models.ErrConflict {
		return r, false, mapErr(err, "questionnaire response")
	}
	for attempt := 0; ; attempt++ {
		var old models.QuestionnaireResponse
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&old); err != nil {
			return r, false, mapErr(err, "questionnaire response")
		}
		if old.Deleted {
			return r, false, models.Errorf(models.ErrConflict, "this questionnaire response was deleted; answer again with a new id")
		}
		// A retry of the same answer finds it stored: nothing to replace.
		// Retries racing each other then all succeed, instead of losing
		// to one another's identical writes.
		if sameAnswer(old, r) {
			return old, false, nil
		}
		r.CreatedAt, r.Version = old.CreatedAt, old.Version+1
		err = s.replaceAt(ctx, colResponses, r.ID, old.Version, bson.E{Key: "deleted", Value: false}, r,
			"the questionnaire response changed or was deleted meanwhile; fetch it and try again")
		if !models.IsStale(err) || attempt == retries-1 {
			return r, false, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return r, false, err
		}
	}
}

// QuestionnaireResponse returns a patient's live response with the client id.
func (s *Store) QuestionnaireResponse(ctx context.Context, patientID, clientID string) (models.QuestionnaireResponse, error) {
	var r models.QuestionnaireResponse
	err := s.db.Collection(colResponses).FindOne(ctx, bson.D{{Key: "_id", Value: models.PainLogDocID(patientID, clientID)}}).Decode(&r)
	if err == nil && r.Deleted {
		return models.QuestionnaireResponse{}, models.Errorf(models.ErrNotFound, "questionnaire response not found")
	}
	return r, mapErr(err, "questionnaire response")
}

// DeleteQuestionnaireResponse turns a response into a tombstone: its
// answers and score go. Deleting a tombstone again succeeds.
func (s *Store) DeleteQuestionnaireResponse(ctx context.Context, patientID, clientID string, now time.Time) error {
	id := models.PainLogDocID(patientID, clientID)
	col := s.db.Collection(colResponses)
	for attempt := 0; ; attempt++ {
		var r models.QuestionnaireResponse
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r); err != nil {
			return mapErr(err, "questionnaire response")
		}
		if r.Deleted {
			return nil
		}
		err := s.change(ctx, colResponses, id, r.Version, "the questionnaire response is being changed right now; try again",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return col.UpdateOne(ctx, filter, bson.D{
					{Key: "$set", Value: bson.D{{Key: "deleted", Value: true}, {Key: "score", Value: 0}, {Key: "updated_at", Value: now}, {Key: "version", Value: r.Version + 1}}},
					{Key: "$unset", Value: bson.D{{Key: "answers", Value: ""}}},
				})
			})
		if !models.IsStale(err) || attempt == retries-1 {
			return err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return err
		}
	}
}

// ListQuestionnaireResponses returns live responses, newest answered_at
// first, a page at a time (q as for pain logs).
func (s *Store) ListQuestionnaireResponses(ctx context.Context, q models.PainLogQuery) ([]models.QuestionnaireResponse, *models.PainLogCursor, error) {
	filter := diaryFilter(bson.D{{Key: "patient_id", Value: q.PatientID}, {Key: "deleted", Value: false}}, q.From, q.To, "answered_at", q.After)
	sort := bson.D{{Key: "answered_at", Value: -1}, {Key: "_id", Value: -1}}
	return pageOf(ctx, s.db.Collection(colResponses), filter, sort, q.Limit,
		func(r models.QuestionnaireResponse) (time.Time, string) { return r.AnsweredAt, r.ID })
}

// QuestionnaireResponseChanges returns responses (tombstones included)
// updated at or after q.Since, oldest change first, as PainLogChanges does.
func (s *Store) QuestionnaireResponseChanges(ctx context.Context, q models.SyncQuery) ([]models.QuestionnaireResponse, *models.PainLogCursor, error) {
	sort := bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}
	return pageOf(ctx, s.db.Collection(colResponses), changesFilter(q), sort, q.Limit,
		func(r models.QuestionnaireResponse) (time.Time, string) { return r.UpdatedAt, r.ID })
}

// sameAnswer reports whether a and b hold the same answer to the same
// questionnaire at the same time.
func sameAnswer(a, b models.QuestionnaireResponse) bool {
	return a.Questionnaire == b.Questionnaire && a.AnsweredAt.Equal(b.AnsweredAt) && maps.Equal(a.Answers, b.Answers)
}
