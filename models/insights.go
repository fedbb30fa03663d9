package models

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Insight thresholds. A figure that rests on fewer data points than these is
// not given as a number: a mean of one or two days says more about that
// day's weather or sleep than about the treatment.
const (
	// MaxInsightsDays bounds a request's range: a year, leap or not, which
	// is also as far back as a pain log may be dated (MaxLogAge).
	MaxInsightsDays = 366
	// BaselineDays is the length of the baseline and of the recent window.
	BaselineDays = 7
	// MinWindowDays is how many logged days the baseline, the last 7 days
	// and a week need for a mean.
	MinWindowDays = 3
	// MinSessionSideDays is how many logged days the 3 days before and the
	// 3 days after a session each need for a mean.
	MinSessionSideDays = 2
	// MinHabitDays is how many days with a habit done, and with it asked but
	// not done, each followed by a logged day, a comparison needs.
	MinHabitDays = 3
	// MinAdherenceAsked is how many reminders of a kind an adherence rate needs.
	MinAdherenceAsked = 3
	// MeaningfulPoints and MeaningfulPercent are the smallest reductions in
	// pain on the 0–10 scale that count as a clinically meaningful
	// improvement for chronic low back pain; either is enough. Source: Ostelo
	// RWJG et al., "Interpreting change scores for pain and functional status
	// in low back pain: towards international consensus regarding minimal
	// important change", Spine 2008;33(1):90–94, which proposes 2 points or
	// 30 %; the IMMPACT recommendations (Dworkin RH et al., J Pain
	// 2008;9(2):105–121) likewise call a 30 % reduction moderately important.
	MeaningfulPoints  = 2.0
	MeaningfulPercent = 30.0
	// SorenessFlagPoints is how far pain two days after a session may rise
	// above the pre-session mean before the patient is advised to tell their
	// therapist: the same 2 points that count as a meaningful change.
	SorenessFlagPoints = MeaningfulPoints
)

// SorenessAdvice is shown with a session whose pain is still raised 48 hours later.
const SorenessAdvice = "Soreness usually fades within 48 hours. Pain that is still higher two days after a massage is worth telling your therapist about."

// associationCaveat ends every habit sentence: a patient's own data cannot
// show cause, only that two things went together.
const associationCaveat = "This is an association in your own data, not proof that one causes the other."

// floatTolerance absorbs binary rounding in comparisons with a threshold:
// means of whole scores are not exact (6.2 − 4.2 is 1.9999999999999996), and
// a change of exactly 2 points or 30 % must count.
const floatTolerance = 1e-9

// AdherenceKinds are the catalog kinds that ask the patient to do something
// for their back, in catalog order. session_upcoming and weekly_summary only
// inform, and book_next_session is about booking, which the sessions
// themselves show.
var AdherenceKinds = []ReminderKind{
	KindHydrationBefore, KindHydrationAfter, KindTakeItEasy, KindHeatIce,
	KindStretching, KindSorenessCheckin, KindDailyCheckin,
}

// HabitKinds are the adherence kinds compared with the next day's pain. The
// check-ins are left out, since doing one is logging pain, and so is
// hydration_before, whose next day is always the day after a massage.
var HabitKinds = []ReminderKind{KindHydrationAfter, KindTakeItEasy, KindHeatIce, KindStretching}

// Figure is one number of the insights with the data it rests on. With fewer
// than Need data points there is no number: Value is nil, Enough is false and
// Reason says why, in words a patient can read.
type Figure struct {
	Value  *float64
	N      int
	Need   int
	Enough bool
	Reason string
}

// InsightsInput is what ComputeInsights works from.
type InsightsInput struct {
	// From and To are the local dates ("YYYY-MM-DD", inclusive) the patient asked about.
	From, To string
	// Today is the patient's local date now.
	Today string
	// Logs are the patient's pain logs. Those outside [From, To] count too:
	// the baseline may reach back to 7 days before the plan's start, the
	// last 7 days and the days before a session up to 7 days before From,
	// the days after a session or a habit up to 3 days after To, and the
	// streak as far back as it goes. A patient's logs are few (one year at
	// most, MaxLogAge), so passing them all is simplest.
	Logs     []PainLog
	Sessions []Session
	// Plan is the patient's current plan, or nil.
	Plan      *Plan
	Reminders []Reminder
	// Responses are the patient's questionnaire responses (tombstones are
	// left out here).
	Responses []QuestionnaireResponse
	// Loc is the patient's zone, which dates the sessions; nil means UTC,
	// as for a patient whose zone cannot be loaded (Patient.Location).
	Loc *time.Location
}

