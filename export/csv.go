package export

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// painLogColumns is the CSV header row.
var painLogColumns = []string{
	"id", "logged_at", "local_date", "score", "areas",
	"stiffness", "sleep_quality", "stress", "note", "red_flags",
}

// PainLogsCSV writes the live pain logs (tombstones left out) as CSV with a
// header row, oldest first. id is the UUID the phone chose; logged_at is RFC
// 3339 in UTC; local_date is the patient's calendar date stored with the log,
// and loc, the patient's time zone, dates a log stored without one. Lists are
// joined with semicolons so that each stays one cell, and an unset rating is
// an empty cell. A note that starts like a spreadsheet formula gets a single
// quote in front (OWASP's advice against CSV injection).
func PainLogsCSV(w io.Writer, logs []models.PainLog, loc *time.Location) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(painLogColumns); err != nil {
		return err
	}
	for _, l := range liveLogs(logs) {
		localDate := l.LocalDate
		if localDate == "" {
			localDate = models.LocalDateOf(l.LoggedAt, loc)
		}
		row := []string{
			l.ClientID(),
			l.LoggedAt.UTC().Format(time.RFC3339),
			localDate,
			strconv.Itoa(l.Score),
			joinValues(l.Areas),
			rating(l.Stiffness),
			rating(l.SleepQuality),
			rating(l.Stress),
			defuseFormula(l.Note),
			joinValues(l.RedFlags),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// formulaStarts are the first characters that make Excel, LibreOffice Calc
// or Google Sheets treat a cell as a formula (OWASP, "CSV Injection").
const formulaStarts = "=+-@\t\r"

// defuseFormula prefixes text that starts like a formula with a single
// quote, which spreadsheets read as "this cell is text". A note is typed
// freely, and whoever opens the export — the patient or their clinician —
// must not have "=HYPERLINK(...)" or a DDE command run on their machine.
func defuseFormula(s string) string {
	if s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func rating(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

func joinValues[T ~string](values []T) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ";")
}
