package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/backcare/backcare/models"
)

// colWebSessions holds the dashboard's sign-ins (models.WebSession).
const colWebSessions = "web_sessions"

// CreateWebSession stores a new dashboard session.
func (s *Store) CreateWebSession(ctx context.Context, ws models.WebSession) error {
	_, err := s.db.Collection(colWebSessions).InsertOne(ctx, ws)
	return mapErr(err, "session")
}

// WebSession returns the dashboard session stored under id (the hash of
// the cookie's token), ended or not: the caller asks it ActiveAt.
func (s *Store) WebSession(ctx context.Context, id string) (models.WebSession, error) {
	var ws models.WebSession
	err := s.db.Collection(colWebSessions).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&ws)
	return ws, mapErr(err, "session")
}

// TouchWebSession writes a session's last-seen time and end. A session
// deleted meanwhile (signed out, the account deactivated) stays deleted:
// the update matches nothing and inserts nothing.
func (s *Store) TouchWebSession(ctx context.Context, ws models.WebSession) error {
	_, err := s.db.Collection(colWebSessions).UpdateOne(ctx, bson.D{{Key: "_id", Value: ws.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: ws.LastSeen}, {Key: "expires_at", Value: ws.ExpiresAt}}}})
	return mapErr(err, "session")
}

// DeleteWebSession ends one dashboard session (sign-out).
func (s *Store) DeleteWebSession(ctx context.Context, id string) error {
	_, err := s.db.Collection(colWebSessions).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return mapErr(err, "session")
}

// SignOutStaff ends every sign-in of a staff member: their refresh tokens
// are revoked and their dashboard sessions deleted, so that a deactivated
// therapist is out of the API and the dashboard at once.
func (s *Store) SignOutStaff(ctx context.Context, staffID string, now time.Time) error {
	if err := s.RevokePatientRefreshTokens(ctx, staffID, now); err != nil {
		return err
	}
	_, err := s.db.Collection(colWebSessions).DeleteMany(ctx, bson.D{{Key: "staff_id", Value: staffID}})
	return mapErr(err, colWebSessions)
}
