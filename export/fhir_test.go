package export

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

var exportedAt = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// bundleFixture is a patient in Berlin with a plan in its initial phase, a
// session of each status (one outside the plan, one across the switch to
// summer time), pain logs with one, several and no areas, one deleted,
// and two PEGs, after one deleted.
// On the clinic side, the patient linked Praxis Mitte for viewing, revoked
// that and linked it again for care; its therapist Jo Kim shared a summary
// of the completed session and recorded a clearance, after an earlier one
// the patient recorded themselves.
func bundleFixture(t *testing.T) BundleInput {
	t.Helper()
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	patient := models.NewPatient("p1", "anna@example.com", "Anna Muster", "Europe/Berlin", created)
	patient.Locale = "de-DE"
	patient.PasswordHash = "$argon2id$secret"
	plan, err := models.NewPlan("plan1", "p1", "2026-03-02", models.DefaultCadence(time.Monday), false, created)
	if err != nil {
		t.Fatal(err)
	}
	return BundleInput{
		Patient: patient,
		Logs: []models.PainLog{
			{
				ID: "p1:22222222-2222-4222-8222-222222222222", PatientID: "p1",
				LoggedAt: time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC), LocalDate: "2026-03-02", Score: 6,
				Areas:     []models.BodyArea{"neck", "lower_back"},
				Stiffness: intPtr(4), Stress: intPtr(0),
				Note:     "Tom & Jerry <3, \"quoted\"",
				RedFlags: []models.RedFlag{"fever"},
			},
			{
				ID: "p1:11111111-1111-4111-8111-111111111111", PatientID: "p1",
				LoggedAt: time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC), LocalDate: "2026-03-01", Score: 3,
				Areas: []models.BodyArea{"lower_back"},
			},
			{
				ID: "p1:00000000-0000-4000-8000-000000000000", PatientID: "p1",
				LoggedAt: time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC), Deleted: true,
			},
			{
				ID: "p1:33333333-3333-4333-8333-333333333333", PatientID: "p1",
				LoggedAt: time.Date(2026, 3, 5, 19, 0, 0, 0, time.UTC), LocalDate: "2026-03-05", Score: 0,
				Areas: []models.BodyArea{"upper_back"},
			},
		},
		Responses: []models.QuestionnaireResponse{
			pegResponse(patient, "55555555-5555-4555-8555-555555555555", time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC), 4, 5, 6),
			pegResponse(patient, "44444444-4444-4444-8444-444444444444", time.Date(2026, 3, 1, 19, 0, 0, 0, time.UTC), 7, 6, 6),
			{
				ID: "p1:66666666-6666-4666-8666-666666666666", PatientID: "p1", Questionnaire: models.QuestionnairePEG3,
				AnsweredAt: time.Date(2026, 2, 25, 8, 0, 0, 0, time.UTC), Deleted: true,
			},
		},
		Sessions: []models.Session{
			{
				ID: "s3", PatientID: "p1", PlanID: "plan1", Status: models.SessionScheduled,
				ScheduledAt: time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), DurationMinutes: 90,
			},
			{
				ID: "s1", PatientID: "p1", PlanID: "plan1", Status: models.SessionCompleted,
				ScheduledAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), DurationMinutes: 60,
				Therapist: "Jo Kim", Clinic: "Praxis Mitte",
				Feedback: &models.SessionFeedback{PressureFelt: 3, SorenessAfter: 4, Note: "sore & tired"},
			},
			{
				ID: "s2", PatientID: "p1", PlanID: "plan1", Status: models.SessionMissed,
				ScheduledAt: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC), DurationMinutes: 60,
			},
			{
				ID: "s4", PatientID: "p1", Status: models.SessionCancelled,
				ScheduledAt: time.Date(2026, 3, 20, 15, 0, 0, 0, time.UTC), DurationMinutes: 60,
			},
		},
		Plan: &plan,
		CareLinks: []models.CareLink{
			{
				ID: "link2", PatientID: "p1", ClinicID: "c1", LinkedBy: "st1", Scope: models.ScopeCare, Status: models.LinkActive,
				CreatedAt: time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC),
			},
			{
				ID: "link1", PatientID: "p1", ClinicID: "c1", LinkedBy: "st1", Scope: models.ScopeView, Status: models.LinkRevoked,
				CreatedAt: time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC), RevokedAt: timePtr(time.Date(2026, 2, 28, 17, 0, 0, 0, time.UTC)), RevokedBy: "patient",
			},
		},
		Notes: []models.SessionNote{{
			ID: "s1", PatientID: "p1", ClinicID: "c1",
			NoteContent: models.NoteContent{Shared: true, Summary: "Walk 20 minutes a day & stretch <gently>."},
			AuthorID:    "st1", AuthorName: "Jo Kim",
			CreatedAt: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC),
		}},
		Screenings: []models.Screening{
			{
				ID: "sc2", PatientID: "p1", Answers: answers(models.RecentFracture, models.SevereOsteoporosis), TakenAt: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC),
				Clearance: &models.Clearance{
					Date: "2026-03-03", Note: "Orthopaedic letter seen", RecordedAt: time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC),
					By: models.ClearedByStaff, StaffID: "st1", StaffName: "Jo Kim", ClinicID: "c1",
				},
			},
			{
				ID: "sc1", PatientID: "p1", Answers: answers(models.HeartCondition), TakenAt: time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC),
				Clearance: &models.Clearance{Date: "2026-02-05", Note: "Dr. Weber", RecordedAt: time.Date(2026, 2, 5, 18, 0, 0, 0, time.UTC), By: models.ClearedByPatient},
			},
			{ID: "sc0", PatientID: "p1", Answers: answers(), TakenAt: time.Date(2026, 1, 10, 7, 0, 0, 0, time.UTC)},
		},
		Clinics: []models.Clinic{{ID: "c1", Name: "Praxis Mitte", Timezone: "Europe/Berlin"}},
		Staff: []models.Staff{{
			ID: "st1", ClinicID: "c1", Email: "jo@praxis.example", PasswordHash: "$argon2id$staffsecret",
			Name: "Jo Kim", Role: models.RoleTherapist, Active: true,
		}},
		Generated: exportedAt,
		BaseURL:   "https://api.backcare.example/",
	}
}

func timePtr(t time.Time) *time.Time { return &t }

// pegResponse is the patient's PEG, answered at at and scored and dated as
// the server does it.
func pegResponse(p models.Patient, clientID string, at time.Time, pain, enjoyment, activity int) models.QuestionnaireResponse {
	r := models.QuestionnaireResponse{
		ID: models.PainLogDocID(p.ID, clientID), PatientID: p.ID, Questionnaire: models.QuestionnairePEG3, AnsweredAt: at,
		Answers: map[string]int{"pain": pain, "enjoyment": enjoyment, "activity": activity}, CreatedAt: at, UpdatedAt: at,
	}
	r.Finish(p.Location())
	return r
}

// answers is a complete questionnaire with yes for the items given.
func answers(yes ...models.Contraindication) map[models.Contraindication]bool {
	a := map[models.Contraindication]bool{}
	for _, c := range models.Contraindications {
		a[c] = slices.Contains(yes, c)
	}
	return a
}

func mustBundle(t *testing.T, in BundleInput) []byte {
	t.Helper()
	data, err := FHIRBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, problems := checkR4Bundle(data); len(problems) > 0 {
		t.Fatalf("not valid R4:\n  %s\n%s", strings.Join(problems, "\n  "), data)
	}
	return data
}

// decodedEntry is an entry read back into the package's own types.
type decodedEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

