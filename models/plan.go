package models

import (
	"slices"
	"time"
)

// PlanStatus is where a treatment plan stands.
type PlanStatus string

// Plan statuses. A plan starts in needs_clearance when the patient's
// screening has an unresolved "yes": no session reminders are sent for it.
const (
	PlanNeedsClearance PlanStatus = "needs_clearance"
	PlanActive         PlanStatus = "active"
	PlanPaused         PlanStatus = "paused"
	PlanCompleted      PlanStatus = "completed"
)

// PlanPhase is the part of the treatment a plan is in.
type PlanPhase string

// Plan phases: weekly sessions first, then less frequent maintenance.
const (
	PhaseInitial     PlanPhase = "initial"
	PhaseMaintenance PlanPhase = "maintenance"
)

// Aftercare is what a patient uses on the treated area after a session.
type Aftercare string

// Aftercare choices.
const (
	AftercareHeat   Aftercare = "heat"
	AftercareIce    Aftercare = "ice"
	AftercareEither Aftercare = "either"
)

// Aftercares lists the aftercare choices.
var Aftercares = []Aftercare{AftercareHeat, AftercareIce, AftercareEither}

// Cadence limits and defaults.
const (
	MinInitialSessions      = 4
	MaxInitialSessions      = 6
	DefaultInitialSessions  = 6
	MinMaintenanceWeeks     = 2
	MaxMaintenanceWeeks     = 6
	DefaultMaintenanceWeeks = 4
	DefaultSessionMinutes   = 60
	// DefaultPreferredTime is mid-morning, when clinics are open and the
	// rest of the day is left for taking it easy.
	DefaultPreferredTime  = "10:00"
	DefaultStretchingTime = "18:00"
)

// SessionLengths are the session lengths a plan can ask for, in minutes.
var SessionLengths = []int{60, 90}

// Cadence is the part of a plan that can change from a date on: how often
// sessions are due, when, and the aftercare routine around them.
type Cadence struct {
	// InitialSessions is how many weekly sessions the initial phase has.
	InitialSessions int `bson:"initial_sessions"`
	// MaintenanceWeeks is the maintenance interval; zero when MaintenanceMonthly.
	MaintenanceWeeks int `bson:"maintenance_weeks,omitempty"`
	// MaintenanceMonthly makes maintenance sessions due once a calendar month.
	MaintenanceMonthly bool `bson:"maintenance_monthly,omitempty"`
	// PreferredWeekday places the plan's first session; later ones follow
	// from the last completed session.
	PreferredWeekday time.Weekday `bson:"preferred_weekday"`
	// PreferredTime is the local "HH:MM" sessions are due at.
	PreferredTime  string    `bson:"preferred_time"`
	SessionMinutes int       `bson:"session_minutes"`
	Aftercare      Aftercare `bson:"aftercare"`
	// StretchingTime is the local "HH:MM" of the daily stretching reminder.
	StretchingTime string `bson:"stretching_time"`
	// StretchingOff stops the daily stretching reminder for this plan (a
	// therapist's call); the patient's own opt-out still applies besides.
	StretchingOff bool `bson:"stretching_off,omitempty"`
}

// DefaultCadence returns the product's defaults. Callers pass the weekday of
// the plan's start date, so that the first session is due the day the plan
// starts unless the patient picks another day.
func DefaultCadence(weekday time.Weekday) Cadence {
	return Cadence{
		InitialSessions:  DefaultInitialSessions,
		MaintenanceWeeks: DefaultMaintenanceWeeks,
		PreferredWeekday: weekday,
		PreferredTime:    DefaultPreferredTime,
		SessionMinutes:   DefaultSessionMinutes,
		Aftercare:        AftercareEither,
		StretchingTime:   DefaultStretchingTime,
	}
}

// Validate checks every field of a cadence.
func (c Cadence) Validate() error {
	var probs Problems
	c.validate(&probs)
	return probs.Err()
}

