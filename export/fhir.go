package export

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// BundleInput is what one patient's FHIR export is made of.
type BundleInput struct {
	Patient models.Patient
	// Logs may include tombstones; they are left out.
	Logs []models.PainLog
	// Responses are the questionnaire responses; tombstones are left out.
	Responses []models.QuestionnaireResponse
	Sessions  []models.Session
	// Plan is the patient's plan, or nil when there is none.
	Plan *models.Plan
	// CareLinks, Notes, Screenings, Clinics and Staff are the clinic side,
	// as models.PatientRecords holds it: every care link, the notes shared
	// with the patient (their summary is all that is read), the screenings
	// (whose clearances are exported), and the clinics and staff that
	// these name.
	CareLinks  []models.CareLink
	Notes      []models.SessionNote
	Screenings []models.Screening
	Clinics    []models.Clinic
	Staff      []models.Staff
	// Messages are the patient's conversations with their clinics, every
	// one, revoked links' included: the patient kept them.
	Messages []models.Message
	// Generated is when the export is made: the Bundle's timestamp, and the
	// day whose cadence the CarePlan describes.
	Generated time.Time
	// BaseURL is the API's absolute URL, such as "https://api.backcare.example".
	// It scopes our ids: the identifier systems, and the names the resources'
	// UUIDs are derived from, so two deployments never mint the same UUID.
	BaseURL string
}

// Code systems and codes.
const (
	systemLOINC    = "http://loinc.org"
	systemSNOMED   = "http://snomed.info/sct"
	systemCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemBCP47    = "urn:ietf:bcp:47"

	loincPainNRS        = "72514-3"
	loincPainNRSDisplay = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"

	massageText  = "Deep tissue massage"
	carePlanName = "Deep tissue massage plan"
)

// surveyCategory is the category of what the patient reports: pain scores
// and questionnaire scores.
var surveyCategory = []codeableConcept{{Coding: []coding{{System: systemCategory, Code: "survey", Display: "Survey"}}}}

// bodySites names each body area in FHIR. A SNOMED CT code is given only
// where a body structure concept matches the area as the app means it. The
// upper and mid back have none that does (77568009 is the whole back), so
// they carry text alone: a receiving system then asks a person instead of
// filing the pain under the wrong place.
var bodySites = map[models.BodyArea]codeableConcept{
	"neck":       snomed("45048000", "Neck structure", "Neck"),
	"shoulders":  snomed("16982005", "Shoulder region structure", "Shoulders"),
	"upper_back": {Text: "Upper back"},
	"mid_back":   {Text: "Mid back"},
	"lower_back": snomed("37822005", "Lower back structure", "Lower back"),
	"hips":       snomed("29836001", "Hip region structure", "Hips"),
	"buttocks":   snomed("46862004", "Buttock structure", "Buttocks"),
	"legs":       snomed("61685007", "Lower limb structure", "Legs"),
}

// redFlagTexts says in words what each red-flag answer reported.
var redFlagTexts = map[models.RedFlag]string{
	"saddle_numbness":      "New numbness in the groin or saddle area",
	"bladder_bowel_change": "New bladder or bowel problems",
	"fever":                "Fever together with back pain",
	"leg_weakness":         "Progressive weakness in the legs",
	"major_trauma":         "Back pain after a major fall or accident",
}

// appointmentStatuses maps a session's status to Appointment.status.
var appointmentStatuses = map[models.SessionStatus]string{
	models.SessionScheduled: "booked",
	models.SessionCompleted: "fulfilled",
	models.SessionMissed:    "noshow",
	models.SessionCancelled: "cancelled",
}

// planStatuses maps a plan's status to CarePlan.status and to the status of
// the activity for the phase the plan is in. A plan waiting for a provider's
// clearance is on hold: it is expected to go ahead once cleared.
var planStatuses = map[models.PlanStatus]struct{ carePlan, activity string }{
	models.PlanNeedsClearance: {"on-hold", "on-hold"},
	models.PlanActive:         {"active", "in-progress"},
	models.PlanPaused:         {"on-hold", "on-hold"},
	models.PlanCompleted:      {"completed", "completed"},
}

