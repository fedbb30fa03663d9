package web

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
)

// patientRow is one patient as the lists show them.
type patientRow struct {
	ID, Name, Scope      string
	Attention            []models.Attention
	LastScore            *int
	LastLog, Change      string
	Meaningful           bool
	NextSession, Plan    string
	Adherence, Missed    string
	ClearanceSelfAttests bool
	// PEG is the PEG-3's change in a few words; empty without one.
	PEG string
}

func rowOf(e models.TriageEntry, loc *time.Location) patientRow {
	r := patientRow{ID: e.PatientID, Name: e.Name, Scope: string(e.Scope), Attention: e.Attention, LastScore: e.LastScore,
		LastLog: "never", Change: changeText(e.Change), Meaningful: e.Change.Meaningful, NextSession: "none booked",
		Plan: "no plan", Adherence: "no aftercare reminders sent in the last 30 days", ClearanceSelfAttests: e.SelfAttested}
	if e.Adherence.Value != nil {
		r.Adherence = fmt.Sprintf("aftercare done: %s of %d reminders in the last 30 days", visit.PercentText(e.Adherence), e.Adherence.N)
	}
	if e.DaysSinceLog != nil {
		switch d := *e.DaysSinceLog; d {
		case 0:
			r.LastLog = "today"
		case 1:
			r.LastLog = "yesterday"
		default:
			r.LastLog = fmt.Sprintf("%d days ago", d)
		}
	}
	if e.NextSession != nil {
		r.NextSession = e.NextSession.In(loc).Format("Mon 2 Jan, 15:04")
	}
	if e.PlanStatus != "" {
		r.Plan = visit.Words(string(e.PlanStatus))
	}
	if e.MissedSessions > 0 {
		r.Missed = fmt.Sprintf("%d missed in 30 days", e.MissedSessions)
	}
	if ch := e.PEG; ch.Points != nil {
		verdict := "not yet meaningful"
		if ch.Meaningful {
			verdict = "meaningful"
		}
		r.PEG = fmt.Sprintf("PEG-3 %.1f → %.1f: %s", ch.Baseline.Score, ch.Latest.Score, verdict)
	}
	return r
}

// changeText is the MCID verdict in a few words: the points against the
// baseline and whether the change counts.
func changeText(ch models.PainChange) string {
	if ch.Points == nil {
		return "not enough logs to compare"
	}
	verdict := "not a meaningful change"
	if ch.Meaningful {
		verdict = "meaningful improvement"
	}
	return fmt.Sprintf("%+.1f points vs baseline: %s", math.Round(*ch.Points*10)/10, verdict)
}

// seen records in the audit trail that staff member st saw these
// patients (detail says where), in one write: the patient's access log
// shows the dashboard's reads as it shows the API's.
func (w *dashboard) seen(c *fiber.Ctx, detail string, patientIDs ...string) error {
	s := who(c)
	at := w.now().UTC().Truncate(time.Millisecond)
	entries := make([]models.AuditEntry, len(patientIDs))
	for i, pid := range patientIDs {
		entries[i] = models.AuditEntry{ID: uuid.NewString(), At: at, Subject: pid, Actor: "staff:" + s.staff.ID, ActorKind: models.ActorStaff,
			ClinicID: s.staff.ClinicID, Action: "staff_view", Outcome: "ok", Detail: detail, RequestID: c.GetRespHeader(fiber.HeaderXRequestID)}
	}
	if len(entries) == 0 {
		return nil
	}
	return w.store.AppendAudits(c.UserContext(), entries)
}

// clinicPatients is the triage of every patient linked to the clinic,
// needs attention first, as the clinic API computes it.
func (w *dashboard) clinicPatients(c *fiber.Ctx) ([]models.TriageInput, []models.TriageEntry, error) {
	now := w.now()
	inputs, err := w.store.ClinicPatients(c.UserContext(), who(c).staff.ClinicID, now.AddDate(0, 0, -models.TriageRangeDays-1))
	if err != nil {
		return nil, nil, err
	}
	entries := make([]models.TriageEntry, len(inputs))
	for i, in := range inputs {
		entries[i] = models.Triage(in, now)
	}
	models.SortTriage(entries)
	return inputs, entries, nil
}

