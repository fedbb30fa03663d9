// Package store keeps BackCare's data in MongoDB (or the embedded
// MongoDB-compatible engine) through the official driver.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/backcare/backcare/models"
)

// Collection names.
const (
	colPatients      = "patients"
	colLoginAttempts = "login_attempts"
	colRefreshTokens = "refresh_tokens"
	colDevices       = "devices"
	colPainLogs      = "pain_logs"
	colScreenings    = "screenings"
	colPlans         = "plans"
	colSessions      = "sessions"
	colReminders     = "reminders"
	colDispatchState = "dispatch_state"
	colReports       = "reports"
	colAudit         = "audit"
	colMail          = "mail_outbox"
)

// Limits for clients of the embedded engine (store/embedded). FerretDB 1.24
// keeps every statement of an update or bulk-write command open (one SQLite
// connection each) until the command ends, and each statement needs one
// more connection for its transaction; SQLite gets 100 connections per
// database. Past that, commands wait for each other forever. So clients keep
// commands few and small: at most EmbeddedMaxPoolSize commands at once, of
// at most EmbeddedWriteBatch writes each (4 × (20 + 1) < 100). They live
// here rather than beside the engine so that a client of an engine running
// elsewhere (the tests') need not link the engine.
const (
	EmbeddedMaxPoolSize = 4
	EmbeddedWriteBatch  = 20
)

// Store is the repository over one database.
type Store struct {
	db *mongo.Database
	// writeBatch is the most writes one bulk-write command carries.
	writeBatch int
	// now stamps write markers and tells when one is past its lease.
	now func() time.Time
	// afterMarkers, when set (by tests), runs between taking write markers
	// and the write they were taken for; an error stops there, as a crash
	// would.
	afterMarkers func(ids []string) error
}

// Option changes how a Store talks to its database.
type Option func(*Store)

// WithWriteBatch caps the writes per bulk-write command at n; the embedded
// engine needs a small cap (see EmbeddedWriteBatch).
func WithWriteBatch(n int) Option {
	return func(s *Store) { s.writeBatch = n }
}

// WithClock makes the store read the time from now (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns a Store over db.
func New(db *mongo.Database, opts ...Option) *Store {
	s := &Store{db: db, writeBatch: 1000, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// bulkWrite sends writes unordered, at most writeBatch per command, and
// adds up what they did.
func (s *Store) bulkWrite(ctx context.Context, col string, writes []mongo.WriteModel) (upserted, modified int64, err error) {
	for start := 0; start < len(writes); start += s.writeBatch {
		chunk := writes[start:min(start+s.writeBatch, len(writes))]
		res, err := s.db.Collection(col).BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false))
		if err != nil {
			return upserted, modified, mapErr(err, col)
		}
		upserted += res.UpsertedCount
		modified += res.ModifiedCount
	}
	return upserted, modified, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr(s.db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(), "database")
}

// index is one index the store's queries rely on.
type index struct {
	name   string
	keys   bson.D
	unique bool
}

