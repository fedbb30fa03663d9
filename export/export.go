// Package export turns one patient's data into files that leave BackCare:
// CSVs of pain logs, questionnaire responses and the clinic side for a
// spreadsheet, and a FHIR R4 Bundle for a clinic's record system. It is
// pure: the caller loads the records and sends the bytes.
package export

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// liveLogs returns the logs that are not tombstones, oldest first.
func liveLogs(logs []models.PainLog) []models.PainLog {
	return live(logs, func(l models.PainLog) (bool, time.Time, string) { return l.Deleted, l.LoggedAt, l.ID })
}

// liveResponses returns the questionnaire responses that are not
// tombstones, oldest first.
func liveResponses(responses []models.QuestionnaireResponse) []models.QuestionnaireResponse {
	return live(responses, func(r models.QuestionnaireResponse) (bool, time.Time, string) { return r.Deleted, r.AnsweredAt, r.ID })
}

// live returns the entries of a diary that are not tombstones, by time.
// Ties are broken by id, so the same entries always export in the same
// order whatever order the store returned them in.
func live[T any](entries []T, key func(T) (deleted bool, at time.Time, id string)) []T {
	out := make([]T, 0, len(entries))
	for _, e := range entries {
		if deleted, _, _ := key(e); !deleted {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b T) int {
		_, atA, idA := key(a)
		_, atB, idB := key(b)
		return cmp.Or(atA.Compare(atB), strings.Compare(idA, idB))
	})
	return out
}
