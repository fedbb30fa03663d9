package handlers

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// clinicSideRecord gives a patient the clinic side of a record: a care link
// to one clinic, whose therapist recorded a clearance and shared a note
// with private working notes, and a view link to a second clinic that the
// patient revoked. It returns the patient's token and the session noted.
func clinicSideRecord(t *testing.T, ts *testServer, cs, other clinicSide, email string) (token, session string) {
	t.Helper()
	token, _ = ts.register(email, "Europe/Berlin")
	pid := patientOf(t, ts, token)
	ts.do("POST", "/v1/screening", token, allNo(models.RecentFracture))
	ts.link(cs.therapist, token, "care")
	revoked := ts.link(other.therapist, token, "view")
	if r := ts.do("DELETE", "/v1/care-team/"+revoked, token, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	base := "/v1/clinic/patients/" + pid
	if r := ts.do("POST", base+"/clearances", cs.therapist, map[string]any{"date": "2026-11-20", "note": "Orthopaedic letter seen"}); r.status != http.StatusOK {
		t.Fatalf("clinic clearance: %d %s", r.status, r.body)
	}
	session = bookPastSession(ts, token)
	note := map[string]any{"subjective": "PRIVATE worse when sitting", "objective": "Tight QL", "shared": true, "summary": "Walk 20 minutes a day."}
	if r := ts.do("PUT", base+"/sessions/"+session+"/note", cs.therapist, note); r.status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	return token, session
}

// leaks names what an export must never carry of the clinic side.
func leaks(t *testing.T, body string, cs clinicSide) {
	t.Helper()
	for _, secret := range []string{"PRIVATE", "Tight QL", cs.therapistEmail, cs.ownerEm, "password", "argon2"} {
		if strings.Contains(body, secret) {
			t.Errorf("the export carries %q", secret)
		}
	}
}

func TestExportCoversTheClinicSide(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cs, other := ts.signupClinic("exportcare"), ts.signupClinic("exportview")
	token, session := clinicSideRecord(t, ts, cs, other, "exca@example.com")

	r := ts.do("GET", "/v1/me/export", token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	leaks(t, string(r.body), cs)
	var ex struct {
		CareLinks []struct {
			Clinic    namedJSON  `json:"clinic"`
			LinkedBy  *namedJSON `json:"linked_by"`
			Scope     string     `json:"scope"`
			Status    string     `json:"status"`
			CreatedAt time.Time  `json:"created_at"`
			RevokedAt *time.Time `json:"revoked_at"`
			RevokedBy string     `json:"revoked_by"`
		} `json:"care_links"`
		SharedNotes []struct {
			SessionID string    `json:"session_id"`
			Clinic    namedJSON `json:"clinic"`
			Author    namedJSON `json:"author"`
			Summary   string    `json:"summary"`
			UpdatedAt time.Time `json:"updated_at"`
		} `json:"shared_notes"`
		Screenings []struct {
			Clearance *struct {
				By           string     `json:"by"`
				SelfAttested bool       `json:"self_attested"`
				Staff        *namedJSON `json:"staff"`
				Clinic       *namedJSON `json:"clinic"`
			} `json:"clearance"`
		} `json:"screenings"`
		Audit []map[string]any `json:"audit"`
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, l := range ex.CareLinks {
		by := ""
		if l.LinkedBy != nil {
			by = l.LinkedBy.Name
		}
		links[l.Clinic.Name] = l.Scope + " " + l.Status + " by " + by + " revoked by " + l.RevokedBy
		if (l.Status == "revoked") != (l.RevokedAt != nil) || l.CreatedAt.IsZero() {
			t.Errorf("link to %s: created %v, revoked %v", l.Clinic.Name, l.CreatedAt, l.RevokedAt)
		}
	}
	want := map[string]string{
		"Clinic exportcare": "care active by Therapist exportcare revoked by ",
		"Clinic exportview": "view revoked by Therapist exportview revoked by patient",
	}
	if len(links) != len(want) || links["Clinic exportcare"] != want["Clinic exportcare"] || links["Clinic exportview"] != want["Clinic exportview"] {
		t.Errorf("care links = %q, want %q", links, want)
	}
	if len(ex.SharedNotes) != 1 {
		t.Fatalf("%d shared notes, want 1", len(ex.SharedNotes))
	}
	if n := ex.SharedNotes[0]; n.SessionID != session || n.Summary != "Walk 20 minutes a day." || n.Author.Name != "Therapist exportcare" ||
		n.Clinic.Name != "Clinic exportcare" || n.UpdatedAt.IsZero() {
		t.Errorf("shared note = %+v", n)
	}
	if len(ex.Screenings) != 1 || ex.Screenings[0].Clearance == nil {
		t.Fatalf("screenings = %+v", ex.Screenings)
	}
	if cl := ex.Screenings[0].Clearance; cl.By != "staff" || cl.SelfAttested || cl.Staff == nil || cl.Staff.Name != "Therapist exportcare" ||
		cl.Clinic == nil || cl.Clinic.Name != "Clinic exportcare" {
		t.Errorf("clearance = %+v, want recorded by the named therapist at the named clinic", cl)
	}
	staffEntries := 0
	for _, a := range ex.Audit {
		if a["actor_kind"] == models.ActorStaff && a["clinic_id"] == cs.clinicID && strings.HasPrefix(a["actor"].(string), "staff:") {
			staffEntries++
		}
	}
	if staffEntries == 0 {
		t.Errorf("the audit trail names no staff actor with their clinic: %v", ex.Audit)
	}

	fhir := ts.do("GET", "/v1/me/export/fhir", token, nil)
	leaks(t, string(fhir.body), cs)
	var bundle struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(fhir.body, &bundle); err != nil {
		t.Fatalf("fhir export: %v %s", err, fhir.body)
	}
	kinds := map[string]int{}
	for _, e := range bundle.Entry {
		kinds[e.Resource["resourceType"].(string)]++
	}
	// Each clinic's therapist linked the patient; the care clinic's also
	// wrote the note and the clearance.
	if kinds["Organization"] != 2 || kinds["Practitioner"] != 2 || kinds["PractitionerRole"] != 2 || kinds["Consent"] != 2 ||
		kinds["Communication"] != 1 || kinds["Observation"] != 1 {
		t.Errorf("bundle resources %v", kinds)
	}
	if !strings.Contains(string(fhir.body), "Walk 20 minutes a day.") || !strings.Contains(string(fhir.body), "Recorded by Therapist exportcare at Clinic exportcare") {
		t.Errorf("the bundle lacks the summary or who recorded the clearance: %s", fhir.body)
	}
}

// TestExportCareRecordCSV serves the clinic side's CSV through the export
// handler directly: its route is not in the route table yet.
func TestExportCareRecordCSV(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cs, other := ts.signupClinic("csvcare"), ts.signupClinic("csvview")
	token, session := clinicSideRecord(t, ts, cs, other, "csv@example.com")
	pid := patientOf(t, ts, token)

	app := fiber.New()
	app.Get("/care.csv", func(c *fiber.Ctx) error {
		c.Locals(localPatientID, pid)
		return c.Next()
	}, handleExport(ts.store, "https://api.backcare.test", func() time.Time { return ts.now }, "care-csv"))
	res, err := app.Test(httptest.NewRequest("GET", "/care.csv", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `.care.csv"`) {
		t.Fatalf("care csv: %d %v %s", res.StatusCode, res.Header, body)
	}
	leaks(t, string(body), cs)
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range rows[1:] {
		got[row[0]+" "+row[3]] += strings.Join([]string{row[4], row[5], row[6], row[9], row[10]}, "|") + ";"
		if row[0] == "shared_note" && row[1] != session {
			t.Errorf("the note's row names session %s, want %s", row[1], session)
		}
	}
	want := map[string]string{
		"care_link Clinic csvcare":   "Therapist csvcare|care|active||;",
		"care_link Clinic csvview":   "Therapist csvview|view|revoked||;",
		"clearance Clinic csvcare":   "Therapist csvcare|||false|Orthopaedic letter seen;",
		"shared_note Clinic csvcare": "Therapist csvcare||||Walk 20 minutes a day.;",
	}
	if len(got) != len(want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// TestReportShowsWhoRecordedTheClearance: the clinician report tells a
// clearance the patient recorded themselves from one a clinic recorded.
func TestReportShowsWhoRecordedTheClearance(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	report := func(token string) string {
		t.Helper()
		link := ts.do("POST", "/v1/reports", token, map[string]any{}).json(t)["url"].(string)
		page := ts.do("GET", link, "", nil)
		if page.status != http.StatusOK {
			t.Fatalf("report page: %d %s", page.status, page.body)
		}
		return string(page.body)
	}

	t.Run("self-attested", func(t *testing.T) {
		token, _ := ts.register("self@example.com", "UTC")
		ts.do("POST", "/v1/screening", token, allNo(models.HeartCondition))
		if r := ts.do("POST", "/v1/screening/clearance", token, map[string]any{"date": "2026-11-20", "note": "Dr. Weber"}); r.status != http.StatusOK {
			t.Fatalf("clearance: %d %s", r.status, r.body)
		}
		html := report(token)
		for _, want := range []string{`class="self-attested"`, "<strong>self-attested</strong>", "recorded this clearance themselves on 2026-11-22", "heart condition", "Dr. Weber"} {
			if !strings.Contains(html, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		if strings.Contains(html, "staff-recorded") || strings.Contains(html, "clinic staff") {
			t.Error("a self-attested clearance is shown as the clinic's")
		}
	})
	t.Run("recorded by the clinic", func(t *testing.T) {
		cs := ts.signupClinic("report")
		token, _ := ts.register("clinic-cleared@example.com", "UTC")
		ts.do("POST", "/v1/screening", token, allNo(models.RecentFracture))
		ts.link(cs.therapist, token, "care")
		if r := ts.do("POST", "/v1/clinic/patients/"+patientOf(t, ts, token)+"/clearances", cs.therapist, map[string]any{"date": "2026-11-21"}); r.status != http.StatusOK {
			t.Fatalf("clinic clearance: %d %s", r.status, r.body)
		}
		html := report(token)
		for _, want := range []string{`class="staff-recorded"`, "recorded by <strong>Therapist report</strong> at Clinic report (clinic staff)", "2026-11-21", "recent fracture"} {
			if !strings.Contains(html, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		if strings.Contains(html, "self-attested") {
			t.Error("the clinic's clearance is shown as self-attested")
		}
	})
	t.Run("waiting for a clearance", func(t *testing.T) {
		token, _ := ts.register("waiting@example.com", "UTC")
		ts.do("POST", "/v1/screening", token, allNo(models.DeepVeinThrombosis))
		if html := report(token); !strings.Contains(html, "No provider's clearance is recorded") || strings.Contains(html, `id="clearance"`) {
			t.Error("the report does not say that the clearance is missing")
		}
	})
	t.Run("no screening", func(t *testing.T) {
		token, _ := ts.register("unscreened@example.com", "UTC")
		if html := report(token); !strings.Contains(html, "No safety screening is recorded.") {
			t.Error("the report does not say that there is no screening")
		}
	})
}
