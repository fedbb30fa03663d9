package models_test

import (
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// nextView is NextSession in a comparable form: instants in UTC, the
// booked session by id.
type nextView struct {
	Phase              models.PlanPhase
	Completed, Initial int
	DueDate, DueAt     string
	Booked             string
	Overdue            bool
}

func viewOf(n models.NextSession) nextView {
	v := nextView{
		Phase: n.Phase, Completed: n.CompletedInPhase, Initial: n.InitialSessions,
		DueDate: n.DueDate, DueAt: n.DueAt.UTC().Format(time.RFC3339), Overdue: n.Overdue,
	}
	if n.Booked != nil {
		v.Booked = n.Booked.ID
	}
	return v
}

// weeklyPlan is a default plan in its initial phase.
func weeklyPlan(start string, weekday time.Weekday, preferred string) models.Plan {
	c := models.DefaultCadence(weekday)
	c.PreferredTime = preferred
	return mustPlan(start, c)
}

// maintenancePlan is a plan whose six initial sessions are done.
func maintenancePlan(change func(*models.Cadence)) models.Plan {
	c := models.DefaultCadence(time.Monday)
	change(&c)
	p := mustPlan("2026-01-05", c)
	p.Phase, p.InitialCompleted = models.PhaseMaintenance, 6
	return p
}

func withVersion(p models.Plan, from string, change func(*models.Cadence)) models.Plan {
	c := p.Cadences[len(p.Cadences)-1].Cadence
	change(&c)
	p.Cadences = append(p.Cadences, models.CadenceVersion{From: from, Cadence: c})
	return p
}

func done(at string) models.Session { return scheduledAt("", at, 60, models.SessionCompleted) }

// doneRun returns n completed sessions a week apart, the last at last.
func doneRun(n int, last string) []models.Session {
	sessions := make([]models.Session, n)
	for i := range sessions {
		at := mustTime(last).AddDate(0, 0, -7*(n-1-i))
		sessions[i] = done(at.Format(time.RFC3339))
	}
	return sessions
}

func TestNextSession(t *testing.T) {
	newYork := "America/New_York"
	noChange := func(*models.Cadence) {}
	monthly := func(c *models.Cadence) { c.MaintenanceMonthly, c.MaintenanceWeeks = true, 0 }
	otherPlan := done("2026-03-10T15:00:00Z")
	otherPlan.PlanID = "plan-0"
	otherBooking := scheduledAt("other", "2026-03-15T14:00:00Z", 60, models.SessionScheduled)
	otherBooking.PlanID = "plan-0"
	paused := weeklyPlan("2026-03-02", time.Wednesday, "10:00")
	paused.Status = models.PlanPaused
	tests := []struct {
		name     string
		zone     string
		plan     models.Plan
		sessions []models.Session
		now      string
		want     nextView
	}{
		// The first session.
		{"before any session: the first preferred weekday on or after the start date", newYork,
			weeklyPlan("2026-03-02", time.Thursday, "10:00"), nil, "2026-03-02T15:00:00Z",
			nextView{"initial", 0, 6, "2026-03-05", "2026-03-05T15:00:00Z", "", false}},
		{"a start date on the preferred weekday is itself the due date", newYork,
			weeklyPlan("2026-03-05", time.Thursday, "10:00"), nil, "2026-03-02T15:00:00Z",
			nextView{"initial", 0, 6, "2026-03-05", "2026-03-05T15:00:00Z", "", false}},
		{"a start date after the preferred weekday waits for the next week", newYork,
			weeklyPlan("2026-03-06", time.Thursday, "10:00"), nil, "2026-03-02T15:00:00Z",
			nextView{"initial", 0, 6, "2026-03-12", "2026-03-12T14:00:00Z", "", false}},

		// Weekly sessions keep their local time across DST changes.
		{"weekly across spring-forward in New York", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{done("2026-03-04T15:00:00Z")}, "2026-03-05T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", false}},
		{"weekly across fall-back in New York", newYork,
			weeklyPlan("2026-10-26", time.Wednesday, "10:00"), []models.Session{done("2026-10-28T14:00:00Z")}, "2026-10-29T12:00:00Z",
			nextView{"initial", 1, 6, "2026-11-04", "2026-11-04T15:00:00Z", "", false}},
		{"weekly across spring-forward in Edmonton", "America/Edmonton",
			weeklyPlan("2026-03-02", time.Thursday, "10:00"), []models.Session{done("2026-03-05T17:00:00Z")}, "2026-03-06T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-12", "2026-03-12T16:00:00Z", "", false}},
		{"weekly across fall-back in Edmonton", "America/Edmonton",
			weeklyPlan("2026-10-26", time.Thursday, "10:00"), []models.Session{done("2026-10-29T16:00:00Z")}, "2026-10-30T12:00:00Z",
			nextView{"initial", 1, 6, "2026-11-05", "2026-11-05T17:00:00Z", "", false}},
		{"weekly across spring-forward in Berlin", "Europe/Berlin",
			weeklyPlan("2026-03-23", time.Thursday, "10:00"), []models.Session{done("2026-03-26T09:00:00Z")}, "2026-03-27T12:00:00Z",
			nextView{"initial", 1, 6, "2026-04-02", "2026-04-02T08:00:00Z", "", false}},
		{"weekly across fall-back in Berlin", "Europe/Berlin",
			weeklyPlan("2026-10-19", time.Thursday, "10:00"), []models.Session{done("2026-10-22T08:00:00Z")}, "2026-10-23T12:00:00Z",
			nextView{"initial", 1, 6, "2026-10-29", "2026-10-29T09:00:00Z", "", false}},
		{"weekly across fall-back in Sydney (April)", "Australia/Sydney",
			weeklyPlan("2026-03-30", time.Wednesday, "10:00"), []models.Session{done("2026-03-31T23:00:00Z")}, "2026-04-02T00:00:00Z",
			nextView{"initial", 1, 6, "2026-04-08", "2026-04-08T00:00:00Z", "", false}},
		{"weekly across spring-forward in Sydney (October)", "Australia/Sydney",
			weeklyPlan("2026-09-28", time.Thursday, "10:00"), []models.Session{done("2026-10-01T00:00:00Z")}, "2026-10-02T00:00:00Z",
			nextView{"initial", 1, 6, "2026-10-08", "2026-10-07T23:00:00Z", "", false}},
		{"the last session's local day counts, not its UTC day", "America/Edmonton",
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{done("2026-03-05T03:00:00Z")}, "2026-03-05T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T16:00:00Z", "", false}},

		// A preferred time inside the spring-forward gap lands once, an hour later.
		{"02:30 on spring-forward day in New York is 03:30 EDT", newYork,
			weeklyPlan("2026-02-23", time.Sunday, "02:30"), []models.Session{done("2026-03-01T15:00:00Z")}, "2026-03-02T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-08", "2026-03-08T07:30:00Z", "", false}},
		{"02:30 on spring-forward day in Edmonton is 03:30 MDT", "America/Edmonton",
			weeklyPlan("2026-02-23", time.Sunday, "02:30"), []models.Session{done("2026-03-01T17:00:00Z")}, "2026-03-02T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-08", "2026-03-08T09:30:00Z", "", false}},
		{"02:30 on spring-forward day in Berlin is 03:30 CEST", "Europe/Berlin",
			weeklyPlan("2026-03-16", time.Sunday, "02:30"), []models.Session{done("2026-03-22T09:00:00Z")}, "2026-03-23T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-29", "2026-03-29T01:30:00Z", "", false}},
		{"02:30 on spring-forward day in Sydney is 03:30 AEDT", "Australia/Sydney",
			weeklyPlan("2026-09-21", time.Sunday, "02:30"), []models.Session{done("2026-09-27T00:00:00Z")}, "2026-09-28T00:00:00Z",
			nextView{"initial", 1, 6, "2026-10-04", "2026-10-03T16:30:00Z", "", false}},

		// Maintenance.
		{"every 4 weeks after the last completed session", newYork,
			maintenancePlan(noChange), doneRun(7, "2026-05-06T14:00:00Z"), "2026-05-07T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-06-03", "2026-06-03T14:00:00Z", "", false}},
		{"every 6 weeks", newYork,
			maintenancePlan(func(c *models.Cadence) { c.MaintenanceWeeks = 6 }), doneRun(8, "2026-05-06T14:00:00Z"), "2026-05-07T12:00:00Z",
			nextView{"maintenance", 2, 6, "2026-06-17", "2026-06-17T14:00:00Z", "", false}},
		{"monthly from 31 January is 28 February", newYork,
			maintenancePlan(monthly), doneRun(7, "2026-01-31T15:00:00Z"), "2026-02-01T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-02-28", "2026-02-28T15:00:00Z", "", false}},
		{"monthly from 31 January in a leap year is 29 February", newYork,
			maintenancePlan(monthly), doneRun(7, "2028-01-31T15:00:00Z"), "2028-02-01T12:00:00Z",
			nextView{"maintenance", 1, 6, "2028-02-29", "2028-02-29T15:00:00Z", "", false}},
		{"monthly from 28 February is 28 March, not 31 March", newYork,
			maintenancePlan(monthly), doneRun(8, "2026-02-28T15:00:00Z"), "2026-03-01T12:00:00Z",
			nextView{"maintenance", 2, 6, "2026-03-28", "2026-03-28T14:00:00Z", "", false}},
		{"monthly from 31 May is 30 June", newYork,
			maintenancePlan(monthly), doneRun(7, "2026-05-31T14:00:00Z"), "2026-06-01T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-06-30", "2026-06-30T14:00:00Z", "", false}},
		{"monthly across the year end", newYork,
			maintenancePlan(monthly), doneRun(7, "2026-12-15T15:00:00Z"), "2026-12-16T12:00:00Z",
			nextView{"maintenance", 1, 6, "2027-01-15", "2027-01-15T15:00:00Z", "", false}},

		// Booked and overdue. Due 2026-03-11 in each.
		{"the earliest booking ahead is the booked one", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{
				done("2026-03-04T15:00:00Z"),
				scheduledAt("later", "2026-03-20T14:00:00Z", 60, models.SessionScheduled),
				scheduledAt("earlier", "2026-03-18T14:00:00Z", 60, models.SessionScheduled),
			}, "2026-03-16T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "earlier", false}},
		{"a session in progress is booked", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{
				done("2026-03-04T15:00:00Z"),
				scheduledAt("now", "2026-03-16T11:30:00Z", 60, models.SessionScheduled),
			}, "2026-03-16T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "now", false}},
		{"a scheduled session that has ended is no booking", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{
				done("2026-03-04T15:00:00Z"),
				scheduledAt("past", "2026-03-12T14:00:00Z", 60, models.SessionScheduled),
				scheduledAt("gone", "2026-03-18T14:00:00Z", 60, models.SessionCancelled),
			}, "2026-03-16T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", true}},
		{"not overdue until the grace days are over: 13 March, 23:59 local", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{done("2026-03-04T15:00:00Z")}, "2026-03-14T03:59:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", false}},
		{"overdue from the local midnight after the grace days: 14 March, 00:00 local", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"), []models.Session{done("2026-03-04T15:00:00Z")}, "2026-03-14T04:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", true}},
		{"a paused plan is never overdue", newYork,
			paused, []models.Session{done("2026-03-04T15:00:00Z")}, "2026-03-20T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", false}},
		{"sessions of another plan are ignored", newYork,
			weeklyPlan("2026-03-02", time.Wednesday, "10:00"),
			[]models.Session{done("2026-03-04T15:00:00Z"), otherPlan, otherBooking}, "2026-03-14T12:00:00Z",
			nextView{"initial", 1, 6, "2026-03-11", "2026-03-11T14:00:00Z", "", true}},

		// Cadence versions: a change governs from its date, never before.
		{"a shorter interval from today makes the session due today, not in the past", newYork,
			withVersion(maintenancePlan(noChange), "2026-05-27", func(c *models.Cadence) { c.MaintenanceWeeks = 2 }),
			doneRun(7, "2026-05-06T14:00:00Z"), "2026-05-27T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-05-27", "2026-05-27T14:00:00Z", "", false}},
		{"a longer interval in effect before the old due date", newYork,
			withVersion(maintenancePlan(noChange), "2026-05-20", func(c *models.Cadence) { c.MaintenanceWeeks = 6 }),
			doneRun(7, "2026-05-06T14:00:00Z"), "2026-05-20T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-06-17", "2026-06-17T14:00:00Z", "", false}},
		{"a change from after the due date leaves it alone", newYork,
			withVersion(maintenancePlan(noChange), "2026-06-10", func(c *models.Cadence) { c.MaintenanceWeeks = 2 }),
			doneRun(7, "2026-05-06T14:00:00Z"), "2026-05-20T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-06-03", "2026-06-03T14:00:00Z", "", false}},
		{"a new preferred time applies from its date", newYork,
			withVersion(maintenancePlan(noChange), "2026-06-01", func(c *models.Cadence) { c.PreferredTime = "17:30" }),
			doneRun(7, "2026-05-06T14:00:00Z"), "2026-05-20T12:00:00Z",
			nextView{"maintenance", 1, 6, "2026-06-03", "2026-06-03T21:30:00Z", "", false}},
		{"a new weekday before the first session counts from its own date", newYork,
			withVersion(weeklyPlan("2026-03-02", time.Thursday, "10:00"), "2026-03-04", func(c *models.Cadence) { c.PreferredWeekday = time.Saturday }),
			nil, "2026-03-04T12:00:00Z",
			nextView{"initial", 0, 6, "2026-03-07", "2026-03-07T15:00:00Z", "", false}},
		{"the initial phase's length comes from the cadence in effect today", newYork,
			withVersion(weeklyPlan("2026-03-02", time.Wednesday, "10:00"), "2026-03-05", func(c *models.Cadence) { c.InitialSessions = 4 }),
			[]models.Session{done("2026-03-04T15:00:00Z")}, "2026-03-05T12:00:00Z",
			nextView{"initial", 1, 4, "2026-03-11", "2026-03-11T14:00:00Z", "", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := viewOf(tt.plan.NextSession(tt.sessions, mustTime(tt.now), mustZone(tt.zone)))
			if got != tt.want {
				t.Errorf("NextSession =\n %+v, want\n %+v", got, tt.want)
			}
		})
	}
}