// Insights is a patient's progress over a range of local dates.
type Insights struct {
	From, To string
	// Daily has one entry per local date in the range with a log, in date order.
	Daily []DailyPain
	// Weekly has one entry per week (Monday to Sunday, as ISO 8601 weeks)
	// that overlaps the range, in order, including weeks without logs.
	Weekly []WeeklyPain
	Change PainChange
	// Sessions has the completed sessions dated in the range, in order.
	Sessions []SessionPain
	// Adherence has one entry per AdherenceKinds kind, in that order.
	Adherence []Adherence
	// Habits has one entry per HabitKinds kind, in that order.
	Habits []HabitAssociation
	// StreakDays counts the consecutive local days with a log up to
	// StreakEnd, which is today or, when today has no log yet, yesterday:
	// the day is not over, so an unlogged today does not break a streak.
	// Zero, with StreakEnd empty, when neither day has a log.
	StreakDays int
	StreakEnd  string
	// Questionnaires has one entry per catalog instrument: its baseline
	// against the latest answer up to To (see CompareQuestionnaire).
	Questionnaires []QuestionnaireChange
	// DaysElapsed counts the days from From to the earlier of To and today,
	// and DaysMissed those of them without a log.
	DaysElapsed int
	DaysMissed  int
}

// DailyPain is one local date's logs: the mean and the highest score, and
// how many logs (N) they rest on.
type DailyPain struct {
	Date string
	Mean float64
	Max  int
	N    int
}

// WeeklyPain is one week's pain: the mean of the daily means of its logged
// days within the range, so that a day logged three times does not weigh
// three times. N is the number of logged days.
type WeeklyPain struct {
	// WeekStart is the week's Monday, which may be before the range.
	WeekStart string
	Mean      Figure
}

// BaselineSource says which days a baseline averages.
type BaselineSource string

// Baseline sources, in order of preference. The 7 days before the plan
// started are the clinically cleaner comparison, because they are before any
// treatment; when they hold fewer than MinWindowDays logged days, the first 7
// logged days from the plan's start stand in, so that a patient who began
// logging with the plan still gets a figure. Without a plan, the first 7
// logged days of the range are the baseline.
const (
	BaselinePreTreatment BaselineSource = "pre_treatment"
	BaselinePlanStart    BaselineSource = "plan_start"
	BaselineRangeStart   BaselineSource = "range_start"
)

// PainWindow is the mean pain over a few days: the mean of the daily means of
// its logged days, N being the number of logged days.
type PainWindow struct {
	// From and To are, for the last 7 days, the calendar days of the window;
	// for the baseline, the first and last logged day it averages, both
	// empty when it has none.
	From, To string
	Mean     Figure
}

// PainChange compares the last 7 days with a baseline. The baseline always
// ends before the last 7 days begin, so that early in a plan the two do not
// share days and compare a window with itself.
type PainChange struct {
	Source   BaselineSource
	Baseline PainWindow
	// Last7 is the 7 calendar days ending on the earlier of To and today.
	Last7 PainWindow
	// Points is the last 7 days' mean minus the baseline's: negative is
	// better. Nil when either window has too few logged days.
	Points *float64
	// Percent is the improvement, (baseline − last) / baseline × 100:
	// positive is better. Nil when Points is, or when the baseline is 0,
	// from which no percentage can be taken.
	Percent *float64
	// ByPoints is set for a reduction of at least MeaningfulPoints, and
	// ByPercent for one of at least MeaningfulPercent; Meaningful for either.
	ByPoints, ByPercent, Meaningful bool
	// Reason says why Points or Percent is missing; empty when neither is.
	Reason string
	// Summary says the change in a sentence; empty when Points is nil.
	Summary string
}

