package models_test

import (
	"testing"

	"github.com/backcare/backcare/models"
)

func TestNoteContentEmpty(t *testing.T) {
	for name, tc := range map[string]struct {
		n     models.NoteContent
		empty bool
	}{
		"nothing":         {models.NoteContent{}, true},
		"only spaces":     {models.NoteContent{Subjective: "  ", Plan: "\n"}, true},
		"a subjective":    {models.NoteContent{Subjective: "Sore"}, false},
		"an area":         {models.NoteContent{AreasTreated: []models.BodyArea{"neck"}}, false},
		"a technique":     {models.NoteContent{Techniques: []string{"cupping"}}, false},
		"a pressure":      {models.NoteContent{Pressure: models.PressureFirm}, false},
		"shared, no text": {models.NoteContent{Shared: true}, false},
	} {
		if got := tc.n.Empty(); got != tc.empty {
			t.Errorf("%s: Empty() = %v", name, got)
		}
	}
}
