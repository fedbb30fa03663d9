package models_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func patientIn(zone string) models.Patient {
	return models.NewPatient("patient-1", "pat@example.com", "Pat", zone, mustTime("2026-01-01T00:00:00Z"))
}

// onlyKinds switches off every kind but kinds, to keep a table to the point.
func onlyKinds(p models.Patient, kinds ...models.ReminderKind) models.Patient {
	for kind, pref := range p.Preferences {
		pref.Enabled = slices.Contains(kinds, kind)
		p.Preferences[kind] = pref
	}
	return p
}

func withTime(p models.Patient, kind models.ReminderKind, hhmm string) models.Patient {
	pref := p.Preferences[kind]
	pref.TimeOfDay = hhmm
	p.Preferences[kind] = pref
	return p
}

// occurrenceViews shows reminders as "local date kind/variant due..expires",
// instants in UTC.
func occurrenceViews(rs []models.Reminder) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s/%s %s..%s", r.LocalDate, r.Kind, r.Variant,
			r.DueAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return out
}

func checkOccurrences(t *testing.T, got []models.Reminder, want []string) {
	t.Helper()
	if views := occurrenceViews(got); !slices.Equal(views, want) {
		t.Errorf("got\n\t%q\nwant\n\t%q", views, want)
	}
	for _, r := range got {
		if r.Status != models.ReminderPending || r.PatientID != "patient-1" || r.ID == "" {
			t.Errorf("%s: not a keyed pending reminder of the patient: %+v", r.DedupeKey, r)
		}
	}
}

func TestSessionReminders(t *testing.T) {
	newYork := patientIn("America/New_York")
	// Monday 9 March 2026, 10:00 EDT.
	session := scheduledAt("session-1", "2026-03-09T14:00:00Z", 60, models.SessionScheduled)
	all := []string{
		"2026-03-08 session_upcoming/24h 2026-03-08T14:00:00Z..2026-03-09T12:00:00Z",
		"2026-03-09 hydration_before/ 2026-03-09T12:00:00Z..2026-03-09T14:00:00Z",
		"2026-03-09 session_upcoming/2h 2026-03-09T12:00:00Z..2026-03-09T14:00:00Z",
	}
	early := mustTime("2026-03-01T00:00:00Z")
	tests := []struct {
		name    string
		patient models.Patient
		session models.Session
		plan    models.PlanStatus
		now     time.Time
		want    []string
	}{
		{"active plan", newYork, session, models.PlanActive, early, all},
		{"no plan", newYork, session, "", early, all},
		{"completed plan", newYork, session, models.PlanCompleted, early, all},
		{"plan needs clearance", newYork, session, models.PlanNeedsClearance, early, nil},
		{"paused plan", newYork, session, models.PlanPaused, early, nil},
		{"the day before is past", newYork, session, models.PlanActive, mustTime("2026-03-09T11:00:00Z"), all[1:]},
		{"due now counts", newYork, session, models.PlanActive, mustTime("2026-03-09T12:00:00Z"), all[1:]},
		{"all past", newYork, session, models.PlanActive, mustTime("2026-03-09T12:00:01Z"), nil},
		{"session_upcoming switched off", onlyKinds(patientIn("America/New_York"), models.KindHydrationBefore),
			session, models.PlanActive, early, all[1:2]},
		{"completed session", newYork, scheduledAt("session-1", "2026-03-09T14:00:00Z", 60, models.SessionCompleted),
			models.PlanActive, early, nil},
		{"cancelled session", newYork, scheduledAt("session-1", "2026-03-09T14:00:00Z", 60, models.SessionCancelled),
			models.PlanActive, early, nil},
		// Sunday 8 March, 15:00 EDT, hours after clocks went forward: "24 h
		// before" is 24 hours, 14:00 EST on the Saturday.
		{"across spring forward", newYork, scheduledAt("session-2", "2026-03-08T19:00:00Z", 90, models.SessionScheduled),
			models.PlanActive, early, []string{
				"2026-03-07 session_upcoming/24h 2026-03-07T19:00:00Z..2026-03-08T17:00:00Z",
				"2026-03-08 hydration_before/ 2026-03-08T17:00:00Z..2026-03-08T19:00:00Z",
				"2026-03-08 session_upcoming/2h 2026-03-08T17:00:00Z..2026-03-08T19:00:00Z",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := models.SessionReminders(tt.patient, tt.session, tt.plan, tt.now)
			checkOccurrences(t, got, tt.want)
			for _, r := range got {
				if r.Source != models.SourceSession || r.SourceID != tt.session.ID {
					t.Errorf("%s: source %s %q", r.DedupeKey, r.Source, r.SourceID)
				}
			}
		})
	}
}

