package models

import (
	"testing"
	"time"
)

func TestParseTimeOfDay(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"00:00", 0, true}, {"08:05", 485, true}, {"23:59", 1439, true},
		{"24:00", 0, false}, {"12:60", 0, false}, {"7:30", 0, false}, {"+1:00", 0, false},
		{"07-30", 0, false}, {"", 0, false}, {"07:30:00", 0, false}, {"ab:cd", 0, false},
	} {
		got, err := ParseTimeOfDay(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseTimeOfDay(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Ann@Example.COM ":   "ann@example.com",
		"a+tag@mail.example":  "a+tag@mail.example",
		"no-at-sign":          "",
		"Ann <a@example.com>": "",
		"a@localhost":         "",
		"":                    "",
	} {
		got, err := ValidateEmail(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ValidateEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLoadTimezone(t *testing.T) {
	for _, ok := range []string{"America/Edmonton", "Asia/Kolkata", "Australia/Sydney", "Europe/Berlin", "UTC"} {
		if _, err := LoadTimezone(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "Mars/Base", "+05:30", "../../etc/passwd", "EST5EDT,M3.2.0,M11.1.0"} {
		if _, err := LoadTimezone(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewPatientDefaultsAreValid(t *testing.T) {
	p := NewPatient("id", "Pat@Example.com", " Pat ", "Europe/Berlin", time.Unix(0, 0))
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.Email != "pat@example.com" || p.Name != "Pat" || len(p.Preferences) != len(Catalog) {
		t.Fatalf("defaults %+v", p)
	}
	if d := p.Preferences[KindWeeklySummary].Weekday; d == nil || *d != time.Sunday {
		t.Fatalf("weekly summary weekday %v", d)
	}
}

func TestValidatePreferences(t *testing.T) {
	monday := time.Monday
	for _, c := range []struct {
		name  string
		prefs map[ReminderKind]ReminderPreference
		field string
	}{
		{"unknown kind", map[ReminderKind]ReminderPreference{"yoga": {Enabled: true}}, "p.yoga"},
		{"time on a session kind", map[ReminderKind]ReminderPreference{KindTakeItEasy: {TimeOfDay: "09:00"}}, "p.take_it_easy.time_of_day"},
		{"no time on a daily kind", map[ReminderKind]ReminderPreference{KindStretching: {Enabled: true}}, "p.stretching.time_of_day"},
		{"weekday on a daily kind", map[ReminderKind]ReminderPreference{KindDailyCheckin: {TimeOfDay: "19:00", Weekday: &monday}}, "p.daily_checkin.weekday"},
		{"no weekday on the weekly kind", map[ReminderKind]ReminderPreference{KindWeeklySummary: {TimeOfDay: "19:00"}}, "p.weekly_summary.weekday"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var probs Problems
			ValidatePreferences(&probs, "p", c.prefs)
			if len(probs) != 1 || probs[0].Field != c.field {
				t.Fatalf("problems %v, want one on %s", probs, c.field)
			}
		})
	}
}
