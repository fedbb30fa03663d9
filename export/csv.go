package export

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
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

// responseColumns is the header row of the questionnaire responses' CSV:
// the response, then every item of every instrument of the catalog, in
// catalog order, then the score.
func responseColumns() []string {
	cols := []string{"id", "questionnaire", "answered_at", "local_date"}
	for _, q := range models.Questionnaires {
		for _, it := range q.Items {
			cols = append(cols, it.ID)
		}
	}
	return append(cols, "score")
}

// QuestionnaireResponsesCSV writes the live questionnaire responses
// (tombstones left out) as CSV with a header row, oldest first: one row
// per response and one column per item, named by the item's id and holding
// its answer, so that a spreadsheet can chart each question over time. One
// table for every instrument, as CareRecordCSV is one for every kind of
// record: a column that is not an item of the row's instrument is an empty
// cell. id is the UUID the phone chose, answered_at RFC 3339 in UTC,
// local_date the patient's date stored with the response, and score the
// server's. Nothing in a row is free text, so there is no formula to
// defuse. A response to an instrument the catalog does not have is an
// error: its answers would have no column.
func QuestionnaireResponsesCSV(w io.Writer, responses []models.QuestionnaireResponse) error {
	cols := responseColumns()
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	for _, r := range liveResponses(responses) {
		q, ok := models.LookupQuestionnaire(r.Questionnaire)
		if !ok {
			return fmt.Errorf("export: response %s answers unknown questionnaire %q", r.ID, r.Questionnaire)
		}
		row := make([]string, len(cols))
		row[0], row[1], row[2], row[3] = r.ClientID(), r.Questionnaire, r.AnsweredAt.UTC().Format(time.RFC3339), r.LocalDate
		for _, it := range q.Items {
			if v, ok := r.Answers[it.ID]; ok {
				row[slices.Index(cols, it.ID)] = strconv.Itoa(v)
			}
		}
		row[len(row)-1] = strconv.FormatFloat(r.Score, 'f', -1, 64)
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

// careRecordColumns is the header row of the clinic side's CSV.
var careRecordColumns = []string{
	"record", "id", "at", "clinic", "staff", "scope", "status", "revoked_at", "cleared_on", "self_attested", "text",
}

// Record kinds of the clinic side's CSV.
const (
	recordCareLink   = "care_link"
	recordSharedNote = "shared_note"
	recordClearance  = "clearance"
)

// CareRecordCSV writes the clinic side of the patient's record as CSV with
// a header row: one row per care link, per session note shared with the
// patient and per provider clearance, by when each happened (at: a link's
// creation, a note's last edit, a clearance's recording; RFC 3339 in UTC).
// One table rather than three, so that it reads as the history of the
// patient's care with clinics; the record column tells the kinds apart and
// a column that does not apply to a kind is an empty cell.
//
//   - care_link: id is the link's; staff is who made or took the code;
//     scope is view or care, status active or revoked, and revoked_at when
//     the patient (or the account's erasure) ended it.
//   - shared_note: id is the session's; staff wrote it; text is the summary
//     the patient was shown, which is all of the note that is theirs.
//   - clearance: id is the screening's; cleared_on is the provider's date;
//     self_attested is true when the patient recorded it themselves, false
//     when a clinic's staff member did (staff and clinic then name them);
//     text is the clearance's note.
//
// Clinics are named from records.Clinics; staff as the note or clearance
// wrote them, else from records.Staff. Free text is defused as in
// PainLogsCSV.
func CareRecordCSV(w io.Writer, r models.PatientRecords) error {
	clinics := map[string]string{}
	for _, c := range r.Clinics {
		clinics[c.ID] = c.Name
	}
	staff := map[string]string{}
	for _, st := range r.Staff {
		staff[st.ID] = st.Name
	}
	// A note or clearance names its author as they were when they wrote
	// it, which is what the patient was shown.
	named := func(names map[string]string, id, written string) string { return cmp.Or(written, names[id]) }
	type row struct {
		at    time.Time
		cells []string
	}
	var rows []row
	add := func(at time.Time, kind, id, clinic, staff, scope, status, revokedAt, clearedOn, selfAttested, text string) {
		rows = append(rows, row{at, []string{kind, id, at.UTC().Format(time.RFC3339), defuseFormula(clinic), defuseFormula(staff),
			scope, status, revokedAt, clearedOn, selfAttested, defuseFormula(text)}})
	}
	for _, l := range r.CareLinks {
		revoked := ""
		if l.RevokedAt != nil {
			revoked = l.RevokedAt.UTC().Format(time.RFC3339)
		}
		add(l.CreatedAt, recordCareLink, l.ID, clinics[l.ClinicID], staff[l.LinkedBy], string(l.Scope), string(l.Status), revoked, "", "", "")
	}
	for _, n := range r.Notes {
		if !n.Shared {
			continue
		}
		add(n.UpdatedAt, recordSharedNote, n.ID, clinics[n.ClinicID], named(staff, n.AuthorID, n.AuthorName), "", "", "", "", "", n.Summary)
	}
	for _, sc := range r.Screenings {
		cl := sc.Clearance
		if cl == nil {
			continue
		}
		clinic, by := "", ""
		if !cl.SelfAttested() {
			clinic, by = clinics[cl.ClinicID], named(staff, cl.StaffID, cl.StaffName)
		}
		add(cl.RecordedAt, recordClearance, sc.ID, clinic, by, "", "", "", cl.Date, strconv.FormatBool(cl.SelfAttested()), cl.Note)
	}
	// By time, then kind and id: the same record always gives the same file.
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.cells[0], b.cells[0]), strings.Compare(a.cells[1], b.cells[1]))
	})
	cw := csv.NewWriter(w)
	if err := cw.Write(careRecordColumns); err != nil {
		return err
	}
	for _, rw := range rows {
		if err := cw.Write(rw.cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
