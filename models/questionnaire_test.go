package models_test

import (
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func peg(p, e, a int) map[string]int { return map[string]int{"pain": p, "enjoyment": e, "activity": a} }

func TestPEGScore(t *testing.T) {
	q, ok := models.LookupQuestionnaire(models.QuestionnairePEG3)
	if !ok || q.PanelCode != "91148-7" || q.ScoreCode != "91147-9" || len(q.Items) != 3 {
		t.Fatalf("the PEG entry: %+v", q)
	}
	for _, tc := range []struct {
		answers map[string]int
		want    float64
	}{
		{peg(0, 0, 0), 0}, {peg(10, 10, 10), 10}, {peg(6, 7, 4), 5.67}, {peg(5, 5, 6), 5.33}, {peg(1, 0, 0), 0.33}, {peg(9, 8, 7), 8},
	} {
		if got := q.Score(tc.answers); got != tc.want {
			t.Errorf("score of %v = %v, want %v", tc.answers, got, tc.want)
		}
	}
}

func TestQuestionnaireResponseValidate(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ok := models.QuestionnaireResponse{Questionnaire: "peg3", AnsweredAt: now.Add(-time.Hour), Answers: peg(3, 4, 5)}
	if err := ok.Validate(now); err != nil {
		t.Fatalf("a valid response: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*models.QuestionnaireResponse)
		field  string
	}{
		"an unknown questionnaire": {func(r *models.QuestionnaireResponse) { r.Questionnaire = "odi" }, "questionnaire"},
		"no time":                  {func(r *models.QuestionnaireResponse) { r.AnsweredAt = time.Time{} }, "answered_at"},
		"in the future":            {func(r *models.QuestionnaireResponse) { r.AnsweredAt = now.Add(time.Hour) }, "answered_at"},
		"two years ago":            {func(r *models.QuestionnaireResponse) { r.AnsweredAt = now.AddDate(-2, 0, 0) }, "answered_at"},
		"an item missing":          {func(r *models.QuestionnaireResponse) { delete(r.Answers, "activity") }, "answers.activity"},
		"11":                       {func(r *models.QuestionnaireResponse) { r.Answers["pain"] = 11 }, "answers.pain"},
		"-1":                       {func(r *models.QuestionnaireResponse) { r.Answers["enjoyment"] = -1 }, "answers.enjoyment"},
		"an extra answer":          {func(r *models.QuestionnaireResponse) { r.Answers["sleep"] = 3 }, "answers.sleep"},
	} {
		r := ok
		r.Answers = peg(3, 4, 5)
		tc.change(&r)
		err := r.Validate(now)
		fields := models.FieldsOf(err)
		if len(fields) != 1 || fields[0].Field != tc.field {
			t.Errorf("%s: %v, want one problem with %s", name, fields, tc.field)
		}
	}
}

// TestPEGChangeThreshold: the verdict needs a fall of 30 % of the
// baseline, on the boundary exactly.
func TestPEGChangeThreshold(t *testing.T) {
	at := func(day int) time.Time { return time.Date(2026, 9, day, 9, 0, 0, 0, time.UTC) }
	resp := func(day int, answers map[string]int) models.QuestionnaireResponse {
		r := models.QuestionnaireResponse{Questionnaire: "peg3", AnsweredAt: at(day), Answers: answers}
		r.Finish(time.UTC)
		return r
	}
	for _, tc := range []struct {
		name             string
		baseline, latest map[string]int
		meaningful       bool
		percent          float64
	}{
		{"exactly 30 % (30 → 21)", peg(10, 10, 10), peg(7, 7, 7), true, 30},
		{"just under (30 → 22)", peg(10, 10, 10), peg(8, 7, 7), false, 26.7},
		{"exactly 30 % (10 → 7)", peg(4, 3, 3), peg(3, 2, 2), true, 30},
		{"just under (20 → 15 is 25 %)", peg(7, 7, 6), peg(5, 5, 5), false, 25},
		{"worse", peg(3, 3, 3), peg(5, 5, 5), false, -66.7},
		{"all the way to 0", peg(6, 6, 6), peg(0, 0, 0), true, 100},
	} {
		ch := models.CompareQuestionnaire("peg3", []models.QuestionnaireResponse{resp(2, tc.baseline), resp(20, tc.latest)}, "")
		if ch.Meaningful != tc.meaningful || ch.Percent == nil || *ch.Percent != tc.percent || ch.N != 2 {
			t.Errorf("%s: meaningful %v, percent %v, n %d", tc.name, ch.Meaningful, ch.Percent, ch.N)
		}
	}
	zero := models.CompareQuestionnaire("peg3", []models.QuestionnaireResponse{resp(2, peg(0, 0, 0)), resp(9, peg(0, 0, 0))}, "")
	if zero.Percent != nil || zero.Points == nil || *zero.Points != 0 || zero.Meaningful {
		t.Errorf("from a baseline of 0: %+v", zero)
	}
}

// TestPEGTwelveWeeks is a hand-computed history: weekly answers for 12
// weeks, the plan starting in week 3.
func TestPEGTwelveWeeks(t *testing.T) {
	var list []models.QuestionnaireResponse
	// Sums week by week: 24 24 21 21 18 18 18 15 15 12 12 12.
	answers := []map[string]int{peg(8, 8, 8), peg(9, 8, 7), peg(7, 7, 7), peg(8, 7, 6), peg(6, 6, 6), peg(7, 6, 5),
		peg(6, 6, 6), peg(5, 5, 5), peg(6, 5, 4), peg(4, 4, 4), peg(5, 4, 3), peg(4, 4, 4)}
	start := time.Date(2026, 9, 7, 19, 0, 0, 0, time.UTC) // a Monday
	for w, a := range answers {
		r := models.QuestionnaireResponse{Questionnaire: "peg3", AnsweredAt: start.AddDate(0, 0, 7*w), Answers: a}
		r.Finish(time.UTC)
		list = append(list, r)
	}
	deleted := list[11]
	deleted.Deleted, deleted.AnsweredAt, deleted.Answers = true, start.AddDate(0, 0, 80), peg(0, 0, 0)
	deleted.Finish(time.UTC)
	list = append(list, deleted)
	// The plan starts on 2026-09-21 (week 3): the baseline is week 2's
	// answer, 24/3 = 8; the latest is week 12's, 12/3 = 4: -4 points, 50 %.
	ch := models.CompareQuestionnaire("peg3", list, "2026-09-21")
	if ch.N != 12 || ch.Baseline.LocalDate != "2026-09-14" || ch.Baseline.Score != 8 || ch.Latest.Score != 4 ||
		*ch.Points != -4 || *ch.Percent != 50 || !ch.Meaningful {
		t.Fatalf("12 weeks: n %d, baseline %+v, latest %+v, points %v, percent %v", ch.N, ch.Baseline, ch.Latest, *ch.Points, *ch.Percent)
	}
	// Without a plan, the first answer is the baseline.
	if ch := models.CompareQuestionnaire("peg3", list, ""); ch.Baseline.LocalDate != "2026-09-07" {
		t.Errorf("without a plan the baseline is %s", ch.Baseline.LocalDate)
	}
	// A plan after every answer: no comparison yet.
	if ch := models.CompareQuestionnaire("peg3", list, "2027-01-01"); ch.Points != nil || !strings.Contains(ch.Reason, "since the plan") {
		t.Errorf("a plan after the answers: %+v", ch)
	}
	if ch := models.CompareQuestionnaire("peg3", list[:1], ""); ch.Points != nil || ch.N != 1 || ch.Reason == "" {
		t.Errorf("one answer: %+v", ch)
	}
}

func TestCatalogHoldsNoLicensedInstrument(t *testing.T) {
	for _, q := range models.Questionnaires {
		if q.Licence == "" || q.Source == "" || q.Meaningful.Source == "" || q.Title["en"] == "" {
			t.Errorf("%s lacks its licence, source or English title", q.ID)
		}
		for _, it := range q.Items {
			if it.Code == "" || it.Text["en"] == "" || it.Min >= it.Max {
				t.Errorf("%s.%s is incomplete", q.ID, it.ID)
			}
		}
		for _, banned := range []string{"oswestry", "odi", "roland", "rmdq"} {
			if strings.Contains(strings.ToLower(q.ID+" "+q.Title["en"]), banned) {
				t.Errorf("%s is an instrument under licence", q.ID)
			}
		}
	}
	if got := models.Localized(models.Questionnaires[0].Title, "de-AT"); got != models.Questionnaires[0].Title["en"] {
		t.Errorf("a locale without a translation falls back to English: %q", got)
	}
}

// TestInsightsCarryThePEG: the same 12 weeks through ComputeInsights,
// with a plan that started in week 3 and a range that ends in week 10.
func TestInsightsCarryThePEG(t *testing.T) {
	start := time.Date(2026, 9, 7, 19, 0, 0, 0, time.UTC)
	sums := [][3]int{{8, 8, 8}, {9, 8, 7}, {7, 7, 7}, {8, 7, 6}, {6, 6, 6}, {7, 6, 5}, {6, 6, 6}, {5, 5, 5}, {6, 5, 4}, {4, 4, 4}, {5, 4, 3}, {4, 4, 4}}
	var responses []models.QuestionnaireResponse
	for w, a := range sums {
		r := models.QuestionnaireResponse{Questionnaire: "peg3", AnsweredAt: start.AddDate(0, 0, 7*w), Answers: peg(a[0], a[1], a[2])}
		r.Finish(time.UTC)
		responses = append(responses, r)
	}
	plan, err := models.NewPlan("plan1", "p1", "2026-09-21", models.DefaultCadence(time.Monday), false, start)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := models.ComputeInsights(models.InsightsInput{From: "2026-10-01", To: "2026-11-09", Today: "2026-11-30", Plan: &plan, Responses: responses})
	if err != nil {
		t.Fatal(err)
	}
	// Up to 9 November: week 10 (the 9th, 12/3 = 4) is the latest; the
	// baseline is week 2 (24/3 = 8), before the plan, though before the range.
	ch := ins.Questionnaires[0]
	if ch.Questionnaire != "peg3" || ch.N != 10 || ch.Baseline.Score != 8 || ch.Latest.LocalDate != "2026-11-09" || *ch.Points != -4 || !ch.Meaningful {
		t.Fatalf("the PEG in insights: n %d, baseline %+v, latest %+v", ch.N, ch.Baseline, ch.Latest)
	}
	// Without a plan, the range's first answer (1 October is after week 4's
	// 28 September: week 5, 18/3 = 6) is the baseline: 6 → 4 is 33.3 %.
	ins, _ = models.ComputeInsights(models.InsightsInput{From: "2026-10-01", To: "2026-11-09", Today: "2026-11-30", Responses: responses})
	if ch := ins.Questionnaires[0]; ch.Baseline.LocalDate != "2026-10-05" || ch.Baseline.Score != 6 || *ch.Percent != 33.3 || !ch.Meaningful || ch.N != 6 {
		t.Fatalf("without a plan: %+v, baseline %+v", ch, ch.Baseline)
	}
}
