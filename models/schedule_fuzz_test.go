package models_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// FuzzNextSession checks when a plan's next session is due, for any zone,
// instant, cadence, phase, history of completed sessions and booking:
//   - it never panics, and DueDate is a date;
//   - DueAt shows the preferred time on DueDate, or a later one when a
//     spring-forward change skips that time;
//   - the next session is due after the last completed one's local day, or
//     on the first preferred weekday from the start date when none is done;
//   - with one cadence version the step is exact: 7 days in the initial
//     phase, MaintenanceWeeks weeks, or the same day of the next month
//     clamped to its end; a later version moves it by at most that much;
//   - Booked is the earliest scheduled session of the plan not yet ended,
//     Overdue only without one, and another plan's sessions change nothing.
func FuzzNextSession(f *testing.F) {
	for _, s := range []struct {
		zone, now                   string
		startAgo                    int16
		weekday                     uint8
		preferred                   uint16
		initial, weeks              uint8
		maintenance                 bool
		completed                   uint8
		lastAgoMin                  uint32
		bookedInMin                 int32
		changeInDays, changedWeeks  uint8
		changedTime, changedWeekday uint16
	}{
		{"Europe/Berlin", "2026-11-22T15:00:00Z", 30, 1, 10 * 60, 6, 4, false, 2, 3 * 24 * 60, 0, 0, 0, 0, 0},
		{"America/New_York", "2026-03-07T15:00:00Z", 3, 0, 2*60 + 30, 6, 4, false, 0, 0, 0, 0, 0, 0, 0},
		{"Europe/Berlin", "2026-02-27T10:00:00Z", 200, 6, 9 * 60, 6, 0, true, 8, 28 * 24 * 60, 0, 0, 0, 0, 0},
		{"Australia/Sydney", "2026-10-01T00:00:00Z", 90, 3, 8 * 60, 4, 6, true, 5, 40 * 24 * 60, 60, 0, 0, 0, 0},
		{"Pacific/Apia", "2011-12-28T00:00:00Z", 10, 5, 23*60 + 30, 5, 3, false, 1, 24 * 60, -30, 2, 2, 9 * 60, 4},
		{"Asia/Kathmandu", "2026-06-01T00:00:00Z", 60, 2, 0, 6, 2, true, 7, 2 * 24 * 60, 0, 5, 6, 23 * 60, 2},
	} {
		f.Add(s.zone, seedInstant(s.now), s.startAgo, s.weekday, s.preferred, s.initial, s.weeks, s.maintenance,
			s.completed, s.lastAgoMin, s.bookedInMin, s.changeInDays, s.changedWeeks, s.changedTime, s.changedWeekday)
	}
	f.Fuzz(func(t *testing.T, zone string, at int64, startAgo int16, weekday uint8, preferred uint16,
		initial, weeks uint8, maintenance bool, completed uint8, lastAgoMin uint32, bookedInMin int32,
		changeInDays, changedWeeks uint8, changedTime, changedWeekday uint16) {
		loc := fuzzZone(t, zone)
		now := fuzzInstant(at)
		today := wallClock(now, loc).Truncate(24 * time.Hour)
		start := today.AddDate(0, 0, -int(startAgo%400)).Format(time.DateOnly)

		c := models.DefaultCadence(time.Weekday(weekday % 7))
		c.PreferredTime = hhmm(preferred)
		c.InitialSessions = models.MinInitialSessions + int(initial)%(models.MaxInitialSessions-models.MinInitialSessions+1)
		setMaintenance(&c, weeks)
		plan, err := models.NewPlan("plan", "pat", start, c, false, now)
		if err != nil {
			t.Fatalf("NewPlan(%s, %+v): %v", start, c, err)
		}
		if maintenance {
			plan.Phase, plan.InitialCompleted = models.PhaseMaintenance, c.InitialSessions
		}
		// Completed sessions a week apart, the last lastAgoMin minutes ago.
		var sessions []models.Session
		n := int(completed % 10)
		last := now.Add(-time.Duration(lastAgoMin%(120*24*60)) * time.Minute)
		for i := range n {
			sessions = append(sessions, models.Session{ID: "done", PlanID: plan.ID, Status: models.SessionCompleted,
				ScheduledAt: last.AddDate(0, 0, -7*(n-1-i)), DurationMinutes: 60})
		}
		if bookedInMin != 0 {
			sessions = append(sessions, models.Session{ID: "booked", PlanID: plan.ID, Status: models.SessionScheduled,
				ScheduledAt: now.Add(time.Duration(bookedInMin%(60*24*60)) * time.Minute), DurationMinutes: 90})
		}
		versions := 1
		if changeInDays != 0 {
			changed := c
			changed.PreferredTime = hhmm(changedTime)
			changed.PreferredWeekday = time.Weekday(changedWeekday % 7)
			setMaintenance(&changed, changedWeeks)
			from := today.AddDate(0, 0, int(changeInDays%60)).Format(time.DateOnly)
			if err := plan.ChangeCadence(from, changed, now, loc); err == nil {
				versions = len(plan.Cadences)
			}
		}

		next := plan.NextSession(sessions, now, loc)

		where := func() string {
			return loc.String() + " now " + now.In(loc).Format(time.RFC3339) + " start " + start + " due " + next.DueDate +
				" at " + next.DueAt.In(loc).Format(time.RFC3339)
		}
		dueDay, err := time.Parse(time.DateOnly, next.DueDate)
		if err != nil {
			t.Fatalf("%s: DueDate %q is not a date", where(), next.DueDate)
		}
		minutes, _ := models.ParseTimeOfDay(plan.CadenceOn(next.DueDate).PreferredTime)
		want := dueDay.Add(time.Duration(minutes) * time.Minute)
		switch got := wallClock(next.DueAt, loc); {
		case wallTimeExists(next.DueDate, minutes, loc) && !got.Equal(want):
			t.Fatalf("%s: the clock shows %s, want %s", where(), got.Format(time.DateTime), want.Format(time.DateTime))
		case !got.After(want.Add(-time.Second)):
			t.Fatalf("%s: a skipped wall time moved back to %s", where(), got.Format(time.DateTime))
		}

		var base time.Time
		if n > 0 {
			base = wallClock(last, loc).Truncate(24 * time.Hour)
			if !dueDay.After(base) {
				t.Fatalf("%s: due on or before the last completed session's day %s", where(), base.Format(time.DateOnly))
			}
		} else {
			base, _ = time.Parse(time.DateOnly, start)
			if dueDay.Before(base) {
				t.Fatalf("%s: the first session is due before the start date", where())
			}
		}
		if gap := dueDay.Sub(base); gap > 48*24*time.Hour {
			t.Fatalf("%s: due %s after its anchor %s", where(), gap, base.Format(time.DateOnly))
		}
		if versions == 1 {
			c := plan.Cadences[0].Cadence
			var step time.Time
			switch {
			case n == 0:
				step = base.AddDate(0, 0, (int(c.PreferredWeekday)-int(base.Weekday())+7)%7)
			case plan.Phase == models.PhaseInitial:
				step = base.AddDate(0, 0, 7)
			case c.MaintenanceMonthly:
				firstOfNext := time.Date(base.Year(), base.Month()+1, 1, 0, 0, 0, 0, time.UTC)
				lastOfNext := firstOfNext.AddDate(0, 1, -1)
				step = firstOfNext.AddDate(0, 0, min(base.Day(), lastOfNext.Day())-1)
			default:
				step = base.AddDate(0, 0, 7*c.MaintenanceWeeks)
			}
			if !dueDay.Equal(step) {
				t.Fatalf("%s: want %s", where(), step.Format(time.DateOnly))
			}
		}
		if want := map[bool]int{false: n, true: n - plan.InitialCompleted}[maintenance]; next.CompletedInPhase != want {
			t.Fatalf("%s: CompletedInPhase = %d, want %d", where(), next.CompletedInPhase, want)
		}

		var booked *models.Session
		for i, s := range sessions {
			if s.Status == models.SessionScheduled && s.End().After(now) {
				booked = &sessions[i]
			}
		}
		switch {
		case (booked == nil) != (next.Booked == nil):
			t.Fatalf("%s: Booked = %v, want %v", where(), next.Booked, booked)
		case next.Overdue && next.Booked != nil:
			t.Fatalf("%s: overdue with a session booked", where())
		case next.Overdue && today.Before(dueDay.AddDate(0, 0, models.OverdueGraceDays+1)):
			t.Fatalf("%s: overdue within the grace days", where())
		}

		other := append(sessions[:len(sessions):len(sessions)], models.Session{ID: "other", PlanID: "another plan",
			Status: models.SessionCompleted, ScheduledAt: now.Add(-time.Hour), DurationMinutes: 60},
			models.Session{ID: "other booked", PlanID: "another plan", Status: models.SessionScheduled,
				ScheduledAt: now.Add(time.Hour), DurationMinutes: 60})
		if withOther := plan.NextSession(other, now, loc); !reflect.DeepEqual(withOther, next) {
			t.Fatalf("%s: another plan's sessions changed the answer to %+v", where(), withOther)
		}
	})
}

// setMaintenance makes c's maintenance monthly for one value in six of
// weeks, and otherwise every 2–6 weeks.
func setMaintenance(c *models.Cadence, weeks uint8) {
	if weeks%6 == 0 {
		c.MaintenanceMonthly, c.MaintenanceWeeks = true, 0
		return
	}
	span := models.MaxMaintenanceWeeks - models.MinMaintenanceWeeks + 1
	c.MaintenanceMonthly, c.MaintenanceWeeks = false, models.MinMaintenanceWeeks+int(weeks)%span
}
