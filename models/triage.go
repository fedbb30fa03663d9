package models

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Attention is one reason a linked patient needs a therapist's attention.
type Attention string

// Attention reasons, most urgent first: the order of the triage list.
const (
	// AttentionRedFlag: a pain log of the last TriageRedFlagDays carries a red flag.
	AttentionRedFlag Attention = "red_flag"
	// AttentionSoreness: pain two days after the last completed session was
	// still raised (the soreness flag of the insights).
	AttentionSoreness Attention = "soreness_flag"
	// AttentionSymptomMessage: a message the clinic has not read answers
	// the app's question about soreness or a red flag (see
	// AnswersSymptomQuestion).
	AttentionSymptomMessage Attention = "symptom_message"
	// AttentionClearance: a contraindication "yes" waits for clearance.
	AttentionClearance Attention = "clearance_waiting"
	// AttentionMissedSession: a session of the last TriageMissedDays was
	// missed or a no-show.
	AttentionMissedSession Attention = "missed_session"
	// AttentionNoRecentLog: no pain log for TriageQuietDays or more.
	AttentionNoRecentLog Attention = "no_recent_log"
)

// AttentionOrder lists the reasons from the most urgent.
var AttentionOrder = []Attention{AttentionRedFlag, AttentionSoreness, AttentionSymptomMessage, AttentionClearance, AttentionMissedSession, AttentionNoRecentLog}

// Triage windows.
const (
	TriageRedFlagDays = 14
	TriageMissedDays  = 30
	TriageQuietDays   = 5
	// TriageRangeDays is the range the progress figures are computed over.
	TriageRangeDays = 90
	// TriageAdherenceDays is the range aftercare adherence is counted over.
	TriageAdherenceDays = 30
)

// TriageInput is what one linked patient's triage is computed from: their
// records as read for the whole clinic at once.
type TriageInput struct {
	Patient   Patient
	Link      CareLink
	Logs      []PainLog
	Sessions  []Session
	Plan      *Plan
	Reminders []Reminder
	// Responses are the patient's questionnaire responses.
	Responses []QuestionnaireResponse
	// Screening is the patient's latest, or nil.
	Screening *Screening
	// Messages are the patient's messages in this link's conversation that
	// the clinic has not read (their text is not needed).
	Messages []Message
}

// TriageEntry is one linked patient's summary for the therapist.
type TriageEntry struct {
	PatientID string
	Name      string
	Scope     Scope
	// LastLogDate is the local date of the latest log; empty when none.
	LastLogDate string
	// DaysSinceLog counts the days from LastLogDate to today; nil when none.
	DaysSinceLog *int
	// LastScore is the score of the latest log; nil when none.
	LastScore *int
	// Change is the last 7 days against the baseline, with the MCID verdict.
	Change PainChange
	// PEG is the PEG-3's baseline against its latest answer.
	PEG QuestionnaireChange
	// RedFlags counts the logs with a red flag in the last TriageRedFlagDays.
	RedFlags int
	// SorenessFlag is the soreness flag of the last completed session.
	SorenessFlag bool
	// UnreadMessages counts the patient's messages the clinic has not read;
	// SymptomMessage is set when one of them answers a question about
	// symptoms.
	UnreadMessages   int
	SymptomMessage   bool
	ClearanceWaiting bool
	// SelfAttested is set when the patient's clearance is their own word.
	SelfAttested bool
	// MissedSessions counts missed and no-show sessions in the last TriageMissedDays.
	MissedSessions int
	// Adherence is the share of aftercare reminders done in the last
	// TriageAdherenceDays, over all adherence kinds.
	Adherence Figure
	// NextSession is the next scheduled session's start; nil when none.
	NextSession *time.Time
	PlanStatus  PlanStatus
	Attention   []Attention
}

