package models_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// codeAndFields summarises err as its code and the fields at fault, in
// order, so a table can assert both exactly; "" for nil.
func codeAndFields(err error) string {
	if err == nil {
		return ""
	}
	parts := []string{models.ErrorCode(err)}
	for _, f := range models.FieldsOf(err) {
		parts = append(parts, f.Field)
	}
	return strings.Join(parts, " ")
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func answers(yes ...models.Contraindication) map[models.Contraindication]bool {
	a := make(map[models.Contraindication]bool)
	for _, c := range models.Contraindications {
		a[c] = slices.Contains(yes, c)
	}
	return a
}

func TestContraindicationsCatalog(t *testing.T) {
	want := []string{
		"blood_clotting_disorder", "heart_condition", "recent_surgery", "recent_fracture",
		"severe_osteoporosis", "infection_or_skin_condition", "active_cancer",
		"uncontrolled_blood_pressure", "deep_vein_thrombosis",
	}
	var got []string
	for _, c := range models.Contraindications {
		got = append(got, string(c))
		if q := c.Question(); !strings.HasSuffix(q, "?") {
			t.Errorf("%s: question %q is not a question", c, q)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Contraindications = %v, want %v", got, want)
	}
}

func TestScreeningValidate(t *testing.T) {
	missingTwo := answers()
	delete(missingTwo, models.DeepVeinThrombosis)
	delete(missingTwo, models.RecentSurgery)
	unknown := answers()
	unknown["pregnancy"] = true
	unknown["allergy"] = false
	tests := []struct {
		name    string
		answers map[models.Contraindication]bool
		want    string
	}{
		{"every item answered", answers(models.ActiveCancer), ""},
		{"missing items are named in catalog order", missingTwo, "invalid answers.recent_surgery answers.deep_vein_thrombosis"},
		{"unknown items are refused", unknown, "invalid answers answers"},
		{"no answers at all", nil, "invalid answers.blood_clotting_disorder answers.heart_condition answers.recent_surgery " +
			"answers.recent_fracture answers.severe_osteoporosis answers.infection_or_skin_condition answers.active_cancer " +
			"answers.uncontrolled_blood_pressure answers.deep_vein_thrombosis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codeAndFields(models.Screening{Answers: tt.answers}.Validate()); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("unknown items are reported sorted", func(t *testing.T) {
		f := models.FieldsOf(models.Screening{Answers: unknown}.Validate())
		if len(f) != 2 || f[0].Message != `"allergy" is not a screening question` || f[1].Message != `"pregnancy" is not a screening question` {
			t.Errorf("fields = %+v", f)
		}
	})
}

func TestScreeningPositiveAndClearance(t *testing.T) {
	cleared := &models.Clearance{Date: "2026-01-10"}
	tests := []struct {
		name          string
		s             models.Screening
		wantPositive  []models.Contraindication
		wantClearance bool
	}{
		{"all no", models.Screening{Answers: answers()}, nil, false},
		{"yes answers come in catalog order", models.Screening{Answers: answers(models.DeepVeinThrombosis, models.BloodClottingDisorder)},
			[]models.Contraindication{models.BloodClottingDisorder, models.DeepVeinThrombosis}, true},
		{"a recorded clearance resolves a yes", models.Screening{Answers: answers(models.RecentSurgery), Clearance: cleared},
			[]models.Contraindication{models.RecentSurgery}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Positive(); !slices.Equal(got, tt.wantPositive) {
				t.Errorf("Positive() = %v, want %v", got, tt.wantPositive)
			}
			if got := tt.s.NeedsClearance(); got != tt.wantClearance {
				t.Errorf("NeedsClearance() = %v, want %v", got, tt.wantClearance)
			}
		})
	}
}

func TestScreeningIsStale(t *testing.T) {
	taken := mustTime("2026-01-15T10:00:00Z")
	tests := []struct {
		name string
		now  string
		want bool
	}{
		{"the next day", "2026-01-16T10:00:00Z", false},
		{"six calendar months to the minute", "2026-07-15T10:00:00Z", false},
		{"just past six calendar months", "2026-07-15T10:00:01Z", true},
		{"more than 180 days but within six calendar months", "2026-07-15T09:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (models.Screening{TakenAt: taken}).IsStale(mustTime(tt.now)); got != tt.want {
				t.Errorf("IsStale(%s) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestScreeningRecordClearance(t *testing.T) {
	edmonton := mustZone("America/Edmonton")
	// 03:00 UTC on 1 March is still 28 February in Edmonton.
	now := mustTime("2026-03-01T03:00:00Z")
	tests := []struct {
		name    string
		answers map[models.Contraindication]bool
		date    string
		note    string
		want    string
	}{
		{"today in the patient's zone", answers(models.RecentFracture), "2026-02-28", "Dr. Ng: fine from March", ""},
		{"a note of 500 characters", answers(models.RecentFracture), "2026-01-02", strings.Repeat("é", 500), ""},
		{"tomorrow in the patient's zone, though today in UTC", answers(models.RecentFracture), "2026-03-01", "", "invalid date"},
		{"not a calendar date", answers(models.RecentFracture), "2026-02-30", "", "invalid date"},
		{"empty date", answers(models.RecentFracture), "", "", "invalid date"},
		{"a note over 500 characters", answers(models.RecentFracture), "2026-02-01", strings.Repeat("a", 501), "invalid note"},
		{"nothing to clear", answers(), "2026-02-01", "", "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := models.Screening{Answers: tt.answers}
			err := s.RecordClearance(tt.date, tt.note, models.Clearance{}, now, edmonton)
			if got := codeAndFields(err); got != tt.want {
				t.Fatalf("RecordClearance() = %q, want %q", got, tt.want)
			}
			if err != nil {
				if s.Clearance != nil {
					t.Errorf("a refused clearance was stored: %+v", s.Clearance)
				}
				return
			}
			want := models.Clearance{Date: tt.date, Note: tt.note, RecordedAt: now, By: models.ClearedByPatient}
			if s.Clearance == nil || *s.Clearance != want {
				t.Errorf("Clearance = %+v, want %+v", s.Clearance, want)
			}
			if s.NeedsClearance() {
				t.Error("NeedsClearance() = true after a clearance")
			}
		})
	}
}
