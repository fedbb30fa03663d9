package models

import (
	"testing"
	"time"
)

func TestLocalDateOf(t *testing.T) {
	for _, c := range []struct {
		at   string
		zone string
		want string
	}{
		{"2026-11-22T06:30:00Z", "America/Edmonton", "2026-11-21"}, // 23:30 MST
		{"2026-07-01T05:30:00Z", "America/Edmonton", "2026-06-30"}, // 23:30 MDT
		{"2026-11-21T18:30:00Z", "Asia/Kolkata", "2026-11-22"},     // 00:00 IST
		{"2026-11-21T18:29:59Z", "Asia/Kolkata", "2026-11-21"},     // 23:59:59 IST
		{"2026-04-04T15:30:00Z", "Australia/Sydney", "2026-04-05"}, // 01:30 on the fall-back night
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		loc, err := LoadTimezone(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := LocalDateOf(at, loc); got != c.want {
			t.Errorf("%s in %s = %s, want %s", c.at, c.zone, got, c.want)
		}
	}
}

func TestPainLogValidate(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ok := PainLog{LoggedAt: now.Add(-time.Hour), Score: 5, Areas: []BodyArea{"lower_back"}}
	if err := ok.Validate(now); err != nil {
		t.Fatalf("a valid log: %v", err)
	}
	eleven, minus := 11, -1
	for _, c := range []struct {
		name  string
		edit  func(*PainLog)
		field string
	}{
		{"score 11", func(l *PainLog) { l.Score = 11 }, "score"},
		{"score -1", func(l *PainLog) { l.Score = -1 }, "score"},
		{"in the future", func(l *PainLog) { l.LoggedAt = now.Add(6 * time.Minute) }, "logged_at"},
		{"over a year ago", func(l *PainLog) { l.LoggedAt = now.Add(-MaxLogAge - time.Minute) }, "logged_at"},
		{"unknown area", func(l *PainLog) { l.Areas = []BodyArea{"elbow"} }, "areas"},
		{"stiffness 11", func(l *PainLog) { l.Stiffness = &eleven }, "stiffness"},
		{"stress -1", func(l *PainLog) { l.Stress = &minus }, "stress"},
		{"long note", func(l *PainLog) { l.Note = string(make([]rune, 1001)) }, "note"},
		{"unknown red flag", func(l *PainLog) { l.RedFlags = []RedFlag{"sneezing"} }, "red_flags"},
		{"red flag twice", func(l *PainLog) { l.RedFlags = []RedFlag{"fever", "fever"} }, "red_flags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := ok
			c.edit(&l)
			fields := FieldsOf(l.Validate(now))
			if len(fields) != 1 || fields[0].Field != c.field {
				t.Fatalf("errors %v, want one on %s", fields, c.field)
			}
		})
	}
}

func TestNormalizeClientID(t *testing.T) {
	got, err := NormalizeClientID("0B9D2C4E-7F61-4A8E-B3D5-2E6F8A1C9D70")
	if err != nil || got != "0b9d2c4e-7f61-4a8e-b3d5-2e6f8a1c9d70" {
		t.Fatalf("%q, %v", got, err)
	}
	for _, bad := range []string{"", "x", "{0b9d2c4e-7f61-4a8e-b3d5-2e6f8a1c9d70}", "0b9d2c4e7f614a8eb3d52e6f8a1c9d70", "0b9d2c4e-7f61-4a8e-b3d5-2e6f8a1c9d7$"} {
		if _, err := NormalizeClientID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAdviceOnlyForRedFlags(t *testing.T) {
	if AdviceFor(PainLog{Score: 10}) != nil {
		t.Fatal("advice without red flags")
	}
	a := AdviceFor(PainLog{RedFlags: []RedFlag{"leg_weakness"}})
	if a == nil || a.Title == "" || len(a.Flags) != 1 {
		t.Fatalf("advice %+v", a)
	}
}
