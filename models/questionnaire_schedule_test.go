package models_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// questionnaireViews shows questionnaire_due occurrences as "local date
// source:source id due..expires", instants in UTC.
func questionnaireViews(rs []models.Reminder) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s:%s %s..%s", r.LocalDate, r.Source, r.SourceID,
			r.DueAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return out
}

func checkQuestionnaire(t *testing.T, got []models.Reminder, want []string) {
	t.Helper()
	if views := questionnaireViews(got); !slices.Equal(views, want) {
		t.Errorf("got\n\t%q\nwant\n\t%q", views, want)
	}
	for _, r := range got {
		if r.Kind != models.KindQuestionnaireDue || r.Status != models.ReminderPending || r.PatientID != "patient-1" || r.ID == "" {
			t.Errorf("%s: not a keyed pending questionnaire_due of the patient: %+v", r.DedupeKey, r)
		}
	}
}

// questionnairePatient is a patient in zone with only questionnaire_due on,
// at hhmm on Sundays (the default weekday).
func questionnairePatient(zone, hhmm string) models.Patient {
	return withTime(onlyKinds(patientIn(zone), models.KindQuestionnaireDue), models.KindQuestionnaireDue, hhmm)
}

// TestQuestionnaireWeeklyAcrossDST plans three Sundays around each zone's
// change of clocks (all on a Sunday in 2026): the same local time each
// week, a skipped wall time moved forward by the gap, a repeated one at its
// first instance. Kolkata keeps no DST: its instants do not move.
func TestQuestionnaireWeeklyAcrossDST(t *testing.T) {
	tests := []struct {
		name, zone, hhmm, first string
		want                    []string
	}{
		{"New York springs forward on 8 March", "America/New_York", "10:00", "2026-03-01", []string{
			"2026-03-01 daily: 2026-03-01T15:00:00Z..2026-03-02T15:00:00Z",
			"2026-03-08 daily: 2026-03-08T14:00:00Z..2026-03-09T14:00:00Z",
			"2026-03-15 daily: 2026-03-15T14:00:00Z..2026-03-16T14:00:00Z",
		}},
		{"New York repeats 01:30 on 1 November", "America/New_York", "01:30", "2026-10-25", []string{
			"2026-10-25 daily: 2026-10-25T05:30:00Z..2026-10-26T05:30:00Z",
			"2026-11-01 daily: 2026-11-01T05:30:00Z..2026-11-02T05:30:00Z",
			"2026-11-08 daily: 2026-11-08T06:30:00Z..2026-11-09T06:30:00Z",
		}},
		{"Berlin skips 02:30 on 29 March", "Europe/Berlin", "02:30", "2026-03-22", []string{
			"2026-03-22 daily: 2026-03-22T01:30:00Z..2026-03-23T01:30:00Z",
			"2026-03-29 daily: 2026-03-29T01:30:00Z..2026-03-30T01:30:00Z",
			"2026-04-05 daily: 2026-04-05T00:30:00Z..2026-04-06T00:30:00Z",
		}},
		{"Berlin falls back on 25 October", "Europe/Berlin", "10:00", "2026-10-18", []string{
			"2026-10-18 daily: 2026-10-18T08:00:00Z..2026-10-19T08:00:00Z",
			"2026-10-25 daily: 2026-10-25T09:00:00Z..2026-10-26T09:00:00Z",
			"2026-11-01 daily: 2026-11-01T09:00:00Z..2026-11-02T09:00:00Z",
		}},
		{"Sydney skips 02:30 on 4 October", "Australia/Sydney", "02:30", "2026-09-27", []string{
			"2026-09-27 daily: 2026-09-26T16:30:00Z..2026-09-27T16:30:00Z",
			"2026-10-04 daily: 2026-10-03T16:30:00Z..2026-10-04T16:30:00Z",
			"2026-10-11 daily: 2026-10-10T15:30:00Z..2026-10-11T15:30:00Z",
		}},
		{"Sydney repeats 02:30 on 5 April", "Australia/Sydney", "02:30", "2026-03-29", []string{
			"2026-03-29 daily: 2026-03-28T15:30:00Z..2026-03-29T15:30:00Z",
			"2026-04-05 daily: 2026-04-04T15:30:00Z..2026-04-05T15:30:00Z",
			"2026-04-12 daily: 2026-04-11T16:30:00Z..2026-04-12T16:30:00Z",
		}},
		{"Kolkata keeps its offset", "Asia/Kolkata", "10:00", "2026-03-01", []string{
			"2026-03-01 daily: 2026-03-01T04:30:00Z..2026-03-02T04:30:00Z",
			"2026-03-08 daily: 2026-03-08T04:30:00Z..2026-03-09T04:30:00Z",
			"2026-03-15 daily: 2026-03-15T04:30:00Z..2026-03-16T04:30:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := questionnairePatient(tt.zone, tt.hhmm)
			from := localTime(tt.zone, tt.first+" 00:00")
			got := models.QuestionnaireReminders(p, "", nil, time.Time{}, from, from.AddDate(0, 0, 15))
			checkQuestionnaire(t, got, tt.want)
		})
	}
}

