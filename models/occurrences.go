package models

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Reminders timed from a session are exact durations from its start or end,
// not wall-clock times: "in 2 hours" must be 2 hours, and a "24 h" one next
// to a DST change lands an hour off on the clock, which still reads as
// tomorrow. Reminders at a time the patient or the plan chose are wall-clock
// times on local dates instead (see firstWallClockAt).

// beforeSession are the reminders before a scheduled session, by lead time.
var beforeSession = []struct {
	kind    ReminderKind
	variant string
	lead    time.Duration
}{
	{KindSessionUpcoming, VariantUpcomingDayBefore, 24 * time.Hour},
	{KindHydrationBefore, "", 2 * time.Hour},
	{KindSessionUpcoming, VariantUpcomingHours, 2 * time.Hour},
}

// afterSession are the aftercare reminders timed from a session's end;
// heat_ice is not among them because it fires at the patient's chosen time.
var afterSession = []struct {
	kind    ReminderKind
	variant string
	after   time.Duration
}{
	{KindHydrationAfter, VariantHydrationAtEnd, 0},
	{KindHydrationAfter, VariantHydration2h, 2 * time.Hour},
	{KindHydrationAfter, VariantHydration4h, 4 * time.Hour},
	{KindTakeItEasy, "", 0},
	{KindSorenessCheckin, VariantSoreness24h, 24 * time.Hour},
	{KindSorenessCheckin, VariantSoreness48h, 48 * time.Hour},
}

// reminderLife is how long after it is due an occurrence of each kind is
// still worth sending, for the kinds whose life is a fixed duration.
var reminderLife = map[ReminderKind]time.Duration{
	// Until the session starts; the 24 h session_upcoming is in expiryFor.
	KindHydrationBefore: 2 * time.Hour,
	KindSessionUpcoming: 2 * time.Hour,
	// Until the next one is due; the last (+4 h) until +6 h.
	KindHydrationAfter:  2 * time.Hour,
	KindTakeItEasy:      12 * time.Hour,
	KindSorenessCheckin: 12 * time.Hour,
	KindWeeklySummary:   24 * time.Hour,
	// A day to find three minutes for it; the one before a session ends
	// sooner, at the session's start (see QuestionnaireReminders).
	KindQuestionnaireDue: 24 * time.Hour,
	// Booking takes a phone call or two: two days to get round to it.
	KindBookNextSession: 48 * time.Hour,
	// A clinic's notice is worth a day: after that the app shows it anyway.
	KindCareUpdate: 24 * time.Hour,
}

// CareNotice returns the push telling patient p that their clinic changed
// something: variant VariantCarePlan (the plan, sourceID its id) or
// VariantCareSession (a booking, sourceID the session's). It is due at now
// and collapses per source and local date, so a therapist's five edits of
// one plan in an afternoon make one notice. Nil when p switched the kind off.
func CareNotice(p Patient, variant, sourceID string, now time.Time) *Reminder {
	if !p.Wants(KindCareUpdate) {
		return nil
	}
	loc := p.Location()
	r := occurrence(Reminder{
		PatientID: p.ID, Kind: KindCareUpdate, Source: SourceClinic, SourceID: sourceID,
		Variant: variant, LocalDate: LocalDateOf(now, loc), DueAt: now,
	}, loc)
	return &r
}

// expiryFor returns when an occurrence of kind and variant due at due stops
// being worth sending: the one place each kind's useful life is decided,
// but for a questionnaire_due before a session, which also ends at the
// session's start, a time this does not know.
func expiryFor(kind ReminderKind, variant string, due time.Time, loc *time.Location) time.Time {
	switch {
	case kind == KindDailyCheckin || kind == KindStretching || kind == KindHeatIce:
		// They are about today: at the end of the local day.
		return firstWallClockAt(civilDay(due, loc).AddDate(0, 0, 1), 0, loc)
	case kind == KindSessionUpcoming && variant == VariantUpcomingDayBefore:
		// Until the 2 h reminder takes over, 2 h before the start.
		return due.Add(22 * time.Hour)
	}
	return due.Add(reminderLife[kind])
}

// SessionReminders returns the reminders before a scheduled session s that
// are due at or after now: session_upcoming 24 h before the start (variant
// "24h", expires 2 h before the start) and 2 h before ("2h", expires at the
// start), and hydration_before 2 h before (expires at the start). Kinds the
// patient switched off are left out, and a session that is not scheduled
// yields none.
//
// planStatus is the status of the session's plan or, for a session outside
// a plan, of the patient's current plan, "" when there is none. A plan that
// needs clearance (an unresolved contraindication) or is paused holds back
// every session reminder; with no plan, an active one or a completed one (a
// booking after the treatment ended is still an appointment) they are made.
func SessionReminders(p Patient, s Session, planStatus PlanStatus, now time.Time) []Reminder {
	if s.Status != SessionScheduled || holdsBack(planStatus) {
		return nil
	}
	loc := p.Location()
	var out []Reminder
	for _, b := range beforeSession {
		due := s.ScheduledAt.Add(-b.lead)
		if !p.Wants(b.kind) || due.Before(now) {
			continue
		}
		out = append(out, occurrence(Reminder{
			PatientID: p.ID, Kind: b.kind, Source: SourceSession, SourceID: s.ID,
			Variant: b.variant, LocalDate: LocalDateOf(due, loc), DueAt: due,
		}, loc))
	}
	sortReminders(out)
	return out
}

