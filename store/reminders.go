package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
//
// A new occurrence's version starts at a random number, not at 0: a
// re-plan deletes pending occurrences and writes them afresh under the same
// ids, and a fresh start keeps the write markers of the one deleted from
// holding back the one written in its place (see markers.go).
func (s *Store) UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	docs := make([]any, len(rs))
	for i, r := range rs {
		r.Version = rand.Int64N(1<<53) + 1
		docs[i] = r
	}
	existing, err := s.insertUnique(ctx, colReminders, docs)
	return int64(len(rs) - len(existing)), err
}

// CancelSourceReminders cancels a source's occurrences that were not sent:
// the session was cancelled or missed, the plan paused or completed. One
// that a dispatcher claims meanwhile is its to settle.
func (s *Store) CancelSourceReminders(ctx context.Context, patientID, sourceID string, now time.Time) error {
	filter := func(only bson.A) bson.D {
		return withIDs(bson.D{
			{Key: "patient_id", Value: patientID}, {Key: "source_id", Value: sourceID},
			{Key: "status", Value: models.ReminderPending},
		}, only)
	}
	_, err := s.changeReminders(ctx, nil, filter, func(ctx context.Context, rs []models.Reminder) (int64, error) {
		res, err := s.db.Collection(colReminders).UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: reminderIDs(rs)}}}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: models.ReminderCancelled}, {Key: "updated_at", Value: now}}},
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
			})
		if err != nil {
			return 0, err
		}
		return res.ModifiedCount, nil
	})
	return err
}

// DeletePendingFrom drops a patient's pending occurrences due from `from`
// on, except snoozed ones, so that they can be planned afresh (under the
// same ids, at new versions: see UpsertReminders).
func (s *Store) DeletePendingFrom(ctx context.Context, patientID string, from time.Time) error {
	filter := func(only bson.A) bson.D {
		return withIDs(bson.D{
			{Key: "patient_id", Value: patientID},
			{Key: "status", Value: models.ReminderPending},
			{Key: "due_at", Value: bson.D{{Key: "$gte", Value: from}}},
			{Key: "snoozed_from", Value: bson.D{{Key: "$exists", Value: false}}},
			// A clinic's notice comes from no plan or session to re-plan it from.
			{Key: "source", Value: bson.D{{Key: "$ne", Value: models.SourceClinic}}},
		}, only)
	}
	_, err := s.changeReminders(ctx, nil, filter, func(ctx context.Context, rs []models.Reminder) (int64, error) {
		res, err := s.db.Collection(colReminders).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: reminderIDs(rs)}}}})
		if err != nil {
			return 0, err
		}
		return res.DeletedCount, nil
	})
	return err
}

// reminderMove is the move of r away from its version.
func (s *Store) reminderMove(r models.Reminder) move {
	return move{col: colReminders, key: r.ID, from: r.Version, stillAt: s.atVersion(colReminders, r.ID, r.Version)}
}

// changeReminders writes the reminders that filter(nil) selects — or, on
// the first try, known, when the caller knows them as they are (their ids,
// versions and acknowledgements) — each to its next version: it reads them, takes their write markers in one insert
// and calls write for those it won, within markedWriteTimeout of the
// markers. The ones
// another writer held (a patient acknowledging one the dispatcher records,
// a dispatcher claiming one a re-plan deletes) are read again with
// filter(their ids) and tried again, up to retries times, so a change is
// made over theirs, not lost to it and not lost under it. It returns what
// write counted.
func (s *Store) changeReminders(ctx context.Context, known []models.Reminder, filter func(only bson.A) bson.D,
	write func(ctx context.Context, rs []models.Reminder) (int64, error)) (int64, error) {
	var total int64
	only := bson.A(nil)
	for attempt := 0; ; attempt++ {
		held := known
		if attempt > 0 || known == nil {
			cur, err := s.db.Collection(colReminders).Find(ctx, filter(only), wholeBatch())
			if err != nil {
				return total, mapErr(err, "reminders")
			}
			held = nil
			if err := cur.All(ctx, &held); err != nil {
				return total, mapErr(err, "reminders")
			}
		}
		if len(held) == 0 {
			return total, nil
		}
		moves := make([]move, len(held))
		for i, r := range held {
			moves[i] = s.reminderMove(r)
		}
		won, began, err := s.takeMany(ctx, moves)
		if err != nil {
			return total, err
		}
		var mine []models.Reminder
		only = bson.A{}
		for i, r := range held {
			if won[i] {
				mine = append(mine, r)
			} else {
				only = append(only, r.ID)
			}
		}
		if len(mine) > 0 {
			wctx, cancel := forWrite(ctx, began)
			n, err := write(wctx, mine)
			cancel()
			total += n
			if err != nil {
				return total, mapErr(err, "reminders")
			}
		}
		if len(only) == 0 {
			return total, nil
		}
		if attempt == retries-1 {
			return total, lostRace("reminders changed while they were being written; try again")
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return total, err
		}
	}
}

// withIDs narrows filter to ids, unless ids is nil.
func withIDs(filter bson.D, ids bson.A) bson.D {
	if ids == nil {
		return filter
	}
	return append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}})
}