type todayView struct {
	Date, Day, Prev, Next string
	IsToday               bool
	Items                 []todayItem
}

type todayItem struct {
	Time, Ends, Status, SessionID string
	Cancelled                     bool
	Patient                       patientRow
}

// todayPage lists the day's sessions of the clinic (?date, by default
// today in the clinic's time zone), each with the patient's last score
// and flags.
func (w *dashboard) todayPage(c *fiber.Ctx) error {
	if err := onlyQuery(c, "date"); err != nil {
		return err
	}
	s := who(c)
	now := w.now()
	today := models.LocalDateOf(now, s.loc)
	day := c.Query("date", today)
	inputs, _, err := w.clinicPatients(c)
	if err != nil {
		return err
	}
	list, err := models.DaySchedule(inputs, s.staff.ClinicID, day, s.loc, now)
	if err != nil {
		return models.Errorf(models.ErrInvalid, "The date in the address must be a date as YYYY-MM-DD.")
	}
	d, _ := time.ParseInLocation(time.DateOnly, day, s.loc)
	v := todayView{Date: day, Day: d.Format("Monday 2 January 2006"), IsToday: day == today,
		Prev: d.AddDate(0, 0, -1).Format(time.DateOnly), Next: d.AddDate(0, 0, 1).Format(time.DateOnly)}
	var ids []string
	for _, a := range list {
		ss := a.Session
		v.Items = append(v.Items, todayItem{Time: ss.ScheduledAt.In(s.loc).Format("15:04"), Ends: ss.End().In(s.loc).Format("15:04"),
			Status: visit.Words(string(ss.Status)), SessionID: ss.ID, Cancelled: ss.Status == models.SessionCancelled, Patient: rowOf(a.Patient, s.loc)})
		ids = append(ids, a.Patient.PatientID)
	}
	if err := w.seen(c, "dashboard/today", ids...); err != nil {
		return err
	}
	return w.show(c, fiber.StatusOK, "today", "Today", "", v)
}

type patientsView struct {
	Q               string
	Total, Matching int
	Attention, Rest []patientRow
}

// patientsPage is the triage list: needs attention first, then the rest;
// ?q searches by name.
func (w *dashboard) patientsPage(c *fiber.Ctx) error {
	if err := onlyQuery(c, "q"); err != nil {
		return err
	}
	q := strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(q) > models.MaxNameLength {
		return models.Errorf(models.ErrInvalid, "A name search is at most %d characters.", models.MaxNameLength)
	}
	_, entries, err := w.clinicPatients(c)
	if err != nil {
		return err
	}
	v := patientsView{Q: q, Total: len(entries)}
	var ids []string
	for _, e := range entries {
		if q != "" && !strings.Contains(strings.ToLower(e.Name), strings.ToLower(q)) {
			continue
		}
		ids = append(ids, e.PatientID)
		if len(e.Attention) > 0 {
			v.Attention = append(v.Attention, rowOf(e, who(c).loc))
		} else {
			v.Rest = append(v.Rest, rowOf(e, who(c).loc))
		}
	}
	v.Matching = len(ids)
	if err := w.seen(c, "dashboard/patients", ids...); err != nil {
		return err
	}
	return w.show(c, fiber.StatusOK, "patients", "Patients", "", v)
}

// patientOnPage is linkedPatient for a page that reads the query
// parameters named, and no others.
func (w *dashboard) patientOnPage(c *fiber.Ctx, need models.Scope, query ...string) (models.TriageInput, error) {
	if err := onlyQuery(c, query...); err != nil {
		return models.TriageInput{}, err
	}
	return w.linkedPatient(c, need)
}

