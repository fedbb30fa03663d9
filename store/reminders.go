package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// UpsertReminders writes occurrences that do not exist yet and leaves the
// rest alone, in one bulk write: an occurrence's _id comes from its dedupe
// key, so materializing twice, or on two instances at once, adds nothing,
// and one already sent is never reset to pending.
func (s *Store) UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	writes := make([]mongo.WriteModel, 0, len(rs))
	for _, r := range rs {
		doc, err := withoutID(r)
		if err != nil {
			return 0, err
		}
		writes = append(writes, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: r.ID}}).
			SetUpdate(bson.D{{Key: "$setOnInsert", Value: doc}}).
			SetUpsert(true))
	}
	res, err := s.db.Collection(colReminders).BulkWrite(ctx, writes, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, mapErr(err, "reminders")
	}
	return res.UpsertedCount, nil
}

// withoutID marshals r without its _id, which an upsert takes from the filter.
func withoutID(r models.Reminder) (bson.D, error) {
	raw, err := bson.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("marshal reminder: %w", err)
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("marshal reminder: %w", err)
	}
	out := doc[:0]
	for _, e := range doc {
		if e.Key != "_id" {
			out = append(out, e)
		}
	}
	return out, nil
}

// CancelSourceReminders cancels a source's occurrences that were not sent:
// the session was cancelled or missed, the plan paused or completed.
func (s *Store) CancelSourceReminders(ctx context.Context, patientID, sourceID string, now time.Time) error {
	_, err := s.db.Collection(colReminders).UpdateMany(ctx, bson.D{
		{Key: "patient_id", Value: patientID}, {Key: "source_id", Value: sourceID},
		{Key: "status", Value: models.ReminderPending},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: models.ReminderCancelled}, {Key: "updated_at", Value: now}}}})
	return mapErr(err, "reminders")
}

// DeletePendingFrom drops a patient's pending occurrences due from `from`
// on, except snoozed ones, so that they can be planned afresh.
func (s *Store) DeletePendingFrom(ctx context.Context, patientID string, from time.Time) error {
	_, err := s.db.Collection(colReminders).DeleteMany(ctx, bson.D{
		{Key: "patient_id", Value: patientID},
		{Key: "status", Value: models.ReminderPending},
		{Key: "due_at", Value: bson.D{{Key: "$gte", Value: from}}},
		{Key: "snoozed_from", Value: bson.D{{Key: "$exists", Value: false}}},
	})
	return mapErr(err, "reminders")
}

// ClaimDue leases up to limit due reminders to one dispatcher and returns
// exactly those it won. Due means pending with due_at reached, or claimed by
// a dispatcher whose lease ran out (it crashed or hung). Three commands a
// batch: find candidates, mark them under the conditions re-checked per
// document (so of two dispatchers racing, each document goes to one), and
// read back by lease token.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease string, leaseUntil time.Time, limit int) ([]models.Reminder, error) {
	col := s.db.Collection(colReminders)
	due := bson.A{
		bson.D{{Key: "status", Value: models.ReminderPending}, {Key: "due_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "status", Value: models.ReminderClaimed}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}},
	}
	cur, err := col.Find(ctx, bson.D{{Key: "$or", Value: due}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetSort(bson.D{{Key: "due_at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return nil, mapErr(err, "reminders")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := make(bson.A, len(ids))
	for i, d := range ids {
		in[i] = d.ID
	}
	_, err = col.UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}, {Key: "$or", Value: due}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: models.ReminderClaimed}, {Key: "lease_token", Value: lease}, {Key: "lease_until", Value: leaseUntil},
		}}})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	cur, err = col.Find(ctx, bson.D{{Key: "lease_token", Value: lease}})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	won := []models.Reminder{}
	return won, mapErr(cur.All(ctx, &won), "reminders")
}

