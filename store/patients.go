package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/models"
)

// CreatePatient stores a new patient. An email already in use is a conflict.
func (s *Store) CreatePatient(ctx context.Context, p models.Patient) error {
	_, err := s.db.Collection(colPatients).InsertOne(ctx, p)
	if err != nil && models.ErrorCode(mapErr(err, "patient")) == models.ErrConflict {
		return models.Errorf(models.ErrConflict, "an account with this email already exists")
	}
	return mapErr(err, "patient")
}

// PatientByID returns the patient with id.
func (s *Store) PatientByID(ctx context.Context, id string) (models.Patient, error) {
	var p models.Patient
	err := s.db.Collection(colPatients).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
	return p, mapErr(err, "patient")
}

// PatientByEmail returns the patient with the (normalized) email.
func (s *Store) PatientByEmail(ctx context.Context, email string) (models.Patient, error) {
	var p models.Patient
	err := s.db.Collection(colPatients).FindOne(ctx, bson.D{{Key: "email", Value: models.NormalizeEmail(email)}}).Decode(&p)
	return p, mapErr(err, "patient")
}

// UpdateProfile writes the fields a patient may change about themselves,
// if the patient is still at p.Version, the version they were read at:
// otherwise another change was made meanwhile, and this one is a stale
// conflict rather than a write over it.
func (s *Store) UpdateProfile(ctx context.Context, p models.Patient) error {
	return s.change(ctx, colPatients, p.ID, p.Version, "your profile changed meanwhile; fetch it and try again",
		func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
			return s.db.Collection(colPatients).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
				{Key: "name", Value: p.Name},
				{Key: "timezone", Value: p.Timezone},
				{Key: "locale", Value: p.Locale},
				{Key: "quiet_hours", Value: p.QuietHours},
				{Key: "preferences", Value: p.Preferences},
				{Key: "updated_at", Value: p.UpdatedAt},
				{Key: "version", Value: p.Version + 1},
			}}})
		})
}

// SetPassword replaces a patient's password hash. It is a change of the
// patient's current version like any other (the embedded engine writes a
// whole document back, so a profile change at the same moment would undo
// it otherwise); one that loses a race is made again.
func (s *Store) SetPassword(ctx context.Context, patientID, hash string, now time.Time) error {
	for attempt := 0; ; attempt++ {
		p, err := s.PatientByID(ctx, patientID)
		if err != nil {
			return err
		}
		err = s.change(ctx, colPatients, patientID, p.Version, "your account changed meanwhile; try again",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return s.db.Collection(colPatients).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
					{Key: "password_hash", Value: hash},
					{Key: "updated_at", Value: now},
					{Key: "version", Value: p.Version + 1},
				}}})
			})
		if !models.IsStale(err) || attempt == retries-1 {
			return err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return err
		}
	}
}

// loginWindow is the fixed window in which failed sign-ins are counted.
const loginWindow = 15 * time.Minute

// LoginFailures returns how many sign-ins for email failed in the current
// window, and when that window ends.
func (s *Store) LoginFailures(ctx context.Context, email string, now time.Time) (int, time.Time, error) {
	id, end := loginWindowKey(email, now)
	var doc struct {
		Failures int `bson:"failures"`
	}
	err := s.db.Collection(colLoginAttempts).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if err != nil && models.ErrorCode(mapErr(err, "")) != models.ErrNotFound {
		return 0, end, mapErr(err, "login attempts")
	}
	return doc.Failures, end, nil
}

// RecordLoginFailure counts one failed sign-in for email (known or not) and
// returns the count in the current window.
func (s *Store) RecordLoginFailure(ctx context.Context, email string, now time.Time) (int, error) {
	id, end := loginWindowKey(email, now)
	var doc struct {
		Failures int `bson:"failures"`
	}
	err := s.db.Collection(colLoginAttempts).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "failures", Value: 1}}},
			{Key: "$set", Value: bson.D{{Key: "email", Value: models.NormalizeEmail(email)}, {Key: "window_end", Value: end}}},
		},
		upsertReturnAfter(),
	).Decode(&doc)
	return doc.Failures, mapErr(err, "login attempts")
}

// ClearLoginFailures forgets the failed sign-ins of the current window after a successful one.
func (s *Store) ClearLoginFailures(ctx context.Context, email string, now time.Time) error {
	id, _ := loginWindowKey(email, now)
	_, err := s.db.Collection(colLoginAttempts).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return mapErr(err, "login attempts")
}

// loginWindowKey keys a counter by account and window, so that counting is
// one atomic upsert by _id and an old window needs no reset.
func loginWindowKey(email string, now time.Time) (string, time.Time) {
	start := now.Truncate(loginWindow)
	return models.NormalizeEmail(email) + "|" + start.UTC().Format(time.RFC3339), start.Add(loginWindow)
}

// DeleteExpiredLoginWindows removes failure counters whose window has ended.
func (s *Store) DeleteExpiredLoginWindows(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colLoginAttempts).DeleteMany(ctx, bson.D{{Key: "window_end", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, mapErr(err, "login attempts")
	}
	return res.DeletedCount, nil
}