// AftercareReminders returns the aftercare of a completed session s, timed
// from its end, ScheduledAt plus its duration: hydration_after at +0 h, +2 h
// and +4 h (each until the next is due, the last until +6 h), take_it_easy
// at the end (for 12 h), soreness_checkin at +24 h and +48 h (each for 12 h),
// and heat_ice at the patient's heat_ice time on the first two local days
// where that time comes strictly after the end (variants "day1" and "day2",
// each until the end of its day): after a session ending at 18:00, a 19:30
// heat_ice is that evening and the next, an 18:00 one the next two days.
//
// The end, not CompletedAt, is the anchor: the body's clock starts when the
// massage ends, while the patient may tap "complete" on the way home or a
// day later. Occurrences are returned even when already past; the caller
// drops or expires those. Kinds the patient switched off are left out, and
// a session that is not completed yields none.
func AftercareReminders(p Patient, s Session) []Reminder {
	if s.Status != SessionCompleted {
		return nil
	}
	loc := p.Location()
	end := s.End()
	var out []Reminder
	add := func(kind ReminderKind, variant, date string, due time.Time) {
		out = append(out, occurrence(Reminder{
			PatientID: p.ID, Kind: kind, Source: SourceSession, SourceID: s.ID,
			Variant: variant, LocalDate: date, DueAt: due,
		}, loc))
	}
	for _, a := range afterSession {
		if p.Wants(a.kind) {
			due := end.Add(a.after)
			add(a.kind, a.variant, LocalDateOf(due, loc), due)
		}
	}
	if p.Wants(KindHeatIce) {
		minutes := preferredMinutes(p, KindHeatIce)
		day := civilDay(end, loc)
		if !firstWallClockAt(day, minutes, loc).After(end) {
			day = day.AddDate(0, 0, 1)
		}
		add(KindHeatIce, VariantHeatIceDay1, formatCivilDay(day), firstWallClockAt(day, minutes, loc))
		day = day.AddDate(0, 0, 1)
		add(KindHeatIce, VariantHeatIceDay2, formatCivilDay(day), firstWallClockAt(day, minutes, loc))
	}
	sortReminders(out)
	return out
}

// DailyReminders returns the occurrences of the kinds at a chosen time of day
// whose due time is in [from, to), one per kind and local date:
//   - daily_checkin every day at the patient's time, until the end of that
//     local day (skipping it when the day is already logged is the
//     dispatcher's call, made at send time);
//   - stretching every day from the plan's start while plan is active, at
//     the stretching time of the plan's cadence for that date (the plan's
//     choice wins over the patient's time; switching the kind off still
//     wins over both), until the end of that local day;
//   - weekly_summary on the patient's weekday at their time, for 24 h;
//   - book_next_session on next.DueDate at the patient's time, for 48 h,
//     when plan is active and next.Booked is nil. next is the plan's
//     NextSession, computed by the caller so that this stays pure; its zero
//     value asks for no booking reminder.
//
// A wall time that a spring-forward change skips fires once, moved forward
// by the gap (02:30 becomes 03:30); one that a fall-back change repeats fires
// once, at its first instance. plan may be nil.
func DailyReminders(p Patient, plan *Plan, next NextSession, from, to time.Time) []Reminder {
	loc := p.Location()
	planActive := plan != nil && plan.Status == PlanActive
	var out []Reminder
	add := func(kind ReminderKind, source ReminderSource, sourceID string, day time.Time, minutes int) {
		due := firstWallClockAt(day, minutes, loc)
		if due.Before(from) || !due.Before(to) {
			return
		}
		out = append(out, occurrence(Reminder{
			PatientID: p.ID, Kind: kind, Source: source, SourceID: sourceID,
			LocalDate: formatCivilDay(day), DueAt: due,
		}, loc))
	}
	last := civilDay(to, loc)
	for day := civilDay(from, loc); !day.After(last); day = day.AddDate(0, 0, 1) {
		if zoneSkips(day, loc) {
			continue
		}
		date := formatCivilDay(day)
		if p.Wants(KindDailyCheckin) {
			add(KindDailyCheckin, SourceDaily, "", day, preferredMinutes(p, KindDailyCheckin))
		}
		if p.Wants(KindWeeklySummary) && day.Weekday() == preferredWeekday(p, KindWeeklySummary) {
			add(KindWeeklySummary, SourceDaily, "", day, preferredMinutes(p, KindWeeklySummary))
		}
		// Dates in this form sort as strings.
		if planActive && p.Wants(KindStretching) && date >= plan.StartDate() && !plan.CadenceOn(date).StretchingOff {
			minutes, _ := ParseTimeOfDay(plan.CadenceOn(date).StretchingTime) // validated with the cadence
			add(KindStretching, SourcePlan, plan.ID, day, minutes)
		}
	}
	if planActive && next.Booked == nil && p.Wants(KindBookNextSession) {
		if day, err := parseCivilDay(next.DueDate); err == nil {
			add(KindBookNextSession, SourcePlan, plan.ID, day, preferredMinutes(p, KindBookNextSession))
		}
	}
	sortReminders(out)
	return out
}