// RecordOutcomes writes a batch's results in one bulk write. Each write is
// conditional on the lease token: a dispatcher whose lease ran out, and
// whose reminders another has claimed since, changes nothing.
func (s *Store) RecordOutcomes(ctx context.Context, lease string, outcomes []models.ReminderOutcome, now time.Time) (int64, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	writes := make([]mongo.WriteModel, 0, len(outcomes))
	for _, o := range outcomes {
		set := bson.D{{Key: "status", Value: o.Status}, {Key: "attempts", Value: o.Attempts}, {Key: "updated_at", Value: now}}
		if !o.DueAt.IsZero() {
			set = append(set, bson.E{Key: "due_at", Value: o.DueAt})
		}
		if o.SentAt != nil {
			set = append(set, bson.E{Key: "sent_at", Value: *o.SentAt})
		}
		if o.LastError != "" {
			set = append(set, bson.E{Key: "last_error", Value: o.LastError})
		}
		writes = append(writes, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: o.ID}, {Key: "lease_token", Value: lease}}).
			SetUpdate(bson.D{
				{Key: "$set", Value: set},
				{Key: "$unset", Value: bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}},
			}))
	}
	res, err := s.db.Collection(colReminders).BulkWrite(ctx, writes, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, mapErr(err, "reminders")
	}
	return res.ModifiedCount, nil
}

// ListReminders returns a patient's reminders due in [From, To), earliest first.
func (s *Store) ListReminders(ctx context.Context, q models.ReminderQuery) ([]models.Reminder, error) {
	cur, err := s.db.Collection(colReminders).Find(ctx, bson.D{
		{Key: "patient_id", Value: q.PatientID},
		{Key: "due_at", Value: bson.D{{Key: "$gte", Value: q.From}, {Key: "$lt", Value: q.To}}},
	}, options.Find().SetSort(bson.D{{Key: "due_at", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	rs := []models.Reminder{}
	return rs, mapErr(cur.All(ctx, &rs), "reminders")
}

// Reminder returns one of a patient's reminders.
func (s *Store) Reminder(ctx context.Context, patientID, id string) (models.Reminder, error) {
	var r models.Reminder
	err := s.db.Collection(colReminders).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "patient_id", Value: patientID}}).Decode(&r)
	return r, mapErr(err, "reminder")
}

// SaveReminder writes a patient's change (done, snooze) if the reminder is
// still as read: not claimed meanwhile by a dispatcher, not changed by another request.
func (s *Store) SaveReminder(ctx context.Context, r models.Reminder, prevStatus models.ReminderStatus, prev time.Time) error {
	res, err := s.db.Collection(colReminders).ReplaceOne(ctx, bson.D{
		{Key: "_id", Value: r.ID}, {Key: "patient_id", Value: r.PatientID},
		{Key: "status", Value: prevStatus}, {Key: "updated_at", Value: prev},
	}, r)
	if err != nil {
		return mapErr(err, "reminder")
	}
	if res.MatchedCount == 0 {
		return models.Errorf(models.ErrConflict, "the reminder is being sent or changed right now; try again")
	}
	return nil
}

// FCMPausedUntil returns until when every dispatcher holds back sends after
// FCM answered QUOTA_EXCEEDED; the zero time if it did not.
func (s *Store) FCMPausedUntil(ctx context.Context) (time.Time, error) {
	var doc struct {
		Until time.Time `bson:"until"`
	}
	err := s.db.Collection(colDispatchState).FindOne(ctx, bson.D{{Key: "_id", Value: "fcm_pause"}}).Decode(&doc)
	if models.ErrorCode(mapErr(err, "")) == models.ErrNotFound {
		return time.Time{}, nil
	}
	return doc.Until, mapErr(err, "dispatch state")
}

// PauseFCM makes every dispatcher hold back sends until `until` (it only
// ever extends a pause).
func (s *Store) PauseFCM(ctx context.Context, until time.Time) error {
	_, err := s.db.Collection(colDispatchState).UpdateOne(ctx, bson.D{{Key: "_id", Value: "fcm_pause"}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "until", Value: until}}}}, options.UpdateOne().SetUpsert(true))
	return mapErr(err, "dispatch state")
}

