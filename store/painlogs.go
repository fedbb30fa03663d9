package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// PutPainLog creates l, or replaces the live entry with the same id: a phone
// that retries after a dropped connection sends the same id, and gets one
// entry. A deleted entry cannot be brought back by a late retry.
func (s *Store) PutPainLog(ctx context.Context, l models.PainLog) (stored models.PainLog, created bool, err error) {
	col := s.db.Collection(colPainLogs)
	_, err = col.InsertOne(ctx, l)
	if err == nil {
		return l, true, nil
	}
	if models.ErrorCode(mapErr(err, "")) != models.ErrConflict {
		return l, false, mapErr(err, "pain log")
	}
	var old models.PainLog
	if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: l.ID}}).Decode(&old); err != nil {
		return l, false, mapErr(err, "pain log")
	}
	if old.Deleted {
		return l, false, models.Errorf(models.ErrConflict, "this pain log was deleted; log again with a new id")
	}
	l.CreatedAt = old.CreatedAt
	res, err := col.ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.ID}, {Key: "deleted", Value: false}}, l)
	if err != nil {
		return l, false, mapErr(err, "pain log")
	}
	if res.MatchedCount == 0 {
		return l, false, models.Errorf(models.ErrConflict, "this pain log was deleted; log again with a new id")
	}
	return l, false, nil
}

// PainLog returns a patient's live pain log with the client id. The _id
// carries the patient, so another patient's id is simply not found.
func (s *Store) PainLog(ctx context.Context, patientID, clientID string) (models.PainLog, error) {
	var l models.PainLog
	err := s.db.Collection(colPainLogs).FindOne(ctx, bson.D{{Key: "_id", Value: models.PainLogDocID(patientID, clientID)}}).Decode(&l)
	if err == nil && l.Deleted {
		return models.PainLog{}, models.Errorf(models.ErrNotFound, "pain log not found")
	}
	return l, mapErr(err, "pain log")
}

// UpdatePainLog replaces a live entry if it has not changed since it was
// read (its updated_at is still prev), so two edits cannot silently overwrite each other.
func (s *Store) UpdatePainLog(ctx context.Context, l models.PainLog, prev time.Time) error {
	return s.replaceIf(ctx, colPainLogs, bson.D{
		{Key: "_id", Value: l.ID}, {Key: "deleted", Value: false}, {Key: "updated_at", Value: prev},
	}, l, "the pain log changed or was deleted meanwhile; fetch it and try again")
}

// DeletePainLog turns a patient's entry into a tombstone: the health data
// is removed and only what a syncing phone needs to learn of the deletion
// stays. Deleting a tombstone again succeeds, so an offline phone can retry.
func (s *Store) DeletePainLog(ctx context.Context, patientID, clientID string, now time.Time) error {
	id := models.PainLogDocID(patientID, clientID)
	col := s.db.Collection(colPainLogs)
	res, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "deleted", Value: false}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "deleted", Value: true}, {Key: "urgent", Value: false}, {Key: "score", Value: 0}, {Key: "updated_at", Value: now}}},
		{Key: "$unset", Value: bson.D{
			{Key: "areas", Value: ""}, {Key: "stiffness", Value: ""}, {Key: "sleep_quality", Value: ""},
			{Key: "stress", Value: ""}, {Key: "note", Value: ""}, {Key: "red_flags", Value: ""},
		}},
	})
	if err != nil {
		return mapErr(err, "pain log")
	}
	if res.MatchedCount == 1 {
		return nil
	}
	n, err := col.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mapErr(err, "pain log")
	}
	if n == 0 {
		return models.Errorf(models.ErrNotFound, "pain log not found")
	}
	return nil
}

// ListPainLogs returns live entries, newest logged_at first, and the cursor
// of the next page if there is one.
func (s *Store) ListPainLogs(ctx context.Context, q models.PainLogQuery) ([]models.PainLog, *models.PainLogCursor, error) {
	filter := bson.D{{Key: "patient_id", Value: q.PatientID}, {Key: "deleted", Value: false}}
	dates := bson.D{}
	if q.From != "" {
		dates = append(dates, bson.E{Key: "$gte", Value: q.From})
	}
	if q.To != "" {
		dates = append(dates, bson.E{Key: "$lte", Value: q.To})
	}
	if len(dates) > 0 {
		filter = append(filter, bson.E{Key: "local_date", Value: dates})
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "logged_at", Value: bson.D{{Key: "$lt", Value: q.After.At}}}},
			bson.D{{Key: "logged_at", Value: q.After.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.After.ID}}}},
		}})
	}
	sort := bson.D{{Key: "logged_at", Value: -1}, {Key: "_id", Value: -1}}
	return s.pagePainLogs(ctx, filter, sort, q.Limit, func(l models.PainLog) time.Time { return l.LoggedAt })
}

// PainLogChanges returns entries (tombstones included) updated at or after
// Since, oldest change first. "At or after" rather than "after": an entry
// written in the same millisecond as the phone's last sync is sent again
// rather than missed, and the phone's upsert by id makes that harmless.
func (s *Store) PainLogChanges(ctx context.Context, q models.SyncQuery) ([]models.PainLog, *models.PainLogCursor, error) {
	filter := bson.D{{Key: "patient_id", Value: q.PatientID}, {Key: "updated_at", Value: bson.D{{Key: "$gte", Value: q.Since}}}}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "updated_at", Value: bson.D{{Key: "$gt", Value: q.After.At}}}},
			bson.D{{Key: "updated_at", Value: q.After.At}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}})
	}
	sort := bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}
	return s.pagePainLogs(ctx, filter, sort, q.Limit, func(l models.PainLog) time.Time { return l.UpdatedAt })
}

// pagePainLogs reads one more entry than asked to learn whether a next page exists.
func (s *Store) pagePainLogs(ctx context.Context, filter, sort bson.D, limit int, key func(models.PainLog) time.Time) ([]models.PainLog, *models.PainLogCursor, error) {
	cur, err := s.db.Collection(colPainLogs).Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, nil, mapErr(err, "pain logs")
	}
	logs := []models.PainLog{}
	if err := cur.All(ctx, &logs); err != nil {
		return nil, nil, mapErr(err, "pain logs")
	}
	if len(logs) <= limit {
		return logs, nil, nil
	}
	logs = logs[:limit]
	last := logs[limit-1]
	return logs, &models.PainLogCursor{At: key(last), ID: last.ID}, nil
}
