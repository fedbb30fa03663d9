package models_test

import (
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func TestWebSessionEnds(t *testing.T) {
	signIn := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := models.Staff{ID: "s1", ClinicID: "c1"}
	for _, tc := range []struct {
		name string
		// uses are the times of requests after sign-in, each touching the session.
		uses   []time.Duration
		at     time.Duration
		active bool
	}{
		{"just signed in", nil, 0, true},
		{"idle a second short of 12 h", nil, 12*time.Hour - time.Second, true},
		{"idle 12 h", nil, 12 * time.Hour, false},
		{"used at 11 h, so idle only 2 h at 13 h", []time.Duration{11 * time.Hour}, 13 * time.Hour, true},
		{"used every 10 h, a second short of 7 days", everyHours(10, 7*24), 7*24*time.Hour - time.Second, true},
		{"used every 10 h, at 7 days", everyHours(10, 7*24), 7 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := models.NewWebSession(st, "hash", "csrf", signIn)
			for _, u := range tc.uses {
				s.Touch(signIn.Add(u))
			}
			if got := s.ActiveAt(signIn.Add(tc.at)); got != tc.active {
				t.Errorf("active = %v, want %v (expires %v)", got, tc.active, s.ExpiresAt)
			}
			if s.ExpiresAt.After(signIn.Add(models.WebSessionMax)) {
				t.Errorf("expires %v, after the absolute end", s.ExpiresAt)
			}
		})
	}
}

func everyHours(step, until int) []time.Duration {
	var out []time.Duration
	for h := step; h < until; h += step {
		out = append(out, time.Duration(h)*time.Hour)
	}
	return out
}

func TestWebSessionTouchesAtMostEveryMinute(t *testing.T) {
	signIn := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := models.NewWebSession(models.Staff{ID: "s1"}, "hash", "csrf", signIn)
	if s.NeedsTouch(signIn.Add(59 * time.Second)) {
		t.Error("a request within the minute wrote the session again")
	}
	if !s.NeedsTouch(signIn.Add(time.Minute)) {
		t.Error("a request a minute later did not")
	}
}

func TestDaySchedule(t *testing.T) {
	// The clinic is in Edmonton (UTC-6 on 4 April 2026): its day 2026-04-04
	// runs from 06:00 UTC that day to 06:00 UTC the next.
	loc, _ := time.LoadLocation("America/Edmonton")
	mine := func(id string, at time.Time) models.Session {
		s := triSession(id, models.SessionScheduled, at)
		s.ClinicID = "c1"
		return s
	}
	other := triSession("elsewhere", models.SessionScheduled, triAt(0, 17))
	other.ClinicID = "c2"
	own := triSession("patient's own", models.SessionScheduled, triAt(0, 18))
	p1 := triInput("UTC", []models.PainLog{triLog(1, 6), {PatientID: "p1", LocalDate: triDay(0), Score: 4, LoggedAt: triAt(0, 9)}},
		mine("late", triAt(-1, 5)), mine("early", triAt(0, 7)), mine("yesterday", triAt(0, 5)), other, own)
	p2 := triInput("UTC", nil, mine("noon", triAt(0, 18)))
	p2.Patient.ID, p2.Patient.Name = "p2", "Quinn"
	got, err := models.DaySchedule([]models.TriageInput{p1, p2}, "c1", "2026-04-04", loc, triNow)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.Session.ID+"/"+a.Patient.Name)
	}
	if want := []string{"early/Pat", "noon/Quinn", "late/Pat"}; !slices.Equal(ids, want) {
		t.Fatalf("schedule %v, want %v: the clinic's own sessions of its local day, in time order", ids, want)
	}
	if got[0].Patient.LastScore == nil || *got[0].Patient.LastScore != 4 {
		t.Errorf("last score %v, want the latest log's 4", got[0].Patient.LastScore)
	}
	if got[1].Patient.LastScore != nil || len(got[1].Patient.Attention) == 0 {
		t.Errorf("a patient without logs: %+v", got[1].Patient)
	}
	if _, err := models.DaySchedule(nil, "c1", "04/04/2026", loc, triNow); models.ErrorCode(err) != models.ErrInvalid {
		t.Errorf("a malformed day: %v", err)
	}
}
