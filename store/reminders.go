package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// UpsertReminders writes occurrences that do not exist yet and leaves the
// rest alone: an occurrence's _id comes from its dedupe key, so
// materializing twice, or on two instances at once, adds nothing, and one
// already sent is never reset to pending. It is one unordered insert whose
// duplicates are ignored: the same effect as an upsert with $setOnInsert per
// occurrence, but the embedded engine writes a hundred new occurrences per
// transaction instead of one, and takes one command instead of one per 20.
func (s *Store) UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = r
	}
	existing, err := s.insertUnique(ctx, colReminders, docs)
	return int64(len(rs) - len(existing)), err
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
// a dispatcher whose lease ran out (it crashed or hung).
//
// Winning is decided by a unique insert, the one write both engines make
// atomic: for each candidate, a claim document keyed by the reminder, its
// due time and the lease window. A retry or a move out of quiet hours has a
// new due time, so it can be claimed at once; a claim whose dispatcher died
// can be taken over in a later window, once its lease has run out. Of dispatchers racing for a reminder in one window, exactly
// one inserts its claim; the rest get a duplicate key and leave it. (A
// conditional update is atomic per document on MongoDB, but the embedded
// engine evaluates an update's filter on a snapshot and then writes, so two
// dispatchers could both "win" it.) The winners are then marked claimed.
// Three commands a batch: find, insert claims, mark.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease string, leaseUntil time.Time, limit int) ([]models.Reminder, error) {
	col := s.db.Collection(colReminders)
	cur, err := col.Find(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: models.ReminderPending}, {Key: "due_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "status", Value: models.ReminderClaimed}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}},
	}}}, wholeBatch().SetSort(bson.D{{Key: "due_at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	var candidates []models.Reminder
	if err := cur.All(ctx, &candidates); err != nil {
		return nil, mapErr(err, "reminders")
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	window := now.Truncate(leaseUntil.Sub(now)).Unix()
	claims := make([]any, len(candidates))
	for i, r := range candidates {
		claims[i] = bson.D{
			{Key: "_id", Value: fmt.Sprintf("%s|%d|%d", r.ID, r.DueAt.UnixMilli(), window)},
			{Key: "lease_token", Value: lease}, {Key: "expires_at", Value: leaseUntil},
		}
	}
	lost, err := s.insertUnique(ctx, colClaims, claims)
	if err != nil {
		return nil, err
	}
	won := candidates[:0]
	ids := bson.A{}
	for i, r := range candidates {
		if !lost[i] {
			r.Status, r.LeaseToken, r.LeaseUntil = models.ReminderClaimed, lease, &leaseUntil
			won = append(won, r)
			ids = append(ids, r.ID)
		}
	}
	if len(won) == 0 {
		return nil, nil
	}
	_, err = col.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: models.ReminderClaimed}, {Key: "lease_token", Value: lease}, {Key: "lease_until", Value: leaseUntil},
		}}})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	return won, nil
}

// insertUnique inserts docs unordered in one command and reports which
// ones were refused as duplicates. The embedded engine's write-batch cap is
// for updates, whose statements it holds open together; it inserts a
// command's documents a hundred per transaction on one connection, so a
// batch of claims needs no splitting (25 commands per 500 claims before).
func (s *Store) insertUnique(ctx context.Context, col string, docs []any) (map[int]bool, error) {
	dup := map[int]bool{}
	_, err := s.db.Collection(col).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	switch {
	case err == nil:
	case errors.As(err, &bwe) && bwe.WriteConcernError == nil:
		for _, we := range bwe.WriteErrors {
			if !mongo.IsDuplicateKeyError(we) {
				return nil, mapErr(err, col)
			}
			dup[we.Index] = true
		}
	default:
		return nil, mapErr(err, col)
	}
	return dup, nil
}

// firstBatch is how many documents the first reply of a batch read may
// carry: more than a dispatch batch's reminders and their patients'
// devices. It must stay modest: the embedded engine allocates room for
// that many documents up front.
const firstBatch = 5000

// wholeBatch is for the dispatcher's and materializer's reads of a batch of
// hundreds: the driver's first batch is 101 documents by default, and each
// further hundred costs a getMore command; this asks for all of them in the
// first reply (the server still caps a reply at 16 MiB).
func wholeBatch() *options.FindOptionsBuilder {
	return options.Find().SetBatchSize(firstBatch)
}

