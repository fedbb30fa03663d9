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
// summer time) and pain logs with one, several and no areas, one deleted.
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
		Plan:      &plan,
		Generated: exportedAt,
		BaseURL:   "https://api.backcare.example/",
	}
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
		{"patient alone", func(in *BundleInput) { in.Logs, in.Sessions, in.Plan = nil, nil, nil }},
		{"no plan", func(in *BundleInput) { in.Plan = nil }},
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
			for i := range in.Sessions {
				in.Sessions[i].PatientID = in.Patient.ID
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

func TestFHIRBundleIsReproducible(t *testing.T) {
	first := mustBundle(t, bundleFixture(t))
	if again := mustBundle(t, bundleFixture(t)); !bytes.Equal(first, again) {
		t.Error("the same input gave different bytes")
	}

	shuffled := bundleFixture(t)
	slices.Reverse(shuffled.Logs)
	slices.Reverse(shuffled.Sessions)
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
	want := []string{"Patient", "CarePlan", "Appointment", "Appointment", "Appointment", "Appointment", "Observation", "Observation", "Observation"}
	if !slices.Equal(kinds, want) {
		t.Errorf("entries = %v, want %v", kinds, want)
	}
	for _, secret := range []string{"anna@example.com", "argon2id", "00000000-0000-4000-8000-000000000000"} {
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
	obs, _ := resourcesOf[observation](t, data, "Observation")
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
}