// TestQuestionnaireRepeatedHourFiresOnce plans hour by hour through the
// night Berlin's clocks go back: the repeated 02:30 comes up once.
func TestQuestionnaireRepeatedHourFiresOnce(t *testing.T) {
	p := questionnairePatient("Europe/Berlin", "02:30")
	var got []models.Reminder
	for from := mustTime("2026-10-24T22:00:00Z"); from.Before(mustTime("2026-10-25T04:00:00Z")); from = from.Add(time.Hour) {
		got = append(got, models.QuestionnaireReminders(p, "", nil, time.Time{}, from, from.Add(time.Hour))...)
	}
	checkQuestionnaire(t, got, []string{"2026-10-25 daily: 2026-10-25T00:30:00Z..2026-10-26T00:30:00Z"})
}

func TestQuestionnaireRules(t *testing.T) {
	berlin := questionnairePatient("Europe/Berlin", "10:00")
	wednesday := time.Wednesday
	onWednesday := func() models.Patient {
		p := questionnairePatient("Europe/Berlin", "10:00")
		pref := p.Preferences[models.KindQuestionnaireDue]
		pref.Weekday = &wednesday
		p.Preferences[models.KindQuestionnaireDue] = pref
		return p
	}()
	// Monday 15 June to Monday 22 June 2026, CEST: one Sunday, the 21st.
	from := localTime("Europe/Berlin", "2026-06-15 00:00")
	to := from.AddDate(0, 0, 7)
	// Wednesday 17 June at 09:00 CEST.
	session := scheduledAt("session-1", "2026-06-17T07:00:00Z", 60, models.SessionScheduled)
	evening := scheduledAt("session-2", "2026-06-17T16:00:00Z", 60, models.SessionScheduled)
	// Wednesday 17 June at 00:30 CEST, still the 16th in UTC.
	pastMidnight := scheduledAt("session-3", "2026-06-16T22:30:00Z", 60, models.SessionScheduled)
	// Monday 22 June: the date before is the Sunday of the weekly one.
	monday := scheduledAt("session-4", "2026-06-22T08:00:00Z", 60, models.SessionScheduled)
	cancelled := scheduledAt("session-5", "2026-06-17T07:00:00Z", 60, models.SessionCancelled)
	weekly := "2026-06-21 daily: 2026-06-21T08:00:00Z..2026-06-22T08:00:00Z"
	dayBefore := "2026-06-16 session:session-1 2026-06-16T08:00:00Z..2026-06-17T07:00:00Z"
	tests := []struct {
		name       string
		patient    models.Patient
		plan       models.PlanStatus
		sessions   []models.Session
		lastAnswer time.Time
		from       time.Time
		want       []string
	}{
		{"weekly alone", berlin, "", nil, time.Time{}, from, []string{weekly}},
		{"on the patient's weekday", onWednesday, "", nil, time.Time{}, from, []string{
			"2026-06-17 daily: 2026-06-17T08:00:00Z..2026-06-18T08:00:00Z",
		}},
		{"the day before a session, until it starts", berlin, models.PlanActive, []models.Session{session}, time.Time{}, from,
			[]string{dayBefore, weekly}},
		{"24 h when the session starts later", berlin, models.PlanActive, []models.Session{evening}, time.Time{}, from, []string{
			"2026-06-16 session:session-2 2026-06-16T08:00:00Z..2026-06-17T08:00:00Z", weekly,
		}},
		{"the date before in the patient's zone", berlin, models.PlanActive, []models.Session{pastMidnight}, time.Time{}, from, []string{
			"2026-06-16 session:session-3 2026-06-16T08:00:00Z..2026-06-16T22:30:00Z", weekly,
		}},
		{"two sessions on a date: one, from the earlier", berlin, models.PlanActive, []models.Session{evening, session}, time.Time{}, from,
			[]string{dayBefore, weekly}},
		{"the weekly one stands for a session the next day", berlin, models.PlanActive, []models.Session{monday}, time.Time{}, from,
			[]string{weekly}},
		{"none for a cancelled session", berlin, models.PlanActive, []models.Session{cancelled}, time.Time{}, from, []string{weekly}},
		{"none once the day before is past", berlin, models.PlanActive, []models.Session{session}, time.Time{},
			mustTime("2026-06-16T08:00:01Z"), []string{weekly}},
		{"no plan", berlin, "", []models.Session{session}, time.Time{}, from, []string{dayBefore, weekly}},
		{"a completed plan", berlin, models.PlanCompleted, []models.Session{session}, time.Time{}, from, []string{dayBefore, weekly}},
		{"none while the plan needs clearance", berlin, models.PlanNeedsClearance, []models.Session{session}, time.Time{}, from, nil},
		{"none while the plan is paused", berlin, models.PlanPaused, []models.Session{session}, time.Time{}, from, nil},
		{"none when switched off", onlyKinds(patientIn("Europe/Berlin")), "", []models.Session{session}, time.Time{}, from, nil},
		{"an answer covers the next five days", berlin, models.PlanActive, []models.Session{session},
			mustTime("2026-06-15T12:00:00Z"), from, []string{weekly}},
		{"an answer after the day before's covers the weekly one", berlin, models.PlanActive, []models.Session{session},
			mustTime("2026-06-16T08:30:00Z"), from, nil},
		{"an answer five days before is not recent", berlin, "", nil, mustTime("2026-06-16T08:00:00Z"), from, []string{weekly}},
		{"an answer just under five days before is", berlin, "", nil, mustTime("2026-06-16T08:00:01Z"), from, nil},
		{"an answer six days before is not recent", berlin, models.PlanActive, []models.Session{session},
			mustTime("2026-06-10T08:00:00Z"), from, []string{dayBefore, weekly}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := models.QuestionnaireReminders(tt.patient, tt.plan, tt.sessions, tt.lastAnswer, tt.from, to)
			checkQuestionnaire(t, got, tt.want)
		})
	}
}