// FHIRBundle returns the patient's data as a FHIR R4 Bundle of type
// "collection", in JSON: the Patient; an Organization per clinic, a
// Practitioner per staff member the record names and a PractitionerRole
// joining each to their clinic; a Consent per care link (oldest first);
// then a CarePlan for the plan, an Appointment per session (by start), a
// Communication per session summary shared with the patient (oldest
// first), a Communication per message between the patient and a clinic
// (oldest first), an Observation per live pain log (oldest first), a Questionnaire
// per instrument the live questionnaire responses answer, each of these
// responses (oldest first) as a QuestionnaireResponse followed by an
// Observation of its score, and an Observation per provider clearance (by
// when it was recorded). Each entry's fullUrl is
// "urn:uuid:" and a UUID derived from our own id, which is also the
// resource's id, so every reference resolves inside the bundle and the
// same data always gives the same bytes.
// Clinical times are written in the patient's time zone, with its offset.
//
// It refuses a record of another patient: the bundle states whose data it
// is, so a stray record would be filed in the wrong person's chart.
func FHIRBundle(in BundleInput) ([]byte, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	loc := in.Patient.Location()
	rs := records{base: strings.TrimSuffix(in.BaseURL, "/"), patientID: in.Patient.ID}
	pr := rs.patient()
	subject := reference{Reference: pr.fullURL()}
	entries := []bundleEntry{{FullURL: pr.fullURL(), Resource: patientOf(in.Patient, pr)}}

	team := newCareTeam(rs, in)
	entries = append(entries, team.entries()...)
	links := slices.Clone(in.CareLinks)
	slices.SortFunc(links, func(a, b models.CareLink) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	for _, l := range links {
		r := rs.careLink(l)
		c, err := consentOf(l, r, subject, team.clinic(l.ClinicID), loc)
		if err != nil {
			return nil, err
		}
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: c})
	}

	sessions := slices.Clone(in.Sessions)
	slices.SortFunc(sessions, func(a, b models.Session) int {
		return cmp.Or(a.ScheduledAt.Compare(b.ScheduledAt), strings.Compare(a.ID, b.ID))
	})
	if in.Plan != nil {
		var planned []string
		for _, s := range sessions {
			if s.PlanID == in.Plan.ID {
				planned = append(planned, rs.session(s).fullURL())
			}
		}
		r := rs.plan(*in.Plan)
		cp, err := carePlanOf(*in.Plan, r, subject, planned, models.LocalDateOf(in.Generated, loc))
		if err != nil {
			return nil, err
		}
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: cp})
	}
	for _, s := range sessions {
		r := rs.session(s)
		a, err := appointmentOf(s, r, subject, loc)
		if err != nil {
			return nil, err
		}
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: a})
	}
	appointments := map[string]string{}
	for _, s := range sessions {
		appointments[s.ID] = rs.session(s).fullURL()
	}
	notes := slices.Clone(in.Notes)
	slices.SortFunc(notes, func(a, b models.SessionNote) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), strings.Compare(a.ID, b.ID))
	})
	for _, n := range notes {
		r := rs.note(n)
		m := messageOf(n, r, subject, team.member(n.AuthorID, n.AuthorName), appointments[n.ID], loc)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: m})
	}
	messages := slices.Clone(in.Messages)
	slices.SortFunc(messages, func(a, b models.Message) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	for _, cm := range messages {
		r := rs.message(cm)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: conversationMessageOf(cm, r, subject, team, loc)})
	}
	for _, l := range liveLogs(in.Logs) {
		r := rs.painLog(l)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: observationOf(l, r, subject, loc)})
	}
	entries = append(entries, questionnaireEntries(rs, in.Responses, subject, in.Patient.Locale, loc)...)
	var cleared []models.Screening
	for _, sc := range in.Screenings {
		if sc.Clearance != nil {
			cleared = append(cleared, sc)
		}
	}
	slices.SortFunc(cleared, func(a, b models.Screening) int {
		return cmp.Or(a.Clearance.RecordedAt.Compare(b.Clearance.RecordedAt), strings.Compare(a.ID, b.ID))
	})
	for _, sc := range cleared {
		r := rs.clearance(sc)
		entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: clearanceOf(sc, r, subject, team, loc)})
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The file is read by people and FHIR parsers, never embedded in HTML:
	// a note's "&" stays "&" rather than "\u0026".
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(bundle{
		ResourceType: "Bundle",
		Type:         "collection",
		Timestamp:    in.Generated.UTC().Format(time.RFC3339),
		Entry:        entries,
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (in BundleInput) check() error {
	base, err := url.Parse(in.BaseURL)
	if err != nil || !base.IsAbs() || base.Host == "" {
		return fmt.Errorf("export: base URL %q is not an absolute URL", in.BaseURL)
	}
	if in.Patient.ID == "" {
		return errors.New("export: the patient has no id")
	}
	for _, l := range in.Logs {
		if l.PatientID != in.Patient.ID {
			return fmt.Errorf("export: pain log %s is not the patient's", l.ID)
		}
	}
	for _, r := range in.Responses {
		if r.PatientID != in.Patient.ID {
			return fmt.Errorf("export: questionnaire response %s is not the patient's", r.ID)
		}
		if r.Deleted {
			continue
		}
		// A response is written against the catalog's Questionnaire, every
		// item of which is a required integer in its range: answers that do
		// not fit would contradict the form the bundle says they answer.
		// The problem is named in a plain error, not the check's invalid
		// one: it is a stored record's fault, not the request's.
		q, ok := models.LookupQuestionnaire(r.Questionnaire)
		if !ok {
			return fmt.Errorf("export: questionnaire response %s answers unknown questionnaire %q", r.ID, r.Questionnaire)
		}
		var probs models.Problems
		if q.Check(&probs, r.Answers); len(probs) > 0 {
			return fmt.Errorf("export: questionnaire response %s does not fit %s: %s %s", r.ID, q.ID, probs[0].Field, probs[0].Message)
		}
	}
	for _, s := range in.Sessions {
		if s.PatientID != in.Patient.ID {
			return fmt.Errorf("export: session %s is not the patient's", s.ID)
		}
		// Appointment.minutesDuration is a positiveInt, and end must not
		// come before start.
		if s.DurationMinutes <= 0 {
			return fmt.Errorf("export: session %s has no duration", s.ID)
		}
	}
	for _, l := range in.CareLinks {
		if l.PatientID != in.Patient.ID {
			return fmt.Errorf("export: care link %s is not the patient's", l.ID)
		}
	}
	for _, n := range in.Notes {
		if n.PatientID != in.Patient.ID {
			return fmt.Errorf("export: the note on session %s is not the patient's", n.ID)
		}
		// Only what the clinic shared is the patient's to pass on; a
		// note that was not shared must not reach the bundle, not even
		// its summary.
		if !n.Shared {
			return fmt.Errorf("export: the note on session %s is not shared with the patient", n.ID)
		}
		if fhirText(n.Summary) == "" {
			return fmt.Errorf("export: the shared note on session %s has no summary", n.ID)
		}
	}
	for _, m := range in.Messages {
		if m.PatientID != in.Patient.ID {
			return fmt.Errorf("export: message %s is not the patient's", m.ID)
		}
		// Communication.payload needs content: a message is never empty.
		if fhirText(m.Text) == "" {
			return fmt.Errorf("export: message %s has no text", m.ID)
		}
	}
	for _, sc := range in.Screenings {
		if sc.PatientID != in.Patient.ID {
			return fmt.Errorf("export: screening %s is not the patient's", sc.ID)
		}
		// Observation.effectiveDateTime: the clearance's date is a
		// local date, and must be one.
		if cl := sc.Clearance; cl != nil {
			if _, err := time.Parse(time.DateOnly, cl.Date); err != nil {
				return fmt.Errorf("export: the clearance of screening %s has no date", sc.ID)
			}
		}
	}
	if p := in.Plan; p != nil {
		if p.PatientID != in.Patient.ID {
			return fmt.Errorf("export: plan %s is not the patient's", p.ID)
		}
		if len(p.Cadences) == 0 {
			return fmt.Errorf("export: plan %s has no cadence", p.ID)
		}
	}
	return nil
}

// record names one of our records in FHIR: our id as an identifier in a
// system under the API's URL, and the UUID derived from both, used as the
// resource's id and in its fullUrl.
type record struct{ system, value string }

func (r record) id() string               { return nameUUID(r.name()) }
func (r record) fullURL() string          { return "urn:uuid:" + r.id() }
func (r record) identifier() []identifier { return []identifier{{System: r.system, Value: r.value}} }

// name is the record's absolute URL: its system, then its value. A
// Questionnaire's is its canonical url.
func (r record) name() string { return r.system + "/" + url.PathEscape(r.value) }

// records makes the record of each kind for one patient.
type records struct{ base, patientID string }

func (rs records) patient() record { return record{rs.base + "/patients", rs.patientID} }

func (rs records) session(s models.Session) record { return record{rs.base + "/sessions", s.ID} }

func (rs records) plan(p models.Plan) record { return record{rs.base + "/plans", p.ID} }

// painLog is scoped by patient: the id is the phone's UUID, as the API
// shows it, and only the patient id makes it unique.
func (rs records) painLog(l models.PainLog) record {
	return record{rs.base + "/patients/" + url.PathEscape(rs.patientID) + "/pain-logs", l.ClientID()}
}

func patientOf(p models.Patient, r record) patientResource {
	res := patientResource{ResourceType: "Patient", ID: r.id(), Identifier: r.identifier()}
	if p.Name != "" {
		res.Name = []humanName{{Text: p.Name}}
	}
	if p.Locale != "" {
		res.Communication = []communication{{
			Language:  codeableConcept{Coding: []coding{{System: systemBCP47, Code: p.Locale}}},
			Preferred: true,
		}}
	}
	return res
}

// observationOf turns a pain log into a patient-reported pain score.
// Observation.bodySite is 0..1 in R4 and a CodeableConcept's codings are
// alternative names for one concept, so several areas cannot share it: every
// area is a "Pain location" component, and bodySite is set too when there is
// exactly one area, where it is the whole truth. The optional ratings and
// the red flags are components as well, so that the bundle keeps all the
// patient logged without inventing codes for them.
func observationOf(l models.PainLog, r record, subject reference, loc *time.Location) observation {
	o := observation{
		observationHead: surveyHead(r, codeableConcept{
			Coding: []coding{{System: systemLOINC, Code: loincPainNRS, Display: loincPainNRSDisplay}},
			Text:   "Pain score (0-10)",
		}, subject, l.LoggedAt.In(loc)),
		ValueInteger: l.Score,
	}
	if note := fhirText(l.Note); note != "" {
		o.Note = []annotation{{Text: note}}
	}
	if len(l.Areas) == 1 {
		site := bodySite(l.Areas[0])
		o.BodySite = &site
	}
	for _, a := range l.Areas {
		site := bodySite(a)
		o.Component = append(o.Component, observationComponent{Code: codeableConcept{Text: "Pain location"}, ValueCodeableConcept: &site})
	}
	ratings := []struct {
		label string
		value *int
	}{
		{"Stiffness (0-10)", l.Stiffness},
		{"Sleep quality (0-10)", l.SleepQuality},
		{"Stress (0-10)", l.Stress},
	}
	for _, rt := range ratings {
		if rt.value != nil {
			o.Component = append(o.Component, observationComponent{Code: codeableConcept{Text: rt.label}, ValueInteger: rt.value})
		}
	}
	for _, f := range l.RedFlags {
		text := cmp.Or(redFlagTexts[f], string(f))
		o.Component = append(o.Component, observationComponent{
			Code:                 codeableConcept{Text: "Red flag symptom reported"},
			ValueCodeableConcept: &codeableConcept{Text: text},
		})
	}
	return o
}

// fhirText drops the control characters FHIR strings may not hold (all
// below U+0020 but tab, CR and LF). Notes are free text from a phone and
// are checked only for length and UTF-8, so one could carry them.
func fhirText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return -1
		}
		return r
	}, s)
}