func (c Cadence) validate(probs *Problems) {
	if c.InitialSessions < MinInitialSessions || c.InitialSessions > MaxInitialSessions {
		probs.Add("initial_sessions", "must be from %d to %d", MinInitialSessions, MaxInitialSessions)
	}
	switch {
	case c.MaintenanceMonthly && c.MaintenanceWeeks != 0:
		probs.Add("maintenance_weeks", "must not be set when maintenance is monthly")
	case !c.MaintenanceMonthly && (c.MaintenanceWeeks < MinMaintenanceWeeks || c.MaintenanceWeeks > MaxMaintenanceWeeks):
		probs.Add("maintenance_weeks", "must be from %d to %d", MinMaintenanceWeeks, MaxMaintenanceWeeks)
	}
	if c.PreferredWeekday < time.Sunday || c.PreferredWeekday > time.Saturday {
		probs.Add("preferred_weekday", "must be a weekday")
	}
	if _, err := ParseTimeOfDay(c.PreferredTime); err != nil {
		probs.Add("preferred_time", "%s", err)
	}
	if !slices.Contains(SessionLengths, c.SessionMinutes) {
		probs.Add("session_minutes", "must be 60 or 90")
	}
	if !slices.Contains(Aftercares, c.Aftercare) {
		probs.Add("aftercare", "must be one of %s", joinQuoted(Aftercares))
	}
	if _, err := ParseTimeOfDay(c.StretchingTime); err != nil {
		probs.Add("stretching_time", "%s", err)
	}
}

// CadenceVersion is a cadence and the local date ("YYYY-MM-DD") it applies from.
type CadenceVersion struct {
	From    string  `bson:"from"`
	Cadence Cadence `bson:"cadence"`
}

// PlanChangeKind names what a history entry changed.
type PlanChangeKind string

// Kinds of plan history entries.
const (
	PlanChangeStatus  PlanChangeKind = "status"
	PlanChangePhase   PlanChangeKind = "phase"
	PlanChangeCadence PlanChangeKind = "cadence"
)

// PlanChange is one entry of a plan's history. For status and phase, From
// and To are the old and new value (From is empty for the status a plan is
// created with); for cadence, they are the date the superseded version
// applied from and the date the new one applies from.
type PlanChange struct {
	At   time.Time      `bson:"at"`
	What PlanChangeKind `bson:"what"`
	From string         `bson:"from,omitempty"`
	To   string         `bson:"to"`
}

