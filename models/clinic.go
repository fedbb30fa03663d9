package models

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Clinic is a massage clinic: the place where the care happens, with its
// own time zone and cancellation window.
type Clinic struct {
	ID       string `bson:"_id"`
	Name     string `bson:"name"`
	Timezone string `bson:"timezone"`
	// CancellationHours is how long before a session a patient may still
	// cancel or move it in the app; inside the window they call the clinic.
	CancellationHours int       `bson:"cancellation_hours"`
	CreatedAt         time.Time `bson:"created_at"`
	UpdatedAt         time.Time `bson:"updated_at"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// Clinic limits.
const (
	DefaultCancellationHours = 24
	MaxCancellationHours     = 14 * 24
)

// Validate checks the fields an owner sets.
func (c Clinic) Validate() error {
	var probs Problems
	ValidateName(&probs, "clinic_name", c.Name)
	if _, err := LoadTimezone(c.Timezone); err != nil {
		probs.Add("timezone", "%s", err)
	}
	if c.CancellationHours < 0 || c.CancellationHours > MaxCancellationHours {
		probs.Add("cancellation_hours", "must be from 0 to %d", MaxCancellationHours)
	}
	return probs.Err()
}

// InsideCancellationWindow reports whether a session starting at start is
// too close, at now, for a patient to cancel or move it themselves.
func (c Clinic) InsideCancellationWindow(start, now time.Time) bool {
	return start.Sub(now) < time.Duration(c.CancellationHours)*time.Hour
}

// Role is what a staff member may do at their clinic.
type Role string

// Staff roles: the owner runs the clinic's account (staff, invitations,
// settings) and treats patients; a therapist treats patients.
const (
	RoleOwner     Role = "owner"
	RoleTherapist Role = "therapist"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleTherapist }

// Staff is one account of a clinic's staff. Staff accounts are never
// patients' accounts: they sign in elsewhere, under their own token audience.
type Staff struct {
	ID           string     `bson:"_id"`
	ClinicID     string     `bson:"clinic_id"`
	Email        string     `bson:"email"`
	PasswordHash string     `bson:"password_hash"`
	Name         string     `bson:"name"`
	Role         Role       `bson:"role"`
	Active       bool       `bson:"active"`
	Deactivated  *time.Time `bson:"deactivated_at,omitempty"`
	// EmailVerifiedAt is when the staff member proved they read the mail
	// of Email: accepting a mailed invitation, or the owner's sign-up
	// verification.
	EmailVerifiedAt *time.Time `bson:"email_verified_at,omitempty"`
	CreatedAt       time.Time  `bson:"created_at"`
	UpdatedAt       time.Time  `bson:"updated_at"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// Validate checks the fields a new staff member gives.
func (s Staff) Validate() error {
	var probs Problems
	if _, err := ValidateEmail(s.Email); err != nil {
		probs.Add("email", "%s", err)
	}
	ValidateName(&probs, "name", s.Name)
	if !s.Role.Valid() {
		probs.Add("role", "must be owner or therapist")
	}
	return probs.Err()
}

// InvitationTTL is how long a staff invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation asks someone to join a clinic's staff. Only its token's hash
// is kept; the token exists in the owner's hands (and, with mail, the
// invitee's inbox).
type Invitation struct {
	ID         string     `bson:"_id"`
	ClinicID   string     `bson:"clinic_id"`
	Email      string     `bson:"email"`
	Role       Role       `bson:"role"`
	TokenHash  string     `bson:"token_hash"`
	InvitedBy  string     `bson:"invited_by"`
	CreatedAt  time.Time  `bson:"created_at"`
	ExpiresAt  time.Time  `bson:"expires_at"`
	AcceptedAt *time.Time `bson:"accepted_at,omitempty"`
	RevokedAt  *time.Time `bson:"revoked_at,omitempty"`
	// StaffID is the account the invitation became.
	StaffID string `bson:"staff_id,omitempty"`
	// Version is 1 once the invitation is accepted or revoked.
	Version int64 `bson:"version,omitempty"`
}

// InvitationState is where an invitation stands.
func (i Invitation) State(now time.Time) string {
	switch {
	case i.AcceptedAt != nil:
		return "accepted"
	case i.RevokedAt != nil:
		return "revoked"
	case !now.Before(i.ExpiresAt):
		return "expired"
	}
	return "pending"
}

// Scope is what a patient's consent lets a clinic do.
type Scope string

// Consent scopes. View lets the clinic read the patient's logs, insights,
// plan, sessions, screening and reminder adherence; care also lets it
// change the plan and sessions, write session notes and record clearances.
const (
	ScopeView Scope = "view"
	ScopeCare Scope = "care"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeView || s == ScopeCare }

// Covers reports whether consent to s allows what need asks.
func (s Scope) Covers(need Scope) bool {
	return s == ScopeCare || (s == ScopeView && need == ScopeView)
}

// LinkStatus is whether a care link still holds.
type LinkStatus string

// Care link statuses.
const (
	LinkActive  LinkStatus = "active"
	LinkRevoked LinkStatus = "revoked"
)

// CareLink is a patient's consent that a clinic sees (view) or steers
// (care) their care. At most one link per patient and clinic is active.
type CareLink struct {
	ID        string     `bson:"_id"`
	PatientID string     `bson:"patient_id"`
	ClinicID  string     `bson:"clinic_id"`
	LinkedBy  string     `bson:"linked_by"`
	Scope     Scope      `bson:"scope"`
	Status    LinkStatus `bson:"status"`
	CreatedAt time.Time  `bson:"created_at"`
	UpdatedAt time.Time  `bson:"updated_at"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	// RevokedBy is "patient" or "erasure".
	RevokedBy string `bson:"revoked_by,omitempty"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// MayAct is the one authorization decision of the clinic side: whether
// staff member s may do what need asks on patient patientID, given the
// care link between the patient and s's clinic (nil when there is none).
// s must be active, the link active and between this patient and s's
// clinic, and its scope must cover need. Every clinic route and page asks
// it; a refusal is answered as "not one of your patients".
func MayAct(s Staff, link *CareLink, patientID string, need Scope) bool {
	return s.Active && link != nil && link.Status == LinkActive &&
		link.PatientID == patientID && link.ClinicID == s.ClinicID && link.Scope.Covers(need)
}

// Link codes: how a patient and a clinic agree to link, in person or on
// the phone. A code is 8 characters from an alphabet without look-alikes
// (no 0/O, 1/I/L), shown as two groups: 7KQ4-MZ2P. The first group finds
// the code, the second is its secret; both are stored only hashed, so a
// wrong second group counts against that code, which is burnt after
// LinkCodeMaxTries wrong tries.
const (
	linkCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
	linkCodeHalf     = 4
	LinkCodeTTL      = 72 * time.Hour
	LinkCodeMaxTries = 5
)

// LinkCodeDirection says who made a code, and so who redeems it.
type LinkCodeDirection string

// Link code directions: a clinic's code is entered by a patient in the
// app; a patient's code is redeemed by a therapist at the front desk.
const (
	CodeFromClinic  LinkCodeDirection = "clinic"
	CodeFromPatient LinkCodeDirection = "patient"
)

// LinkCode is a short-lived, single-use code that creates a care link.
type LinkCode struct {
	// ID is the hash of the code's first group.
	ID         string            `bson:"_id"`
	SecretHash string            `bson:"secret_hash"`
	Direction  LinkCodeDirection `bson:"direction"`
	Scope      Scope             `bson:"scope"`
	// ClinicID and StaffID are set for a clinic's code, PatientID for a
	// patient's.
	ClinicID  string     `bson:"clinic_id,omitempty"`
	StaffID   string     `bson:"staff_id,omitempty"`
	PatientID string     `bson:"patient_id,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	Tries     int        `bson:"tries"`
	UsedAt    *time.Time `bson:"used_at,omitempty"`
	// Version counts the code's changes: each wrong try and its use.
	Version int64 `bson:"version,omitempty"`
}

// Usable reports whether the code can still be redeemed at now.
func (c LinkCode) Usable(now time.Time) bool {
	return c.UsedAt == nil && c.Tries < LinkCodeMaxTries && now.Before(c.ExpiresAt)
}

// NewLinkCode returns a fresh code for display and its stored halves' hashes.
func NewLinkCode() (display, locatorHash, secretHash string, err error) {
	b := make([]byte, 2*linkCodeHalf)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", err
	}
	code := make([]byte, len(b))
	for i, v := range b {
		// 256 is not a multiple of 31: the first 8 values are a little
		// likelier, which costs under 0.2 bits of a code's 39.
		code[i] = linkCodeAlphabet[int(v)%len(linkCodeAlphabet)]
	}
	s := string(code)
	return s[:linkCodeHalf] + "-" + s[linkCodeHalf:], hashCodePart("locator", s[:linkCodeHalf]), hashCodePart("secret", s), nil
}

// ParseLinkCode reads a code as typed — any case, with or without the dash
// or spaces — and returns the hashes to look it up by and compare, or
// ok=false when it cannot be a code at all.
func ParseLinkCode(typed string) (locatorHash, secretHash string, ok bool) {
	s := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(typed))
	if len(s) != 2*linkCodeHalf || strings.Trim(s, linkCodeAlphabet) != "" {
		return "", "", false
	}
	return hashCodePart("locator", s[:linkCodeHalf]), hashCodePart("secret", s), true
}

// SecretMatches compares a typed code's secret hash with the stored one in
// constant time.
func (c LinkCode) SecretMatches(secretHash string) bool {
	return subtle.ConstantTimeCompare([]byte(c.SecretHash), []byte(secretHash)) == 1
}

func hashCodePart(purpose, s string) string {
	sum := sha256.Sum256([]byte("backcare link code " + purpose + ":" + s))
	return hex.EncodeToString(sum[:])
}

// Pressure is how firm the therapist worked.
type Pressure string

// Pressures, from light to deep.
const (
	PressureLight  Pressure = "light"
	PressureMedium Pressure = "medium"
	PressureFirm   Pressure = "firm"
	PressureDeep   Pressure = "deep"
)

// Pressures lists every pressure in order.
var Pressures = []Pressure{PressureLight, PressureMedium, PressureFirm, PressureDeep}

// Session note limits.
const (
	MaxNoteFieldLength = 4000
	MaxSummaryLength   = 1000
	MaxTechniques      = 20
	MaxNoteRevisions   = 50
)

// NoteContent is what a therapist writes about a session, SOAP-style.
type NoteContent struct {
	Subjective   string     `bson:"subjective,omitempty"`
	Objective    string     `bson:"objective,omitempty"`
	Assessment   string     `bson:"assessment,omitempty"`
	Plan         string     `bson:"plan,omitempty"`
	AreasTreated []BodyArea `bson:"areas_treated,omitempty"`
	Techniques   []string   `bson:"techniques,omitempty"`
	Pressure     Pressure   `bson:"pressure,omitempty"`
	// Shared shows Summary to the patient; the rest stays in the clinic.
	Shared  bool   `bson:"shared"`
	Summary string `bson:"summary,omitempty"`
}

// Validate checks a note's fields.
func (n NoteContent) Validate() error {
	var probs Problems
	checkNoteText(&probs, "subjective", n.Subjective, MaxNoteFieldLength)
	checkNoteText(&probs, "objective", n.Objective, MaxNoteFieldLength)
	checkNoteText(&probs, "assessment", n.Assessment, MaxNoteFieldLength)
	checkNoteText(&probs, "plan", n.Plan, MaxNoteFieldLength)
	checkNoteText(&probs, "summary", n.Summary, MaxSummaryLength)
	checkSet(&probs, "areas_treated", n.AreasTreated, BodyAreas)
	if len(n.Techniques) > MaxTechniques {
		probs.Add("techniques", "must list at most %d", MaxTechniques)
	}
	for _, t := range n.Techniques {
		if strings.TrimSpace(t) == "" {
			probs.Add("techniques", "must not contain empty names")
			break
		}
		checkShortName(&probs, "techniques", t)
	}
	if n.Pressure != "" && !slices.Contains(Pressures, n.Pressure) {
		probs.Add("pressure", "must be light, medium, firm or deep")
	}
	if n.Shared && strings.TrimSpace(n.Summary) == "" {
		probs.Add("summary", "is required when the note is shared: it is what the patient sees")
	}
	return probs.Err()
}

// Empty reports whether n says nothing at all: a session completed
// without a note.
func (n NoteContent) Empty() bool {
	return strings.TrimSpace(n.Subjective+n.Objective+n.Assessment+n.Plan+n.Summary) == "" &&
		len(n.AreasTreated) == 0 && len(n.Techniques) == 0 && n.Pressure == "" && !n.Shared
}

// SessionNote is the clinic's note on one session: its _id is the session's.
type SessionNote struct {
	ID        string `bson:"_id"`
	PatientID string `bson:"patient_id"`
	ClinicID  string `bson:"clinic_id"`
	NoteContent
	AuthorID   string    `bson:"author_id"`
	AuthorName string    `bson:"author_name"`
	CreatedAt  time.Time `bson:"created_at"`
	UpdatedAt  time.Time `bson:"updated_at"`
	// Revisions are the earlier versions, oldest first: an edit never
	// loses what was written before.
	Revisions []NoteRevision `bson:"revisions,omitempty"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// NoteRevision is an earlier version of a note.
type NoteRevision struct {
	NoteContent `bson:",inline"`
	AuthorID    string    `bson:"author_id"`
	AuthorName  string    `bson:"author_name"`
	WrittenAt   time.Time `bson:"written_at"`
}

// Revise replaces the note's content by c, written by author at now, and
// keeps the previous content as a revision (the oldest go past
// MaxNoteRevisions). It reports false when c is what the note says already.
func (n *SessionNote) Revise(c NoteContent, author Staff, now time.Time) bool {
	if noteEqual(n.NoteContent, c) {
		return false
	}
	n.Revisions = append(n.Revisions, NoteRevision{NoteContent: n.NoteContent, AuthorID: n.AuthorID, AuthorName: n.AuthorName, WrittenAt: n.UpdatedAt})
	if len(n.Revisions) > MaxNoteRevisions {
		n.Revisions = n.Revisions[len(n.Revisions)-MaxNoteRevisions:]
	}
	n.NoteContent, n.AuthorID, n.AuthorName, n.UpdatedAt = c, author.ID, author.Name, now
	return true
}

func noteEqual(a, b NoteContent) bool {
	return a.Subjective == b.Subjective && a.Objective == b.Objective && a.Assessment == b.Assessment &&
		a.Plan == b.Plan && a.Pressure == b.Pressure && a.Shared == b.Shared && a.Summary == b.Summary &&
		slices.Equal(a.AreasTreated, b.AreasTreated) && slices.Equal(a.Techniques, b.Techniques)
}