// linkedPatient is the patient in the page's {id} when models.MayAct lets
// the signed-in staff member act on them for need; anything else is the
// same "not one of yours" 404 the clinic API answers.
func (w *dashboard) linkedPatient(c *fiber.Ctx, need models.Scope) (models.TriageInput, error) {
	s := who(c)
	pid := c.Params("id")
	if _, err := uuid.Parse(pid); err != nil {
		return models.TriageInput{}, errNotFound
	}
	link, err := w.store.ActiveLink(c.UserContext(), pid, s.staff.ClinicID)
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return models.TriageInput{}, errNotFound
	case err != nil:
		return models.TriageInput{}, err
	case !models.MayAct(s.staff, &link, pid, need):
		return models.TriageInput{}, errNotFound
	}
	in, err := w.store.LinkedPatient(c.UserContext(), link, w.now().AddDate(0, 0, -chartDays-1))
	if models.ErrorCode(err) == models.ErrNotFound {
		return in, errNotFound
	}
	if err != nil {
		return in, err
	}
	// A page that shows the patient is an access of theirs; a form's post
	// is audited by the clinic API it goes to.
	if c.Method() == fiber.MethodGet {
		return in, w.seen(c, "dashboard"+strings.TrimPrefix(c.Route().Path, "/clinic/patients/:id"), pid)
	}
	return in, nil
}

type patientView struct {
	patientRow
	Care      bool
	Timezone  string
	Summary   visit.Summary
	Sessions  []sessionView
	Plan      *planView
	Screening *visit.Screening
	Upcoming  []sessionView
	Done      string
	PrintedAt string
	Progress  progress
	// Conversation is the messages with the patient and the reply form.
	Conversation conversationView
}

// progress is the last 7 days against the baseline, with the MCID
// verdict, as the patient page's figures show it.
type progress struct {
	Baseline, BaselineDays, Last7, Last7Days, Points, Percent, Verdict, Reason, Threshold string
	Meaningful, Known                                                                     bool
}

func progressOf(ch models.PainChange) progress {
	p := progress{Baseline: visit.FigureText(ch.Baseline.Mean), Last7: visit.FigureText(ch.Last7.Mean), Meaningful: ch.Meaningful,
		Known: ch.Points != nil, Reason: sentence(ch.Reason),
		Threshold: fmt.Sprintf("A fall of %.0f points or %.0f %% counts as meaningful.", models.MeaningfulPoints, models.MeaningfulPercent)}
	if ch.Baseline.From != "" {
		p.BaselineDays = fmt.Sprintf("%d logged days, %s to %s (%s)", ch.Baseline.Mean.N, ch.Baseline.From, ch.Baseline.To, baselineText[ch.Source])
	}
	p.Last7Days = fmt.Sprintf("%d logged days, %s to %s", ch.Last7.Mean.N, ch.Last7.From, ch.Last7.To)
	if ch.Points != nil {
		p.Points = fmt.Sprintf("%+.1f", math.Round(*ch.Points*10)/10)
		p.Verdict = "Not a meaningful change yet"
		if ch.Meaningful {
			p.Verdict = "Meaningful improvement"
		}
	}
	if ch.Percent != nil {
		p.Percent = fmt.Sprintf("%.0f %% better", *ch.Percent)
		if *ch.Percent < 0 {
			p.Percent = fmt.Sprintf("%.0f %% worse", -*ch.Percent)
		}
	}
	return p
}

var baselineText = map[models.BaselineSource]string{
	models.BaselinePreTreatment: "the week before the plan", models.BaselinePlanStart: "the plan's first days",
	models.BaselineRangeStart: "the first logged days of the 90",
}

type sessionView struct {
	visit.SessionRow
	When      string
	Scheduled bool
	Completed bool
	Note      *models.SessionNote
}

type planView struct {
	Text, HomeCare, Status string
	NeedsClearance         bool
}

// doneText is the notice a form's redirect asks the patient page to show.
var doneText = map[string]string{
	"booked": "Session booked. The patient's reminders were planned.", "rescheduled": "Session moved.",
	"cancelled": "Session cancelled.", "no_show": "Marked as a no-show.", "completed": "Session completed and the note saved.",
	"note": "Note saved.", "plan": "Plan saved. The patient's reminders were re-planned and they were told their plan changed.",
	"clearance": "Clearance recorded.",
	"message":   "Message sent. The patient gets a notification that says only that the clinic wrote.",
}