func TestAftercareReminders(t *testing.T) {
	// Wednesday 10 June 2026, 17:00–18:00 CEST.
	session := scheduledAt("session-1", "2026-06-10T15:00:00Z", 60, models.SessionCompleted)
	berlin := patientIn("Europe/Berlin")
	heatIce := func(hhmm string) models.Patient {
		return withTime(onlyKinds(patientIn("Europe/Berlin"), models.KindHeatIce), models.KindHeatIce, hhmm)
	}
	tests := []struct {
		name    string
		patient models.Patient
		session models.Session
		want    []string
	}{
		{"heat_ice the same evening", berlin, session, []string{
			"2026-06-10 hydration_after/0h 2026-06-10T16:00:00Z..2026-06-10T18:00:00Z",
			"2026-06-10 take_it_easy/ 2026-06-10T16:00:00Z..2026-06-11T04:00:00Z",
			"2026-06-10 heat_ice/day1 2026-06-10T17:30:00Z..2026-06-10T22:00:00Z",
			"2026-06-10 hydration_after/2h 2026-06-10T18:00:00Z..2026-06-10T20:00:00Z",
			"2026-06-10 hydration_after/4h 2026-06-10T20:00:00Z..2026-06-10T22:00:00Z",
			"2026-06-11 soreness_checkin/24h 2026-06-11T16:00:00Z..2026-06-12T04:00:00Z",
			"2026-06-11 heat_ice/day2 2026-06-11T17:30:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 soreness_checkin/48h 2026-06-12T16:00:00Z..2026-06-13T04:00:00Z",
		}},
		{"heat_ice time before the end: from the next day", heatIce("17:30"), session, []string{
			"2026-06-11 heat_ice/day1 2026-06-11T15:30:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 heat_ice/day2 2026-06-12T15:30:00Z..2026-06-12T22:00:00Z",
		}},
		{"heat_ice time at the end: from the next day", heatIce("18:00"), session, []string{
			"2026-06-11 heat_ice/day1 2026-06-11T16:00:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 heat_ice/day2 2026-06-12T16:00:00Z..2026-06-12T22:00:00Z",
		}},
		{"timed from the scheduled end, not when completed", heatIce("18:01"), func() models.Session {
			s := session
			later := mustTime("2026-06-11T09:00:00Z")
			s.CompletedAt = &later
			return s
		}(), []string{
			"2026-06-10 heat_ice/day1 2026-06-10T16:01:00Z..2026-06-10T22:00:00Z",
			"2026-06-11 heat_ice/day2 2026-06-11T16:01:00Z..2026-06-11T22:00:00Z",
		}},
		// Saturday 7 March 2026, 18:00–19:00 EST; clocks go forward that
		// night. A 02:30 heat_ice on the Sunday is 03:30 EDT; the 24 h
		// check-in is 24 hours later, 20:00 EDT.
		{"across spring forward",
			withTime(onlyKinds(patientIn("America/New_York"), models.KindHeatIce, models.KindSorenessCheckin), models.KindHeatIce, "02:30"),
			scheduledAt("session-2", "2026-03-07T23:00:00Z", 60, models.SessionCompleted), []string{
				"2026-03-08 heat_ice/day1 2026-03-08T07:30:00Z..2026-03-09T04:00:00Z",
				"2026-03-08 soreness_checkin/24h 2026-03-09T00:00:00Z..2026-03-09T12:00:00Z",
				"2026-03-09 heat_ice/day2 2026-03-09T06:30:00Z..2026-03-10T04:00:00Z",
				"2026-03-09 soreness_checkin/48h 2026-03-10T00:00:00Z..2026-03-10T12:00:00Z",
			}},
		{"heat_ice switched off", onlyKinds(patientIn("Europe/Berlin"), models.KindTakeItEasy), session, []string{
			"2026-06-10 take_it_easy/ 2026-06-10T16:00:00Z..2026-06-11T04:00:00Z",
		}},
		{"scheduled session", berlin, scheduledAt("session-1", "2026-06-10T15:00:00Z", 60, models.SessionScheduled), nil},
		{"missed session", berlin, scheduledAt("session-1", "2026-06-10T15:00:00Z", 60, models.SessionMissed), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := models.AftercareReminders(tt.patient, tt.session)
			checkOccurrences(t, got, tt.want)
			for _, r := range got {
				if r.Source != models.SourceSession || r.SourceID != tt.session.ID {
					t.Errorf("%s: source %s %q", r.DedupeKey, r.Source, r.SourceID)
				}
			}
		})
	}
}