// SessionPain is the pain around one completed session. The session's own
// day belongs to neither side: its logs may be from before or after the massage.
type SessionPain struct {
	SessionID string
	// Date is the session's local date.
	Date string
	// Before and After average the daily means of the 3 days before and
	// after the session date; N is the number of logged days.
	Before, After Figure
	// Change is After minus Before, when both are given.
	Change *float64
	// Soreness24h and Soreness48h are the mean scores of the logs on the day
	// after the session and the day after that, the +24 h and +48 h
	// check-ins; N is the number of logs.
	Soreness24h, Soreness48h Figure
	// Flag is set when pain 48 h after is at least SorenessFlagPoints above
	// Before; Advice then holds SorenessAdvice.
	Flag   bool
	Advice string
}

// Adherence is how often the patient did what one kind of reminder asked.
// Asked counts the reminders of the kind dated in the range that were sent
// or acknowledged: a reminder acknowledged before it was pushed is skipped,
// not sent, but the patient saw it in the app and did it. Done counts the
// acknowledged ones. Rate is Done / Asked (0 to 1), with N = Asked.
type Adherence struct {
	Kind  ReminderKind
	Asked int
	Done  int
	Rate  Figure
}

// HabitAssociation compares the next day's pain after days the patient did a
// habit with days they were asked and did not. A day counts as done when
// any of its reminders of the kind was acknowledged, and takes part only when
// the next day has a log. The comparison is an association, never a cause.
type HabitAssociation struct {
	Kind ReminderKind
	// AfterDone and AfterSkipped are the mean next-day pain; N is the number of days.
	AfterDone, AfterSkipped Figure
	// Difference is AfterDone minus AfterSkipped (negative: lower pain after
	// doing it), when both are given.
	Difference *float64
	// Sentence says the difference as an association; Reason says why there
	// is none. Exactly one of them is set.
	Sentence, Reason string
}

// ComputeInsights works out a patient's progress over [in.From, in.To]. It
// reports ErrInvalid for a malformed date, a range that ends before it
// starts or is longer than MaxInsightsDays.
func ComputeInsights(in InsightsInput) (Insights, error) {
	from, to, today, err := in.dates()
	if err != nil {
		return Insights{}, err
	}
	loc := in.Loc
	if loc == nil {
		loc = time.UTC
	}
	days := painByDay(in.Logs)
	end := to
	if today.Before(end) {
		end = today
	}
	asked := askedReminders(in.Reminders, in.From, in.To)
	out := Insights{
		From:      in.From,
		To:        in.To,
		Daily:     days.series(from, to),
		Weekly:    days.weekly(from, to),
		Change:    days.change(in.Plan, from, end),
		Sessions:  days.aroundSessions(in.Sessions, from, to, loc),
		Adherence: adherence(asked),
		Habits:    days.habits(asked),
	}
	out.StreakDays, out.StreakEnd = days.streak(today)
	out.Questionnaires = questionnaireChanges(in)
	for d := from; !d.After(end); d = d.AddDate(0, 0, 1) {
		out.DaysElapsed++
		if !days.logged(d) {
			out.DaysMissed++
		}
	}
	return out, nil
}

func (in InsightsInput) dates() (from, to, today time.Time, err error) {
	var probs Problems
	from, errFrom := parseCivilDay(in.From)
	if errFrom != nil {
		probs.Add("from", "%s", errFrom)
	}
	to, errTo := parseCivilDay(in.To)
	if errTo != nil {
		probs.Add("to", "%s", errTo)
	}
	today, errToday := parseCivilDay(in.Today)
	if errToday != nil {
		probs.Add("today", "%s", errToday)
	}
	if errFrom == nil && errTo == nil {
		switch {
		case to.Before(from):
			probs.Add("to", "must not be before from")
		case to.Sub(from) >= MaxInsightsDays*24*time.Hour:
			probs.Add("to", "must be at most %d days after from", MaxInsightsDays-1)
		}
	}
	return from, to, today, probs.Err()
}

// painDays holds the scores of the logs that are not deleted, by local date.
type painDays map[string][]int

func painByDay(logs []PainLog) painDays {
	days := painDays{}
	for _, l := range logs {
		if !l.Deleted {
			days[l.LocalDate] = append(days[l.LocalDate], l.Score)
		}
	}
	return days
}

