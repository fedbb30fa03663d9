package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// UpsertDevice registers d's token for d's patient, or refreshes it if it is
// already registered. A token registered by another account moves to this
// one (the phone changed hands or accounts); movedFrom names the old patient.
func (s *Store) UpsertDevice(ctx context.Context, d models.Device) (stored models.Device, movedFrom string, err error) {
	d.ID = models.DeviceID(d.Token)
	filter := bson.D{{Key: "_id", Value: d.ID}}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "patient_id", Value: d.PatientID},
			{Key: "token", Value: d.Token},
			{Key: "platform", Value: d.Platform},
			{Key: "app_version", Value: d.AppVersion},
			{Key: "last_seen", Value: d.LastSeen},
		}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "created_at", Value: d.LastSeen}}},
	}
	var before models.Device
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)
	err = s.db.Collection(colDevices).FindOneAndUpdate(ctx, filter, update, opts).Decode(&before)
	if models.ErrorCode(mapErr(err, "")) == models.ErrConflict {
		// Two registrations of a new token raced and the other inserted it
		// first; ours is now a plain update.
		err = s.db.Collection(colDevices).FindOneAndUpdate(ctx, filter, update, opts).Decode(&before)
	}
	switch code := models.ErrorCode(mapErr(err, "")); {
	case err == nil:
		d.CreatedAt = before.CreatedAt
		if before.PatientID != d.PatientID {
			movedFrom = before.PatientID
		}
	case code == models.ErrNotFound:
		d.CreatedAt = d.LastSeen
	default:
		return models.Device{}, "", mapErr(err, "device")
	}
	return d, movedFrom, nil
}

// ListDevices returns a patient's devices, most recently seen first.
func (s *Store) ListDevices(ctx context.Context, patientID string) ([]models.Device, error) {
	cur, err := s.db.Collection(colDevices).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}},
		options.Find().SetSort(bson.D{{Key: "last_seen", Value: -1}}).SetLimit(100))
	if err != nil {
		return nil, mapErr(err, "devices")
	}
	devices := []models.Device{}
	return devices, mapErr(cur.All(ctx, &devices), "devices")
}

// DeleteDevice removes one of a patient's devices. A device of another
// patient is not found, like one that does not exist.
func (s *Store) DeleteDevice(ctx context.Context, patientID, id string) error {
	res, err := s.db.Collection(colDevices).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "patient_id", Value: patientID}})
	if err != nil {
		return mapErr(err, "device")
	}
	if res.DeletedCount == 0 {
		return models.Errorf(models.ErrNotFound, "device not found")
	}
	return nil
}

// DeleteStaleDevices removes up to limit devices whose app has not
// registered since seenBefore: FCM treats a token unused for a month as
// stale and Android expires one after 270 days, so sending to it only earns
// errors. The delete is conditional on last_seen again, so on MongoDB a
// device that registers between the look-up and the delete is kept (the
// embedded engine evaluates the condition on a snapshot, so there such a
// device may go, and comes back at the app's next registration). It
// returns how many it removed.
func (s *Store) DeleteStaleDevices(ctx context.Context, seenBefore time.Time, limit int) (int64, error) {
	col := s.db.Collection(colDevices)
	stale := bson.D{{Key: "last_seen", Value: bson.D{{Key: "$lt", Value: seenBefore}}}}
	cur, err := col.Find(ctx, stale, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return 0, mapErr(err, "devices")
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return 0, mapErr(err, "devices")
	}
	if len(found) == 0 {
		return 0, nil
	}
	ids := make(bson.A, len(found))
	for i, d := range found {
		ids[i] = d.ID
	}
	res, err := col.DeleteMany(ctx, append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, stale...))
	if err != nil {
		return 0, mapErr(err, "devices")
	}
	return res.DeletedCount, nil
}