// TestDailyRemindersAcrossDST runs a daily check-in over the three local
// days around each 2026 DST change: a time the spring-forward change skips
// fires once, an hour later on the clock; one the fall-back change repeats
// fires once, at its first instance.
func TestDailyRemindersAcrossDST(t *testing.T) {
	tests := []struct {
		zone, hhmm, first string
		want              []string
	}{
		{"America/New_York", "02:30", "2026-03-07", []string{
			"2026-03-07 daily_checkin/ 2026-03-07T07:30:00Z..2026-03-08T05:00:00Z",
			"2026-03-08 daily_checkin/ 2026-03-08T07:30:00Z..2026-03-09T04:00:00Z",
			"2026-03-09 daily_checkin/ 2026-03-09T06:30:00Z..2026-03-10T04:00:00Z",
		}},
		{"America/New_York", "01:30", "2026-10-31", []string{
			"2026-10-31 daily_checkin/ 2026-10-31T05:30:00Z..2026-11-01T04:00:00Z",
			"2026-11-01 daily_checkin/ 2026-11-01T05:30:00Z..2026-11-02T05:00:00Z",
			"2026-11-02 daily_checkin/ 2026-11-02T06:30:00Z..2026-11-03T05:00:00Z",
		}},
		{"America/Edmonton", "02:30", "2026-03-07", []string{
			"2026-03-07 daily_checkin/ 2026-03-07T09:30:00Z..2026-03-08T07:00:00Z",
			"2026-03-08 daily_checkin/ 2026-03-08T09:30:00Z..2026-03-09T06:00:00Z",
			"2026-03-09 daily_checkin/ 2026-03-09T08:30:00Z..2026-03-10T06:00:00Z",
		}},
		{"America/Edmonton", "01:30", "2026-10-31", []string{
			"2026-10-31 daily_checkin/ 2026-10-31T07:30:00Z..2026-11-01T06:00:00Z",
			"2026-11-01 daily_checkin/ 2026-11-01T07:30:00Z..2026-11-02T07:00:00Z",
			"2026-11-02 daily_checkin/ 2026-11-02T08:30:00Z..2026-11-03T07:00:00Z",
		}},
		{"Europe/Berlin", "02:30", "2026-03-28", []string{
			"2026-03-28 daily_checkin/ 2026-03-28T01:30:00Z..2026-03-28T23:00:00Z",
			"2026-03-29 daily_checkin/ 2026-03-29T01:30:00Z..2026-03-29T22:00:00Z",
			"2026-03-30 daily_checkin/ 2026-03-30T00:30:00Z..2026-03-30T22:00:00Z",
		}},
		{"Europe/Berlin", "02:30", "2026-10-24", []string{
			"2026-10-24 daily_checkin/ 2026-10-24T00:30:00Z..2026-10-24T22:00:00Z",
			"2026-10-25 daily_checkin/ 2026-10-25T00:30:00Z..2026-10-25T23:00:00Z",
			"2026-10-26 daily_checkin/ 2026-10-26T01:30:00Z..2026-10-26T23:00:00Z",
		}},
		{"Australia/Sydney", "02:30", "2026-10-03", []string{
			"2026-10-03 daily_checkin/ 2026-10-02T16:30:00Z..2026-10-03T14:00:00Z",
			"2026-10-04 daily_checkin/ 2026-10-03T16:30:00Z..2026-10-04T13:00:00Z",
			"2026-10-05 daily_checkin/ 2026-10-04T15:30:00Z..2026-10-05T13:00:00Z",
		}},
		{"Australia/Sydney", "02:30", "2026-04-04", []string{
			"2026-04-04 daily_checkin/ 2026-04-03T15:30:00Z..2026-04-04T13:00:00Z",
			"2026-04-05 daily_checkin/ 2026-04-04T15:30:00Z..2026-04-05T14:00:00Z",
			"2026-04-06 daily_checkin/ 2026-04-05T16:30:00Z..2026-04-06T14:00:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.first, func(t *testing.T) {
			p := withTime(onlyKinds(patientIn(tt.zone), models.KindDailyCheckin), models.KindDailyCheckin, tt.hhmm)
			from := localTime(tt.zone, tt.first+" 00:00")
			got := models.DailyReminders(p, nil, models.NextSession{}, from, from.AddDate(0, 0, 3))
			checkOccurrences(t, got, tt.want)
		})
	}
}