func (p painDays) logged(d time.Time) bool { return len(p[formatCivilDay(d)]) > 0 }

func (p painDays) dayMean(date string) float64 { return meanOf(p[date]) }

// loggedIn returns the logged dates in [first, last], in order.
func (p painDays) loggedIn(first, last time.Time) []string {
	var dates []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if p.logged(d) {
			dates = append(dates, formatCivilDay(d))
		}
	}
	return dates
}

func (p painDays) dailyMeans(dates []string) []float64 {
	means := make([]float64, len(dates))
	for i, date := range dates {
		means[i] = p.dayMean(date)
	}
	return means
}

func (p painDays) series(from, to time.Time) []DailyPain {
	var series []DailyPain
	for _, date := range p.loggedIn(from, to) {
		scores := p[date]
		series = append(series, DailyPain{Date: date, Mean: meanOf(scores), Max: slices.Max(scores), N: len(scores)})
	}
	return series
}

func (p painDays) weekly(from, to time.Time) []WeeklyPain {
	// time.Weekday counts from Sunday; ISO weeks start on Monday.
	monday := from.AddDate(0, 0, -(int(from.Weekday())+6)%7)
	var weeks []WeeklyPain
	for ; !monday.After(to); monday = monday.AddDate(0, 0, 7) {
		first, last := monday, monday.AddDate(0, 0, 6)
		if first.Before(from) {
			first = from
		}
		if last.After(to) {
			last = to
		}
		means := p.dailyMeans(p.loggedIn(first, last))
		weeks = append(weeks, WeeklyPain{
			WeekStart: formatCivilDay(monday),
			Mean:      meanFigure(means, MinWindowDays, "logged day"),
		})
	}
	return weeks
}

// baselineDays picks the baseline's logged dates (see BaselineSource), all
// before recentStart, the first of the last 7 days.
func (p painDays) baselineDays(plan *Plan, from, recentStart time.Time) ([]string, BaselineSource) {
	last := recentStart.AddDate(0, 0, -1)
	if plan == nil {
		return firstDays(p.loggedIn(from, last)), BaselineRangeStart
	}
	start, _ := parseCivilDay(plan.StartDate()) // validated by NewPlan
	preLast := start.AddDate(0, 0, -1)
	if last.Before(preLast) {
		preLast = last
	}
	if pre := p.loggedIn(start.AddDate(0, 0, -BaselineDays), preLast); len(pre) >= MinWindowDays {
		return pre, BaselinePreTreatment
	}
	return firstDays(p.loggedIn(start, last)), BaselinePlanStart
}

func firstDays(dates []string) []string { return dates[:min(len(dates), BaselineDays)] }

func (p painDays) change(plan *Plan, from, end time.Time) PainChange {
	start := end.AddDate(0, 0, 1-BaselineDays)
	baseDates, source := p.baselineDays(plan, from, start)
	c := PainChange{
		Source: source,
		Last7: PainWindow{
			From: formatCivilDay(start),
			To:   formatCivilDay(end),
			Mean: meanFigure(p.dailyMeans(p.loggedIn(start, end)), MinWindowDays, "logged day"),
		},
		Baseline: PainWindow{Mean: meanFigure(p.dailyMeans(baseDates), MinWindowDays, "logged day")},
	}
	if len(baseDates) > 0 {
		c.Baseline.From, c.Baseline.To = baseDates[0], baseDates[len(baseDates)-1]
	}
	switch {
	case !c.Baseline.Mean.Enough:
		c.Reason = "No baseline yet. " + c.Baseline.Mean.Reason
		return c
	case !c.Last7.Mean.Enough:
		c.Reason = "Not enough logs in the last 7 days. " + c.Last7.Mean.Reason
		return c
	}
	base, last := *c.Baseline.Mean.Value, *c.Last7.Mean.Value
	points := last - base
	c.Points = &points
	c.ByPoints = -points >= MeaningfulPoints-floatTolerance
	if base < floatTolerance {
		c.Reason = "Your baseline pain was 0, so a percentage change cannot be given."
	} else {
		percent := (base - last) * 100 / base
		c.Percent = &percent
		c.ByPercent = percent >= MeaningfulPercent-floatTolerance
	}
	c.Meaningful = c.ByPoints || c.ByPercent
	c.Summary = changeSummary(c, base, last)
	return c
}

