package export

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func intPtr(v int) *int { return &v }

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v\n%s", err, data)
	}
	return rows
}

func TestPainLogsCSVRoundTrip(t *testing.T) {
	berlin := mustLoadLocation(t, "Europe/Berlin")
	tricky := "Sore after \"the big\" lift, then rested;\nsecond line, with a comma"
	logs := []models.PainLog{
		{
			ID: "p1:22222222-2222-4222-8222-222222222222", PatientID: "p1",
			LoggedAt:  time.Date(2026, 3, 2, 7, 30, 15, 0, berlin),
			LocalDate: "2026-03-02", Score: 6,
			Areas:     []models.BodyArea{"neck", "lower_back"},
			Stiffness: intPtr(4), Stress: intPtr(0),
			Note:     tricky,
			RedFlags: []models.RedFlag{"fever", "leg_weakness"},
		},
		{
			ID: "p1:11111111-1111-4111-8111-111111111111", PatientID: "p1",
			LoggedAt:  time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC),
			LocalDate: "2026-03-01", Score: 0,
		},
		{
			ID: "p1:00000000-0000-4000-8000-000000000000", PatientID: "p1",
			LoggedAt: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC), Deleted: true,
		},
		{
			// Stored without a local date: it is dated in the patient's zone,
			// where 23:30 UTC is already the next day.
			ID: "p1:33333333-3333-4333-8333-333333333333", PatientID: "p1",
			LoggedAt: time.Date(2026, 3, 3, 23, 30, 0, 0, time.UTC), Score: 10,
			SleepQuality: intPtr(2),
		},
	}
	var buf bytes.Buffer
	if err := PainLogsCSV(&buf, logs, berlin); err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, buf.Bytes())
	want := [][]string{
		{"id", "logged_at", "local_date", "score", "areas", "stiffness", "sleep_quality", "stress", "note", "red_flags"},
		{"11111111-1111-4111-8111-111111111111", "2026-03-01T20:00:00Z", "2026-03-01", "0", "", "", "", "", "", ""},
		{"22222222-2222-4222-8222-222222222222", "2026-03-02T06:30:15Z", "2026-03-02", "6", "neck;lower_back", "4", "", "0", tricky, "fever;leg_weakness"},
		{"33333333-3333-4333-8333-333333333333", "2026-03-03T23:30:00Z", "2026-03-04", "10", "", "", "2", "", "", ""},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestPainLogsCSVEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := PainLogsCSV(&buf, nil, time.UTC); err != nil {
		t.Fatal(err)
	}
	if got := readCSV(t, buf.Bytes()); len(got) != 1 || got[0][0] != "id" {
		t.Errorf("rows = %q, want the header alone", got)
	}
}

func TestPainLogsCSVDefusesFormulas(t *testing.T) {
	tests := []struct{ note, want string }{
		{"=HYPERLINK(\"http://evil.example\",\"click\")", "'=HYPERLINK(\"http://evil.example\",\"click\")"},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(1+1)", "'@SUM(1+1)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"felt better = less pain", "felt better = less pain"},
		{"'quoted already", "'quoted already"},
		{"", ""},
	}
	for _, tt := range tests {
		logs := []models.PainLog{{
			ID: "p1:44444444-4444-4444-8444-444444444444", PatientID: "p1",
			LoggedAt: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), LocalDate: "2026-03-01", Note: tt.note,
		}}
		var buf bytes.Buffer
		if err := PainLogsCSV(&buf, logs, time.UTC); err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, buf.Bytes())
		if got := rows[1][8]; got != tt.want {
			t.Errorf("note %q: cell = %q, want %q", tt.note, got, tt.want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPainLogsCSVReportsWriteErrors(t *testing.T) {
	if err := PainLogsCSV(failingWriter{}, nil, time.UTC); err == nil {
		t.Error("PainLogsCSV returned no error for a failing writer")
	}
}

// careRecords is the clinic side of the FHIR fixture, as the store returns it.
func careRecords(t *testing.T) models.PatientRecords {
	in := bundleFixture(t)
	return models.PatientRecords{Patient: in.Patient, CareLinks: in.CareLinks, Notes: in.Notes, Screenings: in.Screenings, Clinics: in.Clinics, Staff: in.Staff}
}

func TestCareRecordCSV(t *testing.T) {
	r := careRecords(t)
	r.Notes[0].Summary = "=1+1 walk daily"
	var buf bytes.Buffer
	if err := CareRecordCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, buf.Bytes())
	want := [][]string{
		{"record", "id", "at", "clinic", "staff", "scope", "status", "revoked_at", "cleared_on", "self_attested", "text"},
		{"clearance", "sc1", "2026-02-05T18:00:00Z", "", "", "", "", "", "2026-02-05", "true", "Dr. Weber"},
		{"care_link", "link1", "2026-02-20T09:00:00Z", "Praxis Mitte", "Jo Kim", "view", "revoked", "2026-02-28T17:00:00Z", "", "", ""},
		{"care_link", "link2", "2026-03-01T08:30:00Z", "Praxis Mitte", "Jo Kim", "care", "active", "", "", "", ""},
		{"shared_note", "s1", "2026-03-02T12:00:00Z", "Praxis Mitte", "Jo Kim", "", "", "", "", "", "'=1+1 walk daily"},
		{"clearance", "sc2", "2026-03-03T10:00:00Z", "Praxis Mitte", "Jo Kim", "", "", "", "2026-03-03", "false", "Orthopaedic letter seen"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	for _, secret := range []string{"jo@praxis.example", "argon2id"} {
		if bytes.Contains(buf.Bytes(), []byte(secret)) {
			t.Errorf("the CSV contains %q", secret)
		}
	}

	t.Run("same rows whatever the store's order", func(t *testing.T) {
		shuffled := careRecords(t)
		shuffled.Notes[0].Summary = "=1+1 walk daily"
		slices.Reverse(shuffled.CareLinks)
		slices.Reverse(shuffled.Screenings)
		var again bytes.Buffer
		if err := CareRecordCSV(&again, shuffled); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Errorf("the order of the records changed the file:\n%s\n%s", buf.Bytes(), again.Bytes())
		}
	})
	t.Run("a note not shared stays out", func(t *testing.T) {
		r := careRecords(t)
		r.Notes[0].Shared = false
		var b bytes.Buffer
		if err := CareRecordCSV(&b, r); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b.Bytes(), []byte("shared_note")) {
			t.Errorf("an unshared note is in the file:\n%s", b.Bytes())
		}
	})
	t.Run("accounts gone: named as written", func(t *testing.T) {
		r := careRecords(t)
		r.Clinics, r.Staff = nil, nil
		var b bytes.Buffer
		if err := CareRecordCSV(&b, r); err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, b.Bytes())
		if rows[4][4] != "Jo Kim" || rows[5][4] != "Jo Kim" || rows[2][4] != "" {
			t.Errorf("rows = %q: the note and clearance keep their author, the link has none to show", rows)
		}
	})
}

func TestCareRecordCSVEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := CareRecordCSV(&buf, models.PatientRecords{}); err != nil {
		t.Fatal(err)
	}
	if got := readCSV(t, buf.Bytes()); len(got) != 1 || got[0][0] != "record" {
		t.Errorf("rows = %q, want the header alone", got)
	}
	if err := CareRecordCSV(failingWriter{}, models.PatientRecords{}); err == nil {
		t.Error("CareRecordCSV returned no error for a failing writer")
	}
}

func TestQuestionnaireResponsesCSV(t *testing.T) {
	in := bundleFixture(t)
	var buf bytes.Buffer
	if err := QuestionnaireResponsesCSV(&buf, in.Responses); err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, buf.Bytes())
	want := [][]string{
		{"id", "questionnaire", "answered_at", "local_date", "pain", "enjoyment", "activity", "score"},
		{"44444444-4444-4444-8444-444444444444", "peg3", "2026-03-01T19:00:00Z", "2026-03-01", "7", "6", "6", "6.33"},
		{"55555555-5555-4555-8555-555555555555", "peg3", "2026-03-08T08:00:00Z", "2026-03-08", "4", "5", "6", "5"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	if bytes.Contains(buf.Bytes(), []byte("66666666-6666-4666-8666-666666666666")) {
		t.Error("the deleted response is in the file")
	}

	t.Run("same rows whatever the store's order", func(t *testing.T) {
		shuffled := bundleFixture(t).Responses
		slices.Reverse(shuffled)
		var again bytes.Buffer
		if err := QuestionnaireResponsesCSV(&again, shuffled); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Errorf("the order of the responses changed the file:\n%s\n%s", buf.Bytes(), again.Bytes())
		}
	})
	t.Run("a questionnaire not in the catalog", func(t *testing.T) {
		responses := bundleFixture(t).Responses
		responses[0].Questionnaire = "odi"
		if err := QuestionnaireResponsesCSV(&bytes.Buffer{}, responses); err == nil {
			t.Error("no error for answers that have no column")
		}
	})
}

func TestQuestionnaireResponsesCSVEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := QuestionnaireResponsesCSV(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := readCSV(t, buf.Bytes()); len(got) != 1 || got[0][0] != "id" {
		t.Errorf("rows = %q, want the header alone", got)
	}
	if err := QuestionnaireResponsesCSV(failingWriter{}, nil); err == nil {
		t.Error("QuestionnaireResponsesCSV returned no error for a failing writer")
	}
}

// TestQuestionnaireResponseColumnsAreDistinct: an item's column is named
// by its id alone, so an instrument added to the catalog must not reuse an
// item id another one has, or a column of the response itself.
func TestQuestionnaireResponseColumnsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range responseColumns() {
		if seen[c] {
			t.Errorf("column %q is named twice", c)
		}
		seen[c] = true
	}
}
