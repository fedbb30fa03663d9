package models

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Contraindication is one item of the safety questionnaire a patient answers
// before deep tissue massage: a condition in which the pressure can do harm.
type Contraindication string

// The contraindications to deep tissue massage.
const (
	BloodClottingDisorder     Contraindication = "blood_clotting_disorder"
	HeartCondition            Contraindication = "heart_condition"
	RecentSurgery             Contraindication = "recent_surgery"
	RecentFracture            Contraindication = "recent_fracture"
	SevereOsteoporosis        Contraindication = "severe_osteoporosis"
	InfectionOrSkinCondition  Contraindication = "infection_or_skin_condition"
	ActiveCancer              Contraindication = "active_cancer"
	UncontrolledBloodPressure Contraindication = "uncontrolled_blood_pressure"
	DeepVeinThrombosis        Contraindication = "deep_vein_thrombosis"
)

// Contraindications lists every questionnaire item in the order the app asks them.
var Contraindications = []Contraindication{
	BloodClottingDisorder,
	HeartCondition,
	RecentSurgery,
	RecentFracture,
	SevereOsteoporosis,
	InfectionOrSkinCondition,
	ActiveCancer,
	UncontrolledBloodPressure,
	DeepVeinThrombosis,
}

var screeningQuestions = map[Contraindication]string{
	BloodClottingDisorder:     "Do you have a bleeding or blood clotting disorder, or take medicine that thins your blood?",
	HeartCondition:            "Do you have a heart condition, such as heart failure or a recent heart attack?",
	RecentSurgery:             "Have you had surgery recently, or are you still recovering from an operation?",
	RecentFracture:            "Have you broken a bone recently, or is a fracture still healing?",
	SevereOsteoporosis:        "Do you have severe osteoporosis (very fragile bones)?",
	InfectionOrSkinCondition:  "Do you have an infection, open wound, rash or other skin condition where you would be massaged?",
	ActiveCancer:              "Do you have cancer that is being treated or has not been treated yet?",
	UncontrolledBloodPressure: "Do you have high blood pressure that is not under control?",
	DeepVeinThrombosis:        "Do you have, or have you recently had, a blood clot in a deep vein (deep vein thrombosis, DVT)?",
}

// Question returns the plain-language question the app shows for c, or ""
// for a value that is not a questionnaire item.
func (c Contraindication) Question() string { return screeningQuestions[c] }

// ScreeningAdvice is what a patient with any "yes" answer is told. The app
// does not judge how serious a condition is: a healthcare provider does.
const ScreeningAdvice = "One or more of your answers means deep tissue massage may not be safe for you right now. " +
	"Talk to your doctor or another healthcare provider before you have a deep tissue massage, " +
	"and tell your massage therapist about it. When your provider has cleared you, record the clearance in the app."

// Screening limits.
const (
	// ScreeningValidMonths is how long answers are trusted: health changes,
	// so after this many calendar months the patient is asked again.
	ScreeningValidMonths   = 6
	MaxClearanceNoteLength = 500
)

// Screening is one completed contraindication questionnaire.
type Screening struct {
	ID        string                    `bson:"_id"`
	PatientID string                    `bson:"patient_id"`
	Answers   map[Contraindication]bool `bson:"answers"`
	TakenAt   time.Time                 `bson:"taken_at"`
	Clearance *Clearance                `bson:"clearance,omitempty"`
}

// Clearance is the patient's own statement that a healthcare provider has
// cleared them for deep tissue massage despite a "yes" answer. It is
// self-attested: the app records it and cannot verify it.
type Clearance struct {
	// Date is the local date ("YYYY-MM-DD") the provider gave the clearance.
	Date       string    `bson:"date"`
	Note       string    `bson:"note,omitempty"`
	RecordedAt time.Time `bson:"recorded_at"`
	// By is who recorded it: the patient (self-attested) or a clinic's
	// staff member, named by StaffID and StaffName at ClinicID.
	By        ClearedBy `bson:"by,omitempty"`
	StaffID   string    `bson:"staff_id,omitempty"`
	StaffName string    `bson:"staff_name,omitempty"`
	ClinicID  string    `bson:"clinic_id,omitempty"`
}