func changeSummary(c PainChange, base, last float64) string {
	s := fmt.Sprintf("Over the last 7 days your pain averaged %.1f (%s)", last, countOf(c.Last7.Mean.N, "logged day"))
	switch diff := math.Abs(*c.Points); {
	case diff < 0.05:
		s += ", about the same as"
	case *c.Points < 0:
		s += fmt.Sprintf(", %.1f points lower than", diff)
	default:
		s += fmt.Sprintf(", %.1f points higher than", diff)
	}
	s += fmt.Sprintf(" your baseline of %.1f (%s)", base, countOf(c.Baseline.Mean.N, "logged day"))
	if c.Percent != nil && math.Abs(*c.Percent) >= 0.05 {
		word := "better"
		if *c.Percent < 0 {
			word = "worse"
		}
		s += fmt.Sprintf(": %.1f%% %s", math.Abs(*c.Percent), word)
	}
	s += "."
	if c.Meaningful {
		s += " A change this size counts as a clinically meaningful improvement for back pain."
	}
	return s
}

func (p painDays) aroundSessions(sessions []Session, from, to time.Time, loc *time.Location) []SessionPain {
	done := slices.DeleteFunc(slices.Clone(sessions), func(s Session) bool {
		d := civilDay(s.ScheduledAt, loc)
		return s.Status != SessionCompleted || d.Before(from) || d.After(to)
	})
	slices.SortFunc(done, func(a, b Session) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	out := make([]SessionPain, len(done))
	for i, s := range done {
		day := civilDay(s.ScheduledAt, loc)
		sp := SessionPain{
			SessionID:   s.ID,
			Date:        formatCivilDay(day),
			Before:      p.sideFigure(day.AddDate(0, 0, -3), day.AddDate(0, 0, -1)),
			After:       p.sideFigure(day.AddDate(0, 0, 1), day.AddDate(0, 0, 3)),
			Soreness24h: p.logsFigure(day.AddDate(0, 0, 1)),
			Soreness48h: p.logsFigure(day.AddDate(0, 0, 2)),
		}
		if sp.Before.Enough && sp.After.Enough {
			change := *sp.After.Value - *sp.Before.Value
			sp.Change = &change
		}
		if sp.Before.Enough && sp.Soreness48h.Enough &&
			*sp.Soreness48h.Value-*sp.Before.Value >= SorenessFlagPoints-floatTolerance {
			sp.Flag, sp.Advice = true, SorenessAdvice
		}
		out[i] = sp
	}
	return out
}

func (p painDays) sideFigure(first, last time.Time) Figure {
	return meanFigure(p.dailyMeans(p.loggedIn(first, last)), MinSessionSideDays, "logged day")
}

// logsFigure is the mean of one day's logs; a single log is a reading.
func (p painDays) logsFigure(d time.Time) Figure {
	scores := p[formatCivilDay(d)]
	values := make([]float64, len(scores))
	for i, s := range scores {
		values[i] = float64(s)
	}
	return meanFigure(values, 1, "log")
}

// askedReminders returns the reminders dated in [from, to] (local dates,
// which sort as strings) that the patient was asked: sent, or acknowledged.
func askedReminders(reminders []Reminder, from, to string) []Reminder {
	var asked []Reminder
	for _, r := range reminders {
		if r.LocalDate >= from && r.LocalDate <= to &&
			(r.Status == ReminderSent || r.SentAt != nil || r.AckedAt != nil) {
			asked = append(asked, r)
		}
	}
	return asked
}

func adherence(asked []Reminder) []Adherence {
	out := make([]Adherence, len(AdherenceKinds))
	for i, kind := range AdherenceKinds {
		var outcomes []float64
		a := Adherence{Kind: kind}
		for _, r := range asked {
			if r.Kind != kind {
				continue
			}
			a.Asked++
			if r.AckedAt != nil {
				a.Done++
				outcomes = append(outcomes, 1)
			} else {
				outcomes = append(outcomes, 0)
			}
		}
		a.Rate = meanFigure(outcomes, MinAdherenceAsked, "reminder")
		out[i] = a
	}
	return out
}

func (p painDays) habits(asked []Reminder) []HabitAssociation {
	out := make([]HabitAssociation, len(HabitKinds))
	for i, kind := range HabitKinds {
		doneOn := map[string]bool{}
		for _, r := range asked {
			if r.Kind == kind {
				doneOn[r.LocalDate] = doneOn[r.LocalDate] || r.AckedAt != nil
			}
		}
		var afterDone, afterSkipped []float64
		// In date order, so that the sums, and so the last bits of the means,
		// do not depend on map order.
		for _, date := range slices.Sorted(maps.Keys(doneOn)) {
			day, err := parseCivilDay(date)
			next := day.AddDate(0, 0, 1)
			if err != nil || !p.logged(next) {
				continue
			}
			if doneOn[date] {
				afterDone = append(afterDone, p.dayMean(formatCivilDay(next)))
			} else {
				afterSkipped = append(afterSkipped, p.dayMean(formatCivilDay(next)))
			}
		}
		out[i] = habitAssociation(kind, afterDone, afterSkipped)
	}
	return out
}

func habitAssociation(kind ReminderKind, afterDone, afterSkipped []float64) HabitAssociation {
	h := HabitAssociation{
		Kind:         kind,
		AfterDone:    meanFigure(afterDone, MinHabitDays, "day"),
		AfterSkipped: meanFigure(afterSkipped, MinHabitDays, "day"),
	}
	if !h.AfterDone.Enough || !h.AfterSkipped.Enough {
		h.Reason = fmt.Sprintf("Not enough data: %s after doing it and %s after not doing it, each followed by a pain log; at least %d of each needed.",
			countOf(len(afterDone), "day"), countOf(len(afterSkipped), "day"), MinHabitDays)
		return h
	}
	diff := *h.AfterDone.Value - *h.AfterSkipped.Value
	h.Difference = &diff
	switch {
	case math.Abs(diff) < 0.05:
		h.Sentence = "On days after you did this, your pain was on average about the same as on days after you did not. "
	case diff < 0:
		h.Sentence = fmt.Sprintf("On days after you did this, your pain was on average %.1f points lower. ", -diff)
	default:
		h.Sentence = fmt.Sprintf("On days after you did this, your pain was on average %.1f points higher. ", diff)
	}
	h.Sentence += associationCaveat
	return h
}

func (p painDays) streak(today time.Time) (int, string) {
	end := today
	if !p.logged(end) {
		end = end.AddDate(0, 0, -1)
	}
	n := 0
	for d := end; p.logged(d); d = d.AddDate(0, 0, -1) {
		n++
	}
	if n == 0 {
		return 0, ""
	}
	return n, formatCivilDay(end)
}

// meanFigure is the mean of values, given when there are at least need of
// them; noun names one value in the reason ("logged day").
func meanFigure(values []float64, need int, noun string) Figure {
	f := Figure{N: len(values), Need: need}
	if len(values) < need {
		f.Reason = fmt.Sprintf("Not enough data: %s, at least %d needed.", countOf(len(values), noun), need)
		return f
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	mean := sum / float64(len(values))
	f.Value, f.Enough = &mean, true
	return f
}

func meanOf(scores []int) float64 {
	sum := 0
	for _, s := range scores {
		sum += s
	}
	return float64(sum) / float64(len(scores))
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// questionnaireChanges compares each instrument's answers up to To: from
// the last answer before the plan started, or without a plan from the
// first answer in the range.
func questionnaireChanges(in InsightsInput) []QuestionnaireChange {
	start := ""
	if in.Plan != nil {
		start = in.Plan.StartDate()
	}
	var within []QuestionnaireResponse
	for _, r := range in.Responses {
		if r.LocalDate <= in.To && (start != "" || r.LocalDate >= in.From) {
			within = append(within, r)
		}
	}
	out := make([]QuestionnaireChange, len(Questionnaires))
	for i, q := range Questionnaires {
		out[i] = CompareQuestionnaire(q.ID, within, start)
	}
	return out
}