// TestDailyRemindersRepeatedHourFiresOnce materializes hour by hour through
// the night clocks go back: the repeated 01:30 comes up once.
func TestDailyRemindersRepeatedHourFiresOnce(t *testing.T) {
	p := withTime(onlyKinds(patientIn("America/New_York"), models.KindDailyCheckin), models.KindDailyCheckin, "01:30")
	var got []models.Reminder
	for from := mustTime("2026-11-01T03:00:00Z"); from.Before(mustTime("2026-11-01T09:00:00Z")); from = from.Add(time.Hour) {
		got = append(got, models.DailyReminders(p, nil, models.NextSession{}, from, from.Add(time.Hour))...)
	}
	checkOccurrences(t, got, []string{"2026-11-01 daily_checkin/ 2026-11-01T05:30:00Z..2026-11-02T05:00:00Z"})
}

// TestDailyRemindersDSTWeek covers a week in Berlin with clocks going forward
// on Sunday 29 March: each kind once per local day at the same local time.
func TestDailyRemindersDSTWeek(t *testing.T) {
	c := models.DefaultCadence(time.Monday)
	c.StretchingTime = "07:30" // the plan's time, not the patient's 18:00
	plan := mustPlan("2026-03-02", c)
	next := models.NextSession{DueDate: "2026-03-31"}
	from := localTime("Europe/Berlin", "2026-03-26 00:00")
	got := models.DailyReminders(patientIn("Europe/Berlin"), &plan, next, from, from.AddDate(0, 0, 7))
	checkOccurrences(t, got, []string{
		"2026-03-26 stretching/ 2026-03-26T06:30:00Z..2026-03-26T23:00:00Z",
		"2026-03-26 daily_checkin/ 2026-03-26T18:00:00Z..2026-03-26T23:00:00Z",
		"2026-03-27 stretching/ 2026-03-27T06:30:00Z..2026-03-27T23:00:00Z",
		"2026-03-27 daily_checkin/ 2026-03-27T18:00:00Z..2026-03-27T23:00:00Z",
		"2026-03-28 stretching/ 2026-03-28T06:30:00Z..2026-03-28T23:00:00Z",
		"2026-03-28 daily_checkin/ 2026-03-28T18:00:00Z..2026-03-28T23:00:00Z",
		"2026-03-29 stretching/ 2026-03-29T05:30:00Z..2026-03-29T22:00:00Z",
		"2026-03-29 weekly_summary/ 2026-03-29T16:00:00Z..2026-03-30T16:00:00Z",
		"2026-03-29 daily_checkin/ 2026-03-29T17:00:00Z..2026-03-29T22:00:00Z",
		"2026-03-30 stretching/ 2026-03-30T05:30:00Z..2026-03-30T22:00:00Z",
		"2026-03-30 daily_checkin/ 2026-03-30T17:00:00Z..2026-03-30T22:00:00Z",
		"2026-03-31 stretching/ 2026-03-31T05:30:00Z..2026-03-31T22:00:00Z",
		"2026-03-31 book_next_session/ 2026-03-31T08:00:00Z..2026-04-02T08:00:00Z",
		"2026-03-31 daily_checkin/ 2026-03-31T17:00:00Z..2026-03-31T22:00:00Z",
		"2026-04-01 stretching/ 2026-04-01T05:30:00Z..2026-04-01T22:00:00Z",
		"2026-04-01 daily_checkin/ 2026-04-01T17:00:00Z..2026-04-01T22:00:00Z",
	})
	berlin := mustZone("Europe/Berlin")
	for _, r := range got {
		if r.Kind == models.KindDailyCheckin && r.DueAt.In(berlin).Format("15:04") != "19:00" {
			t.Errorf("%s: check-in at %s local, want 19:00", r.LocalDate, r.DueAt.In(berlin).Format("15:04"))
		}
	}
}