// TestNextSessionAcrossPhaseEnd follows a plan through its sixth weekly
// session: the completion moves it to maintenance, and the next session is
// due four weeks later, on the far side of a DST change.
func TestNextSessionAcrossPhaseEnd(t *testing.T) {
	loc := mustZone("America/New_York")
	p := weeklyPlan("2026-01-05", time.Monday, "10:00")
	sessions := doneRun(5, "2026-02-02T15:00:00Z")

	steps := []struct {
		name      string
		complete  string // a session completed at this instant before asking, if set
		wantPhase bool   // ApplyCompletion's answer
		now       string
		want      nextView
	}{
		{"after five of six", "", false, "2026-02-03T12:00:00Z",
			nextView{"initial", 5, 6, "2026-02-09", "2026-02-09T15:00:00Z", "", false}},
		{"the sixth ends the initial phase", "2026-02-09T15:00:00Z", true, "2026-02-09T17:00:00Z",
			nextView{"maintenance", 0, 6, "2026-03-09", "2026-03-09T14:00:00Z", "", false}},
		{"the first maintenance session", "2026-03-09T14:00:00Z", false, "2026-03-09T16:00:00Z",
			nextView{"maintenance", 1, 6, "2026-04-06", "2026-04-06T14:00:00Z", "", false}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.complete != "" {
				sessions = append(sessions, done(st.complete))
				if got := p.ApplyCompletion(len(sessions), mustTime(st.complete).Add(time.Hour), loc); got != st.wantPhase {
					t.Fatalf("ApplyCompletion(%d) = %v, want %v", len(sessions), got, st.wantPhase)
				}
			}
			if got := viewOf(p.NextSession(sessions, mustTime(st.now), loc)); got != st.want {
				t.Errorf("NextSession =\n %+v, want\n %+v", got, st.want)
			}
		})
	}
}