// TestQuestionnaireRemindersAreStable plans the same week twice, sessions
// read in another order the second time: the same occurrences under the
// same ids, so materializing again adds nothing.
func TestQuestionnaireRemindersAreStable(t *testing.T) {
	p := questionnairePatient("Europe/Berlin", "10:00")
	sessions := []models.Session{
		scheduledAt("session-b", "2026-06-17T07:00:00Z", 60, models.SessionScheduled),
		scheduledAt("session-a", "2026-06-17T07:00:00Z", 60, models.SessionScheduled),
		scheduledAt("session-c", "2026-06-19T07:00:00Z", 60, models.SessionScheduled),
	}
	from := localTime("Europe/Berlin", "2026-06-15 00:00")
	first := models.QuestionnaireReminders(p, models.PlanActive, sessions, time.Time{}, from, from.AddDate(0, 0, 7))
	slices.Reverse(sessions)
	again := models.QuestionnaireReminders(p, models.PlanActive, sessions, time.Time{}, from, from.AddDate(0, 0, 7))
	checkQuestionnaire(t, first, []string{
		"2026-06-16 session:session-a 2026-06-16T08:00:00Z..2026-06-17T07:00:00Z",
		"2026-06-18 session:session-c 2026-06-18T08:00:00Z..2026-06-19T07:00:00Z",
		"2026-06-21 daily: 2026-06-21T08:00:00Z..2026-06-22T08:00:00Z",
	})
	ids := make(map[string]bool)
	for i, r := range first {
		if again[i].ID != r.ID {
			t.Errorf("%s: id %s, then %s", r.DedupeKey, r.ID, again[i].ID)
		}
		if ids[r.ID] {
			t.Errorf("%s: id %s twice", r.DedupeKey, r.ID)
		}
		ids[r.ID] = true
	}
}