func TestDailyRemindersRules(t *testing.T) {
	active := mustPlan("2026-03-02", models.DefaultCadence(time.Monday))
	paused := active
	paused.Status = models.PlanPaused
	changed := withVersion(active, "2026-06-11", func(c *models.Cadence) { c.StretchingTime = "08:00" })
	later := mustPlan("2026-06-11", models.DefaultCadence(time.Thursday))
	booked := scheduledAt("session-9", "2026-06-12T08:00:00Z", 60, models.SessionScheduled)
	wednesday := time.Wednesday
	summary := func() models.Patient {
		p := withTime(onlyKinds(patientIn("Europe/Berlin"), models.KindWeeklySummary), models.KindWeeklySummary, "20:00")
		pref := p.Preferences[models.KindWeeklySummary]
		pref.Weekday = &wednesday
		p.Preferences[models.KindWeeklySummary] = pref
		return p
	}()
	stretching := onlyKinds(patientIn("Europe/Berlin"), models.KindStretching)
	booking := onlyKinds(patientIn("Europe/Berlin"), models.KindBookNextSession)
	checkin := onlyKinds(patientIn("Europe/Berlin"), models.KindDailyCheckin)
	// Wednesday 10 June to Friday 12 June 2026, CEST.
	from := localTime("Europe/Berlin", "2026-06-10 00:00")
	to := from.AddDate(0, 0, 3)
	due := models.NextSession{DueDate: "2026-06-11"}
	tests := []struct {
		name     string
		patient  models.Patient
		plan     *models.Plan
		next     models.NextSession
		from, to time.Time
		want     []string
	}{
		{"stretching at the plan's time", stretching, &active, due, from, to, []string{
			"2026-06-10 stretching/ 2026-06-10T16:00:00Z..2026-06-10T22:00:00Z",
			"2026-06-11 stretching/ 2026-06-11T16:00:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 stretching/ 2026-06-12T16:00:00Z..2026-06-12T22:00:00Z",
		}},
		{"stretching follows a cadence change", stretching, &changed, due, from, to, []string{
			"2026-06-10 stretching/ 2026-06-10T16:00:00Z..2026-06-10T22:00:00Z",
			"2026-06-11 stretching/ 2026-06-11T06:00:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 stretching/ 2026-06-12T06:00:00Z..2026-06-12T22:00:00Z",
		}},
		{"stretching from the plan's start", stretching, &later, models.NextSession{}, from, to, []string{
			"2026-06-11 stretching/ 2026-06-11T16:00:00Z..2026-06-11T22:00:00Z",
			"2026-06-12 stretching/ 2026-06-12T16:00:00Z..2026-06-12T22:00:00Z",
		}},
		{"no stretching while paused", stretching, &paused, due, from, to, nil},
		{"no stretching without a plan", stretching, nil, due, from, to, nil},
		{"book on the due date", booking, &active, due, from, to, []string{
			"2026-06-11 book_next_session/ 2026-06-11T08:00:00Z..2026-06-13T08:00:00Z",
		}},
		{"nothing to book when booked", booking, &active, models.NextSession{DueDate: "2026-06-11", Booked: &booked}, from, to, nil},
		{"no booking reminder while paused", booking, &paused, due, from, to, nil},
		{"no booking reminder without a plan", booking, nil, due, from, to, nil},
		{"due date outside the window", booking, &active, models.NextSession{DueDate: "2026-06-13"}, from, to, nil},
		{"weekly summary on the patient's weekday", summary, nil, due, from, to.AddDate(0, 0, 7), []string{
			"2026-06-10 weekly_summary/ 2026-06-10T18:00:00Z..2026-06-11T18:00:00Z",
			"2026-06-17 weekly_summary/ 2026-06-17T18:00:00Z..2026-06-18T18:00:00Z",
		}},
		{"from is inclusive, to exclusive", checkin, nil, due,
			mustTime("2026-06-10T17:00:00Z"), mustTime("2026-06-11T17:00:00Z"), []string{
				"2026-06-10 daily_checkin/ 2026-06-10T17:00:00Z..2026-06-10T22:00:00Z",
			}},
		{"a window inside one day", checkin, nil, due,
			mustTime("2026-06-10T17:00:01Z"), mustTime("2026-06-10T23:00:00Z"), nil},
		{"an empty window", checkin, nil, due, to, from, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := models.DailyReminders(tt.patient, tt.plan, tt.next, tt.from, tt.to)
			checkOccurrences(t, got, tt.want)
		})
	}
}