func reminderIDs(rs []models.Reminder) bson.A {
	ids := make(bson.A, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// ClaimDue leases up to limit due reminders to one dispatcher and returns
// exactly those it won. Due means pending with due_at reached, or claimed by
// a dispatcher whose lease ran out (it crashed or hung).
//
// Winning is the write-marker move of each candidate from the version it
// was read at (see markers.go): of dispatchers racing for a reminder, and
// of a patient marking it done or snoozing it at the same moment, exactly
// one inserts the marker; the rest get a duplicate key and leave it. (A
// conditional update is atomic per document on MongoDB, but the embedded
// engine evaluates an update's filter on a snapshot and then writes, so two
// dispatchers could both "win" it.) The claim itself advances the version,
// so a dispatcher that died after claiming is taken over by the next claim
// once its lease has run out, and a claim given back (ReleaseClaims) can be
// claimed again at once. Three commands a batch: find, insert markers, mark.
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
	moves := make([]move, len(candidates))
	for i, r := range candidates {
		moves[i] = s.reminderMove(r)
	}
	won, began, err := s.takeMany(ctx, moves)
	if err != nil {
		return nil, err
	}
	claimed := candidates[:0]
	for i, r := range candidates {
		if won[i] {
			r.Status, r.LeaseToken, r.LeaseUntil, r.Version = models.ReminderClaimed, lease, &leaseUntil, r.Version+1
			claimed = append(claimed, r)
		}
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	wctx, cancel := forWrite(ctx, began)
	defer cancel()
	_, err = col.UpdateMany(wctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: reminderIDs(claimed)}}}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "status", Value: models.ReminderClaimed}, {Key: "lease_token", Value: lease}, {Key: "lease_until", Value: leaseUntil},
			}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
		})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	return claimed, nil
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
// lease: the release advances their version, and a claim is a move from
// the version it reads. Only reminders still held under lease are changed,
// so a dispatcher that lost its lease meanwhile gives back nothing. It
// returns how many it gave back.
func (s *Store) ReleaseClaims(ctx context.Context, lease string, ids []string, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	filter := func(only bson.A) bson.D {
		if only == nil {
			only = bson.A{}
			for _, id := range ids {
				only = append(only, id)
			}
		}
		return bson.D{
			{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: only}}},
			{Key: "status", Value: models.ReminderClaimed},
		}
	}
	return s.changeReminders(ctx, nil, filter, func(ctx context.Context, rs []models.Reminder) (int64, error) {
		res, err := s.db.Collection(colReminders).UpdateMany(ctx, bson.D{
			{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: reminderIDs(rs)}}},
		}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: models.ReminderPending}, {Key: "updated_at", Value: now}}},
			{Key: "$unset", Value: bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
		})
		if err != nil {
			return 0, err
		}
		return res.ModifiedCount, nil
	})
}

// RecordOutcomes writes a batch's results. Reminders with the same outcome
// (in a batch, nearly all were simply sent) share one update, so a batch
// costs a few update statements, not one per reminder, in one bulk write.
// Every update is conditional on the lease token: a dispatcher whose lease
// ran out, and whose reminders another has claimed since, changes nothing.
// Each reminder moves to its next version under its write marker, so a
// patient marking one done while it was being sent is not undone: the
// outcome is written over the acknowledgement, and one that was to be sent
// again is skipped instead (ReminderOutcome.AfterDone).
func (s *Store) RecordOutcomes(ctx context.Context, lease string, outcomes []models.ReminderOutcome, now time.Time) (int64, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	byID := make(map[string]models.ReminderOutcome, len(outcomes))
	all := make(bson.A, 0, len(outcomes))
	for _, o := range outcomes {
		byID[o.ID] = o
		all = append(all, o.ID)
	}
	filter := func(only bson.A) bson.D {
		if only == nil {
			only = all
		}
		return bson.D{{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: only}}}}
	}
	return s.changeReminders(ctx, knownClaims(outcomes), filter, func(ctx context.Context, rs []models.Reminder) (int64, error) {
		batch := make([]models.ReminderOutcome, len(rs))
		for i, r := range rs {
			batch[i] = byID[r.ID]
			if r.AckedAt != nil {
				batch[i] = batch[i].AfterDone()
			}
		}
		_, modified, err := s.bulkWrite(ctx, colReminders, outcomeWrites(lease, batch, now))
		return modified, err
	})
}

// knownClaims returns the reminders of outcomes as their dispatcher
// claimed them, or nil if it did not say for each: a dispatcher's claim was
// the last move of its reminders unless another writer has taken the next,
// and then taking that move fails and they are read again.
func knownClaims(outcomes []models.ReminderOutcome) []models.Reminder {
	rs := make([]models.Reminder, len(outcomes))
	for i, o := range outcomes {
		if o.Version == 0 {
			return nil
		}
		rs[i] = models.Reminder{ID: o.ID, Version: o.Version, AckedAt: o.AckedAt}
	}
	return rs
}

// outcomeWrites groups outcomes into one update per distinct outcome.
func outcomeWrites(lease string, outcomes []models.ReminderOutcome, now time.Time) []mongo.WriteModel {
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
		inc := bson.D{{Key: "version", Value: 1}}
		if o.Attempted {
			inc = append(inc, bson.E{Key: "attempts", Value: 1})
		}
		writes = append(writes, mongo.NewUpdateManyModel().
			SetFilter(bson.D{{Key: "lease_token", Value: lease}, {Key: "_id", Value: bson.D{{Key: "$in", Value: g.ids}}}}).
			SetUpdate(bson.D{
				{Key: "$set", Value: set},
				{Key: "$unset", Value: bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}},
				{Key: "$inc", Value: inc},
			}))
	}
	return writes
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
// still at r.Version, the version it was read at — not claimed meanwhile by
// a dispatcher, not changed by another request — and returns it at the
// next version.
func (s *Store) SaveReminder(ctx context.Context, r models.Reminder) (models.Reminder, error) {
	from := r.Version
	r.Version++
	err := s.replaceAt(ctx, colReminders, r.ID, from, bson.E{Key: "patient_id", Value: r.PatientID}, r,
		"the reminder is being sent or changed right now; fetch it and try again")
	if err != nil {
		return models.Reminder{}, err
	}
	return r, nil
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
