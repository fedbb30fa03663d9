package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// CreateRefreshToken stores a refresh token.
func (s *Store) CreateRefreshToken(ctx context.Context, t models.RefreshToken) error {
	_, err := s.db.Collection(colRefreshTokens).InsertOne(ctx, t)
	return mapErr(err, "refresh token")
}

// UseRefreshToken marks the token with hash as used, exactly once, and
// returns it. A token that was already used is a replay — the token was
// copied, or a rotation raced — so its whole family is revoked and the
// caller is refused; an unknown, expired or revoked token is refused too.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (models.RefreshToken, error) {
	var t models.RefreshToken
	err := s.db.Collection(colRefreshTokens).FindOneAndUpdate(ctx,
		bson.D{
			{Key: "_id", Value: hash},
			{Key: "used_at", Value: bson.D{{Key: "$exists", Value: false}}},
			{Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}},
			{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&t)
	if err == nil {
		return t, nil
	}
	if models.ErrorCode(mapErr(err, "")) != models.ErrNotFound {
		return t, mapErr(err, "refresh token")
	}
	refused := models.Errorf(models.ErrUnauthorized, "the refresh token is not valid; sign in again")
	var old models.RefreshToken
	err = s.db.Collection(colRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&old)
	if models.ErrorCode(mapErr(err, "")) == models.ErrNotFound {
		return t, refused
	}
	if err != nil {
		return t, mapErr(err, "refresh token")
	}
	if old.UsedAt != nil {
		if err := s.RevokeRefreshFamily(ctx, old.FamilyID, now); err != nil {
			return t, err
		}
	}
	return t, refused
}

// RefreshTokenByHash returns the token with hash, used or not, or not found.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (models.RefreshToken, error) {
	var t models.RefreshToken
	err := s.db.Collection(colRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&t)
	return t, mapErr(err, "refresh token")
}

// RevokeRefreshFamily revokes every token of a sign-in's family.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) error {
	_, err := s.db.Collection(colRefreshTokens).UpdateMany(ctx,
		bson.D{{Key: "family_id", Value: familyID}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}},
	)
	return mapErr(err, "refresh token")
}

// RevokePatientRefreshTokens revokes every refresh token of a patient, on
// every device: after a password change, only the new sign-in stays.
func (s *Store) RevokePatientRefreshTokens(ctx context.Context, patientID string, now time.Time) error {
	_, err := s.db.Collection(colRefreshTokens).UpdateMany(ctx,
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