func bodySite(a models.BodyArea) codeableConcept {
	if site, ok := bodySites[a]; ok {
		return site
	}
	return codeableConcept{Text: string(a)}
}

func snomed(code, display, text string) codeableConcept {
	return codeableConcept{Coding: []coding{{System: systemSNOMED, Code: code, Display: display}}, Text: text}
}

// appointmentOf turns a session into an Appointment. Everyone on it is
// "accepted": R4 requires a participant status, and a booked session is
// one both sides agreed to. Therapist and clinic are known only by name, so
// they are display-only references typed by what they stand for.
func appointmentOf(s models.Session, r record, subject reference, loc *time.Location) (appointment, error) {
	status, ok := appointmentStatuses[s.Status]
	if !ok {
		return appointment{}, fmt.Errorf("export: session %s has unknown status %q", s.ID, s.Status)
	}
	a := appointment{
		ResourceType:    "Appointment",
		ID:              r.id(),
		Identifier:      r.identifier(),
		Status:          status,
		Description:     massageText,
		Start:           s.ScheduledAt.In(loc).Format(time.RFC3339),
		End:             s.End().In(loc).Format(time.RFC3339),
		MinutesDuration: s.DurationMinutes,
		Comment:         feedbackComment(s.Feedback),
		Participant:     []appointmentParticipant{{Actor: subject, Status: "accepted"}},
	}
	if s.Therapist != "" {
		a.Participant = append(a.Participant, appointmentParticipant{
			Actor: reference{Type: "Practitioner", Display: s.Therapist}, Status: "accepted",
		})
	}
	if s.Clinic != "" {
		a.Participant = append(a.Participant, appointmentParticipant{
			Actor: reference{Type: "Location", Display: s.Clinic}, Status: "accepted",
		})
	}
	return a, nil
}