// indexes lists every index by collection. Each query in this package is
// shaped to be served by one of these (or by _id) on MongoDB.
var indexes = map[string][]index{
	colPatients: {
		{name: "email_unique", keys: bson.D{{Key: "email", Value: 1}}, unique: true},
	},
	colRefreshTokens: {
		{name: "family", keys: bson.D{{Key: "family_id", Value: 1}}},
		{name: "expires", keys: bson.D{{Key: "expires_at", Value: 1}}},
		{name: "patient", keys: bson.D{{Key: "patient_id", Value: 1}}},
	},
	colLoginAttempts: {
		{name: "window_end", keys: bson.D{{Key: "window_end", Value: 1}}},
		{name: "email", keys: bson.D{{Key: "email", Value: 1}}},
	},
	colReports: {
		{name: "token_hash_unique", keys: bson.D{{Key: "token_hash", Value: 1}}, unique: true},
		{name: "patient", keys: bson.D{{Key: "patient_id", Value: 1}}},
	},
	colAudit: {
		{name: "subject_at", keys: bson.D{{Key: "subject", Value: 1}, {Key: "at", Value: 1}}},
		{name: "subject_actor_at", keys: bson.D{{Key: "subject", Value: 1}, {Key: "actor_kind", Value: 1}, {Key: "at", Value: -1}, {Key: "_id", Value: -1}}},
	},
	colDevices: {
		{name: "token_unique", keys: bson.D{{Key: "token", Value: 1}}, unique: true},
		{name: "patient_last_seen", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "last_seen", Value: -1}}},
		{name: "last_seen", keys: bson.D{{Key: "last_seen", Value: 1}}},
	},
	colScreenings: {
		{name: "patient_taken_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "taken_at", Value: -1}}},
	},
	colPlans: {
		{name: "open_unique", keys: bson.D{{Key: "open_key", Value: 1}}, unique: true},
		{name: "patient", keys: bson.D{{Key: "patient_id", Value: 1}}},
	},
	colSessions: {
		{name: "patient_scheduled_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "scheduled_at", Value: 1}}},
		{name: "plan_scheduled_at", keys: bson.D{{Key: "plan_id", Value: 1}, {Key: "scheduled_at", Value: 1}}},
		{name: "patient_plan_scheduled_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "plan_id", Value: 1}, {Key: "scheduled_at", Value: 1}}},
	},
	colReminders: {
		{name: "dedupe_unique", keys: bson.D{{Key: "dedupe_key", Value: 1}}, unique: true},
		{name: "status_due", keys: bson.D{{Key: "status", Value: 1}, {Key: "due_at", Value: 1}}},
		{name: "status_lease_until", keys: bson.D{{Key: "status", Value: 1}, {Key: "lease_until", Value: 1}}},
		{name: "lease_token", keys: bson.D{{Key: "lease_token", Value: 1}}},
		{name: "patient_due", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "due_at", Value: 1}}},
		{name: "patient_source", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "source_id", Value: 1}, {Key: "status", Value: 1}}},
	},
	colMarkers: {
		{name: "at", keys: bson.D{{Key: "at", Value: 1}}},
	},
	colMail: {
		{name: "status_next_attempt", keys: bson.D{{Key: "status", Value: 1}, {Key: "next_attempt_at", Value: 1}}},
		{name: "finished", keys: bson.D{{Key: "finished_at", Value: 1}}},
		{name: "to", keys: bson.D{{Key: "to", Value: 1}}},
	},
	colClinics: {},
	colStaff: {
		{name: "email_unique", keys: bson.D{{Key: "email", Value: 1}}, unique: true},
		{name: "clinic_name", keys: bson.D{{Key: "clinic_id", Value: 1}, {Key: "name", Value: 1}}},
	},
	colInvitations: {
		{name: "token_hash_unique", keys: bson.D{{Key: "token_hash", Value: 1}}, unique: true},
		{name: "clinic_created_at", keys: bson.D{{Key: "clinic_id", Value: 1}, {Key: "created_at", Value: -1}}},
		{name: "expires", keys: bson.D{{Key: "expires_at", Value: 1}}},
	},
	colCareLinks: {
		{name: "active_unique", keys: bson.D{{Key: "active_key", Value: 1}}, unique: true},
		{name: "patient_status", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "status", Value: 1}}},
		{name: "clinic_status", keys: bson.D{{Key: "clinic_id", Value: 1}, {Key: "status", Value: 1}}},
	},
	colLinkCodes: {
		{name: "expires", keys: bson.D{{Key: "expires_at", Value: 1}}},
		{name: "patient", keys: bson.D{{Key: "patient_id", Value: 1}}},
	},
	colNotes: {
		{name: "patient", keys: bson.D{{Key: "patient_id", Value: 1}}},
	},
	colResponses: {
		{name: "patient_answered_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "answered_at", Value: -1}, {Key: "_id", Value: -1}}},
		{name: "patient_local_date", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "local_date", Value: 1}}},
		{name: "patient_updated_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}},
	},
	colAccountTokens: {
		{name: "token_hash_unique", keys: bson.D{{Key: "token_hash", Value: 1}}, unique: true},
		{name: "account", keys: bson.D{{Key: "account_id", Value: 1}, {Key: "audience", Value: 1}}},
		{name: "expires", keys: bson.D{{Key: "expires_at", Value: 1}}},
	},
	colWebSessions: {
		{name: "staff", keys: bson.D{{Key: "staff_id", Value: 1}}},
		{name: "expires", keys: bson.D{{Key: "expires_at", Value: 1}}},
	},
	colMessages: {
		{name: "link_created_at", keys: bson.D{{Key: "link_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}},
		{name: "link_updated_at", keys: bson.D{{Key: "link_id", Value: 1}, {Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}},
		{name: "link_unread_created_at", keys: bson.D{{Key: "link_id", Value: 1}, {Key: "unread_by", Value: 1}, {Key: "created_at", Value: 1}}},
		{name: "patient_created_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}},
		{name: "patient_unread", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "unread_by", Value: 1}}},
		{name: "clinic_unread", keys: bson.D{{Key: "clinic_id", Value: 1}, {Key: "unread_by", Value: 1}}},
		{name: "clinic_created_at", keys: bson.D{{Key: "clinic_id", Value: 1}, {Key: "created_at", Value: 1}}},
	},
	colPainLogs: {
		{name: "patient_logged_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "logged_at", Value: -1}, {Key: "_id", Value: -1}}},
		{name: "patient_local_date", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "local_date", Value: 1}}},
		{name: "patient_updated_at", keys: bson.D{{Key: "patient_id", Value: 1}, {Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}},
	},
}

// retired are collections the store no longer uses, dropped at start so
// that a database from an earlier version does not keep them for ever:
// reminder_claims held the dispatcher's claims before write markers
// decided them.
var retired = []string{"reminder_claims"}

// dropRetired drops the retired collections that exist.
func (s *Store) dropRetired(ctx context.Context) error {
	names, err := s.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: retired}}}})
	if err != nil {
		return mapErr(err, "collections")
	}
	for _, name := range names {
		if err := s.db.Collection(name).Drop(ctx); err != nil {
			return mapErr(err, "drop "+name)
		}
	}
	return nil
}

