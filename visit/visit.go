// Package visit turns a patient's records into what a clinician reads: the
// pain chart, the progress sentence, the plan, sessions, aftercare
// adherence, red flags and the safety screening. The shared report page
// (handlers) and the therapist's dashboard (web) both show it, so it is
// computed once, here, from the models' own figures.
package visit

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// Summary is one patient's progress over [From, To] (local dates).
type Summary struct {
	From, To                string
	Change, ChangeReason    string
	DaysLogged, DaysElapsed int
	Chart                   Chart
	Plan                    string
	Sessions                []SessionRow
	Adherence               []AdherenceRow
	RedFlags                []RedFlagRow
	// Questionnaires says each instrument's change in a sentence.
	Questionnaires []QuestionnaireLine
}

// QuestionnaireLine is one questionnaire's baseline against its latest answer.
type QuestionnaireLine struct {
	// Text gives the figures; Verdict, when there is a change, whether it counts.
	Title, Text, Verdict string
	Meaningful           bool
}

// QuestionnaireText says a questionnaire's change in words.
func QuestionnaireText(ch models.QuestionnaireChange) QuestionnaireLine {
	q, _ := models.LookupQuestionnaire(ch.Questionnaire)
	l := QuestionnaireLine{Title: models.Localized(q.Title, models.DefaultLocale), Meaningful: ch.Meaningful}
	switch {
	case ch.Points == nil && ch.Latest != nil:
		l.Text = fmt.Sprintf("Latest score %.1f on %s; %s.", ch.Latest.Score, ch.Latest.LocalDate, ch.Reason)
	case ch.Points == nil:
		l.Text = "Not answered yet."
	default:
		l.Verdict = fmt.Sprintf("Not yet the %.0f %% improvement that counts as meaningful.", q.Meaningful.Percent)
		if ch.Meaningful {
			l.Verdict = fmt.Sprintf("A meaningful improvement (at least %.0f %%).", q.Meaningful.Percent)
		}
		change := fmt.Sprintf("%+.1f points", *ch.Points)
		if ch.Percent != nil {
			change += fmt.Sprintf(", %.1f %% better", *ch.Percent)
		}
		l.Text = fmt.Sprintf("Baseline %.1f on %s, latest %.1f on %s: %s, from %d answers.",
			ch.Baseline.Score, ch.Baseline.LocalDate, ch.Latest.Score, ch.Latest.LocalDate, change, ch.N)
	}
	return l
}

// SessionRow is one session in the range, as the tables show it.
type SessionRow struct {
	ID, Date, Time, Status, Therapist string
	Pressure, Soreness, Around, Flag  string
}

// AdherenceRow is one aftercare kind's reminders and how many were done.
type AdherenceRow struct {
	Kind        string
	Asked, Done int
	Rate        string
}

// RedFlagRow is one log with a red flag.
type RedFlagRow struct {
	Date  string
	Score int
	Flags string
}

// Input is what a summary is drawn from: the patient, their logs and
// sessions (those outside the range are left out here), and their open
// plan, or nil.
type Input struct {
	Patient  models.Patient
	Logs     []models.PainLog
	Sessions []models.Session
	Plan     *models.Plan
	// Loc is the time zone sessions are dated in: the patient's when nil
	// (their report), the clinic's on the dashboard.
	Loc *time.Location
}