func TestSwitchedOffKindsYieldNothing(t *testing.T) {
	p := onlyKinds(patientIn("Europe/Berlin"))
	plan := mustPlan("2026-03-02", models.DefaultCadence(time.Monday))
	from := mustTime("2026-06-01T00:00:00Z")
	var got []models.Reminder
	got = append(got, models.SessionReminders(p, scheduledAt("s1", "2026-06-10T15:00:00Z", 60, models.SessionScheduled), models.PlanActive, from)...)
	got = append(got, models.AftercareReminders(p, scheduledAt("s2", "2026-06-03T15:00:00Z", 60, models.SessionCompleted))...)
	got = append(got, models.DailyReminders(p, &plan, models.NextSession{DueDate: "2026-06-05"}, from, from.AddDate(0, 0, 14))...)
	if len(got) != 0 {
		t.Errorf("switched-off kinds made %q", occurrenceViews(got))
	}
}

// everyKind is one occurrence of every kind and variant, for a patient in
// Berlin in June 2026 (CEST) with an active plan.
func everyKind() []models.Reminder {
	p := patientIn("Europe/Berlin")
	plan := mustPlan("2026-03-02", models.DefaultCadence(time.Monday))
	var rs []models.Reminder
	// Wednesday 17 June, 10:00 CEST.
	rs = append(rs, models.SessionReminders(p, scheduledAt("session-2", "2026-06-17T08:00:00Z", 60, models.SessionScheduled),
		models.PlanActive, mustTime("2026-06-01T00:00:00Z"))...)
	// Wednesday 10 June, 17:00–18:00 CEST.
	rs = append(rs, models.AftercareReminders(p, scheduledAt("session-1", "2026-06-10T15:00:00Z", 60, models.SessionCompleted))...)
	// Sunday 14 June.
	from := localTime("Europe/Berlin", "2026-06-14 00:00")
	return append(rs, models.DailyReminders(p, &plan, models.NextSession{DueDate: "2026-06-14"}, from, from.AddDate(0, 0, 1))...)
}

