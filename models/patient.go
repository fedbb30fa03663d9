package models

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	// Patients' time zones must resolve in a bare container with no zoneinfo.
	_ "time/tzdata"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Patient is one account: a person who logs pain and receives reminders.
type Patient struct {
	ID           string                              `bson:"_id"`
	Email        string                              `bson:"email"`
	PasswordHash string                              `bson:"password_hash"`
	Name         string                              `bson:"name"`
	Timezone     string                              `bson:"timezone"`
	Locale       string                              `bson:"locale"`
	QuietHours   QuietHours                          `bson:"quiet_hours"`
	Preferences  map[ReminderKind]ReminderPreference `bson:"preferences"`
	CreatedAt    time.Time                           `bson:"created_at"`
	UpdatedAt    time.Time                           `bson:"updated_at"`
	// EmailVerifiedAt is when the patient last proved they read the mail
	// of Email; nil until then. Sharing a report and joining a clinic
	// need it.
	EmailVerifiedAt *time.Time `bson:"email_verified_at,omitempty"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// QuietHours is a daily local window in which no push is sent. Start may be
// after End: the window then crosses midnight (the default, 21:00–08:00).
type QuietHours struct {
	Start string `bson:"start"`
	End   string `bson:"end"`
}

// ReminderPreference is a patient's choice for one reminder kind.
type ReminderPreference struct {
	Enabled bool `bson:"enabled"`
	// TimeOfDay is "HH:MM" local; only for kinds that fire at a chosen time.
	TimeOfDay string `bson:"time_of_day,omitempty"`
	// Weekday only for weekly kinds.
	Weekday *time.Weekday `bson:"weekday,omitempty"`
}

// Default values for a new patient.
const (
	DefaultLocale     = "en"
	DefaultQuietStart = "21:00"
	DefaultQuietEnd   = "08:00"
)

// Limits on patient fields.
const (
	MaxNameLength     = 100
	MaxEmailLength    = 254
	MinPasswordLength = 10
	MaxPasswordLength = 256
)

// DefaultPreferences returns every catalog kind switched on at its default time.
func DefaultPreferences() map[ReminderKind]ReminderPreference {
	prefs := make(map[ReminderKind]ReminderPreference, len(Catalog))
	for _, k := range Catalog {
		p := ReminderPreference{Enabled: true, TimeOfDay: k.DefaultTime}
		if k.Weekly {
			d := k.DefaultWeekday
			p.Weekday = &d
		}
		prefs[k.Kind] = p
	}
	return prefs
}

// NewPatient returns a patient with the product's defaults filled in.
func NewPatient(id, email, name, timezone string, now time.Time) Patient {
	return Patient{
		ID:          id,
		Email:       NormalizeEmail(email),
		Name:        strings.TrimSpace(name),
		Timezone:    timezone,
		Locale:      DefaultLocale,
		QuietHours:  QuietHours{Start: DefaultQuietStart, End: DefaultQuietEnd},
		Preferences: DefaultPreferences(),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// Location returns the patient's time zone, or UTC if it cannot be loaded
// (it was validated when stored, so that only happens with a corrupt record).
func (p Patient) Location() *time.Location {
	loc, err := LoadTimezone(p.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Validate checks every field a patient can set.
func (p Patient) Validate() error {
	var probs Problems
	if _, err := ValidateEmail(p.Email); err != nil {
		probs.Add("email", "%s", err)
	}
	ValidateName(&probs, "name", p.Name)
	if _, err := LoadTimezone(p.Timezone); err != nil {
		probs.Add("timezone", "%s", err)
	}
	if err := ValidateLocale(p.Locale); err != nil {
		probs.Add("locale", "%s", err)
	}
	p.QuietHours.validate(&probs, "quiet_hours")
	ValidatePreferences(&probs, "reminder_preferences", p.Preferences)
	return probs.Err()
}

// ValidateName checks a display name.
func ValidateName(probs *Problems, field, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		probs.Add(field, "is required")
	case utf8.RuneCountInString(name) > MaxNameLength:
		probs.Add(field, "must be at most %d characters", MaxNameLength)
	case strings.ContainsFunc(name, isControl):
		probs.Add(field, "must not contain control characters")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// NormalizeEmail lower-cases and trims an email address; addresses are
// compared in this form.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ValidateEmail checks that email is a single plain address and returns it normalized.
func ValidateEmail(email string) (string, error) {
	n := NormalizeEmail(email)
	if n == "" {
		return "", fmt.Errorf("is required")
	}
	if len(n) > MaxEmailLength {
		return "", fmt.Errorf("must be at most %d characters", MaxEmailLength)
	}
	addr, err := mail.ParseAddress(n)
	if err != nil || addr.Address != n || addr.Name != "" || !strings.Contains(n[strings.LastIndexByte(n, '@'):], ".") {
		return "", fmt.Errorf("must be an email address such as name@example.com")
	}
	return n, nil
}

// ValidatePassword checks a new password's length. Length is what matters;
// composition rules are not imposed (NIST SP 800-63B, section 5.1.1.2).
func ValidatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return fmt.Errorf("must be at least %d characters", MinPasswordLength)
	}
	if len(password) > MaxPasswordLength {
		return fmt.Errorf("must be at most %d bytes", MaxPasswordLength)
	}
	return nil
}

// LoadTimezone loads an IANA time zone name such as "Europe/Berlin".
// "Local" and the empty name are refused: they mean the server's zone.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("must be an IANA time zone such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("must be an IANA time zone such as Europe/Berlin")
	}
	return loc, nil
}

// ValidateLocale checks a BCP 47 language tag such as "en" or "de-DE".
func ValidateLocale(tag string) error {
	if tag == "" || len(tag) > 35 {
		return fmt.Errorf("must be a language tag such as en or de-DE")
	}
	if _, err := language.Parse(tag); err != nil {
		return fmt.Errorf("must be a language tag such as en or de-DE")
	}
	return nil
}

func (q QuietHours) validate(probs *Problems, field string) {
	if _, err := ParseTimeOfDay(q.Start); err != nil {
		probs.Add(field+".start", "%s", err)
	}
	if _, err := ParseTimeOfDay(q.End); err != nil {
		probs.Add(field+".end", "%s", err)
	}
}

// ValidatePreferences checks per-kind reminder preferences against the catalog.
func ValidatePreferences(probs *Problems, field string, prefs map[ReminderKind]ReminderPreference) {
	for kind, pref := range prefs {
		f := field + "." + string(kind)
		info, ok := LookupKind(kind)
		if !ok {
			probs.Add(f, "is not a reminder kind")
			continue
		}
		switch {
		case info.HasTimeOfDay():
			if _, err := ParseTimeOfDay(pref.TimeOfDay); err != nil {
				probs.Add(f+".time_of_day", "%s", err)
			}
		case pref.TimeOfDay != "":
			probs.Add(f+".time_of_day", "cannot be set: this reminder is timed from your session")
		}
		switch {
		case info.Weekly && pref.Weekday == nil:
			probs.Add(f+".weekday", "is required")
		case info.Weekly && (*pref.Weekday < time.Sunday || *pref.Weekday > time.Saturday):
			probs.Add(f+".weekday", "must be a weekday")
		case !info.Weekly && pref.Weekday != nil:
			probs.Add(f+".weekday", "cannot be set for a daily or session reminder")
		}
	}
}

// ParseTimeOfDay parses a local wall-clock time "HH:MM" (24-hour) and
// returns it as minutes after midnight.
func ParseTimeOfDay(s string) (int, error) {
	bad := fmt.Errorf("must be a time of day as HH:MM")
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, bad
	}
	return h*60 + m, nil
}
