// Package export turns one patient's data into files that leave BackCare: a
// CSV of pain logs for a spreadsheet, and a FHIR R4 Bundle for a clinic's
// record system. It is pure: the caller loads the records and sends the bytes.
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
