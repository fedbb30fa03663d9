package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// CreateRefreshToken stores a refresh token. A token made into a family
// whose revocation is under way (reuse of a spent token was detected, or
// the patient signed out) is revoked with it: RevokeRefreshFamily marks
// the family before it revokes the family's tokens, and this looks for the
// mark after storing the token, so of the two, one always sees the other.
func (s *Store) CreateRefreshToken(ctx context.Context, t models.RefreshToken) error {
	col := s.db.Collection(colRefreshTokens)
	if _, err := col.InsertOne(ctx, t); err != nil {
		return mapErr(err, "refresh token")
	}
	n, err := s.db.Collection(colMarkers).CountDocuments(ctx, bson.D{{Key: "_id", Value: familyMarker(t.FamilyID)}})
	if err != nil || n == 0 {
		return mapErr(err, "refresh token")
	}
	_, err = col.UpdateOne(ctx, bson.D{{Key: "_id", Value: t.Hash}}, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: t.CreatedAt}}}})
	return mapErr(err, "refresh token")
}

// familyMarker is the write marker of a sign-in family's revocation.
func familyMarker(familyID string) string { return colRefreshTokens + "/family/" + familyID }

// UseRefreshToken spends the token with hash, exactly once, and returns it.
// Spending is the token's move from version 0 (see markers.go): of
// requests racing with one token, one spends it. A token that was already
// spent, or is being spent by another request, is a replay — the token was
// copied, or a phone sent one refresh twice — so its whole family is
// revoked and the caller is refused, the request that spent it included,
// whose new token is revoked with the family; an unknown, expired or
// revoked token is refused too.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (models.RefreshToken, error) {
	refused := models.Errorf(models.ErrUnauthorized, "the refresh token is not valid; sign in again")
	col := s.db.Collection(colRefreshTokens)
	var t models.RefreshToken
	err := col.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&t)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return models.RefreshToken{}, refused
	case err != nil:
		return models.RefreshToken{}, mapErr(err, "refresh token")
	case t.UsedAt != nil || t.Version > 0:
		return models.RefreshToken{}, s.replayed(ctx, t, now, refused)
	case t.RevokedAt != nil || !t.ExpiresAt.After(now):
		return models.RefreshToken{}, refused
	}
	err = s.change(ctx, colRefreshTokens, hash, 0, "the refresh token was spent meanwhile",
		func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
			// Not conditional on revoked_at: a request that lost the race
			// revokes the family while this one writes, and this one's
			// new token is revoked with the family (CreateRefreshToken).
			return col.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now}, {Key: "version", Value: 1}}}})
		})
	if models.IsStale(err) {
		return models.RefreshToken{}, s.spentElsewhere(ctx, t, now, refused)
	}
	if err != nil {
		return models.RefreshToken{}, err
	}
	t.UsedAt, t.Version = &now, 1
	return t, nil
}

// spentElsewhere decides about a token whose spend another request holds
// the marker of. Once that request has written, this one is a replay, and
// the family is revoked. But a request whose write failed or whose process
// died leaves the token unspent behind a fresh marker, and the phone's
// retry of that refresh is not a replay: signing the patient out for a
// database hiccup would be wrong. So this waits for the holder's write
// while it still may land (markedWriteTimeout after its marker), and if the
// token is still unspent after that, answers that the server is busy; after
// the marker's lease the next refresh takes it over and spends the token.
func (s *Store) spentElsewhere(ctx context.Context, t models.RefreshToken, now time.Time, refused error) error {
	busy := &models.Error{Code: models.ErrUnavailable, Message: "the refresh is busy; try again shortly", RetryAfter: unavailableRetryAfter}
	m := move{col: colRefreshTokens, key: t.Hash, from: 0}
	held, err := s.markerTakenAt(ctx, m)
	if err != nil {
		return err
	}
	waitUntil := time.Now().Add(max(0, held.Add(markedWriteTimeout).Sub(s.now())))
	for attempt := 0; ; attempt++ {
		var cur models.RefreshToken
		err := s.db.Collection(colRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: t.Hash}}).Decode(&cur)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return refused
		case err != nil:
			return mapErr(err, "refresh token")
		case cur.UsedAt != nil || cur.Version > 0:
			return s.replayed(ctx, cur, now, refused)
		case !time.Now().Before(waitUntil):
			return busy
		}
		if err := pauseBeforeRetry(ctx, min(attempt, 4)); err != nil {
			return busy
		}
	}
}

// replayed revokes the family of a token presented again, and returns
// refused once it is revoked.
func (s *Store) replayed(ctx context.Context, t models.RefreshToken, now time.Time, refused error) error {
	if err := s.RevokeRefreshFamily(ctx, t.FamilyID, now); err != nil {
		return err
	}
	return refused
}

// RefreshTokenByHash returns the token with hash, used or not, or not found.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (models.RefreshToken, error) {
	var t models.RefreshToken
	err := s.db.Collection(colRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&t)
	return t, mapErr(err, "refresh token")
}

// RevokeRefreshFamily revokes every token of a sign-in's family. It marks
// the family first, for a token being made into it right now (see
// CreateRefreshToken); marking it twice is no error.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) error {
	_, err := s.db.Collection(colMarkers).InsertOne(ctx, marker{ID: familyMarker(familyID), At: s.now()})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return mapErr(err, "refresh token")
	}
	_, err = s.db.Collection(colRefreshTokens).UpdateMany(ctx,
		bson.D{{Key: "family_id", Value: familyID}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}},
	)
	return mapErr(err, "refresh token")
}

// RevokePatientRefreshTokens revokes every refresh token of a patient, on
// every device: after a password change, only the new sign-in stays. Each
// of the patient's families is marked first, as RevokeRefreshFamily does,
// so that a refresh racing the change cannot leave a live child behind.
func (s *Store) RevokePatientRefreshTokens(ctx context.Context, patientID string, now time.Time) error {
	cur, err := s.db.Collection(colRefreshTokens).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}},
		options.Find().SetProjection(bson.D{{Key: "family_id", Value: 1}}))
	if err != nil {
		return mapErr(err, "refresh token")
	}
	var tokens []models.RefreshToken
	if err := cur.All(ctx, &tokens); err != nil {
		return mapErr(err, "refresh token")
	}
	marks := []any{}
	seen := map[string]bool{}
	for _, t := range tokens {
		if !seen[t.FamilyID] {
			seen[t.FamilyID] = true
			marks = append(marks, marker{ID: familyMarker(t.FamilyID), At: s.now()})
		}
	}
	if len(marks) > 0 {
		if _, err := s.insertUnique(ctx, colMarkers, marks); err != nil {
			return err
		}
	}
	_, err = s.db.Collection(colRefreshTokens).UpdateMany(ctx,
		bson.D{{Key: "patient_id", Value: patientID}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}},
	)
	return mapErr(err, "refresh token")
}

// DeleteExpiredRefreshTokens removes tokens past their expiry; they can no
// longer be used, so they are not evidence of anything either.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colRefreshTokens).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, mapErr(err, "refresh token")
	}
	return res.DeletedCount, nil
}
