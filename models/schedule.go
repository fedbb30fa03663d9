package models

import (
	"fmt"
	"time"
)

// OverdueGraceDays is how many local days after the due date a patient has
// to book before the plan counts as overdue: a therapist is rarely free on
// the exact day, and booking a few days late is not worth a warning.
const OverdueGraceDays = 2

// NextSession is where a plan stands and when its next session is due.
type NextSession struct {
	Phase PlanPhase
	// CompletedInPhase counts the plan's completed sessions in Phase.
	CompletedInPhase int
	// InitialSessions is the initial phase's length: from the cadence in
	// effect today while in it, and how many it took once in maintenance.
	InitialSessions int
	// DueDate is the local date ("YYYY-MM-DD") the next session is due.
	DueDate string
	// DueAt is DueDate at the preferred local time in the patient's zone.
	DueAt time.Time
	// Booked is the earliest scheduled session of the plan that has not
	// ended, or nil. A session in progress counts: the patient is on the table.
	Booked *Session
	// Overdue is set when an active plan has nothing booked and the due date
	// is more than OverdueGraceDays local days past.
	Overdue bool
}

// NextSession answers when the plan's next session is due, given the
// patient's sessions (those of other plans are ignored), now and the
// patient's zone. The phase is the plan's own: ApplyCompletion moves it.
//
// In the initial phase the next session is due 7 local days after the last
// completed one, or, before any, on the first preferred weekday on or after
// the start date. In maintenance it is due MaintenanceWeeks after the last
// completed session or, if monthly, on the same day of the next calendar
// month, clamped to that month's end. The anchor is always the last
// completed session's own day: after 31 January comes 28 February, and after
// that 28 March, not 31 March. All arithmetic is in local calendar days, so
// the preferred time stays put across DST changes.
func (p Plan) NextSession(sessions []Session, now time.Time, loc *time.Location) NextSession {
	var completed int
	var last, booked *Session
	for _, s := range sessions {
		if s.PlanID != p.ID {
			continue
		}
		switch s.Status {
		case SessionCompleted:
			completed++
			if last == nil || s.ScheduledAt.After(last.ScheduledAt) {
				last = &s
			}
		case SessionScheduled:
			if s.End().After(now) && (booked == nil || s.ScheduledAt.Before(booked.ScheduledAt)) {
				booked = &s
			}
		}
	}
	today := civilDay(now, loc)
	next := NextSession{Phase: p.Phase, Booked: booked}
	if p.Phase == PhaseMaintenance {
		next.CompletedInPhase = completed - p.InitialCompleted
		next.InitialSessions = p.InitialCompleted
	} else {
		next.CompletedInPhase = completed
		next.InitialSessions = p.CadenceOn(formatCivilDay(today)).InitialSessions
	}
	var due time.Time
	if last == nil {
		start, _ := parseCivilDay(p.StartDate()) // validated by NewPlan
		due = p.dueDate(start, true)
	} else {
		due = p.dueDate(civilDay(last.ScheduledAt, loc), false)
	}
	next.DueDate = formatCivilDay(due)
	minutes, _ := ParseTimeOfDay(p.CadenceOn(next.DueDate).PreferredTime) // validated with the cadence
	next.DueAt = wallClockAt(due, minutes, loc)
	next.Overdue = p.Status == PlanActive && booked == nil &&
		today.After(due.AddDate(0, 0, OverdueGraceDays))
	return next
}

// dueDate steps from base (the last completed session's day, or the start
// date when first) with the cadence in effect on base. A later version that
// is in effect by the day found decides instead, but never makes a session
// due before its own date: a change does not move what it did not yet govern
// into the past.
func (p Plan) dueDate(base time.Time, first bool) time.Time {
	due := p.step(p.CadenceOn(formatCivilDay(base)), base, first, base)
	for _, v := range p.Cadences {
		from, _ := parseCivilDay(v.From) // validated when the version was added
		if from.After(base) && !from.After(due) {
			due = p.step(v.Cadence, base, first, from)
		}
	}
	return due
}

// step returns the day the next session is due under c, not before earliest.
func (p Plan) step(c Cadence, base time.Time, first bool, earliest time.Time) time.Time {
	var due time.Time
	switch {
	case first:
		// The preferred weekday on or after the earliest allowed day.
		return earliest.AddDate(0, 0, (int(c.PreferredWeekday)-int(earliest.Weekday())+7)%7)
	case p.Phase == PhaseInitial:
		due = base.AddDate(0, 0, 7)
	case c.MaintenanceMonthly:
		due = addMonthClamped(base)
	default:
		due = base.AddDate(0, 0, 7*c.MaintenanceWeeks)
	}
	if due.Before(earliest) {
		return earliest
	}
	return due
}

// addMonthClamped returns the same day of the next month, or the month's
// last day when it is shorter (time.AddDate would roll over into the month after).
func addMonthClamped(day time.Time) time.Time {
	y, m, d := day.Date()
	lastDay := time.Date(y, m+2, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, m+1, min(d, lastDay), 0, 0, 0, 0, time.UTC)
}

// Calendar days are handled as midnight UTC: arithmetic on them is exact
// (no DST), and they turn into an instant only in wallClockAt.

func civilDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func parseCivilDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be a date as YYYY-MM-DD")
	}
	return d, nil
}

func formatCivilDay(d time.Time) string { return d.Format(time.DateOnly) }

// wallClockAt returns the instant of minutes past midnight on day in loc. A
// wall time inside a spring-forward gap (02:30 on a day that jumps from 02:00
// to 03:00) does not exist; it moves forward by the gap, to 03:30, as
// calendars do (RFC 5545). time.Date alone picks a side that depends on the
// zone: 01:30 in America/New_York, 03:30 in Europe/Berlin. A wall time in a
// fall-back overlap exists twice; time.Date picks one, and either is a
// single instant.
func wallClockAt(day time.Time, minutes int, loc *time.Location) time.Time {
	y, m, d := day.Date()
	t := time.Date(y, m, d, 0, minutes, 0, 0, loc)
	want := time.Date(y, m, d, 0, minutes, 0, 0, time.UTC)
	gy, gm, gd := t.Date()
	hh, mm, ss := t.Clock()
	if gap := want.Sub(time.Date(gy, gm, gd, hh, mm, ss, 0, time.UTC)); gap > 0 {
		return t.Add(gap)
	}
	return t
}