// Plan is a patient's deep tissue massage plan.
type Plan struct {
	ID        string     `bson:"_id"`
	PatientID string     `bson:"patient_id"`
	Status    PlanStatus `bson:"status"`
	Phase     PlanPhase  `bson:"phase"`
	// InitialCompleted is how many completed sessions the initial phase
	// took; set when the plan moves to maintenance, whose sessions are the
	// ones completed after it.
	InitialCompleted int `bson:"initial_completed,omitempty"`
	// Cadences are in order of From, the first from the plan's start date.
	// Earlier versions are kept: what was due before a change is still
	// answered by the version in effect then.
	Cadences []CadenceVersion `bson:"cadences"`
	History  []PlanChange     `bson:"history"`
	// HomeCare is the therapist's free-text home-care instructions: shown
	// in the app, never in a push.
	HomeCare string `bson:"home_care,omitempty"`
	// ClinicID is the clinic that wrote or last changed the plan; empty
	// for the patient's own.
	ClinicID  string    `bson:"clinic_id,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
}

// MaxHomeCareLength bounds a plan's home-care instructions.
const MaxHomeCareLength = 2000

// SetHomeCare sets the home-care instructions, or reports the field at fault.
func (p *Plan) SetHomeCare(text string) error {
	var probs Problems
	checkNoteText(&probs, "home_care", text, MaxHomeCareLength)
	if err := probs.Err(); err != nil {
		return err
	}
	p.HomeCare = text
	return nil
}

// NewPlan returns a plan in its initial phase that starts on startDate (local
// "YYYY-MM-DD") with cadence c. needsClearance is the patient's current
// Screening.NeedsClearance(): such a plan waits for the clearance.
func NewPlan(id, patientID, startDate string, c Cadence, needsClearance bool, now time.Time) (Plan, error) {
	var probs Problems
	if _, err := parseCivilDay(startDate); err != nil {
		probs.Add("start_date", "%s", err)
	}
	c.validate(&probs)
	if err := probs.Err(); err != nil {
		return Plan{}, err
	}
	status := PlanActive
	if needsClearance {
		status = PlanNeedsClearance
	}
	p := Plan{
		ID:        id,
		PatientID: patientID,
		Status:    status,
		Phase:     PhaseInitial,
		Cadences:  []CadenceVersion{{From: startDate, Cadence: c}},
		CreatedAt: now,
	}
	p.record(PlanChangeStatus, "", string(status), now)
	return p, nil
}

// StartDate returns the local date the plan started on.
func (p Plan) StartDate() string { return p.Cadences[0].From }

// CadenceOn returns the cadence in effect on the local date ("YYYY-MM-DD"),
// or the first one for a date before the plan started.
func (p Plan) CadenceOn(date string) Cadence {
	current := p.Cadences[0]
	for _, v := range p.Cadences[1:] {
		// Dates in this form sort as strings.
		if v.From > date {
			break
		}
		current = v
	}
	return current.Cadence
}

// ChangeCadence makes c the plan's cadence from the local date from on.
// from may not be in the past (in loc at now) nor before the latest version's
// date, so the past is never rewritten; a change from the latest version's
// own date replaces that version, which has not been in effect before today.
func (p *Plan) ChangeCadence(from string, c Cadence, now time.Time, loc *time.Location) error {
	if p.Status == PlanCompleted {
		return Errorf(ErrConflict, "cannot change a completed plan")
	}
	latest := p.Cadences[len(p.Cadences)-1]
	var probs Problems
	if d, err := parseCivilDay(from); err != nil {
		probs.Add("effective_from", "%s", err)
	} else if d.Before(civilDay(now, loc)) {
		probs.Add("effective_from", "must not be in the past")
	} else if from < latest.From {
		probs.Add("effective_from", "must not be before %s, when the current cadence takes effect", latest.From)
	}
	c.validate(&probs)
	if err := probs.Err(); err != nil {
		return err
	}
	next := CadenceVersion{From: from, Cadence: c}
	if from == latest.From {
		p.Cadences[len(p.Cadences)-1] = next
	} else {
		p.Cadences = append(p.Cadences, next)
	}
	p.record(PlanChangeCadence, latest.From, from, now)
	return nil
}

// Pause stops an active plan's session reminders until Resume.
func (p *Plan) Pause(at time.Time) error {
	return p.transition("pause", PlanPaused, at, PlanActive)
}

// Resume makes a paused plan active again.
func (p *Plan) Resume(at time.Time) error {
	return p.transition("resume", PlanActive, at, PlanPaused)
}

// Complete ends a plan for good; one waiting for clearance too, since a
// patient may decide not to go ahead.
func (p *Plan) Complete(at time.Time) error {
	return p.transition("complete", PlanCompleted, at, PlanActive, PlanPaused, PlanNeedsClearance)
}

// Clear activates a plan that waits for clearance, once s, the patient's
// current screening, no longer needs one.
func (p *Plan) Clear(s Screening, at time.Time) error {
	if p.Status == PlanNeedsClearance && s.NeedsClearance() {
		return Errorf(ErrConflict, "record your healthcare provider's clearance first")
	}
	return p.transition("clear", PlanActive, at, PlanNeedsClearance)
}

func (p *Plan) transition(verb string, to PlanStatus, at time.Time, from ...PlanStatus) error {
	if !slices.Contains(from, p.Status) {
		return Errorf(ErrConflict, "cannot %s the plan: its status is %s", verb, p.Status)
	}
	p.record(PlanChangeStatus, string(p.Status), string(to), at)
	p.Status = to
	return nil
}

// ApplyCompletion moves the plan to maintenance once completed, the number of
// this plan's completed sessions after a completion at at, reaches the
// initial phase's length in the cadence in effect that day in loc. It reports
// whether the phase changed. A completed plan does not change.
func (p *Plan) ApplyCompletion(completed int, at time.Time, loc *time.Location) bool {
	if p.Phase != PhaseInitial || p.Status == PlanCompleted ||
		completed < p.CadenceOn(LocalDateOf(at, loc)).InitialSessions {
		return false
	}
	p.record(PlanChangePhase, string(PhaseInitial), string(PhaseMaintenance), at)
	p.Phase = PhaseMaintenance
	p.InitialCompleted = completed
	return true
}

func (p *Plan) record(what PlanChangeKind, from, to string, at time.Time) {
	p.History = append(p.History, PlanChange{At: at, What: what, From: from, To: to})
	p.UpdatedAt = at
}

// ApplyScreening follows a new screening or clearance: a "yes" without
// clearance holds an active or paused plan in needs_clearance, and a
// screening that no longer needs one releases a held plan. It reports
// whether the status changed.
func (p *Plan) ApplyScreening(s Screening, at time.Time) bool {
	switch {
	case s.NeedsClearance() && (p.Status == PlanActive || p.Status == PlanPaused):
		return p.transition("hold", PlanNeedsClearance, at, PlanActive, PlanPaused) == nil
	case !s.NeedsClearance() && p.Status == PlanNeedsClearance:
		return p.transition("clear", PlanActive, at, PlanNeedsClearance) == nil
	}
	return false
}
