package store

import (
	"context"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/backcare/backcare/models"
)

// LastQuestionnaireAnswers returns when each of the patients last answered
// questionnaire, among their live responses answered at or after since;
// patients with none are left out. since keeps the read to the few recent
// answers the materializer needs, not a patient's whole history.
func (s *Store) LastQuestionnaireAnswers(ctx context.Context, questionnaire string, patientIDs []string, since time.Time) (map[string]time.Time, error) {
	cur, err := s.db.Collection(colResponses).Find(ctx, bson.D{
		{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}},
		{Key: "answered_at", Value: bson.D{{Key: "$gte", Value: since}}},
		{Key: "questionnaire", Value: questionnaire},
		{Key: "deleted", Value: false},
	}, wholeBatch().SetProjection(bson.D{{Key: "patient_id", Value: 1}, {Key: "answered_at", Value: 1}}))
	if err != nil {
		return nil, mapErr(err, "questionnaire responses")
	}
	var rows []struct {
		PatientID  string    `bson:"patient_id"`
		AnsweredAt time.Time `bson:"answered_at"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, mapErr(err, "questionnaire responses")
	}
	last := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		if r.AnsweredAt.After(last[r.PatientID]) {
			last[r.PatientID] = r.AnsweredAt
		}
	}
	return last, nil
}

// SkipAnsweredQuestionnaireReminders marks skipped the pending
// questionnaire_due occurrences of each patient in until that are due
// before until[patient]: an answer since covers them. It returns how many
// it skipped. One that a dispatcher claims meanwhile is its to send.
func (s *Store) SkipAnsweredQuestionnaireReminders(ctx context.Context, until map[string]time.Time, now time.Time) (int64, error) {
	if len(until) == 0 {
		return 0, nil
	}
	// In id order, so that the same map sends the same filter.
	var branches bson.A
	for _, id := range slices.Sorted(maps.Keys(until)) {
		branches = append(branches, bson.D{
			{Key: "patient_id", Value: id},
			{Key: "due_at", Value: bson.D{{Key: "$lt", Value: until[id]}}},
		})
	}
	filter := func(only bson.A) bson.D {
		return withIDs(bson.D{
			{Key: "kind", Value: models.KindQuestionnaireDue},
			{Key: "status", Value: models.ReminderPending},
			{Key: "$or", Value: branches},
		}, only)
	}
	return s.changeReminders(ctx, nil, filter, func(ctx context.Context, rs []models.Reminder) (int64, error) {
		res, err := s.db.Collection(colReminders).UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: reminderIDs(rs)}}}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: models.ReminderSkipped}, {Key: "updated_at", Value: now}}},
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
			})
		if err != nil {
			return 0, err
		}
		return res.ModifiedCount, nil
	})
}
