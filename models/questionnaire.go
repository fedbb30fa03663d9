package models

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Instrument is one questionnaire of the catalog: what it asks, how it
// is scored, how it is coded, which change in its score matters, and
// under which licence it may be used. Adding an instrument is adding an
// entry to Questionnaires.
type Instrument struct {
	ID string
	// Title and Intro are per locale; "en" is always there.
	Title map[string]string
	Intro map[string]string
	Items []QuestionnaireItem
	// Scoring is how the items make the score.
	Scoring Scoring
	// PanelCode and ScoreCode are the LOINC codes of the whole form and of
	// its score.
	PanelCode, PanelDisplay string
	ScoreCode, ScoreDisplay string
	// Meaningful is the smallest improvement of the score that matters.
	Meaningful MeaningfulChange
	// Licence says on what terms the instrument may be shown to patients.
	Licence string
	// Source cites the instrument's validation.
	Source string
}

// QuestionnaireItem is one question, answered with a whole number from
// Min to Max.
type QuestionnaireItem struct {
	// ID is the answer's key in a response ("pain").
	ID string
	// Code is the item's LOINC code.
	Code     string
	Min, Max int
	// Text is the question per locale; MinLabel and MaxLabel name the ends
	// of the scale.
	Text, MinLabel, MaxLabel map[string]string
}

// Scoring is how an instrument's items make its score.
type Scoring string

// ScoringMean: the score is the mean of the items.
const ScoringMean Scoring = "mean"

// MeaningfulChange is the smallest improvement (a fall of the score) that
// counts, in percent of the baseline, with its source.
type MeaningfulChange struct {
	Percent float64
	Source  string
}

// QuestionnairePEG3 is the PEG's id.
const QuestionnairePEG3 = "peg3"

// Questionnaires is the catalog. Instruments distributed under terms that
// may charge a software company — the Oswestry Disability Index and the
// Roland-Morris Disability Questionnaire among them — are deliberately
// not here: add one only with a licence for it.
var Questionnaires = []Instrument{{
	ID:    QuestionnairePEG3,
	Title: map[string]string{"en": "PEG: pain, enjoyment of life and general activity"},
	Intro: map[string]string{"en": "Three questions about the past week. Pick the number that fits best."},
	Items: []QuestionnaireItem{
		{ID: "pain", Code: "75893-8", Min: 0, Max: 10,
			Text:     map[string]string{"en": "What number best describes your pain on average in the past week?"},
			MinLabel: map[string]string{"en": "No pain"}, MaxLabel: map[string]string{"en": "Pain as bad as you can imagine"}},
		{ID: "enjoyment", Code: "91145-3", Min: 0, Max: 10,
			Text:     map[string]string{"en": "What number best describes how, during the past week, pain has interfered with your enjoyment of life?"},
			MinLabel: map[string]string{"en": "Does not interfere"}, MaxLabel: map[string]string{"en": "Completely interferes"}},
		{ID: "activity", Code: "91146-1", Min: 0, Max: 10,
			Text:     map[string]string{"en": "What number best describes how, during the past week, pain has interfered with your general activity?"},
			MinLabel: map[string]string{"en": "Does not interfere"}, MaxLabel: map[string]string{"en": "Completely interferes"}},
	},
	Scoring:   ScoringMean,
	PanelCode: "91148-7", PanelDisplay: "Pain intensity, Enjoyment of life, General activity scale [PEG]",
	ScoreCode: "91147-9", ScoreDisplay: "Mean score [PEG]",
	// Krebs et al. (2009) found the PEG as responsive as the longer Brief
	// Pain Inventory scales; a 30 % reduction is the change the IMMPACT
	// recommendations (Dworkin RH et al., J Pain 2008;9(2):105–121) call
	// moderately important, and the one PEG studies report responders by.
	// Anchor-based minimal important differences of about 1 point have
	// been published too; a percentage keeps one rule across baselines,
	// where 1 point is a third of a baseline of 3 but a tenth of one of 10.
	Meaningful: MeaningfulChange{Percent: 30,
		Source: "30 % reduction: Dworkin RH et al., J Pain 2008;9(2):105–121 (IMMPACT); PEG: Krebs EE et al., J Gen Intern Med 2009;24(6):733–8"},
	Licence: "Public domain: the PEG may be used and reproduced freely, citing its source.",
	Source:  "Krebs EE, Lorenz KA, Bair MJ, et al. Development and initial validation of the PEG, a three-item scale assessing pain intensity and interference. J Gen Intern Med 2009;24(6):733–8.",
}}

// LookupQuestionnaire returns the catalog's instrument id.
func LookupQuestionnaire(id string) (Instrument, bool) {
	i := slices.IndexFunc(Questionnaires, func(q Instrument) bool { return q.ID == id })
	if i < 0 {
		return Instrument{}, false
	}
	return Questionnaires[i], true
}

// Localized returns the text of m for locale's base language, else English.
func Localized(m map[string]string, locale string) string {
	base, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if t, ok := m[base]; ok {
		return t
	}
	return m[DefaultLocale]
}

// Score is the instrument's score of answers, rounded to two decimals
// (a mean of three whole numbers needs no more); answers must be valid.
func (q Instrument) Score(answers map[string]int) float64 {
	return math.Round(float64(q.sum(answers))/float64(len(q.Items))*100) / 100
}