// feedbackComment puts how a session felt into words, scales included,
// since a reader of the Appointment has no other place to learn them.
func feedbackComment(f *models.SessionFeedback) string {
	if f == nil {
		return ""
	}
	c := fmt.Sprintf("Patient feedback: pressure %d of %d (%d too light, %d too strong); soreness afterwards %d of %d.",
		f.PressureFelt, models.MaxPressureFelt, models.MinPressureFelt, models.MaxPressureFelt,
		f.SorenessAfter, models.MaxSorenessAfter)
	if note := fhirText(f.Note); note != "" {
		c += " " + note
	}
	return c
}

// carePlanOf turns a plan into a CarePlan: the cadence in effect on today
// (the patient's date) as one activity per phase, then a reference to the
// Appointment of each of the plan's sessions (R4 lets activity.reference
// name an Appointment).
func carePlanOf(p models.Plan, r record, subject reference, appointments []string, today string) (carePlan, error) {
	status, ok := planStatuses[p.Status]
	if !ok {
		return carePlan{}, fmt.Errorf("export: plan %s has unknown status %q", p.ID, p.Status)
	}
	c := p.CadenceOn(today)
	cp := carePlan{
		ResourceType: "CarePlan",
		ID:           r.id(),
		Identifier:   r.identifier(),
		Status:       status.carePlan,
		Intent:       "plan",
		Title:        carePlanName,
		Description:  fmt.Sprintf("%s, %d-minute sessions: %s.", massageText, c.SessionMinutes, cadenceText(c)),
		Subject:      subject,
		Period:       period{Start: p.StartDate()},
		Activity: []carePlanActivity{
			phaseActivity(c, models.PhaseInitial, phaseStatus(p, models.PhaseInitial, status.activity)),
			phaseActivity(c, models.PhaseMaintenance, phaseStatus(p, models.PhaseMaintenance, status.activity)),
		},
	}
	for _, ref := range appointments {
		cp.Activity = append(cp.Activity, carePlanActivity{Reference: &reference{Reference: ref}})
	}
	return cp, nil
}