// patientPage is everything about one linked patient on one page, which
// also prints as a visit summary.
func (w *dashboard) patientPage(c *fiber.Ctx) error {
	in, err := w.patientOnPage(c, models.ScopeView, "done")
	if err != nil {
		return err
	}
	return w.showPatient(c, fiber.StatusOK, in, nil)
}

// showPatient shows the patient page with status; reply is the reply form
// as sent, when the API refused it.
func (w *dashboard) showPatient(c *fiber.Ctx, status int, in models.TriageInput, reply *Form) error {
	s := who(c)
	now := w.now()
	sum, err := summaryOf(in, s.loc, now)
	if err != nil {
		return err
	}
	e := models.Triage(in, now)
	v := patientView{patientRow: rowOf(e, s.loc), Care: in.Link.Scope.Covers(models.ScopeCare),
		Timezone: in.Patient.Timezone, Summary: sum, Done: doneText[c.Query("done")], PrintedAt: now.In(s.loc).Format("2 January 2006, 15:04 MST"),
		Progress: progressOf(e.Change)}
	if v.Sessions, v.Upcoming, err = w.sessionsOf(c, in, s.loc, now); err != nil {
		return err
	}
	if in.Plan != nil {
		v.Plan = &planView{Text: visit.PlanText(*in.Plan, models.LocalDateOf(now, s.loc)), HomeCare: in.Plan.HomeCare,
			Status: string(in.Plan.Status), NeedsClearance: in.Plan.Status == models.PlanNeedsClearance}
	}
	if in.Screening != nil {
		clinics, err := w.store.ClinicsByID(c.UserContext(), clearanceClinic(in.Screening))
		if err != nil {
			return err
		}
		var cl models.Clinic
		if in.Screening.Clearance != nil {
			cl = clinics[in.Screening.Clearance.ClinicID]
		}
		v.Screening = visit.ScreeningOf(in.Screening, cl, s.loc, now)
	}
	if v.Conversation, err = w.conversationOf(c, in, reply); err != nil {
		return err
	}
	return w.show(c, status, "patient", in.Patient.Name, "", v)
}

func clearanceClinic(sc *models.Screening) []string {
	if sc.Clearance == nil || sc.Clearance.ClinicID == "" {
		return nil
	}
	return []string{sc.Clearance.ClinicID}
}

// sessionsOf lists the patient's sessions of the last 90 days, latest
// first, with this clinic's notes, and apart the ones still to come.
func (w *dashboard) sessionsOf(c *fiber.Ctx, in models.TriageInput, loc *time.Location, now time.Time) (past, upcoming []sessionView, err error) {
	ids := make([]string, len(in.Sessions))
	for i, ss := range in.Sessions {
		ids[i] = ss.ID
	}
	notes, err := w.store.NotesOf(c.UserContext(), in.Patient.ID, ids)
	if err != nil {
		return nil, nil, err
	}
	for i := len(in.Sessions) - 1; i >= 0; i-- {
		ss := in.Sessions[i]
		v := sessionViewOf(ss, notes, who(c).staff.ClinicID, loc)
		if ss.Status == models.SessionScheduled && ss.ScheduledAt.After(now) {
			upcoming = append([]sessionView{v}, upcoming...)
		} else {
			past = append(past, v)
		}
	}
	return past, upcoming, nil
}

// sessionViewOf is one session as the pages show it, with its note when
// clinicID wrote one.
func sessionViewOf(ss models.Session, notes map[string]models.SessionNote, clinicID string, loc *time.Location) sessionView {
	v := sessionView{SessionRow: visit.SessionRow{ID: ss.ID, Date: models.LocalDateOf(ss.ScheduledAt, loc), Status: visit.Words(string(ss.Status)), Therapist: ss.Therapist},
		When: ss.ScheduledAt.In(loc).Format("Mon 2 Jan 2006, 15:04"), Scheduled: ss.Status == models.SessionScheduled, Completed: ss.Status == models.SessionCompleted}
	if n, ok := notes[ss.ID]; ok && n.ClinicID == clinicID {
		v.Note = &n
	}
	return v
}