// ReleaseClaims gives back reminders a dispatcher claimed under lease but
// did not send (it is shutting down), so that any dispatcher, this one
// after a restart included, can claim them at once instead of after the
// lease. The lease's claim documents go first: while they exist, a claim of
// the same reminder in the same lease window is refused as a duplicate.
// Only reminders still held under lease are changed, so a dispatcher that
// lost its lease meanwhile gives back nothing. It returns how many it gave
// back.
func (s *Store) ReleaseClaims(ctx context.Context, lease string, ids []string, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := s.db.Collection(colClaims).DeleteMany(ctx, bson.D{{Key: "lease_token", Value: lease}}); err != nil {
		return 0, mapErr(err, "claims")
	}
	res, err := s.db.Collection(colReminders).UpdateMany(ctx, bson.D{
		{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "status", Value: models.ReminderClaimed},
	}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: models.ReminderPending}, {Key: "updated_at", Value: now}}},
		{Key: "$unset", Value: bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}},
	})
	if err != nil {
		return 0, mapErr(err, "reminders")
	}
	return res.ModifiedCount, nil
}

// DeleteExpiredClaims removes claim documents whose lease is long over.
func (s *Store) DeleteExpiredClaims(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Collection(colClaims).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, mapErr(err, "claims")
	}
	return res.DeletedCount, nil
}

// RecordOutcomes writes a batch's results. Reminders with the same outcome
// (in a batch, nearly all were simply sent) share one update, so a batch
// costs a few update statements, not one per reminder, in one bulk write.
// Every update is conditional on the lease token: a dispatcher whose lease
// ran out, and whose reminders another has claimed since, changes nothing.
func (s *Store) RecordOutcomes(ctx context.Context, lease string, outcomes []models.ReminderOutcome, now time.Time) (int64, error) {
	type group struct {
		o   models.ReminderOutcome
		ids bson.A
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, o := range outcomes {
		key := fmt.Sprint(o.Status, o.DueAt.UnixMilli(), o.Attempted, o.SentAt != nil, o.LastError)
		g, ok := byKey[key]
		if !ok {
			g = &group{o: o}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.ids = append(g.ids, o.ID)
	}
	writes := make([]mongo.WriteModel, 0, len(groups))
	for _, g := range groups {
		o := g.o
		set := bson.D{{Key: "status", Value: o.Status}, {Key: "updated_at", Value: now}}
		if !o.DueAt.IsZero() {
			set = append(set, bson.E{Key: "due_at", Value: o.DueAt})
		}
		if o.SentAt != nil {
			set = append(set, bson.E{Key: "sent_at", Value: *o.SentAt})
		}
		if o.LastError != "" {
			set = append(set, bson.E{Key: "last_error", Value: o.LastError})
		}
		update := bson.D{
			{Key: "$set", Value: set},
			{Key: "$unset", Value: bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}},
		}
		if o.Attempted {
			update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}})
		}
		writes = append(writes, mongo.NewUpdateManyModel().
			SetFilter(bson.D{{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: g.ids}}}}).
			SetUpdate(update))
	}
	_, modified, err := s.bulkWrite(ctx, colReminders, writes)
	return modified, err
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
	err := s.findOwned(ctx, colReminders, patientID, id, &r, "reminder")
	return r, err
}

// SaveReminder writes a patient's change (done, snooze) if the reminder is
// still as read: not claimed meanwhile by a dispatcher, not changed by another request.
func (s *Store) SaveReminder(ctx context.Context, r models.Reminder, prevStatus models.ReminderStatus, prev time.Time) error {
	return s.replaceIf(ctx, colReminders, bson.D{
		{Key: "_id", Value: r.ID}, {Key: "patient_id", Value: r.PatientID},
		{Key: "status", Value: prevStatus}, {Key: "updated_at", Value: prev},
	}, r, "the reminder is being sent or changed right now; try again")
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
	cur, err := s.db.Collection(colDevices).Find(ctx, bson.D{{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}}}, wholeBatch())
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
	cur, err := s.db.Collection(colPatients).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, wholeBatch())
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
	if len(dates) == 0 {
		return map[string]bool{}, nil
	}
	cur, err := s.db.Collection(colPainLogs).Find(ctx, bson.D{
		{Key: "patient_id", Value: bson.D{{Key: "$in", Value: patientIDs}}},
		{Key: "local_date", Value: bson.D{{Key: "$in", Value: dates}}},
		{Key: "deleted", Value: false},
	}, wholeBatch().SetProjection(bson.D{{Key: "patient_id", Value: 1}, {Key: "local_date", Value: 1}}))
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
		wholeBatch().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "patients")
	}
	ps := []models.Patient{}
	return ps, mapErr(cur.All(ctx, &ps), "patients")
}

// OpenPlansOf returns the open plans of the given patients, by patient.
func (s *Store) OpenPlansOf(ctx context.Context, patientIDs []string) (map[string]models.Plan, error) {
	cur, err := s.db.Collection(colPlans).Find(ctx, bson.D{{Key: "open_key", Value: bson.D{{Key: "$in", Value: patientIDs}}}}, wholeBatch())
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
	}, wholeBatch())
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
