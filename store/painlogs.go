package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// PutPainLog creates l, or replaces the live entry with the same id: a phone
// that retries after a dropped connection sends the same id, and gets one
// entry. A deleted entry cannot be brought back by a late retry. A PUT
// replaces whatever is stored, so a replacement that loses a race to
// another write is made again over that one.
func (s *Store) PutPainLog(ctx context.Context, l models.PainLog) (stored models.PainLog, created bool, err error) {
	col := s.db.Collection(colPainLogs)
	l.Version = 0
	_, err = col.InsertOne(ctx, l)
	if err == nil {
		return l, true, nil
	}
	if models.ErrorCode(mapErr(err, "")) != models.ErrConflict {
		return l, false, mapErr(err, "pain log")
	}
	for attempt := 0; ; attempt++ {
		var old models.PainLog
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: l.ID}}).Decode(&old); err != nil {
			return l, false, mapErr(err, "pain log")
		}
		if old.Deleted {
			return l, false, models.Errorf(models.ErrConflict, "this pain log was deleted; log again with a new id")
		}
		l.CreatedAt, l.Version = old.CreatedAt, old.Version
		stored, err = s.UpdatePainLog(ctx, l)
		if !models.IsStale(err) || attempt == retries-1 {
			return stored, false, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return l, false, err
		}
	}
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

// UpdatePainLog replaces a live entry if it is still at l.Version, the
// version it was read at, and returns it at the next version: of two edits
// of one version, one is written and the other is a stale conflict.
func (s *Store) UpdatePainLog(ctx context.Context, l models.PainLog) (models.PainLog, error) {
	from := l.Version
	l.Version++
	err := s.replaceAt(ctx, colPainLogs, l.ID, from, bson.E{Key: "deleted", Value: false}, l,
		"the pain log changed or was deleted meanwhile; fetch it and try again")
	if err != nil {
		return models.PainLog{}, err
	}
	return l, nil
}

// DeletePainLog turns a patient's entry into a tombstone: the health data
// is removed and only what a syncing phone needs to learn of the deletion
// stays. Deleting a tombstone again succeeds, so an offline phone can retry.
func (s *Store) DeletePainLog(ctx context.Context, patientID, clientID string, now time.Time) error {
	id := models.PainLogDocID(patientID, clientID)
	col := s.db.Collection(colPainLogs)
	for attempt := 0; ; attempt++ {
		var l models.PainLog
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&l); err != nil {
			return mapErr(err, "pain log")
		}
		if l.Deleted {
			return nil
		}
		err := s.change(ctx, colPainLogs, id, l.Version, "the pain log is being changed right now; try again",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return col.UpdateOne(ctx, filter, bson.D{
					{Key: "$set", Value: bson.D{
						{Key: "deleted", Value: true}, {Key: "urgent", Value: false}, {Key: "score", Value: 0},
						{Key: "updated_at", Value: now}, {Key: "version", Value: l.Version + 1},
					}},
					{Key: "$unset", Value: bson.D{
						{Key: "areas", Value: ""}, {Key: "stiffness", Value: ""}, {Key: "sleep_quality", Value: ""},
						{Key: "stress", Value: ""}, {Key: "note", Value: ""}, {Key: "red_flags", Value: ""},
					}},
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

// ListPainLogs returns live entries, newest logged_at first, and the cursor
// of the next page if there is one.
func (s *Store) ListPainLogs(ctx context.Context, q models.PainLogQuery) ([]models.PainLog, *models.PainLogCursor, error) {
	filter := diaryFilter(bson.D{{Key: "patient_id", Value: q.PatientID}, {Key: "deleted", Value: false}}, q.From, q.To, "logged_at", q.After)
	sort := bson.D{{Key: "logged_at", Value: -1}, {Key: "_id", Value: -1}}
	return pageOf(ctx, s.db.Collection(colPainLogs), filter, sort, q.Limit, func(l models.PainLog) (time.Time, string) { return l.LoggedAt, l.ID })
}

// PainLogChanges returns entries (tombstones included) updated at or after
// Since, oldest change first. "At or after" rather than "after": an entry
// written in the same millisecond as the phone's last sync is sent again
// rather than missed, and the phone's upsert by id makes that harmless.
func (s *Store) PainLogChanges(ctx context.Context, q models.SyncQuery) ([]models.PainLog, *models.PainLogCursor, error) {
	sort := bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}
	return pageOf(ctx, s.db.Collection(colPainLogs), changesFilter(q), sort, q.Limit, func(l models.PainLog) (time.Time, string) { return l.UpdatedAt, l.ID })
}

// pageOf reads a page of a diary collection (pain logs, questionnaire
// responses), one more entry than asked to learn whether a next page
// exists; key is an entry's sort time and id, the next page's cursor.
func pageOf[T any](ctx context.Context, col *mongo.Collection, filter, sort bson.D, limit int, key func(T) (time.Time, string)) ([]T, *models.PainLogCursor, error) {
	cur, err := col.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, nil, mapErr(err, col.Name())
	}
	entries := []T{}
	if err := cur.All(ctx, &entries); err != nil {
		return nil, nil, mapErr(err, col.Name())
	}
	if len(entries) <= limit {
		return entries, nil, nil
	}
	entries = entries[:limit]
	at, id := key(entries[limit-1])
	return entries, &models.PainLogCursor{At: at, ID: id}, nil
}

// diaryFilter adds to filter the local dates [from, to] (either may be
// open) and, after a cursor, the entries past it in the order of timeField
// descending.
func diaryFilter(filter bson.D, from, to, timeField string, after *models.PainLogCursor) bson.D {
	dates := bson.D{}
	if from != "" {
		dates = append(dates, bson.E{Key: "$gte", Value: from})
	}
	if to != "" {
		dates = append(dates, bson.E{Key: "$lte", Value: to})
	}
	if len(dates) > 0 {
		filter = append(filter, bson.E{Key: "local_date", Value: dates})
	}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: timeField, Value: bson.D{{Key: "$lt", Value: after.At}}}},
			bson.D{{Key: timeField, Value: after.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	return filter
}

// changesFilter selects a patient's entries updated at or after since, past
// the cursor after, in the order of updated_at ascending.
func changesFilter(q models.SyncQuery) bson.D {
	filter := bson.D{{Key: "patient_id", Value: q.PatientID}, {Key: "updated_at", Value: bson.D{{Key: "$gte", Value: q.Since}}}}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "updated_at", Value: bson.D{{Key: "$gt", Value: q.After.At}}}},
			bson.D{{Key: "updated_at", Value: q.After.At}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}})
	}
	return filter
}