// Check reports each item missing from answers or out of its range, and
// each answer to no item, under answers.<item>.
func (q Instrument) Check(probs *Problems, answers map[string]int) {
	for _, it := range q.Items {
		v, ok := answers[it.ID]
		switch {
		case !ok:
			probs.Add("answers."+it.ID, "is required")
		case v < it.Min || v > it.Max:
			probs.Add("answers."+it.ID, "must be a whole number from %d to %d", it.Min, it.Max)
		}
	}
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.ContainsFunc(q.Items, func(it QuestionnaireItem) bool { return it.ID == k }) {
			probs.Add("answers."+k, "is not a question of %s", q.ID)
		}
	}
}

// QuestionnaireResponse is one completed questionnaire. Like a pain log,
// its ID is "<patient id>:<client uuid>" (PainLogDocID), so that a phone's
// retry names the same document and an _id lookup is the ownership check.
type QuestionnaireResponse struct {
	ID            string         `bson:"_id"`
	PatientID     string         `bson:"patient_id"`
	Questionnaire string         `bson:"questionnaire"`
	AnsweredAt    time.Time      `bson:"answered_at"`
	LocalDate     string         `bson:"local_date"`
	Answers       map[string]int `bson:"answers,omitempty"`
	// Score is computed by the server from Answers, never taken from a client.
	Score     float64   `bson:"score"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	// Version: see PainLog.Version.
	Version int64 `bson:"version,omitempty"`
	// Deleted marks a tombstone, as for pain logs.
	Deleted bool `bson:"deleted"`
}

// ClientID returns the id the phone chose.
func (r QuestionnaireResponse) ClientID() string {
	return strings.TrimPrefix(r.ID, r.PatientID+":")
}

// Validate checks a response and its answers against the catalog; now
// bounds answered_at as it bounds a pain log's logged_at.
func (r QuestionnaireResponse) Validate(now time.Time) error {
	var probs Problems
	q, ok := LookupQuestionnaire(r.Questionnaire)
	if !ok {
		ids := make([]string, len(Questionnaires))
		for i, q := range Questionnaires {
			ids[i] = q.ID
		}
		probs.Add("questionnaire", "must be one of %s", strings.Join(ids, ", "))
	}
	switch {
	case r.AnsweredAt.IsZero():
		probs.Add("answered_at", "is required")
	case r.AnsweredAt.After(now.Add(ClockSkew)):
		probs.Add("answered_at", "must not be in the future")
	case r.AnsweredAt.Before(now.Add(-MaxLogAge)):
		probs.Add("answered_at", "must be within the last year")
	}
	if ok {
		q.Check(&probs, r.Answers)
	}
	return probs.Err()
}

// Finish sets what the server derives: the score and the patient's local date.
func (r *QuestionnaireResponse) Finish(loc *time.Location) {
	if q, ok := LookupQuestionnaire(r.Questionnaire); ok {
		r.Score = q.Score(r.Answers)
	}
	r.LocalDate = LocalDateOf(r.AnsweredAt, loc)
}

// QuestionnaireChange compares an instrument's latest score with its
// baseline: the last answer before the plan started, else the first one
// since. N counts the answers it rests on.
type QuestionnaireChange struct {
	Questionnaire string
	// Baseline and Latest are nil when there is no answer to take.
	Baseline, Latest *QuestionnaireResponse
	N                int
	// Points is Latest minus Baseline (negative is better); Percent the
	// improvement in percent of the baseline (positive is better), nil
	// when the baseline is 0 or either end is missing.
	Points, Percent *float64
	// Meaningful is set for an improvement of at least the instrument's
	// Meaningful percentage.
	Meaningful bool
	// Reason says why there is no comparison.
	Reason string
}

// CompareQuestionnaire computes the change of instrument id over
// responses (any order, tombstones ignored) for a plan that started on
// planStart (a local date; "" when there is no plan).
func CompareQuestionnaire(id string, responses []QuestionnaireResponse, planStart string) QuestionnaireChange {
	ch := QuestionnaireChange{Questionnaire: id}
	q, ok := LookupQuestionnaire(id)
	if !ok {
		ch.Reason = "no such questionnaire"
		return ch
	}
	var list []QuestionnaireResponse
	for _, r := range responses {
		if !r.Deleted && r.Questionnaire == id {
			list = append(list, r)
		}
	}
	slices.SortStableFunc(list, func(a, b QuestionnaireResponse) int { return a.AnsweredAt.Compare(b.AnsweredAt) })
	ch.N = len(list)
	if len(list) < 2 {
		ch.Reason = fmt.Sprintf("%d answer%s so far: a change needs a baseline and a later answer", len(list), plural(len(list)))
		return ch
	}
	base := 0
	if planStart != "" {
		for i, r := range list {
			if r.LocalDate < planStart {
				base = i
			}
		}
	}
	ch.Baseline, ch.Latest = &list[base], &list[len(list)-1]
	if base == len(list)-1 {
		ch.Reason = "no answer since the plan started"
		return ch
	}
	points := math.Round((ch.Latest.Score-ch.Baseline.Score)*100) / 100
	ch.Points = &points
	// The verdict is taken on the sums of the answers, whole numbers, so
	// that a fall of exactly 30 % is not lost to rounding the means.
	base, latest := q.sum(ch.Baseline.Answers), q.sum(ch.Latest.Answers)
	if base > 0 {
		pct := math.Round(float64(base-latest)/float64(base)*1000) / 10
		ch.Percent = &pct
		ch.Meaningful = float64((base-latest)*100) >= q.Meaningful.Percent*float64(base)
	}
	return ch
}

func (q Instrument) sum(answers map[string]int) int {
	sum := 0
	for _, it := range q.Items {
		sum += answers[it.ID]
	}
	return sum
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