// DevicesOf returns the devices of the given patients, by patient.
func (s *Store) DevicesOf(ctx context.Context, patientIDs []string) (map[string][]models.Device, error) {
	cur, err := s.db.Collection(colDevices).Find(ctx, bson.D{{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}}})
	if err != nil {
		return nil, mapErr(err, "devices")
	}
	var devices []models.Device
	if err := cur.All(ctx, &devices); err != nil {
		return nil, mapErr(err, "devices")
	}
	by := make(map[string][]models.Device, len(patientIDs))
	for _, d := range devices {
		by[d.PatientID] = append(by[d.PatientID], d)
	}
	return by, nil
}

// DeleteDeviceTokens removes tokens FCM says are dead.
func (s *Store) DeleteDeviceTokens(ctx context.Context, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	_, err := s.db.Collection(colDevices).DeleteMany(ctx, bson.D{{Key: "token", Value: bson.D{{Key: "$in", Value: tokens}}}})
	return mapErr(err, "devices")
}

// PatientsByID returns the given patients that exist, by id.
func (s *Store) PatientsByID(ctx context.Context, ids []string) (map[string]models.Patient, error) {
	cur, err := s.db.Collection(colPatients).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, mapErr(err, "patients")
	}
	var ps []models.Patient
	if err := cur.All(ctx, &ps); err != nil {
		return nil, mapErr(err, "patients")
	}
	by := make(map[string]models.Patient, len(ps))
	for _, p := range ps {
		by[p.ID] = p
	}
	return by, nil
}

// LoggedDays tells which of the patients logged pain on which local dates:
// the keys are "<patient id>|<local date>".
func (s *Store) LoggedDays(ctx context.Context, patientIDs, dates []string) (map[string]bool, error) {
	cur, err := s.db.Collection(colPainLogs).Find(ctx, bson.D{
		{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}},
		{Key: "local_date", Value: bson.D{{Key: "$in", Value: dates}}},
		{Key: "deleted", Value: false},
	}, options.Find().SetProjection(bson.D{{Key: "patient_id", Value: 1}, {Key: "local_date", Value: 1}}))
	if err != nil {
		return nil, mapErr(err, "pain logs")
	}
	var rows []struct {
		PatientID string `bson:"patient_id"`
		LocalDate string `bson:"local_date"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, mapErr(err, "pain logs")
	}
	logged := make(map[string]bool, len(rows))
	for _, r := range rows {
		logged[r.PatientID+"|"+r.LocalDate] = true
	}
	return logged, nil
}

// PatientPage returns up to limit patients with ids after `after`, in id
// order: the materializer walks every patient this way.
func (s *Store) PatientPage(ctx context.Context, after string, limit int) ([]models.Patient, error) {
	cur, err := s.db.Collection(colPatients).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "patients")
	}
	ps := []models.Patient{}
	return ps, mapErr(cur.All(ctx, &ps), "patients")
}

// OpenPlansOf returns the open plans of the given patients, by patient.
func (s *Store) OpenPlansOf(ctx context.Context, patientIDs []string) (map[string]models.Plan, error) {
	cur, err := s.db.Collection(colPlans).Find(ctx, bson.D{{Key: "open_key", Value: bson.D{{Key: "$in", Value: patientIDs}}}})
	if err != nil {
		return nil, mapErr(err, "plans")
	}
	var docs []planDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapErr(err, "plans")
	}
	by := make(map[string]models.Plan, len(docs))
	for _, d := range docs {
		by[d.PatientID] = d.Plan
	}
	return by, nil
}

// SessionsOf returns the sessions of the given patients that start after
// `since`, by patient.
func (s *Store) SessionsOf(ctx context.Context, patientIDs []string, since time.Time) (map[string][]models.Session, error) {
	cur, err := s.db.Collection(colSessions).Find(ctx, bson.D{
		{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}},
		{Key: "scheduled_at", Value: bson.D{{Key: "$gte", Value: since}}},
	})
	if err != nil {
		return nil, mapErr(err, "sessions")
	}
	var ss []models.Session
	if err := cur.All(ctx, &ss); err != nil {
		return nil, mapErr(err, "sessions")
	}
	by := make(map[string][]models.Session, len(patientIDs))
	for _, x := range ss {
		by[x.PatientID] = append(by[x.PatientID], x)
	}
	return by, nil
}
