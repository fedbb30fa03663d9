package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/models"
)

// colAccountTokens holds the mailed tokens of accounts (models.AccountToken):
// password resets and address verifications.
const colAccountTokens = "account_tokens"

// PutAccountToken stores t as its account's token for its purpose,
// replacing the one before, so that only the newest mail works. The
// replacement is a move of the stored token's version (markers.go), so a
// reset being confirmed at the same moment either spends the old token
// before it is replaced, or finds it replaced and fails.
func (s *Store) PutAccountToken(ctx context.Context, t models.AccountToken) error {
	col := s.db.Collection(colAccountTokens)
	for attempt := 0; ; attempt++ {
		cur, err := s.AccountToken(ctx, t.ID)
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
			t.Version = 0
			_, err = col.InsertOne(ctx, t)
			if mongo.IsDuplicateKeyError(err) {
				err = errRaceLost
			} else {
				err = mapErr(err, "token")
			}
		case err != nil:
			return err
		default:
			t.Version = cur.Version + 1
			err = s.replaceAt(ctx, colAccountTokens, t.ID, cur.Version, bson.E{Key: "account_id", Value: t.AccountID}, t,
				"another request replaced the token meanwhile")
		}
		if !models.IsStale(err) || attempt == retries-1 {
			return err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return err
		}
	}
}

// AccountToken returns the token stored under id (see models.AccountTokenID).
func (s *Store) AccountToken(ctx context.Context, id string) (models.AccountToken, error) {
	var t models.AccountToken
	err := s.db.Collection(colAccountTokens).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t)
	return t, mapErr(err, "token")
}

// AccountTokenByHash returns the token whose hash is hash.
func (s *Store) AccountTokenByHash(ctx context.Context, hash string) (models.AccountToken, error) {
	var t models.AccountToken
	err := s.db.Collection(colAccountTokens).FindOne(ctx, bson.D{{Key: "token_hash", Value: hash}}).Decode(&t)
	return t, mapErr(err, "token")
}

// SpendAccountToken marks t, as read at its version, used. Of requests
// racing with one token (or with its code), one spends it; the others, and
// a request whose token was replaced or counted a wrong code meanwhile,
// get a stale conflict.
func (s *Store) SpendAccountToken(ctx context.Context, t models.AccountToken, now time.Time) error {
	return s.change(ctx, colAccountTokens, t.ID, t.Version, "the link or code was used meanwhile",
		func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
			return s.db.Collection(colAccountTokens).UpdateOne(ctx, append(filter, bson.E{Key: "token_hash", Value: t.TokenHash}),
				bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now}, {Key: "version", Value: t.Version + 1}}}})
		})
}

// wrongCodeRetries bounds CountWrongCode's tries: enough for every code of
// a burst at the per-address limit to count.
const wrongCodeRetries = 4 * retries

// CountWrongCode counts one wrong code against t and returns the token as
// it then stands. Every wrong code counts once however many arrive at
// once: one that loses the race to another reads the token again and
// counts on top. A token replaced meanwhile by a newer request is left
// alone (the wrong code was for the old one), and a spent or burned one
// needs no counting.
func (s *Store) CountWrongCode(ctx context.Context, t models.AccountToken) (models.AccountToken, error) {
	for attempt := 0; ; attempt++ {
		err := s.change(ctx, colAccountTokens, t.ID, t.Version, "the code was tried meanwhile",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return s.db.Collection(colAccountTokens).UpdateOne(ctx, append(filter, bson.E{Key: "token_hash", Value: t.TokenHash}),
					bson.D{{Key: "$set", Value: bson.D{{Key: "tries", Value: t.Tries + 1}, {Key: "version", Value: t.Version + 1}}}})
			})
		if err == nil {
			t.Tries++
			t.Version++
			return t, nil
		}
		// Every wrong code must count, so this tries longer than an edit
		// would: each round of racing codes lets one of them count.
		if !models.IsStale(err) || attempt == wrongCodeRetries-1 {
			return t, err
		}
		cur, err := s.AccountToken(ctx, t.ID)
		if err != nil {
			return t, err
		}
		if cur.TokenHash != t.TokenHash || cur.UsedAt != nil || cur.Tries >= models.MaxCodeTries {
			return cur, nil
		}
		t = cur
		if err := pauseBeforeRetry(ctx, min(attempt, retries-1)); err != nil {
			return t, err
		}
	}
}

// DeleteAccountTokens removes every token of an account (on erasure).
func (s *Store) DeleteAccountTokens(ctx context.Context, audience, accountID string) error {
	_, err := s.db.Collection(colAccountTokens).DeleteMany(ctx, bson.D{{Key: "account_id", Value: accountID}, {Key: "audience", Value: audience}})
	return mapErr(err, "tokens")
}

// DeleteExpiredAccountTokens removes tokens expired before now.
func (s *Store) DeleteExpiredAccountTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colAccountTokens).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return 0, mapErr(err, "tokens")
	}
	return res.DeletedCount, nil
}

// VerifyPatientEmail records that the patient reads the mail of email, as
// of now, and makes it the patient's address (it is already, unless the
// verification is of a change). An address another account took meanwhile
// is a conflict; the patient keeps the old one.
func (s *Store) VerifyPatientEmail(ctx context.Context, patientID, email string, now time.Time) error {
	taken := models.Errorf(models.ErrConflict, "another account uses this address now; yours is unchanged")
	for attempt := 0; ; attempt++ {
		p, err := s.PatientByID(ctx, patientID)
		if err != nil {
			return err
		}
		// The unique index decides, but the embedded engine reports its
		// refusal of an update as an internal error rather than a
		// duplicate key, so a taken address is looked for first.
		other, err := s.PatientByEmail(ctx, email)
		switch {
		case err == nil && other.ID != patientID:
			return taken
		case err != nil && models.ErrorCode(err) != models.ErrNotFound:
			return err
		}
		err = s.change(ctx, colPatients, patientID, p.Version, "your account changed meanwhile; try again",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return s.db.Collection(colPatients).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
					{Key: "email", Value: email},
					{Key: "email_verified_at", Value: now},
					{Key: "updated_at", Value: now},
					{Key: "version", Value: p.Version + 1},
				}}})
			})
		if models.ErrorCode(err) == models.ErrConflict && !models.IsStale(err) {
			return taken
		}
		if !models.IsStale(err) || attempt == retries-1 {
			return err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return err
		}
	}
}

// ChangeStaff applies change to the staff account with id as it is now and
// stores it, again from a fresh read if another change won the race.
func (s *Store) ChangeStaff(ctx context.Context, id string, change func(*models.Staff)) error {
	for attempt := 0; ; attempt++ {
		st, err := s.StaffByID(ctx, id)
		if err != nil {
			return err
		}
		change(&st)
		_, err = s.SaveStaff(ctx, st)
		if !models.IsStale(err) || attempt == retries-1 {
			return err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return err
		}
	}
}