// ClearedBy says who recorded a clearance.
type ClearedBy string

// Who records a clearance. A clearance stored before clinics existed has no
// By and was the patient's own.
const (
	ClearedByPatient ClearedBy = "patient"
	ClearedByStaff   ClearedBy = "staff"
)

// SelfAttested reports whether the patient recorded the clearance
// themselves, with nobody at a clinic standing behind it.
func (c Clearance) SelfAttested() bool { return c.By != ClearedByStaff }

// Validate checks that every item is answered and that nothing else is.
func (s Screening) Validate() error {
	var probs Problems
	for _, c := range Contraindications {
		if _, ok := s.Answers[c]; !ok {
			probs.Add("answers."+string(c), "is required")
		}
	}
	var unknown []Contraindication
	for c := range s.Answers {
		if !slices.Contains(Contraindications, c) {
			unknown = append(unknown, c)
		}
	}
	// Map order is random; sorted, the same request gets the same answer.
	slices.Sort(unknown)
	for _, c := range unknown {
		probs.Add("answers", "%q is not a screening question", c)
	}
	return probs.Err()
}

// Positive returns the items answered "yes", in questionnaire order.
func (s Screening) Positive() []Contraindication {
	var yes []Contraindication
	for _, c := range Contraindications {
		if s.Answers[c] {
			yes = append(yes, c)
		}
	}
	return yes
}

// NeedsClearance reports whether an answer is "yes" and no provider
// clearance is recorded: until then the plan stays in needs_clearance.
func (s Screening) NeedsClearance() bool {
	return len(s.Positive()) > 0 && s.Clearance == nil
}

// IsStale reports whether the screening is more than ScreeningValidMonths
// calendar months old at now.
func (s Screening) IsStale(now time.Time) bool {
	return s.TakenAt.AddDate(0, ScreeningValidMonths, 0).Before(now)
}

// RecordClearance stores a provider's clearance, recorded by whom by says
// (its By, StaffID, StaffName and ClinicID; the zero value is the patient), given on date (local
// "YYYY-MM-DD", not after today in loc). A screening with no "yes" answer
// has nothing to clear: that is a conflict, not a silent success, so the app
// does not show a clearance that means nothing. A new clearance replaces an
// earlier one, so a patient can correct a mistyped date.
func (s *Screening) RecordClearance(date, note string, by Clearance, now time.Time, loc *time.Location) error {
	if err := ValidateClearance(date, note, now, loc); err != nil {
		return err
	}
	if len(s.Positive()) == 0 {
		return Errorf(ErrConflict, "no answer in this screening needs a provider's clearance")
	}
	if by.By == "" {
		by.By = ClearedByPatient
	}
	by.Date, by.Note, by.RecordedAt = date, note, now
	s.Clearance = &by
	return nil
}

// ValidateClearance checks a clearance's date (local "YYYY-MM-DD", not
// after today in loc) and note.
func ValidateClearance(date, note string, now time.Time, loc *time.Location) error {
	var probs Problems
	if d, err := parseCivilDay(date); err != nil {
		probs.Add("date", "%s", err)
	} else if d.After(civilDay(now, loc)) {
		probs.Add("date", "must not be in the future")
	}
	checkNoteText(&probs, "note", note, MaxClearanceNoteLength)
	return probs.Err()
}

// checkNoteText checks optional free text; line breaks are allowed.
func checkNoteText(probs *Problems, field, text string, maxLen int) {
	switch {
	case !utf8.ValidString(text):
		probs.Add(field, "must be valid UTF-8 text")
	case utf8.RuneCountInString(text) > maxLen:
		probs.Add(field, "must be at most %d characters", maxLen)
	}
}
