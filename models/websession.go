package models

import "time"

// Dashboard sessions: a therapist signed in to the web dashboard holds a
// random token in a cookie; the server keeps only its hash. A session ends
// after WebSessionIdle without a request, WebSessionMax after sign-in
// whatever the use, at sign-out, and when the staff member is deactivated.
const (
	WebSessionIdle = 12 * time.Hour
	WebSessionMax  = 7 * 24 * time.Hour
	// WebSessionTouchEvery is how stale the last-seen time may get before a
	// request writes it again: not every page view needs a write.
	WebSessionTouchEvery = time.Minute
)

// WebSession is one sign-in to the dashboard.
type WebSession struct {
	// ID is the hash of the cookie's token.
	ID       string `bson:"_id"`
	StaffID  string `bson:"staff_id"`
	ClinicID string `bson:"clinic_id"`
	// CSRF is the token every form of this session carries; a form from an
	// earlier session, or from another site, does not have it.
	CSRF      string    `bson:"csrf"`
	CreatedAt time.Time `bson:"created_at"`
	LastSeen  time.Time `bson:"last_seen"`
	// ExpiresAt is the earlier of the idle and the absolute end, kept in
	// the document so that one index finds the ended sessions.
	ExpiresAt time.Time `bson:"expires_at"`
}

// NewWebSession starts a session for staff member st at now. tokenHash
// is the stored form of the cookie's token (auth.HashOpaqueToken), which
// is not kept; csrf is the session's form token.
func NewWebSession(st Staff, tokenHash, csrf string, now time.Time) WebSession {
	s := WebSession{ID: tokenHash, StaffID: st.ID, ClinicID: st.ClinicID, CSRF: csrf, CreatedAt: now}
	s.Touch(now)
	return s
}

// Touch records a request at now: the idle end moves, the absolute one
// does not.
func (s *WebSession) Touch(now time.Time) {
	s.LastSeen = now
	s.ExpiresAt = now.Add(WebSessionIdle)
	if end := s.CreatedAt.Add(WebSessionMax); end.Before(s.ExpiresAt) {
		s.ExpiresAt = end
	}
}

// ActiveAt reports whether the session still holds at now.
func (s WebSession) ActiveAt(now time.Time) bool {
	return now.Before(s.ExpiresAt) && now.Before(s.CreatedAt.Add(WebSessionMax)) && now.Before(s.LastSeen.Add(WebSessionIdle))
}

// NeedsTouch reports whether a request at now should write the last-seen
// time (see WebSessionTouchEvery).
func (s WebSession) NeedsTouch(now time.Time) bool {
	return now.Sub(s.LastSeen) >= WebSessionTouchEvery
}