// Summarize builds the summary of in over [from, to] at now, from the
// insights computed over the same range.
func Summarize(in Input, ins models.Insights, from, to string, now time.Time) Summary {
	loc := in.Loc
	if loc == nil {
		loc = in.Patient.Location()
	}
	v := Summary{
		From: from, To: to, Change: ins.Change.Summary, ChangeReason: ins.Change.Reason,
		DaysLogged: ins.DaysElapsed - ins.DaysMissed, DaysElapsed: ins.DaysElapsed,
	}
	var sessionDays []string
	around := map[string]models.SessionPain{}
	for _, sp := range ins.Sessions {
		around[sp.SessionID] = sp
	}
	for _, s := range in.Sessions {
		date := models.LocalDateOf(s.ScheduledAt, loc)
		if date < from || date > to {
			continue
		}
		row := SessionRow{ID: s.ID, Date: date, Time: s.ScheduledAt.In(loc).Format("15:04"), Status: Words(string(s.Status)),
			Therapist: s.Therapist, Pressure: "–", Soreness: "–", Around: "–"}
		if s.Feedback != nil {
			row.Pressure, row.Soreness = fmt.Sprint(s.Feedback.PressureFelt), fmt.Sprint(s.Feedback.SorenessAfter)
		}
		if sp, ok := around[s.ID]; ok {
			row.Around = fmt.Sprintf("%s → %s", FigureText(sp.Before), FigureText(sp.After))
			if sp.Flag {
				row.Flag = "pain still higher 48 h after"
			}
		}
		if s.Status == models.SessionCompleted {
			sessionDays = append(sessionDays, date)
		}
		v.Sessions = append(v.Sessions, row)
	}
	if in.Plan != nil {
		v.Plan = PlanText(*in.Plan, models.LocalDateOf(now, loc))
	}
	for _, a := range ins.Adherence {
		v.Adherence = append(v.Adherence, AdherenceRow{Kind: Words(string(a.Kind)), Asked: a.Asked, Done: a.Done, Rate: PercentText(a.Rate)})
	}
	for _, l := range in.Logs {
		if l.Deleted || !l.HasRedFlags() || l.LocalDate < from || l.LocalDate > to {
			continue
		}
		v.RedFlags = append(v.RedFlags, RedFlagRow{Date: l.LocalDate, Score: l.Score, Flags: List(l.RedFlags)})
	}
	v.Chart = DrawPain(from, to, ins, sessionDays)
	for _, q := range ins.Questionnaires {
		v.Questionnaires = append(v.Questionnaires, QuestionnaireText(q))
	}
	return v
}

// PlanText says in one sentence what the plan is on day.
func PlanText(plan models.Plan, day string) string {
	c := plan.CadenceOn(day)
	maintenance := fmt.Sprintf("every %d weeks", c.MaintenanceWeeks)
	if c.MaintenanceMonthly {
		maintenance = "monthly"
	}
	return fmt.Sprintf("Deep tissue massage since %s: weekly for %d sessions, then %s; %d-minute sessions. Status: %s, %s phase.",
		plan.StartDate(), c.InitialSessions, maintenance, c.SessionMinutes, Words(string(plan.Status)), plan.Phase)
}

// Screening is the latest safety screening as read.
type Screening struct {
	Date           string
	Stale          bool
	Positive       string
	NeedsClearance bool
	Clearance      *Clearance
}

// Clearance says who stands behind a clearance: the patient alone
// (self-attested, which nobody verified) or a named clinic staff member.
type Clearance struct {
	Date, RecordedOn, Note string
	SelfAttested           bool
	StaffName, ClinicName  string
}

// ScreeningOf is sc as read in loc at now, nil when there is none; clinic
// is the one whose staff recorded the clearance, if one did.
func ScreeningOf(sc *models.Screening, clinic models.Clinic, loc *time.Location, now time.Time) *Screening {
	if sc == nil {
		return nil
	}
	v := &Screening{
		Date: models.LocalDateOf(sc.TakenAt, loc), Stale: sc.IsStale(now), NeedsClearance: sc.NeedsClearance(),
		Positive: List(sc.Positive()),
	}
	if cl := sc.Clearance; cl != nil {
		v.Clearance = &Clearance{Date: cl.Date, RecordedOn: models.LocalDateOf(cl.RecordedAt, loc), Note: cl.Note, SelfAttested: cl.SelfAttested()}
		if !cl.SelfAttested() {
			v.Clearance.StaffName = cmp.Or(cl.StaffName, "a staff member")
			v.Clearance.ClinicName = clinic.Name
		}
	}
	return v
}

// FigureText is a pain figure to one decimal, or why there is none.
func FigureText(f models.Figure) string {
	if f.Value == nil {
		return "too few logs"
	}
	return fmt.Sprintf("%.1f", *f.Value)
}

// PercentText is a share as a whole percentage, or why there is none.
func PercentText(f models.Figure) string {
	if f.Value == nil {
		return "too few reminders"
	}
	return fmt.Sprintf("%.0f %%", *f.Value*100)
}

// Words turns a code such as "lower_back" into words: "lower back".
func Words(code string) string { return strings.ReplaceAll(code, "_", " ") }

// List is codes in words, comma-separated.
func List[T ~string](codes []T) string {
	words := make([]string, len(codes))
	for i, c := range codes {
		words[i] = Words(string(c))
	}
	return strings.Join(words, ", ")
}

// Plural is "s" unless n is 1.
func Plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
