package models

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// BodyArea is one region of the body a pain log can name.
type BodyArea string

// BodyAreas is the fixed list of areas a patient can pick.
var BodyAreas = []BodyArea{
	"neck", "shoulders", "upper_back", "mid_back", "lower_back", "hips", "buttocks", "legs",
}

// RedFlag is a symptom that, with back pain, needs medical care now rather
// than massage: the "red flags" for serious spinal pathology.
type RedFlag string

// RedFlags is the fixed list of red-flag answers a pain log can carry.
var RedFlags = []RedFlag{
	"saddle_numbness",      // new numbness in the groin or saddle area
	"bladder_bowel_change", // new bladder or bowel problems
	"fever",                // fever together with back pain
	"leg_weakness",         // progressive weakness in the legs
	"major_trauma",         // back pain after a major fall or accident
}

// Pain log limits.
const (
	MaxNoteLength = 1000
	// MaxLogAge is how far back a log may be dated.
	MaxLogAge = 365 * 24 * time.Hour
	// ClockSkew is how far in the future a phone's clock may be.
	ClockSkew = 5 * time.Minute
)

// PainLog is one entry of a patient's pain diary. Its ID is
// "<patient id>:<client uuid>", so an _id lookup is both the fetch and the
// ownership check, and a phone's retry of the same entry names the same document.
type PainLog struct {
	ID           string     `bson:"_id"`
	PatientID    string     `bson:"patient_id"`
	LoggedAt     time.Time  `bson:"logged_at"`
	LocalDate    string     `bson:"local_date"`
	Score        int        `bson:"score"`
	Areas        []BodyArea `bson:"areas,omitempty"`
	Stiffness    *int       `bson:"stiffness,omitempty"`
	SleepQuality *int       `bson:"sleep_quality,omitempty"`
	Stress       *int       `bson:"stress,omitempty"`
	Note         string     `bson:"note,omitempty"`
	RedFlags     []RedFlag  `bson:"red_flags,omitempty"`
	Urgent       bool       `bson:"urgent"`
	CreatedAt    time.Time  `bson:"created_at"`
	UpdatedAt    time.Time  `bson:"updated_at"`
	// Version counts the writes of the document; the store advances it
	// with each, and a write from a version that is no longer current is
	// refused. Documents from before versions existed have none: 0.
	Version int64 `bson:"version,omitempty"`
	// Deleted marks a tombstone: the entry's health data is gone, and the
	// record stays only so that a syncing phone learns of the deletion.
	Deleted bool `bson:"deleted"`
}

// PainLogDocID returns the document id for a patient's client-generated id.
func PainLogDocID(patientID, clientID string) string {
	return patientID + ":" + clientID
}

// ClientID returns the id the phone chose, the part of ID after the patient id.
func (l PainLog) ClientID() string {
	return strings.TrimPrefix(l.ID, l.PatientID+":")
}

// NormalizeClientID checks that id is a UUID and returns its canonical
// lower-case form, so that one entry cannot be stored twice under two spellings.
func NormalizeClientID(id string) (string, error) {
	if len(id) != 36 {
		return "", Errorf(ErrInvalid, "id must be a UUID such as 3f2b6f0e-8a4c-4b1e-9d2a-0c7e5f1a2b3c")
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", Errorf(ErrInvalid, "id must be a UUID such as 3f2b6f0e-8a4c-4b1e-9d2a-0c7e5f1a2b3c")
	}
	return u.String(), nil
}

// LocalDateOf returns the calendar date ("YYYY-MM-DD") of t in loc.
func LocalDateOf(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateOnly)
}

// Validate checks a pain log's fields; now bounds the logged_at instant.
func (l PainLog) Validate(now time.Time) error {
	var probs Problems
	if l.Score < 0 || l.Score > 10 {
		probs.Add("score", "must be a whole number from 0 (no pain) to 10 (worst imaginable)")
	}
	if l.LoggedAt.IsZero() {
		probs.Add("logged_at", "is required")
	} else if l.LoggedAt.After(now.Add(ClockSkew)) {
		probs.Add("logged_at", "must not be in the future")
	} else if l.LoggedAt.Before(now.Add(-MaxLogAge)) {
		probs.Add("logged_at", "must be within the last year")
	}
	checkSet(&probs, "areas", l.Areas, BodyAreas)
	checkRating(&probs, "stiffness", l.Stiffness)
	checkRating(&probs, "sleep_quality", l.SleepQuality)
	checkRating(&probs, "stress", l.Stress)
	switch {
	case utf8.RuneCountInString(l.Note) > MaxNoteLength:
		probs.Add("note", "must be at most %d characters", MaxNoteLength)
	case !utf8.ValidString(l.Note):
		probs.Add("note", "must be valid UTF-8 text")
	}
	checkSet(&probs, "red_flags", l.RedFlags, RedFlags)
	return probs.Err()
}

// HasRedFlags reports whether the entry carries any red-flag answer.
func (l PainLog) HasRedFlags() bool { return len(l.RedFlags) > 0 }

func checkRating(probs *Problems, field string, v *int) {
	if v != nil && (*v < 0 || *v > 10) {
		probs.Add(field, "must be a whole number from 0 to 10")
	}
}

// checkSet reports values not in allowed, and repeats.
func checkSet[T ~string](probs *Problems, field string, values, allowed []T) {
	for i, v := range values {
		if !slices.Contains(allowed, v) {
			probs.Add(field, "%q is not one of %s", v, joinQuoted(allowed))
			return
		}
		if slices.Contains(values[:i], v) {
			probs.Add(field, "%q is listed twice", v)
			return
		}
	}
}

func joinQuoted[T ~string](values []T) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

// UrgentAdvice is what a patient is told when a log carries red flags.
type UrgentAdvice struct {
	Title  string
	Detail string
	Flags  []RedFlag
}

// AdviceFor returns the urgent advice for a log with red flags, or nil.
func AdviceFor(l PainLog) *UrgentAdvice {
	if !l.HasRedFlags() {
		return nil
	}
	return &UrgentAdvice{
		Title: "Seek medical care now",
		Detail: "What you reported can be a sign of a serious problem that needs a doctor, not massage. " +
			"Contact your doctor or an urgent care service today; if you cannot reach one, go to an emergency department. " +
			"Do not have a massage until a clinician has seen you.",
		Flags: l.RedFlags,
	}
}

// PainLogQuery selects a page of one patient's pain logs.
type PainLogQuery struct {
	PatientID string
	// From and To bound local_date ("YYYY-MM-DD", inclusive); empty means open.
	From, To string
	// After continues a listing from the last entry of the previous page.
	After *PainLogCursor
	Limit int
}

// PainLogCursor is a position in a listing: the sort key of the last entry seen.
type PainLogCursor struct {
	At time.Time
	ID string
}

// SyncQuery selects a page of one patient's changes since a time.
type SyncQuery struct {
	PatientID string
	Since     time.Time
	After     *PainLogCursor
	Limit     int
}
