package models_test

import (
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// localTime parses "YYYY-MM-DD HH:MM" as a wall-clock time in zone; only for
// times that exist exactly once there.
func localTime(zone, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, mustZone(zone))
	if err != nil {
		panic(err)
	}
	return t
}

func TestQuietHoursContains(t *testing.T) {
	night := models.QuietHours{Start: "21:00", End: "08:00"}
	lunch := models.QuietHours{Start: "13:00", End: "15:00"}
	none := models.QuietHours{Start: "08:00", End: "08:00"}
	corrupt := models.QuietHours{Start: "9pm", End: "08:00"}
	tests := []struct {
		q    models.QuietHours
		at   string
		want bool
	}{
		{night, "2026-06-10 20:59", false},
		{night, "2026-06-10 21:00", true},
		{night, "2026-06-10 23:30", true},
		{night, "2026-06-11 00:00", true},
		{night, "2026-06-11 03:00", true},
		{night, "2026-06-11 07:59", true},
		{night, "2026-06-11 08:00", false},
		{night, "2026-06-11 12:00", false},
		{lunch, "2026-06-10 12:59", false},
		{lunch, "2026-06-10 13:00", true},
		{lunch, "2026-06-10 14:59", true},
		{lunch, "2026-06-10 15:00", false},
		{lunch, "2026-06-10 23:00", false},
		{none, "2026-06-10 08:00", false},
		{none, "2026-06-10 23:00", false},
		{corrupt, "2026-06-10 23:00", false},
	}
	for _, tt := range tests {
		at := localTime("Europe/Berlin", tt.at)
		if got := tt.q.Contains(at, at.Location()); got != tt.want {
			t.Errorf("%s–%s Contains(%s) = %v, want %v", tt.q.Start, tt.q.End, tt.at, got, tt.want)
		}
	}
}

func TestQuietHoursEndAfter(t *testing.T) {
	night := models.QuietHours{Start: "21:00", End: "08:00"}
	tests := []struct {
		name string
		q    models.QuietHours
		zone string
		at   string // RFC 3339
		want string // UTC
	}{
		{"before midnight ends next morning", night, "Europe/Berlin", "2026-06-10T23:30:00+02:00", "2026-06-11T06:00:00Z"},
		{"at the start", night, "Europe/Berlin", "2026-06-10T21:00:00+02:00", "2026-06-11T06:00:00Z"},
		{"after midnight ends that morning", night, "Europe/Berlin", "2026-06-11T03:00:00+02:00", "2026-06-11T06:00:00Z"},
		{"a minute before the end", night, "Europe/Berlin", "2026-06-11T07:59:00+02:00", "2026-06-11T06:00:00Z"},
		{"outside is unchanged", night, "Europe/Berlin", "2026-06-11T08:00:00+02:00", "2026-06-11T06:00:00Z"},
		{"same-day window", models.QuietHours{Start: "13:00", End: "15:00"}, "Europe/Berlin", "2026-06-10T14:00:00+02:00", "2026-06-10T13:00:00Z"},
		{"no quiet hours", models.QuietHours{Start: "21:00", End: "21:00"}, "Europe/Berlin", "2026-06-10T23:00:00+02:00", "2026-06-10T21:00:00Z"},
		// 29 March 2026: clocks go from 02:00 CET to 03:00 CEST.
		{"Berlin spring forward", night, "Europe/Berlin", "2026-03-28T22:30:00+01:00", "2026-03-29T06:00:00Z"},
		// 25 October 2026: clocks go from 03:00 CEST back to 02:00 CET.
		{"Berlin fall back", night, "Europe/Berlin", "2026-10-24T22:00:00+02:00", "2026-10-25T07:00:00Z"},
		// 8 March 2026: 02:00 EST to 03:00 EDT.
		{"New York spring forward", night, "America/New_York", "2026-03-07T22:00:00-05:00", "2026-03-08T12:00:00Z"},
		// 1 November 2026: 02:00 EDT back to 01:00 EST.
		{"New York fall back", night, "America/New_York", "2026-10-31T23:00:00-04:00", "2026-11-01T13:00:00Z"},
		{"an end the gap skips moves forward by the gap", models.QuietHours{Start: "21:00", End: "02:30"},
			"America/New_York", "2026-03-07T23:00:00-05:00", "2026-03-08T07:30:00Z"},
		{"an end the change repeats: the first instance", models.QuietHours{Start: "21:00", End: "01:30"},
			"America/New_York", "2026-10-31T23:00:00-04:00", "2026-11-01T05:30:00Z"},
		{"an end the change repeats, in the repeated hour: the second", models.QuietHours{Start: "21:00", End: "01:30"},
			"America/New_York", "2026-11-01T01:15:00-05:00", "2026-11-01T06:30:00Z"},
		{"Berlin repeated end: the first instance", models.QuietHours{Start: "22:00", End: "02:30"},
			"Europe/Berlin", "2026-10-25T01:00:00+02:00", "2026-10-25T00:30:00Z"},
		{"Berlin repeated end, in the repeated hour: the second", models.QuietHours{Start: "22:00", End: "02:30"},
			"Europe/Berlin", "2026-10-25T02:15:00+01:00", "2026-10-25T01:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.q.EndAfter(mustTime(tt.at), mustZone(tt.zone))
			if got := got.UTC().Format(time.RFC3339); got != tt.want {
				t.Errorf("EndAfter(%s) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
}

func TestApplyQuietHours(t *testing.T) {
	night := models.QuietHours{Start: "21:00", End: "08:00"}
	tests := []struct {
		name     string
		zone     string
		due      string
		expires  string
		wantSend string
		wantOK   bool
	}{
		{"outside quiet hours", "Europe/Berlin", "2026-06-10T19:00:00+02:00", "2026-06-11T00:00:00+02:00", "2026-06-10T17:00:00Z", true},
		{"moves to the end", "Europe/Berlin", "2026-06-10T22:00:00+02:00", "2026-06-12T22:00:00+02:00", "2026-06-11T06:00:00Z", true},
		{"expires first", "Europe/Berlin", "2026-06-10T23:30:00+02:00", "2026-06-11T00:00:00+02:00", "2026-06-11T06:00:00Z", false},
		{"the end is the expiry", "Europe/Berlin", "2026-06-11T07:59:00+02:00", "2026-06-11T08:00:00+02:00", "2026-06-11T06:00:00Z", false},
		{"a minute to spare", "Europe/Berlin", "2026-06-11T07:59:00+02:00", "2026-06-11T08:01:00+02:00", "2026-06-11T06:00:00Z", true},
		{"already expired", "Europe/Berlin", "2026-06-10T19:00:00+02:00", "2026-06-10T19:00:00+02:00", "2026-06-10T17:00:00Z", false},
		{"Berlin spring-forward night", "Europe/Berlin", "2026-03-28T23:30:00+01:00", "2026-03-29T12:00:00+02:00", "2026-03-29T06:00:00Z", true},
		{"New York fall-back night", "America/New_York", "2026-10-31T22:30:00-04:00", "2026-11-01T12:00:00-05:00", "2026-11-01T13:00:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send, ok := models.ApplyQuietHours(mustTime(tt.due), mustTime(tt.expires), night, mustZone(tt.zone))
			if got := send.UTC().Format(time.RFC3339); got != tt.wantSend || ok != tt.wantOK {
				t.Errorf("ApplyQuietHours = %s, %v; want %s, %v", got, ok, tt.wantSend, tt.wantOK)
			}
		})
	}
}