func decodeEntries(t *testing.T, data []byte) []decodedEntry {
	t.Helper()
	var b struct {
		Entry []decodedEntry `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	return b.Entry
}

// resourcesOf returns the bundle's resources of one type, in order, and
// their fullUrls.
func resourcesOf[T any](t *testing.T, data []byte, kind string) ([]T, []string) {
	t.Helper()
	var out []T
	var urls []string
	for _, e := range decodeEntries(t, data) {
		var head struct{ ResourceType string }
		if err := json.Unmarshal(e.Resource, &head); err != nil {
			t.Fatal(err)
		}
		if head.ResourceType != kind {
			continue
		}
		var r T
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		urls = append(urls, e.FullURL)
	}
	return out, urls
}

func TestFHIRBundleIsValidR4(t *testing.T) {
	maintenance := func(in *BundleInput) {
		in.Plan.ApplyCompletion(6, exportedAt, time.UTC)
		c := in.Plan.Cadences[0].Cadence
		c.MaintenanceWeeks, c.MaintenanceMonthly = 0, true
		in.Plan.Cadences[0].Cadence = c
	}
	tests := []struct {
		name   string
		change func(*BundleInput)
	}{
		{"everything", func(*BundleInput) {}},
		{"patient alone", func(in *BundleInput) {
			in.Logs, in.Responses, in.Sessions, in.Plan = nil, nil, nil, nil
			in.CareLinks, in.Notes, in.Screenings, in.Clinics, in.Staff = nil, nil, nil, nil, nil
		}},
		{"no clinic side", func(in *BundleInput) {
			in.CareLinks, in.Notes, in.Screenings, in.Clinics, in.Staff = nil, nil, nil, nil, nil
		}},
		// The note and the clearance still name their author, and the
		// link its clinic, when the accounts are gone.
		{"clinic and staff accounts gone", func(in *BundleInput) { in.Clinics, in.Staff = nil, nil }},
		{"therapist deactivated", func(in *BundleInput) { in.Staff[0].Active = false }},
		{"note on a session not in the bundle", func(in *BundleInput) { in.Sessions = in.Sessions[:1] }},
		{"staff clearance without a staff id", func(in *BundleInput) { in.Screenings[0].Clearance.StaffID = "" }},
		{"clearance stored before clinics, with no by", func(in *BundleInput) { in.Screenings[1].Clearance.By = "" }},
		{"summary and clearance note with control characters", func(in *BundleInput) {
			in.Notes[0].Summary = "walk\x00 daily\x1b"
			in.Screenings[0].Clearance.Note = "\x07"
		}},
		{"no plan", func(in *BundleInput) { in.Plan = nil }},
		{"no questionnaire responses", func(in *BundleInput) { in.Responses = nil }},
		{"only a deleted questionnaire response", func(in *BundleInput) { in.Responses = in.Responses[2:] }},
		{"PEG of all zeros and of all tens", func(in *BundleInput) {
			in.Responses[0] = pegResponse(in.Patient, "55555555-5555-4555-8555-555555555555", in.Responses[0].AnsweredAt, 0, 0, 0)
			in.Responses[1] = pegResponse(in.Patient, "44444444-4444-4444-8444-444444444444", in.Responses[1].AnsweredAt, 10, 10, 10)
		}},
		{"plan without sessions", func(in *BundleInput) { in.Sessions = nil }},
		{"monthly maintenance", maintenance},
		{"notes with control characters", func(in *BundleInput) {
			in.Logs[0].Note = "line\x00one\r\nline\ttwo\x1b"
			in.Logs[1].Note = "\x07"
			in.Sessions[1].Feedback.Note = "\x01"
		}},
		{"completed plan", func(in *BundleInput) {
			if err := in.Plan.Complete(exportedAt); err != nil {
				t.Fatal(err)
			}
		}},
		{"patient with an unusual id and no locale", func(in *BundleInput) {
			in.Patient.ID, in.Patient.Locale = "a/b c", ""
			for i := range in.Logs {
				in.Logs[i].PatientID = in.Patient.ID
				in.Logs[i].ID = models.PainLogDocID(in.Patient.ID, strings.TrimPrefix(in.Logs[i].ID, "p1:"))
			}
			for i := range in.Responses {
				in.Responses[i].PatientID = in.Patient.ID
				in.Responses[i].ID = models.PainLogDocID(in.Patient.ID, strings.TrimPrefix(in.Responses[i].ID, "p1:"))
			}
			for i := range in.Sessions {
				in.Sessions[i].PatientID = in.Patient.ID
			}
			for i := range in.CareLinks {
				in.CareLinks[i].PatientID = in.Patient.ID
			}
			for i := range in.Notes {
				in.Notes[i].PatientID = in.Patient.ID
			}
			for i := range in.Screenings {
				in.Screenings[i].PatientID = in.Patient.ID
			}
			in.Plan.PatientID = in.Patient.ID
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bundleFixture(t)
			tt.change(&in)
			mustBundle(t, in)
		})
	}
}

// TestR4CheckerCatchesViolations makes sure the checker is not vacuous:
// each broken copy of a valid bundle must be reported.
func TestR4CheckerCatchesViolations(t *testing.T) {
	valid := mustBundle(t, bundleFixture(t))
	resource := func(doc map[string]any, kind string) map[string]any {
		for _, e := range doc["entry"].([]any) {
			if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == kind {
				return r
			}
		}
		t.Fatalf("no %s", kind)
		return nil
	}
	fullURLOf := func(doc map[string]any, kind string) string {
		for _, e := range doc["entry"].([]any) {
			if e.(map[string]any)["resource"].(map[string]any)["resourceType"] == kind {
				return e.(map[string]any)["fullUrl"].(string)
			}
		}
		t.Fatalf("no %s", kind)
		return ""
	}
	formItem := func(doc map[string]any, i int) map[string]any {
		return resource(doc, "Questionnaire")["item"].([]any)[i].(map[string]any)
	}
	responseItem := func(doc map[string]any, i int) map[string]any {
		return resource(doc, "QuestionnaireResponse")["item"].([]any)[i].(map[string]any)
	}
	responseAnswer := func(doc map[string]any) map[string]any {
		return responseItem(doc, 0)["answer"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name    string
		corrupt func(doc map[string]any)
	}{
		{"bundle type", func(d map[string]any) { d["type"] = "document" }},
		{"timestamp without zone", func(d map[string]any) { d["timestamp"] = "2026-04-01T12:00:00" }},
		{"missing fullUrl", func(d map[string]any) { delete(d["entry"].([]any)[1].(map[string]any), "fullUrl") }},
		{"dangling reference", func(d map[string]any) {
			resource(d, "Observation")["subject"] = map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}
		}},
		{"second patient", func(d map[string]any) {
			d["entry"] = append(d["entry"].([]any), map[string]any{
				"fullUrl":  "urn:uuid:00000000-0000-4000-8000-000000000001",
				"resource": map[string]any{"resourceType": "Patient"},
			})
		}},
		{"observation without status", func(d map[string]any) { delete(resource(d, "Observation"), "status") }},
		{"observation without LOINC", func(d map[string]any) {
			resource(d, "Observation")["code"] = map[string]any{"text": "pain"}
		}},
		{"score above 10", func(d map[string]any) { resource(d, "Observation")["valueInteger"] = json.Number("11") }},
		{"score as decimal", func(d map[string]any) { resource(d, "Observation")["valueInteger"] = json.Number("2.5") }},
		{"bodySite as array", func(d map[string]any) {
			o := resource(d, "Observation")
			o["bodySite"] = []any{o["bodySite"]}
		}},
		{"effectiveDateTime not a date", func(d map[string]any) { resource(d, "Observation")["effectiveDateTime"] = "yesterday" }},
		{"appointment status", func(d map[string]any) { resource(d, "Appointment")["status"] = "scheduled" }},
		{"participant without status", func(d map[string]any) {
			delete(resource(d, "Appointment")["participant"].([]any)[0].(map[string]any), "status")
		}},
		{"end before start", func(d map[string]any) {
			a := resource(d, "Appointment")
			a["end"] = a["start"].(string)[:11] + "00:00:00+01:00"
		}},
		{"start without end", func(d map[string]any) { delete(resource(d, "Appointment"), "end") }},
		{"careplan without intent", func(d map[string]any) { delete(resource(d, "CarePlan"), "intent") }},
		{"careplan subject", func(d map[string]any) {
			p := resource(d, "CarePlan")
			p["subject"] = p["activity"].([]any)[2].(map[string]any)["reference"]
		}},
		{"activity with reference and detail", func(d map[string]any) {
			acts := resource(d, "CarePlan")["activity"].([]any)
			acts[2].(map[string]any)["detail"] = acts[0].(map[string]any)["detail"]
		}},
		{"organization without name or identifier", func(d map[string]any) {
			o := resource(d, "Organization")
			delete(o, "name")
			delete(o, "identifier")
		}},
		{"organization type code", func(d map[string]any) {
			resource(d, "Organization")["type"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] = "clinic"
		}},
		{"practitioner active as text", func(d map[string]any) { resource(d, "Practitioner")["active"] = "yes" }},
		{"role's organization is a practitioner", func(d map[string]any) {
			r := resource(d, "PractitionerRole")
			r["organization"] = r["practitioner"]
		}},
		{"consent status", func(d map[string]any) { resource(d, "Consent")["status"] = "revoked" }},
		{"consent without policy", func(d map[string]any) { delete(resource(d, "Consent"), "policyRule") }},
		{"consent without patient", func(d map[string]any) { delete(resource(d, "Consent"), "patient") }},
		{"consent scope", func(d map[string]any) {
			resource(d, "Consent")["scope"] = map[string]any{"text": "clinic access"}
		}},
		{"consent without category", func(d map[string]any) { delete(resource(d, "Consent"), "category") }},
		{"consent period ends before it starts", func(d map[string]any) {
			p := resource(d, "Consent")["provision"].(map[string]any)["period"].(map[string]any)
			p["end"] = "2026-01-01T00:00:00+01:00"
		}},
		{"consent actor is an appointment", func(d map[string]any) {
			actor := resource(d, "Consent")["provision"].(map[string]any)["actor"].([]any)[0].(map[string]any)
			actor["reference"] = resource(d, "Communication")["about"].([]any)[0]
		}},
		{"consent actor without role", func(d map[string]any) {
			delete(resource(d, "Consent")["provision"].(map[string]any)["actor"].([]any)[0].(map[string]any), "role")
		}},
		{"consent provision type", func(d map[string]any) { resource(d, "Consent")["provision"].(map[string]any)["type"] = "allow" }},
		{"communication status", func(d map[string]any) { resource(d, "Communication")["status"] = "sent" }},
		{"communication without payload", func(d map[string]any) { delete(resource(d, "Communication"), "payload") }},
		{"communication payload with two contents", func(d map[string]any) {
			resource(d, "Communication")["payload"].([]any)[0].(map[string]any)["contentReference"] = map[string]any{"display": "x"}
		}},
		{"communication sender is a consent", func(d map[string]any) {
			m := resource(d, "Communication")
			for _, e := range d["entry"].([]any) {
				if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "Consent" {
					m["sender"] = map[string]any{"reference": e.(map[string]any)["fullUrl"]}
				}
			}
		}},
		{"communication sent not a date", func(d map[string]any) { resource(d, "Communication")["sent"] = "after the session" }},
		{"clearance value as text", func(d map[string]any) { clearance(t, d)["valueBoolean"] = "yes" }},
		{"clearance without performer", func(d map[string]any) { delete(clearance(t, d), "performer") }},
		{"clearance issued without zone", func(d map[string]any) { clearance(t, d)["issued"] = "2026-03-03T10:00:00" }},
		{"clearance with a second value", func(d map[string]any) { clearance(t, d)["valueString"] = "cleared" }},
		{"questionnaire without status", func(d map[string]any) { delete(resource(d, "Questionnaire"), "status") }},
		{"questionnaire url not absolute", func(d map[string]any) { resource(d, "Questionnaire")["url"] = "questionnaires/peg3" }},
		{"questionnaire without items", func(d map[string]any) { delete(resource(d, "Questionnaire"), "item") }},
		{"questionnaire item type", func(d map[string]any) { formItem(d, 0)["type"] = "number" }},
		{"questionnaire linkId twice", func(d map[string]any) { formItem(d, 1)["linkId"] = "pain" }},
		{"integer item without its range", func(d map[string]any) { delete(formItem(d, 0), "extension") }},
		{"integer item's range as decimals", func(d map[string]any) {
			for _, e := range formItem(d, 0)["extension"].([]any) {
				m := e.(map[string]any)
				m["valueDecimal"] = m["valueInteger"]
				delete(m, "valueInteger")
			}
		}},
		{"integer item's range reversed", func(d map[string]any) {
			formItem(d, 0)["extension"].([]any)[0].(map[string]any)["valueInteger"] = json.Number("11")
		}},
		{"extension without url", func(d map[string]any) { delete(formItem(d, 0)["extension"].([]any)[0].(map[string]any), "url") }},
		{"extension with a value and extensions", func(d map[string]any) {
			e := formItem(d, 0)["extension"].([]any)[0].(map[string]any)
			e["extension"] = []any{map[string]any{"url": "http://example.org/x", "valueString": "x"}}
		}},
		{"response status", func(d map[string]any) { resource(d, "QuestionnaireResponse")["status"] = "final" }},
		{"response to no questionnaire of the bundle", func(d map[string]any) {
			resource(d, "QuestionnaireResponse")["questionnaire"] = "https://elsewhere.example/questionnaires/peg3"
		}},
		{"response subject is the questionnaire", func(d map[string]any) {
			resource(d, "QuestionnaireResponse")["subject"] = map[string]any{"reference": fullURLOf(d, "Questionnaire")}
		}},
		{"response source is a clinic", func(d map[string]any) {
			resource(d, "QuestionnaireResponse")["source"] = map[string]any{"reference": fullURLOf(d, "Organization")}
		}},
		{"response authored not a date", func(d map[string]any) { resource(d, "QuestionnaireResponse")["authored"] = "Sunday" }},
		{"response identifier as a list", func(d map[string]any) {
			r := resource(d, "QuestionnaireResponse")
			r["identifier"] = []any{r["identifier"]}
		}},
		{"response item not in the form", func(d map[string]any) { responseItem(d, 0)["linkId"] = "sleep" }},
		{"response item answered twice", func(d map[string]any) { responseItem(d, 1)["linkId"] = "pain" }},
		{"response leaves a required item unanswered", func(d map[string]any) {
			r := resource(d, "QuestionnaireResponse")
			r["item"] = r["item"].([]any)[:2]
		}},
		{"response item with answers and items", func(d map[string]any) {
			responseItem(d, 0)["item"] = []any{map[string]any{"linkId": "nested"}}
		}},
		{"response text not the form's", func(d map[string]any) { responseItem(d, 0)["text"] = "How bad is it?" }},
		{"answer out of range", func(d map[string]any) { responseAnswer(d)["valueInteger"] = json.Number("11") }},
		{"answer as decimal", func(d map[string]any) { responseAnswer(d)["valueInteger"] = json.Number("6.5") }},
		{"answer with two values", func(d map[string]any) { responseAnswer(d)["valueString"] = "six" }},
		{"score without derivedFrom", func(d map[string]any) { delete(pegScore(t, d), "derivedFrom") }},
		{"score derived from a pain score", func(d map[string]any) {
			pegScore(t, d)["derivedFrom"] = []any{map[string]any{"reference": fullURLOf(d, "Observation")}}
		}},
		{"score derived from an appointment", func(d map[string]any) {
			o := pegScore(t, d)
			o["derivedFrom"] = append(o["derivedFrom"].([]any), map[string]any{"reference": fullURLOf(d, "Appointment")})
		}},
		{"score without UCUM", func(d map[string]any) { delete(pegScore(t, d)["valueQuantity"].(map[string]any), "system") }},
		{"score in another unit", func(d map[string]any) { pegScore(t, d)["valueQuantity"].(map[string]any)["code"] = "%" }},
		{"score above the items' range", func(d map[string]any) {
			pegScore(t, d)["valueQuantity"].(map[string]any)["value"] = json.Number("10.5")
		}},
		{"score as text", func(d map[string]any) { pegScore(t, d)["valueQuantity"].(map[string]any)["value"] = "6.33" }},
		{"score with a second value", func(d map[string]any) { pegScore(t, d)["valueInteger"] = json.Number("6") }},
		{"score not a survey", func(d map[string]any) { delete(pegScore(t, d), "category") }},
		{"empty string", func(d map[string]any) { resource(d, "Appointment")["comment"] = "" }},
		{"empty array", func(d map[string]any) { resource(d, "Observation")["note"] = []any{} }},
		{"control character", func(d map[string]any) { resource(d, "Appointment")["description"] = "massage\x07" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := decodeFHIR(valid)
			if err != nil {
				t.Fatal(err)
			}
			tt.corrupt(doc)
			broken, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, problems := checkR4Bundle(broken); len(problems) == 0 {
				t.Error("the checker found nothing wrong")
			}
		})
	}
}

// pegScore returns the bundle's first Observation of a PEG score.
func pegScore(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	for _, e := range doc["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == "Observation" && hasCoding(r["code"], systemLOINC, "91147-9") {
			return r
		}
	}
	t.Fatal("no PEG score")
	return nil
}

// clearance returns the bundle's last Observation, a clearance.
func clearance(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	var last map[string]any
	for _, e := range doc["entry"].([]any) {
		if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "Observation" {
			last = r
		}
	}
	if code, _ := last["code"].(map[string]any); code["text"] != clearanceCode {
		t.Fatalf("the last Observation is not a clearance: %v", last)
	}
	return last
}

func TestFHIRBundleIsReproducible(t *testing.T) {
	first := mustBundle(t, bundleFixture(t))
	if again := mustBundle(t, bundleFixture(t)); !bytes.Equal(first, again) {
		t.Error("the same input gave different bytes")
	}

	shuffled := bundleFixture(t)
	slices.Reverse(shuffled.Logs)
	slices.Reverse(shuffled.Responses)
	slices.Reverse(shuffled.Sessions)
	slices.Reverse(shuffled.CareLinks)
	slices.Reverse(shuffled.Screenings)
	// A second clinic and staff member, so that their order is tested.
	for _, in := range []*BundleInput{&shuffled} {
		in.Clinics = append(in.Clinics, models.Clinic{ID: "c0", Name: "Aaron's Massage"})
		in.Staff = append(in.Staff, models.Staff{ID: "st0", ClinicID: "c0", Name: "Ada Lee", Role: models.RoleOwner, Active: true})
	}
	ordered := bundleFixture(t)
	ordered.Clinics = append([]models.Clinic{{ID: "c0", Name: "Aaron's Massage"}}, ordered.Clinics...)
	ordered.Staff = append([]models.Staff{{ID: "st0", ClinicID: "c0", Name: "Ada Lee", Role: models.RoleOwner, Active: true}}, ordered.Staff...)
	if a, b := mustBundle(t, ordered), mustBundle(t, shuffled); !bytes.Equal(a, b) {
		t.Error("the order of the clinics and staff changed the output")
	}
	shuffled = bundleFixture(t)
	slices.Reverse(shuffled.Logs)
	slices.Reverse(shuffled.Responses)
	slices.Reverse(shuffled.Sessions)
	slices.Reverse(shuffled.CareLinks)
	slices.Reverse(shuffled.Screenings)
	if got := mustBundle(t, shuffled); !bytes.Equal(first, got) {
		t.Error("the order of the input changed the output")
	}

	// A record keeps its fullUrl from one export to the next.
	later := bundleFixture(t)
	later.Generated = exportedAt.AddDate(0, 1, 0)
	fullURLs := func(data []byte) []string {
		var urls []string
		for _, e := range decodeEntries(t, data) {
			urls = append(urls, e.FullURL)
		}
		return urls
	}
	if a, b := fullURLs(first), fullURLs(mustBundle(t, later)); !slices.Equal(a, b) {
		t.Errorf("fullUrls changed with the export time:\n%v\n%v", a, b)
	}
}

func TestFHIRBundleEntries(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	var kinds []string
	for _, e := range decodeEntries(t, data) {
		var head struct{ ResourceType string }
		if err := json.Unmarshal(e.Resource, &head); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, head.ResourceType)
	}
	want := []string{
		"Patient", "Organization", "Practitioner", "PractitionerRole", "Consent", "Consent",
		"CarePlan", "Appointment", "Appointment", "Appointment", "Appointment", "Communication",
		"Observation", "Observation", "Observation",
		"Questionnaire", "QuestionnaireResponse", "Observation", "QuestionnaireResponse", "Observation",
		"Observation", "Observation",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("entries = %v, want %v", kinds, want)
	}
	for _, secret := range []string{"anna@example.com", "jo@praxis.example", "argon2id", "00000000-0000-4000-8000-000000000000", "66666666-6666-4666-8666-666666666666"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the bundle contains %q", secret)
		}
	}
}

func TestFHIRBundlePatient(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	patients, urls := resourcesOf[patientResource](t, data, "Patient")
	p := patients[0]
	if urls[0] != "urn:uuid:"+p.ID {
		t.Errorf("fullUrl %s, id %s", urls[0], p.ID)
	}
	if len(p.Name) != 1 || p.Name[0].Text != "Anna Muster" {
		t.Errorf("name = %+v", p.Name)
	}
	wantLanguage := []communication{{
		Language:  codeableConcept{Coding: []coding{{System: "urn:ietf:bcp:47", Code: "de-DE"}}},
		Preferred: true,
	}}
	if !slices.EqualFunc(p.Communication, wantLanguage, func(a, b communication) bool {
		return slices.Equal(a.Language.Coding, b.Language.Coding) && a.Preferred == b.Preferred
	}) {
		t.Errorf("communication = %+v", p.Communication)
	}
	if want := (identifier{System: "https://api.backcare.example/patients", Value: "p1"}); !slices.Equal(p.Identifier, []identifier{want}) {
		t.Errorf("identifier = %+v, want %+v", p.Identifier, want)
	}
}

func TestFHIRBundleObservations(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	all, _ := resourcesOf[observation](t, data, "Observation")
	var obs []observation
	for _, o := range all {
		if len(o.Code.Coding) > 0 && o.Code.Coding[0].Code == loincPainNRS {
			obs = append(obs, o)
		}
	}
	if len(obs) != 3 {
		t.Fatalf("%d observations, want 3 (the deleted log left out)", len(obs))
	}
	var ids []string
	for _, o := range obs {
		ids = append(ids, o.Identifier[0].Value)
	}
	wantIDs := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("identifiers = %v, want the client UUIDs oldest first %v", ids, wantIDs)
	}

	single, several, textOnly := obs[0], obs[1], obs[2]
	if single.BodySite == nil || !slices.Equal(single.BodySite.Coding, []coding{{System: "http://snomed.info/sct", Code: "37822005", Display: "Lower back structure"}}) {
		t.Errorf("one area: bodySite = %+v", single.BodySite)
	}
	if textOnly.BodySite == nil || textOnly.BodySite.Coding != nil || textOnly.BodySite.Text != "Upper back" {
		t.Errorf("upper back: bodySite = %+v, want text alone", textOnly.BodySite)
	}

	if several.BodySite != nil {
		t.Errorf("several areas: bodySite = %+v, want none", several.BodySite)
	}
	if several.EffectiveDateTime != "2026-03-02T08:30:00+01:00" || several.ValueInteger != 6 {
		t.Errorf("effective %s value %d", several.EffectiveDateTime, several.ValueInteger)
	}
	var components []string
	for _, c := range several.Component {
		switch {
		case c.ValueInteger != nil:
			components = append(components, c.Code.Text+"="+strconv.Itoa(*c.ValueInteger))
		case len(c.ValueCodeableConcept.Coding) > 0:
			components = append(components, c.Code.Text+"="+c.ValueCodeableConcept.Coding[0].Code)
		default:
			components = append(components, c.Code.Text+"="+c.ValueCodeableConcept.Text)
		}
	}
	wantComponents := []string{
		"Pain location=45048000",
		"Pain location=37822005",
		"Stiffness (0-10)=4",
		"Stress (0-10)=0",
		"Red flag symptom reported=Fever together with back pain",
	}
	if !slices.Equal(components, wantComponents) {
		t.Errorf("components =\n%q\nwant\n%q", components, wantComponents)
	}
	if len(several.Note) != 1 || several.Note[0].Text != "Tom & Jerry <3, \"quoted\"" {
		t.Errorf("note = %+v", several.Note)
	}
	if !bytes.Contains(data, []byte(`Tom & Jerry <3`)) {
		t.Error("the note is HTML-escaped in the file")
	}
}

func TestFHIRBundleQuestionnaireResponses(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	forms, formURLs := resourcesOf[questionnaire](t, data, "Questionnaire")
	responses, responseURLs := resourcesOf[questionnaireResponse](t, data, "QuestionnaireResponse")
	all, _ := resourcesOf[scoreObservation](t, data, "Observation")
	_, patientURLs := resourcesOf[patientResource](t, data, "Patient")
	var scores []scoreObservation
	for _, o := range all {
		if len(o.Code.Coding) > 0 && o.Code.Coding[0].Code == "91147-9" {
			scores = append(scores, o)
		}
	}
	if len(forms) != 1 || len(responses) != 2 || len(scores) != 2 {
		t.Fatalf("%d questionnaires, %d responses, %d scores, want 1, 2 and 2 (the deleted response left out)", len(forms), len(responses), len(scores))
	}

	form := forms[0]
	if form.URL != "https://api.backcare.example/questionnaires/peg3" || "urn:uuid:"+form.ID != formURLs[0] || form.Status != "active" ||
		!slices.Equal(form.Identifier, []identifier{{System: "https://api.backcare.example/questionnaires", Value: "peg3"}}) ||
		!slices.Equal(form.Code, []coding{{System: systemLOINC, Code: "91148-7", Display: "Pain intensity, Enjoyment of life, General activity scale [PEG]"}}) {
		t.Errorf("questionnaire = %+v", form)
	}
	type item struct {
		linkID, code, kind string
		min, max           int
		required           bool
	}
	var items []item
	for _, it := range form.Item {
		if len(it.Code) != 1 || len(it.Extension) != 2 || it.Extension[0].URL != extensionMinValue || it.Extension[1].URL != extensionMaxValue {
			t.Fatalf("item %s: code %+v, extensions %+v", it.LinkID, it.Code, it.Extension)
		}
		items = append(items, item{it.LinkID, it.Code[0].Code, it.Type, it.Extension[0].ValueInteger, it.Extension[1].ValueInteger, it.Required})
	}
	want := []item{
		{"pain", "75893-8", "integer", 0, 10, true},
		{"enjoyment", "91145-3", "integer", 0, 10, true},
		{"activity", "91146-1", "integer", 0, 10, true},
	}
	if !slices.Equal(items, want) {
		t.Errorf("items =\n%+v\nwant\n%+v", items, want)
	}

	type answered struct {
		id, authored string
		answers      []int
	}
	var got []answered
	for _, r := range responses {
		var answers []int
		for _, it := range r.Item {
			answers = append(answers, it.Answer[0].ValueInteger)
		}
		got = append(got, answered{r.Identifier.Value, r.Authored, answers})
		if r.Questionnaire != form.URL || r.Status != "completed" || r.Subject.Reference != patientURLs[0] ||
			r.Author.Reference != patientURLs[0] || r.Source.Reference != patientURLs[0] {
			t.Errorf("response %s: %+v", r.Identifier.Value, r)
		}
	}
	wantAnswered := []answered{
		{"44444444-4444-4444-8444-444444444444", "2026-03-01T20:00:00+01:00", []int{7, 6, 6}},
		{"55555555-5555-4555-8555-555555555555", "2026-03-08T09:00:00+01:00", []int{4, 5, 6}},
	}
	if !slices.EqualFunc(got, wantAnswered, func(a, b answered) bool {
		return a.id == b.id && a.authored == b.authored && slices.Equal(a.answers, b.answers)
	}) {
		t.Errorf("responses =\n%+v\nwant the live ones oldest first\n%+v", got, wantAnswered)
	}

	for i, o := range scores {
		wantValue := []float64{6.33, 5}[i]
		if o.ValueQuantity != (quantity{Value: wantValue, Unit: "{score}", System: "http://unitsofmeasure.org", Code: "{score}"}) {
			t.Errorf("score %d: valueQuantity %+v, want %v {score}", i, o.ValueQuantity, wantValue)
		}
		if len(o.DerivedFrom) != 1 || o.DerivedFrom[0].Reference != responseURLs[i] {
			t.Errorf("score %d: derivedFrom %+v, want the response %s", i, o.DerivedFrom, responseURLs[i])
		}
		if o.Code.Coding[0].Display != "Mean score [PEG]" || o.EffectiveDateTime != responses[i].Authored || o.Status != "final" ||
			o.Subject.Reference != patientURLs[0] || o.Identifier[0].Value != responses[i].Identifier.Value {
			t.Errorf("score %d: %+v", i, o)
		}
	}

	t.Run("a deleted response alone makes no questionnaire", func(t *testing.T) {
		in := bundleFixture(t)
		in.Responses = in.Responses[2:]
		data := mustBundle(t, in)
		if forms, _ := resourcesOf[questionnaire](t, data, "Questionnaire"); len(forms) != 0 {
			t.Errorf("questionnaires = %+v, want none", forms)
		}
	})
}

func TestFHIRBundleAppointments(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	appts, _ := resourcesOf[appointment](t, data, "Appointment")
	type times struct{ status, start, end string }
	var got []times
	for _, a := range appts {
		got = append(got, times{a.Status, a.Start, a.End})
	}
	want := []times{
		{"fulfilled", "2026-03-02T10:00:00+01:00", "2026-03-02T11:00:00+01:00"},
		{"noshow", "2026-03-09T10:00:00+01:00", "2026-03-09T11:00:00+01:00"},
		{"cancelled", "2026-03-20T16:00:00+01:00", "2026-03-20T17:00:00+01:00"},
		// Summer time starts at 02:00 that night: 90 minutes end at 04:00.
		{"booked", "2026-03-29T01:30:00+01:00", "2026-03-29T04:00:00+02:00"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("appointments =\n%v\nwant\n%v", got, want)
	}
	if appts[3].MinutesDuration != 90 || appts[3].Description != "Deep tissue massage" {
		t.Errorf("minutesDuration %d, description %q", appts[3].MinutesDuration, appts[3].Description)
	}
	completed := appts[0]
	var actors []string
	for _, p := range completed.Participant {
		actors = append(actors, p.Actor.Type+":"+p.Actor.Display+":"+p.Status)
	}
	if want := []string{"::accepted", "Practitioner:Jo Kim:accepted", "Location:Praxis Mitte:accepted"}; !slices.Equal(actors, want) {
		t.Errorf("participants = %q, want %q", actors, want)
	}
	if want := "Patient feedback: pressure 3 of 5 (1 too light, 5 too strong); soreness afterwards 4 of 10. sore & tired"; completed.Comment != want {
		t.Errorf("comment = %q, want %q", completed.Comment, want)
	}
	if len(appts[1].Participant) != 1 || appts[1].Comment != "" {
		t.Errorf("a session with no therapist, clinic or feedback: %+v", appts[1])
	}
}

func TestFHIRBundleCarePlan(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	plans, _ := resourcesOf[carePlan](t, data, "CarePlan")
	_, apptURLs := resourcesOf[appointment](t, data, "Appointment")
	p := plans[0]
	if p.Status != "active" || p.Intent != "plan" || p.Period.Start != "2026-03-02" || p.Title != "Deep tissue massage plan" {
		t.Errorf("care plan = %+v", p)
	}
	if want := "Deep tissue massage, 60-minute sessions: weekly × 6, then every 4 weeks."; p.Description != want {
		t.Errorf("description = %q, want %q", p.Description, want)
	}
	var refs []string
	for _, a := range p.Activity[2:] {
		refs = append(refs, a.Reference.Reference)
	}
	// The cancelled session s4 (apptURLs[2]) is not part of the plan.
	if want := []string{apptURLs[0], apptURLs[1], apptURLs[3]}; !slices.Equal(refs, want) {
		t.Errorf("activity references = %v, want %v", refs, want)
	}
	initial, maintenance := p.Activity[0].Detail, p.Activity[1].Detail
	if initial.Description != "Initial phase: weekly × 6" || initial.ScheduledTiming.Repeat != (timingRepeat{Count: 6, Duration: 60, DurationUnit: "min", Frequency: 1, Period: 1, PeriodUnit: "wk"}) {
		t.Errorf("initial phase = %+v", initial)
	}
	if maintenance.Description != "Maintenance: every 4 weeks" || maintenance.ScheduledTiming.Repeat != (timingRepeat{Duration: 60, DurationUnit: "min", Frequency: 1, Period: 4, PeriodUnit: "wk"}) {
		t.Errorf("maintenance phase = %+v", maintenance)
	}
}

func TestFHIRBundleCareTeam(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	orgs, orgURLs := resourcesOf[organization](t, data, "Organization")
	people, peopleURLs := resourcesOf[practitioner](t, data, "Practitioner")
	roles, _ := resourcesOf[practitionerRole](t, data, "PractitionerRole")
	if len(orgs) != 1 || len(people) != 1 || len(roles) != 1 {
		t.Fatalf("%d organizations, %d practitioners, %d roles, want one each", len(orgs), len(people), len(roles))
	}
	org, jo, role := orgs[0], people[0], roles[0]
	if org.Name != "Praxis Mitte" || !slices.Equal(org.Identifier, []identifier{{System: "https://api.backcare.example/clinics", Value: "c1"}}) ||
		!slices.Equal(org.Type[0].Coding, []coding{{System: systemOrgType, Code: "prov", Display: "Healthcare Provider"}}) {
		t.Errorf("organization = %+v", org)
	}
	if len(jo.Name) != 1 || jo.Name[0].Text != "Jo Kim" || jo.Active == nil || !*jo.Active ||
		!slices.Equal(jo.Identifier, []identifier{{System: "https://api.backcare.example/staff", Value: "st1"}}) {
		t.Errorf("practitioner = %+v", jo)
	}
	if role.Practitioner.Reference != peopleURLs[0] || role.Organization.Reference != orgURLs[0] || role.Code[0].Text != "Massage therapist" {
		t.Errorf("practitioner role = %+v", role)
	}
	if bytes.Contains(data, []byte("jo@praxis.example")) || bytes.Contains(data, []byte("staffsecret")) {
		t.Error("the bundle carries the therapist's email or password hash")
	}

	t.Run("accounts gone: named as the record wrote them", func(t *testing.T) {
		in := bundleFixture(t)
		in.Clinics, in.Staff = nil, nil
		in.Notes[0].AuthorName = "Jo Kim-Berg"
		data := mustBundle(t, in)
		orgs, _ := resourcesOf[organization](t, data, "Organization")
		people, _ := resourcesOf[practitioner](t, data, "Practitioner")
		if len(orgs) != 1 || orgs[0].Name != "" || orgs[0].Identifier[0].Value != "c1" {
			t.Errorf("organizations = %+v, want c1 by its identifier alone", orgs)
		}
		// The note is the first to name the author; the account's role
		// and whether it is active are not known.
		if len(people) != 1 || people[0].Name[0].Text != "Jo Kim-Berg" || people[0].Active != nil {
			t.Errorf("practitioners = %+v", people)
		}
	})
}

func TestFHIRBundleConsents(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	consents, _ := resourcesOf[consent](t, data, "Consent")
	_, orgURLs := resourcesOf[organization](t, data, "Organization")
	_, patientURLs := resourcesOf[patientResource](t, data, "Patient")
	if len(consents) != 2 {
		t.Fatalf("%d consents, want one per care link", len(consents))
	}
	type summary struct {
		id, status, dateTime, start, end string
		actions                          []string
	}
	var got []summary
	for _, c := range consents {
		var actions []string
		for _, a := range c.Provision.Action {
			actions = append(actions, a.Coding[0].Code)
		}
		got = append(got, summary{c.Identifier[0].Value, c.Status, c.DateTime, c.Provision.Period.Start, c.Provision.Period.End, actions})
		if c.Patient.Reference != patientURLs[0] || len(c.Performer) != 1 || c.Performer[0].Reference != patientURLs[0] {
			t.Errorf("%s: patient %+v, performer %+v", c.ID, c.Patient, c.Performer)
		}
		if len(c.Provision.Actor) != 1 || c.Provision.Actor[0].Reference.Reference != orgURLs[0] ||
			c.Provision.Actor[0].Role.Coding[0].Code != "PRCP" || c.Provision.Type != "permit" {
			t.Errorf("%s: provision %+v, want the clinic permitted as recipient", c.ID, c.Provision)
		}
		if !slices.Equal(c.Provision.Purpose, []coding{{System: systemActReason, Code: "TREAT", Display: "treatment"}}) {
			t.Errorf("%s: purpose %+v", c.ID, c.Provision.Purpose)
		}
		if c.Scope.Coding[0].Code != "patient-privacy" || c.PolicyRule.Coding[0].Code != "OPTIN" {
			t.Errorf("%s: scope %+v, policy rule %+v", c.ID, c.Scope, c.PolicyRule)
		}
	}
	want := []summary{
		{"link1", "inactive", "2026-02-20T10:00:00+01:00", "2026-02-20T10:00:00+01:00", "2026-02-28T18:00:00+01:00", []string{"access"}},
		{"link2", "active", "2026-03-01T09:30:00+01:00", "2026-03-01T09:30:00+01:00", "", []string{"access", "correct"}},
	}
	if !slices.EqualFunc(got, want, func(a, b summary) bool {
		return a.id == b.id && a.status == b.status && a.dateTime == b.dateTime && a.start == b.start && a.end == b.end && slices.Equal(a.actions, b.actions)
	}) {
		t.Errorf("consents =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFHIRBundleSharedNote(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	messages, _ := resourcesOf[message](t, data, "Communication")
	_, peopleURLs := resourcesOf[practitioner](t, data, "Practitioner")
	_, patientURLs := resourcesOf[patientResource](t, data, "Patient")
	_, apptURLs := resourcesOf[appointment](t, data, "Appointment")
	if len(messages) != 1 {
		t.Fatalf("%d communications, want 1", len(messages))
	}
	m := messages[0]
	if len(m.Payload) != 1 || m.Payload[0].ContentString != "Walk 20 minutes a day & stretch <gently>." {
		t.Errorf("payload = %+v", m.Payload)
	}
	if m.Sender == nil || m.Sender.Reference != peopleURLs[0] || m.Sender.Display != "Jo Kim" {
		t.Errorf("sender = %+v, want the therapist's Practitioner", m.Sender)
	}
	// s1, the completed session, is the first Appointment by start.
	if len(m.About) != 1 || m.About[0].Reference != apptURLs[0] {
		t.Errorf("about = %+v, want the session's Appointment %s", m.About, apptURLs[0])
	}
	if m.Subject.Reference != patientURLs[0] || len(m.Recipient) != 1 || m.Recipient[0].Reference != patientURLs[0] {
		t.Errorf("subject %+v, recipient %+v", m.Subject, m.Recipient)
	}
	if m.Sent != "2026-03-02T13:00:00+01:00" || m.Status != "completed" || m.Identifier[0].Value != "s1" {
		t.Errorf("sent %s, status %s, identifier %+v", m.Sent, m.Status, m.Identifier)
	}
}

func TestFHIRBundleClearances(t *testing.T) {
	data := mustBundle(t, bundleFixture(t))
	all, _ := resourcesOf[clearanceObservation](t, data, "Observation")
	_, peopleURLs := resourcesOf[practitioner](t, data, "Practitioner")
	_, orgURLs := resourcesOf[organization](t, data, "Organization")
	_, patientURLs := resourcesOf[patientResource](t, data, "Patient")
	var clearances []clearanceObservation
	for _, o := range all {
		if o.Code.Text == clearanceText {
			clearances = append(clearances, o)
		}
	}
	if len(clearances) != 2 {
		t.Fatalf("%d clearances, want 2 (the screening without one left out)", len(clearances))
	}
	self, staff := clearances[0], clearances[1]
	if len(self.Performer) != 1 || self.Performer[0].Reference != patientURLs[0] ||
		!strings.HasPrefix(self.Note[0].Text, "Self-attested") || self.Note[1].Text != "Dr. Weber" {
		t.Errorf("the patient's own clearance: performer %+v, note %+v", self.Performer, self.Note)
	}
	if self.EffectiveDateTime != "2026-02-05" || self.Issued != "2026-02-05T19:00:00+01:00" || !self.ValueBoolean {
		t.Errorf("the patient's own clearance: %+v", self)
	}
	if len(staff.Performer) != 2 || staff.Performer[0].Reference != peopleURLs[0] || staff.Performer[0].Display != "Jo Kim" ||
		staff.Performer[1].Reference != orgURLs[0] {
		t.Errorf("the clinic's clearance: performer %+v, want the therapist and the clinic", staff.Performer)
	}
	if want := "Recorded by Jo Kim at Praxis Mitte, a clinic the patient linked, for their screening of 2026-03-01."; staff.Note[0].Text != want {
		t.Errorf("the clinic's clearance: note %q, want %q", staff.Note[0].Text, want)
	}
	if strings.Contains(staff.Note[0].Text, "elf-attested") {
		t.Error("the clinic's clearance calls itself self-attested")
	}
	var cleared []string
	for _, c := range staff.Component {
		cleared = append(cleared, c.ValueCodeableConcept.Text)
	}
	if want := []string{"Recent or healing fracture", "Severe osteoporosis"}; !slices.Equal(cleared, want) {
		t.Errorf("the clinic's clearance clears %q, want %q", cleared, want)
	}
}

func TestFHIRBundleStatuses(t *testing.T) {
	at := exportedAt
	tests := []struct {
		name            string
		change          func(*testing.T, *models.Plan)
		carePlan        string
		initial, maint  string
		maintenanceText string
	}{
		{"active, initial", func(*testing.T, *models.Plan) {}, "active", "in-progress", "not-started", "Maintenance: every 4 weeks"},
		{"needs clearance", func(_ *testing.T, p *models.Plan) { p.Status = models.PlanNeedsClearance }, "on-hold", "on-hold", "not-started", "Maintenance: every 4 weeks"},
		{"paused", func(t *testing.T, p *models.Plan) { must(t, p.Pause(at)) }, "on-hold", "on-hold", "not-started", "Maintenance: every 4 weeks"},
		{"completed in the initial phase", func(t *testing.T, p *models.Plan) { must(t, p.Complete(at)) }, "completed", "completed", "cancelled", "Maintenance: every 4 weeks"},
		{"maintenance, monthly", func(_ *testing.T, p *models.Plan) {
			p.ApplyCompletion(6, at, time.UTC)
			p.Cadences[0].Cadence.MaintenanceWeeks, p.Cadences[0].Cadence.MaintenanceMonthly = 0, true
		}, "active", "completed", "in-progress", "Maintenance: monthly"},
		{"maintenance, paused", func(t *testing.T, p *models.Plan) {
			p.ApplyCompletion(6, at, time.UTC)
			must(t, p.Pause(at))
		}, "on-hold", "completed", "on-hold", "Maintenance: every 4 weeks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bundleFixture(t)
			tt.change(t, in.Plan)
			plans, _ := resourcesOf[carePlan](t, mustBundle(t, in), "CarePlan")
			p := plans[0]
			got := []string{p.Status, p.Activity[0].Detail.Status, p.Activity[1].Detail.Status, p.Activity[1].Detail.Description}
			if want := []string{tt.carePlan, tt.initial, tt.maint, tt.maintenanceText}; !slices.Equal(got, want) {
				t.Errorf("status, initial, maintenance = %q, want %q", got, want)
			}
		})
	}
}

// TestFHIRBundleUsesCurrentCadence: a cadence change dated after the export
// is not yet the plan.
func TestFHIRBundleUsesCurrentCadence(t *testing.T) {
	in := bundleFixture(t)
	next := in.Plan.Cadences[0].Cadence
	next.InitialSessions = 4
	in.Plan.Cadences = append(in.Plan.Cadences, models.CadenceVersion{From: "2026-04-02", Cadence: next})
	plans, _ := resourcesOf[carePlan](t, mustBundle(t, in), "CarePlan")
	if got := plans[0].Activity[0].Detail.Description; got != "Initial phase: weekly × 6" {
		t.Errorf("on 2026-04-01 the initial phase is %q, want weekly × 6", got)
	}
	in.Generated = time.Date(2026, 4, 1, 22, 30, 0, 0, time.UTC) // 2 April in Berlin
	plans, _ = resourcesOf[carePlan](t, mustBundle(t, in), "CarePlan")
	if got := plans[0].Activity[0].Detail.Description; got != "Initial phase: weekly × 4" {
		t.Errorf("on 2026-04-02 the initial phase is %q, want weekly × 4", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFHIRBundleRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*BundleInput)
	}{
		{"no base URL", func(in *BundleInput) { in.BaseURL = "" }},
		{"relative base URL", func(in *BundleInput) { in.BaseURL = "/v1" }},
		{"base URL without host", func(in *BundleInput) { in.BaseURL = "https://" }},
		{"patient without id", func(in *BundleInput) { in.Patient.ID = "" }},
		{"another patient's log", func(in *BundleInput) { in.Logs[1].PatientID = "p2" }},
		{"another patient's deleted log", func(in *BundleInput) { in.Logs[2].PatientID = "p2" }},
		{"another patient's session", func(in *BundleInput) { in.Sessions[0].PatientID = "p2" }},
		{"another patient's plan", func(in *BundleInput) { in.Plan.PatientID = "p2" }},
		{"plan without cadence", func(in *BundleInput) { in.Plan.Cadences = nil }},
		{"session without duration", func(in *BundleInput) { in.Sessions[0].DurationMinutes = 0 }},
		{"unknown session status", func(in *BundleInput) { in.Sessions[0].Status = "postponed" }},
		{"unknown plan status", func(in *BundleInput) { in.Plan.Status = "archived" }},
		{"another patient's care link", func(in *BundleInput) { in.CareLinks[1].PatientID = "p2" }},
		{"another patient's note", func(in *BundleInput) { in.Notes[0].PatientID = "p2" }},
		{"another patient's screening", func(in *BundleInput) { in.Screenings[2].PatientID = "p2" }},
		{"a note not shared with the patient", func(in *BundleInput) { in.Notes[0].Shared = false }},
		{"a shared note without a summary", func(in *BundleInput) { in.Notes[0].Summary = "\x01" }},
		{"unknown care link status", func(in *BundleInput) { in.CareLinks[0].Status = "paused" }},
		{"unknown care link scope", func(in *BundleInput) { in.CareLinks[0].Scope = "admin" }},
		{"clearance without a date", func(in *BundleInput) { in.Screenings[1].Clearance.Date = "" }},
		{"another patient's questionnaire response", func(in *BundleInput) { in.Responses[0].PatientID = "p2" }},
		{"another patient's deleted questionnaire response", func(in *BundleInput) { in.Responses[2].PatientID = "p2" }},
		{"a response to a questionnaire not in the catalog", func(in *BundleInput) { in.Responses[0].Questionnaire = "odi" }},
		{"a response with an item unanswered", func(in *BundleInput) { delete(in.Responses[0].Answers, "activity") }},
		{"a response with an answer out of range", func(in *BundleInput) { in.Responses[1].Answers["pain"] = 11 }},
		{"a response with an answer to no item", func(in *BundleInput) { in.Responses[1].Answers["sleep"] = 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bundleFixture(t)
			tt.change(&in)
			if data, err := FHIRBundle(in); err == nil {
				t.Errorf("no error; bundle:\n%s", data)
			}
		})
	}
}

// TestCodeTablesCoverModels: a body area or red flag added to the app must
// be named in the export too, not fall back to its raw value.
func TestCodeTablesCoverModels(t *testing.T) {
	for _, a := range models.BodyAreas {
		if _, ok := bodySites[a]; !ok {
			t.Errorf("body area %q has no body site", a)
		}
	}
	for _, f := range models.RedFlags {
		if _, ok := redFlagTexts[f]; !ok {
			t.Errorf("red flag %q has no text", f)
		}
	}
	for _, c := range models.Contraindications {
		if _, ok := contraindicationTexts[c]; !ok {
			t.Errorf("contraindication %q has no text", c)
		}
	}
	for _, r := range []models.Role{models.RoleOwner, models.RoleTherapist} {
		if _, ok := roleTexts[r]; !ok {
			t.Errorf("role %q has no text", r)
		}
	}
}

// TestFHIRBundleMessages: the conversation with the clinic, each message a
// Communication after the session summaries, oldest first: the patient's
// to the clinic, the therapist's to the patient (read, with when), one from
// a staff member whose account is gone, by the name they wrote under.
func TestFHIRBundleMessages(t *testing.T) {
	in := bundleFixture(t)
	at := func(h int) time.Time { return time.Date(2026, 3, 20, h, 0, 0, 0, time.UTC) }
	read := at(12)
	in.Messages = []models.Message{
		{ID: "link2:b", LinkID: "link2", PatientID: "p1", ClinicID: "c1", Author: models.SideStaff, StaffID: "st1", StaffName: "Jo Kim",
			Text: "That is normal.\nKeep walking.", CreatedAt: at(11), ReadAt: &read},
		{ID: "link2:a", LinkID: "link2", PatientID: "p1", ClinicID: "c1", Author: models.SidePatient, Text: "Sore on day three?", CreatedAt: at(10)},
		{ID: "link2:c", LinkID: "link2", PatientID: "p1", ClinicID: "c1", Author: models.SideStaff, StaffID: "st-gone", StaffName: "Sam Former",
			Text: "Call us.", CreatedAt: at(13)},
	}
	data := mustBundle(t, in)
	comms, _ := resourcesOf[message](t, data, "Communication")
	_, patientURLs := resourcesOf[patientResource](t, data, "Patient")
	_, orgURLs := resourcesOf[organization](t, data, "Organization")
	people, peopleURLs := resourcesOf[practitioner](t, data, "Practitioner")
	if len(comms) != 4 || comms[0].Category[0].Text != sessionSummaryText {
		t.Fatalf("%d communications, want the session summary and three messages", len(comms))
	}
	msgs := comms[1:]
	for i, want := range []string{"Sore on day three?", "That is normal.\nKeep walking.", "Call us."} {
		if msgs[i].Payload[0].ContentString != want || msgs[i].Category[0].Text != conversationText || msgs[i].Subject.Reference != patientURLs[0] {
			t.Errorf("message %d = %+v", i, msgs[i])
		}
	}
	if msgs[0].Sender.Reference != patientURLs[0] || msgs[0].Recipient[0].Reference != orgURLs[0] || msgs[0].Received != "" {
		t.Errorf("the patient's message: %+v", msgs[0])
	}
	jo := peopleURLs[slices.IndexFunc(people, func(p practitioner) bool { return p.Identifier[0].Value == "st1" })]
	if msgs[1].Sender.Reference != jo || msgs[1].Recipient[0].Reference != patientURLs[0] || msgs[1].Received != "2026-03-20T13:00:00+01:00" {
		t.Errorf("the therapist's message: %+v", msgs[1])
	}
	if msgs[2].Sender == nil || msgs[2].Sender.Display != "Sam Former" {
		t.Errorf("the message of a staff member whose account is gone: %+v", msgs[2].Sender)
	}

	in.Messages[0].PatientID = "p2"
	if _, err := FHIRBundle(in); err == nil {
		t.Error("another patient's message was exported")
	}
}