// holdsBack reports whether a plan in status holds back the reminders
// around sessions (see SessionReminders): it needs clearance or is paused.
func holdsBack(status PlanStatus) bool {
	switch status {
	case "", PlanActive, PlanCompleted:
		return false
	}
	return true
}

// zoneSkips reports whether loc skips day altogether (30 December 2011 in
// Pacific/Apia). Such a date gets no occurrences: moved forward by the gap,
// they would land on the next date's, at the same instants.
func zoneSkips(day time.Time, loc *time.Location) bool {
	return civilDay(wallClockAt(day, 0, loc), loc).After(day)
}

// occurrence completes r, whose identity and due time are set: pending,
// with its kind's expiry and its key.
func occurrence(r Reminder, loc *time.Location) Reminder {
	r.Status = ReminderPending
	r.ExpiresAt = expiryFor(r.Kind, r.Variant, r.DueAt, loc)
	r.SetKey()
	return r
}

// sortReminders orders by due time, then key, so that the same inputs give
// the same slice.
func sortReminders(rs []Reminder) {
	slices.SortFunc(rs, func(a, b Reminder) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), strings.Compare(a.DedupeKey, b.DedupeKey))
	})
}

// Wants reports whether the patient has kind switched on. A kind with no
// stored preference (added to the catalog after they signed up) is on, as
// it would be for a new patient.
func (p Patient) Wants(kind ReminderKind) bool {
	pref, ok := p.Preferences[kind]
	return !ok || pref.Enabled
}

// preferredMinutes returns the local time of day the patient wants kind at,
// as minutes after midnight, or the catalog's default when none is stored.
func preferredMinutes(p Patient, kind ReminderKind) int {
	if m, err := ParseTimeOfDay(p.Preferences[kind].TimeOfDay); err == nil {
		return m
	}
	info, _ := LookupKind(kind)
	m, _ := ParseTimeOfDay(info.DefaultTime)
	return m
}

// preferredWeekday returns the weekday the patient wants a weekly kind on.
func preferredWeekday(p Patient, kind ReminderKind) time.Weekday {
	if w := p.Preferences[kind].Weekday; w != nil {
		return *w
	}
	info, _ := LookupKind(kind)
	return info.DefaultWeekday
}

// firstWallClockAt is wallClockAt, except that a wall time a fall-back change
// repeats is its first instance: time.Date picks the later one in
// Europe/Berlin and the earlier one in America/New_York, and a reminder
// should not depend on which.
func firstWallClockAt(day time.Time, minutes int, loc *time.Location) time.Time {
	first, _ := wallClockInstances(day, minutes, loc)
	return first
}

// wallClockInstances returns the first and the last instant at which clocks
// in loc show minutes past midnight on day (after wallClockAt's shift out of
// a spring-forward gap). They are the same instant unless a fall-back change
// repeats that wall time.
func wallClockInstances(day time.Time, minutes int, loc *time.Location) (first, last time.Time) {
	t := wallClockAt(day, minutes, loc)
	first, last = t, t
	_, offset := t.Zone()
	// No zone shifts its clocks by more than 2 hours, so 3 hours either side
	// is past the change that repeats t's wall time, if there is one.
	for _, probe := range []time.Time{t.Add(-3 * time.Hour), t.Add(3 * time.Hour)} {
		_, other := probe.Zone()
		u := t.Add(time.Duration(offset-other) * time.Second)
		if u.Equal(t) || !sameWallClock(u, t) {
			continue
		}
		if u.Before(first) {
			first = u
		}
		if u.After(last) {
			last = u
		}
	}
	return first, last
}

// sameWallClock reports whether a and b, both in the same location, show the
// same date and time of day.
func sameWallClock(a, b time.Time) bool {
	return a.Format(time.DateTime) == b.Format(time.DateTime)
}
