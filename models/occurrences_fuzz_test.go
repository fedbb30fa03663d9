package models_test

import (
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// FuzzOccurrences checks the reminder occurrences of a patient in any zone,
// with any chosen times, around any instant:
//   - DailyReminders yields only occurrences due in [from, to), sorted, each
//     expiring after it is due, with distinct keys;
//   - a kind at a chosen time fires once per local date, on consecutive
//     dates, at the first instant the clock shows that time that day, or
//     later when a spring-forward change skips it; never twice at one instant;
//   - session reminders are exact durations before the start, aftercare
//     exact durations after the end, and heat_ice comes on the first two
//     local days whose chosen time is strictly after the end.
func FuzzOccurrences(f *testing.F) {
	for _, s := range []struct {
		zone, from             string
		hours                  uint8
		checkin, stretch, heat uint16
		weekday                uint8
		sessionInMin           int32
		long                   bool
	}{
		{"Europe/Berlin", "2026-03-26T00:00:00Z", 168, 2*60 + 30, 18 * 60, 19*60 + 30, 0, 600, false},
		{"America/New_York", "2026-10-29T00:00:00Z", 168, 1*60 + 30, 1 * 60, 1*60 + 15, 0, -300, true},
		{"Australia/Lord_Howe", "2026-04-02T00:00:00Z", 120, 1*60 + 45, 2 * 60, 1*60 + 50, 3, 1440, false},
		{"Pacific/Apia", "2011-12-27T00:00:00Z", 168, 9 * 60, 23*60 + 30, 20 * 60, 5, 2000, true},
		{"America/Havana", "2026-03-06T00:00:00Z", 96, 0, 0, 30, 1, -60, false},
		{"UTC", "2026-11-22T00:00:00Z", 24, 8 * 60, 18 * 60, 20 * 60, 0, 90, false},
	} {
		f.Add(s.zone, seedInstant(s.from), s.hours, s.checkin, s.stretch, s.heat, s.weekday, s.sessionInMin, s.long)
	}
	f.Fuzz(func(t *testing.T, zone string, at int64, hours uint8, checkin, stretch, heat uint16, weekday uint8,
		sessionInMin int32, long bool) {
		loc := fuzzZone(t, zone)
		from := fuzzInstant(at)
		to := from.Add(time.Duration(hours%(8*24)+1) * time.Hour)
		day := time.Weekday(weekday % 7)
		p := models.NewPatient("pat", "pat@example.com", "Pat", loc.String(), from)
		for kind, timeOfDay := range map[models.ReminderKind]uint16{
			models.KindDailyCheckin: checkin, models.KindWeeklySummary: checkin, models.KindHeatIce: heat,
			models.KindBookNextSession: checkin,
		} {
			pref := p.Preferences[kind]
			pref.TimeOfDay = hhmm(timeOfDay)
			if kind == models.KindWeeklySummary {
				pref.Weekday = &day
			}
			p.Preferences[kind] = pref
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("patient: %v", err)
		}
		c := models.DefaultCadence(day)
		c.StretchingTime = hhmm(stretch)
		start := wallClock(from, loc).AddDate(0, 0, -3).Format(time.DateOnly)
		plan, err := models.NewPlan("plan", p.ID, start, c, false, from)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		next := plan.NextSession(nil, from, loc)

		daily := models.DailyReminders(p, &plan, next, from, to)

		chosen := map[models.ReminderKind]uint16{models.KindDailyCheckin: checkin, models.KindWeeklySummary: checkin,
			models.KindStretching: stretch, models.KindBookNextSession: checkin}
		lastOf := map[models.ReminderKind]models.Reminder{}
		keys := map[string]bool{}
		for i, r := range daily {
			where := string(r.Kind) + " " + r.LocalDate + " due " + r.DueAt.In(loc).Format(time.RFC3339) + " in " + loc.String()
			if r.DueAt.Before(from) || !r.DueAt.Before(to) {
				t.Fatalf("%s: outside [%s, %s)", where, from.Format(time.RFC3339), to.Format(time.RFC3339))
			}
			if i > 0 && r.DueAt.Before(daily[i-1].DueAt) {
				t.Fatalf("%s: not sorted", where)
			}
			checkOccurrence(t, where, r, keys)
			checkWallClock(t, where, r, int(chosen[r.Kind]%(24*60)), loc)
			if prev, ok := lastOf[r.Kind]; ok {
				if !r.DueAt.After(prev.DueAt) {
					t.Fatalf("%s: at the same instant as the one of %s", where, prev.LocalDate)
				}
				prevDay, _ := time.Parse(time.DateOnly, prev.LocalDate)
				step := map[models.ReminderKind]int{models.KindWeeklySummary: 7}[r.Kind]
				want := prevDay.AddDate(0, 0, max(step, 1))
				for !dateExists(want, loc) {
					want = want.AddDate(0, 0, max(step, 1))
				}
				if r.LocalDate != want.Format(time.DateOnly) {
					t.Fatalf("%s: follows %s, want %s", where, prev.LocalDate, want)
				}
			}
			lastOf[r.Kind] = r
		}

		minutes := []int{60, 90}[map[bool]int{false: 0, true: 1}[long]]
		s := models.Session{ID: "s", PatientID: p.ID, PlanID: plan.ID, Status: models.SessionScheduled,
			ScheduledAt: from.Add(time.Duration(sessionInMin%(14*24*60)) * time.Minute), DurationMinutes: minutes}
		for _, r := range models.SessionReminders(p, s, plan.Status, from) {
			where := string(r.Kind) + "/" + r.Variant + " due " + r.DueAt.In(loc).Format(time.RFC3339)
			checkOccurrence(t, where, r, keys)
			lead := s.ScheduledAt.Sub(r.DueAt)
			if lead != 24*time.Hour && lead != 2*time.Hour || r.DueAt.Before(from) {
				t.Fatalf("%s: %s before the session at %s", where, lead, s.ScheduledAt.Format(time.RFC3339))
			}
		}

		s.Status = models.SessionCompleted
		var heatDays []string
		for _, r := range models.AftercareReminders(p, s) {
			where := string(r.Kind) + "/" + r.Variant + " due " + r.DueAt.In(loc).Format(time.RFC3339)
			checkOccurrence(t, where, r, keys)
			if r.Kind != models.KindHeatIce {
				switch after := r.DueAt.Sub(s.End()); after {
				case 0, 2 * time.Hour, 4 * time.Hour, 24 * time.Hour, 48 * time.Hour:
				default:
					t.Fatalf("%s: %s after the end", where, after)
				}
				continue
			}
			if !r.DueAt.After(s.End()) {
				t.Fatalf("%s: not after the session's end %s", where, s.End().In(loc).Format(time.RFC3339))
			}
			checkWallClock(t, where, r, int(heat%(24*60)), loc)
			heatDays = append(heatDays, r.LocalDate)
		}
		if len(heatDays) != 2 {
			t.Fatalf("heat_ice on %v, want two days", heatDays)
		}
		endDay := wallClock(s.End(), loc).Truncate(24 * time.Hour)
		first, _ := time.Parse(time.DateOnly, heatDays[0])
		if first.Sub(endDay) > 24*time.Hour && wallTimeExists(endDay.AddDate(0, 0, 1).Format(time.DateOnly), int(heat%(24*60)), loc) {
			t.Fatalf("heat_ice first on %s after a session ending on %s", heatDays[0], endDay.Format(time.DateOnly))
		}
		if second, _ := time.Parse(time.DateOnly, heatDays[1]); !second.Equal(first.AddDate(0, 0, 1)) {
			t.Fatalf("heat_ice on %v, want consecutive days", heatDays)
		}
	})
}

// checkOccurrence checks what every occurrence must be: pending, expiring
// after it is due, with a key no other occurrence has.
func checkOccurrence(t *testing.T, where string, r models.Reminder, keys map[string]bool) {
	t.Helper()
	if r.Status != models.ReminderPending || !r.ExpiresAt.After(r.DueAt) || r.DedupeKey == "" || keys[r.DedupeKey] {
		t.Fatalf("%s: status %s, expires %s, key %q (seen: %v)", where, r.Status,
			r.ExpiresAt.Format(time.RFC3339), r.DedupeKey, keys[r.DedupeKey])
	}
	keys[r.DedupeKey] = true
}

// checkWallClock checks that an occurrence at a chosen time is due when the
// clock first shows that time on its local date, or, when the clock skips
// that time, after it.
func checkWallClock(t *testing.T, where string, r models.Reminder, minutes int, loc *time.Location) {
	t.Helper()
	day, err := time.Parse(time.DateOnly, r.LocalDate)
	if err != nil {
		t.Fatalf("%s: local date %q", where, r.LocalDate)
	}
	want := day.Add(time.Duration(minutes) * time.Minute)
	got := wallClock(r.DueAt, loc)
	if !wallTimeExists(r.LocalDate, minutes, loc) {
		if !got.After(want) {
			t.Fatalf("%s: a skipped %s moved to %s", where, want.Format(time.DateTime), got.Format(time.DateTime))
		}
		return
	}
	if !got.Equal(want) {
		t.Fatalf("%s: the clock shows %s, want %s", where, got.Format(time.DateTime), want.Format(time.DateTime))
	}
	// An earlier instant showing the same time would be a repeat of it by
	// a fall-back change: the occurrence must be the first.
	for back := 10 * time.Minute; back <= 3*time.Hour; back += 10 * time.Minute {
		shift := offset(r.DueAt.Add(-back), loc) - offset(r.DueAt, loc)
		if earlier := r.DueAt.Add(-shift); shift > 0 && wallClock(earlier, loc).Equal(got) {
			t.Fatalf("%s: the clock showed that time %s earlier", where, shift)
		}
	}
}

// dateExists reports whether clocks in loc ever show the date of day (a
// zone that moves across the date line can skip one).
func dateExists(day time.Time, loc *time.Location) bool {
	for _, minutes := range []int{0, 6 * 60, 12 * 60, 18 * 60, 24*60 - 1} {
		if wallTimeExists(day.Format(time.DateOnly), minutes, loc) {
			return true
		}
	}
	return false
}