// TestReminderKinds is the table of what each kind is: its source, and how
// long after it is due it is still worth sending.
func TestReminderKinds(t *testing.T) {
	tests := []struct {
		kind              models.ReminderKind
		variant           string
		source            models.ReminderSource
		sourceID          string
		due, expires, why string
	}{
		{models.KindSessionUpcoming, "24h", models.SourceSession, "session-2", "2026-06-16T08:00:00Z", "2026-06-17T06:00:00Z", "2 h before the start"},
		{models.KindSessionUpcoming, "2h", models.SourceSession, "session-2", "2026-06-17T06:00:00Z", "2026-06-17T08:00:00Z", "at the start"},
		{models.KindHydrationBefore, "", models.SourceSession, "session-2", "2026-06-17T06:00:00Z", "2026-06-17T08:00:00Z", "at the start"},
		{models.KindHydrationAfter, "0h", models.SourceSession, "session-1", "2026-06-10T16:00:00Z", "2026-06-10T18:00:00Z", "when the next is due"},
		{models.KindHydrationAfter, "2h", models.SourceSession, "session-1", "2026-06-10T18:00:00Z", "2026-06-10T20:00:00Z", "when the next is due"},
		{models.KindHydrationAfter, "4h", models.SourceSession, "session-1", "2026-06-10T20:00:00Z", "2026-06-10T22:00:00Z", "6 h after the end"},
		{models.KindTakeItEasy, "", models.SourceSession, "session-1", "2026-06-10T16:00:00Z", "2026-06-11T04:00:00Z", "12 h"},
		{models.KindHeatIce, "day1", models.SourceSession, "session-1", "2026-06-10T17:30:00Z", "2026-06-10T22:00:00Z", "end of the local day"},
		{models.KindHeatIce, "day2", models.SourceSession, "session-1", "2026-06-11T17:30:00Z", "2026-06-11T22:00:00Z", "end of the local day"},
		{models.KindSorenessCheckin, "24h", models.SourceSession, "session-1", "2026-06-11T16:00:00Z", "2026-06-12T04:00:00Z", "12 h"},
		{models.KindSorenessCheckin, "48h", models.SourceSession, "session-1", "2026-06-12T16:00:00Z", "2026-06-13T04:00:00Z", "12 h"},
		{models.KindDailyCheckin, "", models.SourceDaily, "", "2026-06-14T17:00:00Z", "2026-06-14T22:00:00Z", "end of the local day"},
		{models.KindStretching, "", models.SourcePlan, "plan-1", "2026-06-14T16:00:00Z", "2026-06-14T22:00:00Z", "end of the local day"},
		{models.KindWeeklySummary, "", models.SourceDaily, "", "2026-06-14T16:00:00Z", "2026-06-15T16:00:00Z", "24 h"},
		{models.KindBookNextSession, "", models.SourcePlan, "plan-1", "2026-06-14T08:00:00Z", "2026-06-16T08:00:00Z", "48 h"},
	}
	all := everyKind()
	if len(all) != len(tests) {
		t.Errorf("%d occurrences, want %d: %q", len(all), len(tests), occurrenceViews(all))
	}
	for _, tt := range tests {
		i := slices.IndexFunc(all, func(r models.Reminder) bool { return r.Kind == tt.kind && r.Variant == tt.variant })
		if i < 0 {
			t.Errorf("%s/%s: missing", tt.kind, tt.variant)
			continue
		}
		r := all[i]
		if r.Source != tt.source || r.SourceID != tt.sourceID {
			t.Errorf("%s/%s: source %s %q, want %s %q", tt.kind, tt.variant, r.Source, r.SourceID, tt.source, tt.sourceID)
		}
		due, expires := r.DueAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339)
		if due != tt.due || expires != tt.expires {
			t.Errorf("%s/%s: %s..%s, want %s..%s (%s)", tt.kind, tt.variant, due, expires, tt.due, tt.expires, tt.why)
		}
	}
}

func TestReminderIDsAreDeterministic(t *testing.T) {
	first, again := everyKind(), everyKind()
	seen := make(map[string]string)
	for i, r := range first {
		if again[i].ID != r.ID || again[i].DedupeKey != r.DedupeKey {
			t.Errorf("%s: id %s, then %s", r.DedupeKey, r.ID, again[i].ID)
		}
		if other, ok := seen[r.ID]; ok {
			t.Errorf("%s and %s share the id %s", other, r.DedupeKey, r.ID)
		}
		seen[r.ID] = r.DedupeKey
		recomputed := r
		recomputed.SetKey()
		if recomputed.ID != r.ID {
			t.Errorf("%s: id %s is not derived from its key", r.DedupeKey, r.ID)
		}
	}
}