// cadenceText says how often sessions are due, as the app shows it.
func cadenceText(c models.Cadence) string {
	return fmt.Sprintf("weekly × %d, then %s", c.InitialSessions, maintenanceText(c))
}

func maintenanceText(c models.Cadence) string {
	if c.MaintenanceMonthly {
		return "monthly"
	}
	return fmt.Sprintf("every %d weeks", c.MaintenanceWeeks)
}

// phaseStatus is the status of one phase's activity: current is the plan's
// own for the phase it is in. The initial phase is over once the plan is in
// maintenance; maintenance has not started before then, and never will once
// the plan is completed.
func phaseStatus(p models.Plan, phase models.PlanPhase, current string) string {
	switch {
	case phase == p.Phase:
		return current
	case phase == models.PhaseInitial:
		return "completed"
	case p.Status == models.PlanCompleted:
		return "cancelled"
	default:
		return "not-started"
	}
}

// phaseActivity describes one phase as a planned series of appointments,
// in words and as a Timing a record system can compute with.
func phaseActivity(c models.Cadence, phase models.PlanPhase, status string) carePlanActivity {
	repeat := timingRepeat{Duration: c.SessionMinutes, DurationUnit: "min", Frequency: 1, Period: 1, PeriodUnit: "wk"}
	var description string
	switch {
	case phase == models.PhaseInitial:
		repeat.Count = c.InitialSessions
		description = fmt.Sprintf("Initial phase: weekly × %d", c.InitialSessions)
	case c.MaintenanceMonthly:
		repeat.PeriodUnit = "mo"
		description = "Maintenance: " + maintenanceText(c)
	default:
		repeat.Period = c.MaintenanceWeeks
		description = "Maintenance: " + maintenanceText(c)
	}
	return carePlanActivity{Detail: &carePlanActivityDetail{
		Kind:            "Appointment",
		Code:            codeableConcept{Text: massageText},
		Status:          status,
		ScheduledTiming: timing{Repeat: repeat},
		Description:     description,
	}}
}

// surveyHead starts a final survey Observation of the patient's own report
// at at: they are its subject and its performer.
func surveyHead(r record, code codeableConcept, subject reference, at time.Time) observationHead {
	return observationHead{ResourceType: "Observation", ID: r.id(), Identifier: r.identifier(), Status: "final", Category: surveyCategory,
		Code: code, Subject: subject, EffectiveDateTime: at.Format(time.RFC3339), Performer: []reference{subject}}
}
