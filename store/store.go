// Package store keeps BackCare's data in MongoDB (or the embedded
// MongoDB-compatible engine) through the official driver.
package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// Collection names.
const (
	colPatients      = "patients"
	colLoginAttempts = "login_attempts"
	colRefreshTokens = "refresh_tokens"
	colDevices       = "devices"
	colPainLogs      = "pain_logs"
)

// Store is the repository over one database.
type Store struct {
	db *mongo.Database
}

// New returns a Store over db.
func New(db *mongo.Database) *Store {
	return &Store{db: db}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
}

// indexes lists every index the store's queries rely on. Each query in this
// package is shaped to be served by one of these (or by _id) on MongoDB.
var indexes = map[string][]mongo.IndexModel{
	colPatients: {
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email_unique").SetUnique(true)},
	},
	colRefreshTokens: {
		{Keys: bson.D{{Key: "family_id", Value: 1}}, Options: options.Index().SetName("family")},
		{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetName("expires")},
	},
	colLoginAttempts: {
		{Keys: bson.D{{Key: "window_end", Value: 1}}, Options: options.Index().SetName("window_end")},
	},
	colDevices: {
		{Keys: bson.D{{Key: "token", Value: 1}}, Options: options.Index().SetName("token_unique").SetUnique(true)},
		{Keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "last_seen", Value: -1}}, Options: options.Index().SetName("patient_last_seen")},
	},
	colPainLogs: {
		{Keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "logged_at", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("patient_logged_at")},
		{Keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("patient_updated_at")},
	},
}

// EnsureIndexes creates every index the store needs. Creating an index that
// already exists with the same definition is a no-op, so this runs at every start.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	for col, models := range indexes {
		if _, err := s.db.Collection(col).Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("create indexes on %s: %w", col, err)
		}
	}
	return nil
}

// mapErr turns driver errors into application errors: a missing document is
// not found, a duplicate key is a conflict, anything else stays internal.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return models.Errorf(models.ErrNotFound, "%s not found", what)
	case mongo.IsDuplicateKeyError(err):
		return models.Errorf(models.ErrConflict, "%s already exists", what)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

func upsertReturnAfter() options.Lister[options.FindOneAndUpdateOptions] {
	return options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
}
