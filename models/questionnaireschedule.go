package models

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// QuestionnaireAnswerWindow is how long an answer to the PEG-3 makes
// questionnaire_due unneeded: an occurrence due less than this after the
// patient's latest answer is not planned, and one planned before the
// answer came is skipped. The PEG asks about the past week, so an answer
// from the last five days already speaks for most of it.
const QuestionnaireAnswerWindow = 5 * 24 * time.Hour

// QuestionnaireReminders returns the occurrences of questionnaire_due whose
// due time is in [from, to), all at the patient's questionnaire_due time of
// day:
//   - weekly on the patient's questionnaire_due weekday (source daily), for
//     24 h;
//   - on the local date before each scheduled session (source session), for
//     24 h or until the session starts, whichever comes first: it asks for
//     a fresh answer before the session, which is moot once it has begun.
//
// A local date gets at most one (the weekly one, else the earliest
// session's), and none is due before lastAnswer plus
// QuestionnaireAnswerWindow: an answer in the five days before an
// occurrence covers it. lastAnswer is the patient's latest answer, zero
// when there is none.
//
// A plan that needs clearance or is paused holds them all back, as it does
// the session reminders; planStatus is as for SessionReminders. Wall times
// that a DST change skips or repeats fire once, as in DailyReminders.
func QuestionnaireReminders(p Patient, planStatus PlanStatus, sessions []Session, lastAnswer, from, to time.Time) []Reminder {
	if !p.Wants(KindQuestionnaireDue) || holdsBack(planStatus) {
		return nil
	}
	loc := p.Location()
	minutes := preferredMinutes(p, KindQuestionnaireDue)
	// For the zero lastAnswer this is in year 1 and holds nothing back.
	answeredUntil := lastAnswer.Add(QuestionnaireAnswerWindow)
	taken := map[string]bool{}
	var out []Reminder
	add := func(source ReminderSource, sourceID string, day time.Time) bool {
		date := formatCivilDay(day)
		due := firstWallClockAt(day, minutes, loc)
		if taken[date] || zoneSkips(day, loc) || due.Before(from) || !due.Before(to) || due.Before(answeredUntil) {
			return false
		}
		taken[date] = true
		out = append(out, occurrence(Reminder{
			PatientID: p.ID, Kind: KindQuestionnaireDue, Source: source, SourceID: sourceID,
			LocalDate: date, DueAt: due,
		}, loc))
		return true
	}
	weekday := preferredWeekday(p, KindQuestionnaireDue)
	last := civilDay(to, loc)
	for day := civilDay(from, loc); !day.After(last); day = day.AddDate(0, 0, 1) {
		if day.Weekday() == weekday {
			add(SourceDaily, "", day)
		}
	}
	// In start order, so that of two sessions on one date the same one
	// gives the occurrence on every run, whatever order they were read in.
	byStart := slices.Clone(sessions)
	slices.SortFunc(byStart, func(a, b Session) int {
		return cmp.Or(a.ScheduledAt.Compare(b.ScheduledAt), strings.Compare(a.ID, b.ID))
	})
	for _, s := range byStart {
		if s.Status != SessionScheduled || !add(SourceSession, s.ID, civilDay(s.ScheduledAt, loc).AddDate(0, 0, -1)) {
			continue
		}
		if r := &out[len(out)-1]; s.ScheduledAt.Before(r.ExpiresAt) {
			r.ExpiresAt = s.ScheduledAt
		}
	}
	sortReminders(out)
	return out
}
