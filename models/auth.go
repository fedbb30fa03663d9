package models

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// RefreshToken is a stored refresh token. Only its hash is kept: the _id is
// the SHA-256 of the token the phone holds, so a lookup is one _id match.
type RefreshToken struct {
	Hash      string `bson:"_id"`
	PatientID string `bson:"patient_id"`
	FamilyID  string `bson:"family_id"`
	// Audience is whose the token is: empty for a patient's, AudienceStaff
	// for a clinic staff member's, whose id PatientID then holds. A token
	// refreshes only at its own audience's route.
	Audience  string     `bson:"audience,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	UsedAt    *time.Time `bson:"used_at,omitempty"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	// Version is 1 once the token is spent (see PainLog.Version).
	Version int64 `bson:"version,omitempty"`
}

// Token audiences: a patient token never opens a clinic route, nor a staff
// token a patient route.
const (
	AudiencePatient = "patient"
	AudienceStaff   = "staff"
)

// Device is a phone registered for push.
type Device struct {
	// ID is the SHA-256 of the token: one token is one device whoever holds
	// it, and registering it again is an upsert by _id.
	ID         string    `bson:"_id"`
	PatientID  string    `bson:"patient_id"`
	Token      string    `bson:"token"`
	Platform   string    `bson:"platform"`
	AppVersion string    `bson:"app_version"`
	CreatedAt  time.Time `bson:"created_at"`
	LastSeen   time.Time `bson:"last_seen"`
}

// DeviceID returns the id of the device holding an FCM token.
func DeviceID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MaskToken shortens a push token for logs: tokens are secrets, so only
// their last characters are ever written anywhere but the devices collection.
func MaskToken(token string) string {
	if len(token) <= 6 {
		return "…"
	}
	return "…" + token[len(token)-6:]
}
