// Package export turns one patient's data into files that leave BackCare:
// CSVs of pain logs, questionnaire responses and the clinic side for a
// spreadsheet, and a FHIR R4 Bundle for a clinic's record system. It is
// pure: the caller loads the records and sends the bytes.
package export

import (
	"cmp"
	"slices"
	"strings"

	"github.com/backcare/backcare/models"
)

// liveLogs returns the logs that are not tombstones, oldest first. Ties are
// broken by id, so the same logs always export in the same order whatever
// order the store returned them in.
func liveLogs(logs []models.PainLog) []models.PainLog {
	live := make([]models.PainLog, 0, len(logs))
	for _, l := range logs {
		if !l.Deleted {
			live = append(live, l)
		}
	}
	slices.SortFunc(live, func(a, b models.PainLog) int {
		return cmp.Or(a.LoggedAt.Compare(b.LoggedAt), strings.Compare(a.ID, b.ID))
	})
	return live
}

// liveResponses returns the questionnaire responses that are not
// tombstones, oldest first, ties broken by id as in liveLogs.
func liveResponses(responses []models.QuestionnaireResponse) []models.QuestionnaireResponse {
	live := make([]models.QuestionnaireResponse, 0, len(responses))
	for _, r := range responses {
		if !r.Deleted {
			live = append(live, r)
		}
	}
	slices.SortFunc(live, func(a, b models.QuestionnaireResponse) int {
		return cmp.Or(a.AnsweredAt.Compare(b.AnsweredAt), strings.Compare(a.ID, b.ID))
	})
	return live
}