// EnsureIndexes creates the indexes that do not exist yet, so it runs at
// every start. It asks which exist first rather than re-creating them: the
// embedded engine (FerretDB 1.24) drops the connection when asked to create
// an index that is already there.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := s.dropRetired(ctx); err != nil {
		return err
	}
	for col, want := range indexes {
		specs, err := s.db.Collection(col).Indexes().ListSpecifications(ctx)
		if err != nil {
			return mapErr(err, "list indexes on "+col)
		}
		have := map[string]bool{}
		for _, spec := range specs {
			have[spec.Name] = true
		}
		var missing []mongo.IndexModel
		for _, ix := range want {
			if !have[ix.name] {
				missing = append(missing, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name).SetUnique(ix.unique)})
			}
		}
		if len(missing) == 0 {
			continue
		}
		if _, err := s.db.Collection(col).Indexes().CreateMany(ctx, missing); err != nil {
			return fmt.Errorf("create indexes on %s: %w", col, err)
		}
	}
	return nil
}

// findOwned decodes into dst the document of col with id that belongs to
// patientID: another patient's id is simply not found.
func (s *Store) findOwned(ctx context.Context, col, patientID, id string, dst any, what string) error {
	err := s.db.Collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "patient_id", Value: patientID}}).Decode(dst)
	return mapErr(err, what)
}

// mapErr turns driver errors into application errors: a missing document is
// not found, a duplicate key is a conflict, an unreachable or silent
// database is unavailable, anything else stays internal.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return models.Errorf(models.ErrNotFound, "%s not found", what)
	case mongo.IsDuplicateKeyError(err):
		return models.Errorf(models.ErrConflict, "%s already exists", what)
	case unreachable(err):
		// The driver's text stays in the chain for the log; the caller is
		// told only that the database is away, or slow.
		message := "the database cannot be reached right now; try again shortly"
		if errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &topology.ServerSelectionError{}) {
			message = "the database took too long to answer; try again shortly"
		}
		return fmt.Errorf("%s: %v: %w", what, err, &models.Error{
			Code: models.ErrUnavailable, Message: message, RetryAfter: unavailableRetryAfter,
		})
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// unavailableRetryAfter is the wait suggested to callers while the database
// is away: about one server-selection attempt of the driver.
const unavailableRetryAfter = 5 * time.Second

// unreachable reports whether err means the database could not be reached
// or did not answer in time, rather than that it refused the operation.
func unreachable(err error) bool {
	return mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.As(err, &topology.ServerSelectionError{}) || errors.Is(err, topology.ErrTopologyClosed)
}

func upsertReturnAfter() options.Lister[options.FindOneAndUpdateOptions] {
	return options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
}
