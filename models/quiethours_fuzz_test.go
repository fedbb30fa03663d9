package models_test

import (
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// FuzzApplyQuietHours checks the quiet-hours rule for any zone, instant,
// window and reminder life:
//   - a reminder due outside quiet hours is sent when due;
//   - one due inside is sent later, outside them, when the wall clock shows
//     End (or after it, when a spring-forward change skips End that day), on
//     the day due or, for a window that crosses midnight and a due time after
//     its start, the next day, unless a clock change skipped End then;
//   - it is never delayed by more than a day plus the DST change between,
//     or two days when a spring-forward change skips End and the open time
//     after it (the quiet hours then run on until the next End);
//   - it is sent only before it expires.
func FuzzApplyQuietHours(f *testing.F) {
	for _, s := range []struct {
		zone, at   string
		start, end uint16
		life       uint32
	}{
		{"Europe/Berlin", "2026-06-10T23:30:00+02:00", 21 * 60, 8 * 60, 12 * 60},
		{"Europe/Berlin", "2026-06-10T12:00:00+02:00", 21 * 60, 8 * 60, 60},
		{"Europe/Berlin", "2026-06-10T14:00:00+02:00", 13 * 60, 15 * 60, 30},
		{"Europe/Berlin", "2026-03-28T22:30:00+01:00", 21 * 60, 8 * 60, 24 * 60},
		{"Europe/Berlin", "2026-10-24T22:00:00+02:00", 21 * 60, 8 * 60, 24 * 60},
		{"America/New_York", "2026-03-07T23:00:00-05:00", 21 * 60, 2*60 + 30, 24 * 60},
		{"America/New_York", "2026-11-01T01:15:00-04:00", 0, 1*60 + 30, 120},
		{"Australia/Lord_Howe", "2026-10-03T23:00:00+10:30", 22 * 60, 2*60 + 15, 600},
		{"Pacific/Apia", "2011-12-29T22:00:00-10:00", 21 * 60, 8 * 60, 48 * 60},
		{"Asia/Kolkata", "2026-01-01T00:00:00+05:30", 0, 23*60 + 59, 24 * 60},
		{"UTC", "2026-01-01T05:00:00Z", 8 * 60, 8 * 60, 60},
		{"America/New_York", "2026-03-08T01:00:00-05:00", 3 * 60, 2*60 + 30, 24 * 60},
		{"America/Denver", "2026-03-07T23:00:00-07:00", 3 * 60, 2*60 + 30, 24 * 60},
		{"Europe/Berlin", "2026-10-25T00:00:00+02:00", 0, 23*60 + 59, 48 * 60},
	} {
		f.Add(s.zone, seedInstant(s.at), s.start, s.end, s.life)
	}
	f.Fuzz(func(t *testing.T, zone string, at int64, start, end uint16, lifeMinutes uint32) {
		loc := fuzzZone(t, zone)
		q := models.QuietHours{Start: hhmm(start), End: hhmm(end)}
		due := fuzzInstant(at)
		expires := due.Add(time.Duration(lifeMinutes%(3*24*60)) * time.Minute)

		send, ok := models.ApplyQuietHours(due, expires, q, loc)

		where := func() string {
			return q.Start + "–" + q.End + " in " + loc.String() + ", due " + due.In(loc).Format(time.RFC3339) +
				", send " + send.In(loc).Format(time.RFC3339)
		}
		if ok != send.Before(expires) {
			t.Fatalf("%s: ok = %v with expiry %s", where(), ok, expires.In(loc).Format(time.RFC3339))
		}
		if !q.Contains(due, loc) {
			if !send.Equal(due) {
				t.Fatalf("%s: due outside quiet hours but moved", where())
			}
			return
		}
		if !send.After(due) {
			t.Fatalf("%s: not after the due time", where())
		}
		if q.Contains(send, loc) {
			t.Fatalf("%s: sent inside quiet hours", where())
		}
		endMinutes, _ := models.ParseTimeOfDay(q.End)
		sendDate, dueDate := models.LocalDateOf(send, loc), models.LocalDateOf(due, loc)
		dueMinutes := due.In(loc).Hour()*60 + due.In(loc).Minute()
		expected := dueDate
		if q.Start > q.End && dueMinutes >= int(start%(24*60)) {
			expected = wallClock(due, loc).AddDate(0, 0, 1).Format(time.DateOnly)
		}
		// A day more only when a spring-forward change skipped the expected
		// End and the open time after it.
		limit := 24*time.Hour + (offset(due, loc) - offset(send, loc)).Abs()
		if !wallTimeExists(expected, int(endMinutes), loc) {
			limit += 24 * time.Hour
		}
		if send.Sub(due) > limit {
			t.Fatalf("%s: delayed %s, more than %s", where(), send.Sub(due), limit)
		}
		sendClock := send.In(loc).Format("15:04")
		if sendClock != q.End {
			prev := wallClock(send, loc).AddDate(0, 0, -1).Format(time.DateOnly)
			if wallTimeExists(sendDate, int(endMinutes), loc) && wallTimeExists(prev, int(endMinutes), loc) {
				t.Fatalf("%s: sent at %s, not at the end of quiet hours, which exists that day", where(), sendClock)
			}
			return
		}
		if sendDate != expected && (sendDate < expected || wallTimeExists(expected, int(endMinutes), loc)) {
			t.Fatalf("%s: ended on %s, not at the end of quiet hours on %s", where(), sendDate, expected)
		}
	})
}