// Triage computes one patient's entry at now.
func Triage(in TriageInput, now time.Time) TriageEntry {
	loc := in.Patient.Location()
	today := civilDay(now, loc)
	e := TriageEntry{PatientID: in.Patient.ID, Name: in.Patient.Name, Scope: in.Link.Scope}
	if in.Plan != nil {
		e.PlanStatus = in.Plan.Status
	}
	redSince := formatCivilDay(today.AddDate(0, 0, -(TriageRedFlagDays - 1)))
	var last *PainLog
	for i, l := range in.Logs {
		if l.Deleted {
			continue
		}
		if last == nil || l.LoggedAt.After(last.LoggedAt) {
			last = &in.Logs[i]
		}
		if l.LocalDate > e.LastLogDate {
			e.LastLogDate = l.LocalDate
		}
		if l.HasRedFlags() && l.LocalDate >= redSince {
			e.RedFlags++
		}
	}
	if last != nil {
		score := last.Score
		e.LastScore = &score
	}
	if d, err := parseCivilDay(e.LastLogDate); err == nil {
		n := int(today.Sub(d).Hours()+12) / 24
		e.DaysSinceLog = &n
	}
	from := formatCivilDay(today.AddDate(0, 0, -(TriageRangeDays - 1)))
	if ins, err := ComputeInsights(InsightsInput{
		From: from, To: formatCivilDay(today), Today: formatCivilDay(today),
		Logs: in.Logs, Sessions: in.Sessions, Plan: in.Plan, Reminders: in.Reminders, Responses: in.Responses, Loc: loc,
	}); err == nil {
		e.Change = ins.Change
		for _, q := range ins.Questionnaires {
			if q.Questionnaire == QuestionnairePEG3 {
				e.PEG = q
			}
		}
		if n := len(ins.Sessions); n > 0 {
			e.SorenessFlag = ins.Sessions[n-1].Flag
		}
	}
	e.Adherence = overallAdherence(in.Reminders, formatCivilDay(today.AddDate(0, 0, -(TriageAdherenceDays-1))), formatCivilDay(today))
	if in.Screening != nil {
		e.ClearanceWaiting = in.Screening.NeedsClearance()
		e.SelfAttested = in.Screening.Clearance != nil && in.Screening.Clearance.SelfAttested()
	}
	missedSince := now.AddDate(0, 0, -TriageMissedDays)
	for _, s := range in.Sessions {
		switch {
		case (s.Status == SessionMissed || s.Status == SessionNoShow) && !s.ScheduledAt.Before(missedSince):
			e.MissedSessions++
		case s.Status == SessionScheduled && s.ScheduledAt.After(now) && (e.NextSession == nil || s.ScheduledAt.Before(*e.NextSession)):
			at := s.ScheduledAt
			e.NextSession = &at
		}
	}
	if e.RedFlags > 0 {
		e.Attention = append(e.Attention, AttentionRedFlag)
	}
	if e.SorenessFlag {
		e.Attention = append(e.Attention, AttentionSoreness)
	}
	for _, m := range in.Messages {
		if m.Author == SidePatient && m.UnreadBy == SideStaff {
			e.UnreadMessages++
			e.SymptomMessage = e.SymptomMessage || AnswersSymptomQuestion(m, in.Sessions, in.Logs)
		}
	}
	if e.SymptomMessage {
		e.Attention = append(e.Attention, AttentionSymptomMessage)
	}
	if e.ClearanceWaiting {
		e.Attention = append(e.Attention, AttentionClearance)
	}
	if e.MissedSessions > 0 {
		e.Attention = append(e.Attention, AttentionMissedSession)
	}
	if e.DaysSinceLog == nil || *e.DaysSinceLog >= TriageQuietDays {
		e.Attention = append(e.Attention, AttentionNoRecentLog)
	}
	return e
}

// overallAdherence is the share of the adherence kinds' reminders dated in
// [from, to] that the patient did (see Adherence).
func overallAdherence(reminders []Reminder, from, to string) Figure {
	asked, done := 0, 0
	for _, a := range adherence(askedReminders(reminders, from, to)) {
		asked += a.Asked
		done += a.Done
	}
	f := Figure{N: asked, Need: 1, Enough: asked > 0}
	if asked == 0 {
		f.Reason = "no aftercare reminder was sent in the last 30 days"
		return f
	}
	rate := float64(done) / float64(asked)
	f.Value = &rate
	return f
}

// SortTriage orders entries "needs attention first": by their most urgent
// reason (AttentionOrder), then by how many reasons they have, then by
// name; patients needing nothing come last, by name.
func SortTriage(entries []TriageEntry) {
	rank := func(e TriageEntry) int {
		if len(e.Attention) == 0 {
			return len(AttentionOrder)
		}
		return slices.Index(AttentionOrder, e.Attention[0])
	}
	slices.SortStableFunc(entries, func(a, b TriageEntry) int {
		return cmp.Or(
			cmp.Compare(rank(a), rank(b)),
			cmp.Compare(len(b.Attention), len(a.Attention)),
			strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			strings.Compare(a.PatientID, b.PatientID),
		)
	})
}

// Appointment is one session on a clinic's day list, with the triage of
// the patient it is for.
type Appointment struct {
	Session Session
	Patient TriageEntry
}

// DaySchedule lists the sessions of clinic clinicID on day (a date in the
// clinic's time zone loc) among the linked patients in inputs, in time
// order, each with its patient's triage at now: the therapist's "today".
func DaySchedule(inputs []TriageInput, clinicID, day string, loc *time.Location, now time.Time) ([]Appointment, error) {
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return nil, Errorf(ErrInvalid, "day must be a date as YYYY-MM-DD")
	}
	start, end := d, d.AddDate(0, 0, 1)
	var out []Appointment
	for _, in := range inputs {
		var entry *TriageEntry
		for _, s := range in.Sessions {
			if s.ClinicID != clinicID || s.ScheduledAt.Before(start) || !s.ScheduledAt.Before(end) {
				continue
			}
			if entry == nil {
				e := Triage(in, now)
				entry = &e
			}
			out = append(out, Appointment{Session: s, Patient: *entry})
		}
	}
	slices.SortStableFunc(out, func(a, b Appointment) int {
		return cmp.Or(a.Session.ScheduledAt.Compare(b.Session.ScheduledAt), strings.Compare(a.Session.ID, b.Session.ID))
	})
	return out, nil
}
