package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/web/browsertest"
)

// seedHistory logs one score a day for the `days` days up to testNow's
// date, score(i) for the i-th day (0 = the oldest).
func seedHistory(t *testing.T, ts *testServer, patientID string, days int, score func(i int) int) {
	t.Helper()
	for i := range days {
		at := testNow.AddDate(0, 0, i-days+1).Add(-time.Hour)
		l := models.PainLog{
			ID: models.PainLogDocID(patientID, fmt.Sprintf("00000000-0000-4000-8000-%012d", i)), PatientID: patientID,
			LoggedAt: at, LocalDate: models.LocalDateOf(at, time.UTC), Score: score(i), CreatedAt: at, UpdatedAt: at,
		}
		if _, _, err := ts.store.PutPainLog(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInsightsThroughTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("ina@example.com", "UTC")
	empty := ts.do("GET", "/v1/insights", token, nil).json(t)
	change := empty["change"].(map[string]any)
	if change["points"] != nil || change["reason"] == "" || change["last_7_days"].(map[string]any)["mean"].(map[string]any)["value"] != nil {
		t.Fatalf("a new patient gets figures instead of 'not enough data': %v", change)
	}
	// 90 days: 6 every day for the first 83, then 4 for the last 7.
	seedHistory(t, ts, patientOf(t, ts, token), 90, func(i int) int {
		if i >= 83 {
			return 4
		}
		return 6
	})
	r := ts.do("GET", "/v1/insights?from=2026-08-25&to=2026-11-22", token, nil)
	in := r.json(t)
	change = in["change"].(map[string]any)
	if r.status != http.StatusOK || change["points"] != float64(-2) || change["clinically_meaningful"] != true || change["meaningful_by_points"] != true {
		t.Fatalf("6 → 4 should be a meaningful 2-point improvement: %d %v", r.status, change)
	}
	if n := len(in["daily"].([]any)); n != 90 || in["days_missed"] != float64(0) || in["streak_days"] != float64(90) {
		t.Fatalf("daily %d, missed %v, streak %v", n, in["days_missed"], in["streak_days"])
	}
	expectProblem(t, ts.do("GET", "/v1/insights?from=2025-01-01&to=2026-11-22", token, nil), http.StatusBadRequest, "")
}

func TestExportHoldsEverything(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("exa@example.com", "Europe/Berlin")
	logID := newID()
	ts.do("PUT", "/v1/pain-logs/"+logID, token, map[string]any{"logged_at": testNow.Add(-time.Hour).Format(time.RFC3339), "score": 5, "areas": []string{"lower_back", "hips"}, "note": "stiff, after \"gardening\""})
	ts.do("POST", "/v1/devices", token, map[string]any{"token": "export-device-token-abcdefghijkl", "platform": "ios", "app_version": "1.0"})
	ts.do("POST", "/v1/screening", token, allNo())
	plan := ts.do("POST", "/v1/plans", token, map[string]any{}).json(t)["id"].(string)
	session := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": testNow.Add(-3 * time.Hour).Format(time.RFC3339), "therapist": "Sam"}).json(t)["id"].(string)
	ts.do("POST", "/v1/sessions/"+session+"/complete", token, nil)
	report := ts.do("POST", "/v1/reports", token, map[string]any{}).json(t)["id"].(string)

	r := ts.do("GET", "/v1/me/export", token, nil)
	body := string(r.body)
	for name, want := range map[string]string{"pain log": logID, "plan": plan, "session": session, "report": report, "device hint": "…ghijkl"} {
		if !strings.Contains(body, want) {
			t.Errorf("the JSON export lacks the %s %s", name, want)
		}
	}
	var ex struct {
		Profile    map[string]any `json:"profile"`
		Screenings []any          `json:"screenings"`
		Reminders  []any          `json:"reminders"`
		Audit      []map[string]any
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Profile["email"] != "exa@example.com" || len(ex.Screenings) != 1 || len(ex.Reminders) == 0 {
		t.Fatalf("export: profile %v, %d screenings, %d reminders", ex.Profile, len(ex.Screenings), len(ex.Reminders))
	}
	if strings.Contains(body, "password") || strings.Contains(body, "export-device-token") || strings.Contains(body, "token_hash") {
		t.Fatal("the export carries a password hash, a whole push token or a link token hash")
	}

	csv := ts.do("GET", "/v1/me/export?format=csv", token, nil)
	if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(csv.body), logID) || !strings.Contains(string(csv.body), `"stiff, after ""gardening"""`) {
		t.Fatalf("csv export: %s", csv.body)
	}
	fhir := ts.do("GET", "/v1/me/export?format=fhir", token, nil)
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(fhir.body, &bundle); err != nil || bundle.ResourceType != "Bundle" || bundle.Type != "collection" {
		t.Fatalf("fhir export: %v %s", err, fhir.body)
	}
	kinds := map[string]int{}
	for _, e := range bundle.Entry {
		kinds[e.Resource["resourceType"].(string)]++
	}
	if kinds["Patient"] != 1 || kinds["Observation"] != 1 || kinds["Appointment"] != 1 || kinds["CarePlan"] != 1 {
		t.Fatalf("bundle resources %v", kinds)
	}
	expectProblem(t, ts.do("GET", "/v1/me/export?format=pdf", token, nil), http.StatusBadRequest, "format")

	audit := ts.do("GET", "/v1/me/export", token, nil)
	var again struct{ Audit []map[string]any }
	_ = json.Unmarshal(audit.body, &again)
	exports := 0
	for _, a := range again.Audit {
		if a["action"] == models.AuditExport {
			exports++
		}
	}
	// An export holds the entries of the exports before it; its own is
	// written once it has been read.
	if exports != 3 {
		t.Fatalf("%d export audit entries, want 3 (json, csv, fhir)", exports)
	}
}

// TestExportHoldsQuestionnaireResponses: the live PEGs are in the JSON,
// the CSV and the FHIR export, each with its score, and the deleted one is
// in none of them.
func TestExportHoldsQuestionnaireResponses(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("pegx@example.com", "Europe/Berlin")
	first, second, deleted := newID(), newID(), newID()
	for id, body := range map[string]map[string]any{
		first:   pegResponse(testNow.Add(-48*time.Hour), 7, 6, 6),
		second:  pegResponse(testNow.Add(-time.Hour), 4, 5, 6),
		deleted: pegResponse(testNow.Add(-72*time.Hour), 1, 1, 1),
	} {
		if r := ts.do("PUT", "/v1/questionnaire-responses/"+id, token, body); r.status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", id, r.status, r.body)
		}
	}
	if r := ts.do("DELETE", "/v1/questionnaire-responses/"+deleted, token, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}

	r := ts.do("GET", "/v1/me/export", token, nil)
	if strings.Contains(string(r.body), deleted) {
		t.Error("the JSON export holds the deleted response")
	}
	var ex struct {
		Responses []struct {
			ID            string         `json:"id"`
			Questionnaire string         `json:"questionnaire"`
			AnsweredAt    time.Time      `json:"answered_at"`
			LocalDate     string         `json:"local_date"`
			Answers       map[string]int `json:"answers"`
			Score         float64        `json:"score"`
		} `json:"questionnaire_responses"`
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	scores := map[string]float64{}
	for _, resp := range ex.Responses {
		scores[resp.ID] = resp.Score
		if resp.Questionnaire != "peg3" || resp.AnsweredAt.IsZero() || resp.LocalDate == "" || len(resp.Answers) != 3 {
			t.Errorf("response in the JSON export: %+v", resp)
		}
	}
	if len(scores) != 2 || scores[first] != 6.33 || scores[second] != 5 {
		t.Errorf("JSON export scores %v, want %s 6.33 and %s 5", scores, first, second)
	}

	fhir := ts.do("GET", "/v1/me/export/fhir", token, nil)
	if strings.Contains(string(fhir.body), deleted) {
		t.Error("the FHIR bundle holds the deleted response")
	}
	var bundle struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(fhir.body, &bundle); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	responses := map[string]string{} // fullUrl → client id
	var derived []string
	var values []float64
	for _, e := range bundle.Entry {
		res := e.Resource
		kinds[res["resourceType"].(string)]++
		switch res["resourceType"] {
		case "QuestionnaireResponse":
			responses[e.FullURL] = res["identifier"].(map[string]any)["value"].(string)
		case "Observation":
			code := res["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if code["code"] != "91147-9" {
				t.Errorf("an Observation other than a PEG score: %v", code)
				continue
			}
			values = append(values, res["valueQuantity"].(map[string]any)["value"].(float64))
			derived = append(derived, res["derivedFrom"].([]any)[0].(map[string]any)["reference"].(string))
		}
	}
	if kinds["Questionnaire"] != 1 || kinds["QuestionnaireResponse"] != 2 || kinds["Observation"] != 2 {
		t.Fatalf("bundle resources %v, want a Questionnaire and two responses with their scores", kinds)
	}
	if !slices.Equal(values, []float64{6.33, 5}) || responses[derived[0]] != first || responses[derived[1]] != second {
		t.Errorf("scores %v derived from %v, want 6.33 from %s and 5 from %s (responses %v)", values, derived, first, second, responses)
	}

	// The CSV's route is not in the route table yet: served through the
	// export handler directly.
	app := fiber.New()
	app.Get("/questionnaires.csv", func(c *fiber.Ctx) error {
		c.Locals(localPatientID, patientOf(t, ts, token))
		return c.Next()
	}, handleExport(ts.store, "https://api.backcare.test", func() time.Time { return ts.now }, "questionnaires-csv"))
	res, err := app.Test(httptest.NewRequest("GET", "/questionnaires.csv", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `.questionnaires.csv"`) {
		t.Fatalf("questionnaires csv: %d %v %s", res.StatusCode, res.Header, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "questionnaire", "answered_at", "local_date", "pain", "enjoyment", "activity", "score"},
		{first, "peg3", testNow.Add(-48 * time.Hour).Format(time.RFC3339), "2026-11-20", "7", "6", "6", "6.33"},
		{second, "peg3", testNow.Add(-time.Hour).Format(time.RFC3339), "2026-11-22", "4", "5", "6", "5"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", rows, want)
	}
}

func TestErasureLeavesNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("era@example.com", "UTC")
	keep, _ := ts.register("keep@example.com", "UTC")
	pid := patientOf(t, ts, token)
	for _, tok := range []string{token, keep} {
		logID := newID()
		ts.do("PUT", "/v1/pain-logs/"+logID, tok, painLog(testNow.Add(-time.Hour), 7))
		// Edits leave write markers, whose ids carry the patient's.
		ts.do("PATCH", "/v1/pain-logs/"+logID, tok, map[string]any{"score": 5})
		ts.do("PATCH", "/v1/me", tok, map[string]any{"name": "Renamed"})
		ts.do("POST", "/v1/devices", tok, map[string]any{"token": "erase-device-" + tok[len(tok)-20:], "platform": "android", "app_version": "1.0"})
		ts.do("POST", "/v1/screening", tok, allNo())
		ts.do("POST", "/v1/plans", tok, map[string]any{})
		ts.do("POST", "/v1/sessions", tok, map[string]any{"scheduled_at": testNow.Add(48 * time.Hour).Format(time.RFC3339)})
		ts.do("POST", "/v1/reports", tok, map[string]any{})
	}
	expectProblem(t, ts.do("DELETE", "/v1/me", token, map[string]any{"password": "not my password"}), http.StatusUnauthorized, "")
	if r := ts.do("DELETE", "/v1/me", token, map[string]any{"password": "correct horse battery"}); r.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	if r := ts.do("DELETE", "/v1/me", token, map[string]any{"password": "correct horse battery"}); r.status != http.StatusNoContent {
		t.Fatalf("erasing again: %d %s", r.status, r.body)
	}

	ctx := context.Background()
	names, err := ts.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		cur, err := ts.db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			raw, _ := bson.MarshalExtJSON(d, false, false)
			mentions := strings.Contains(string(raw), pid) || strings.Contains(string(raw), "era@example.com")
			switch {
			case name == "audit" && mentions:
				for k := range d {
					if !map[string]bool{"_id": true, "at": true, "subject": true, "actor": true, "action": true, "outcome": true, "detail": true, "request_id": true}[k] {
						t.Errorf("audit entry field %q may carry more than ids: %s", k, raw)
					}
				}
			case mentions:
				t.Errorf("%s still holds the erased patient: %s", name, raw)
			}
		}
	}
	if n := len(ts.do("GET", "/v1/reminders", keep, nil).json(t)["items"].([]any)); n == 0 {
		t.Fatal("erasure took another patient's reminders with it")
	}
	d, fake := ts.dispatcher()
	ts.now = testNow.Add(72 * time.Hour)
	if err := d.RunOnce(ctx, ts.now); err != nil {
		t.Fatal(err)
	}
	for _, rec := range fake.Received() {
		if strings.Contains(rec.Token, "erase-device-"+token[len(token)-20:]) {
			t.Fatalf("a push went to the erased patient's device: %+v", rec)
		}
	}
}

func TestReportInABrowser(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("rosa@example.com", "UTC")
	other, _ := ts.register("otto@example.com", "UTC")
	ts.do("PATCH", "/v1/me", other, map[string]any{"name": "Otto Private"})
	ts.do("PATCH", "/v1/me", token, map[string]any{"name": "Rosa Example"})
	pid := patientOf(t, ts, token)
	seedHistory(t, ts, pid, 30, func(i int) int { return 7 - i/6 })
	// A "yes" that the patient's clinic cleared: the report names who.
	ts.do("POST", "/v1/screening", token, allNo(models.RecentFracture))
	ts.do("POST", "/v1/plans", token, map[string]any{"start_date": "2026-10-26"})
	for at, pain := range map[time.Time]int{time.Date(2026, 10, 25, 18, 0, 0, 0, time.UTC): 7, time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC): 4} {
		ts.do("PUT", "/v1/questionnaire-responses/"+newID(), token, pegResponse(at, pain, pain, pain))
	}
	cs := ts.signupClinic("report")
	ts.link(cs.therapist, token, "care")
	if r := ts.do("POST", "/v1/clinic/patients/"+pid+"/clearances", cs.therapist, map[string]any{"date": "2026-10-20", "note": "Fracture healed, GP letter seen"}); r.status != http.StatusOK {
		t.Fatalf("clearance: %d %s", r.status, r.body)
	}
	s := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": "2026-11-10T10:00:00Z", "therapist": "Sam"}).json(t)["id"].(string)
	ts.do("POST", "/v1/sessions/"+s+"/complete", token, map[string]any{"pressure_felt": 4, "soreness_after": 6})
	flagged := painLog(testNow.Add(-30*time.Minute), 8)
	flagged["red_flags"] = []string{"leg_weakness"}
	ts.do("PUT", "/v1/pain-logs/"+newID(), token, flagged)
	link := ts.do("POST", "/v1/reports", token, map[string]any{"from": "2026-10-24", "to": "2026-11-22", "valid_days": 7}).json(t)["url"].(string)
	ts.do("PUT", "/v1/pain-logs/"+newID(), other, painLog(testNow.Add(-time.Hour), 2))

	page := ts.do("GET", link, "", nil)
	html := string(page.body)
	if page.status != http.StatusOK || !strings.Contains(html, "Rosa") || strings.Contains(html, "Example") || strings.Contains(html, "Otto") {
		t.Fatalf("report page: %d; it must show the first name only, and never another patient", page.status)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}

	browser := browsertest.Chromium(t)
	srv := ts.serve()
	flags := browsertest.Flags(t.TempDir())
	dom, err := exec.Command(browser, append(flags, "--dump-dom", srv+link)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for name, want := range map[string]string{
		"chart": `id="pain-chart"`, "a day's point": `class="day"`, "a massage day": `class="session-day"`,
		"the baseline": `class="baseline"`, "sessions table": `id="sessions-table"`, "adherence table": `id="adherence-table"`,
		"red flags": "leg weakness", "therapist": "Sam",
		"the PEG's change": "Baseline 7.0 on 2026-10-25, latest 4.0 on 2026-11-20", "its verdict": "A meaningful improvement",
		"the clinic's clearance": `class="staff-recorded"`, "who cleared": "Therapist report", "at which clinic": "Clinic report",
	} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the rendered report lacks %s (%s)", name, want)
		}
	}
	if n := strings.Count(string(dom), `class="day"`); n != 30 {
		t.Errorf("the chart has %d day points, want 30", n)
	}
	artifacts := browsertest.Artifacts(t, "..")
	// At a desk and on a 768 px tablet.
	for name, size := range map[string]string{"report.png": "1000,1900", "report-tablet.png": "768,2200"} {
		shot := filepath.Join(artifacts, name)
		if out, err := exec.Command(browser, append(flags, "--screenshot="+shot, "--window-size="+size, srv+link)...).CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
		if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
			t.Fatalf("screenshot %v (%v)", st, err)
		}
		t.Logf("report screenshot: %s", shot)
	}

	t.Run("revoked and expired links are a plain 404", func(t *testing.T) {
		id := ts.do("POST", "/v1/reports", token, map[string]any{}).json(t)
		ts.do("DELETE", "/v1/reports/"+id["id"].(string), token, nil)
		for _, url := range []string{id["url"].(string), "/r/" + strings.Repeat("A", 43), "/r/short"} {
			if r := ts.do("GET", url, "", nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "Not found") {
				t.Fatalf("%s: %d %s", url, r.status, r.body)
			}
		}
		ts.now = testNow.Add(7*24*time.Hour + time.Second)
		defer func() { ts.now = testNow }()
		if r := ts.do("GET", link, "", nil); r.status != http.StatusNotFound {
			t.Fatalf("an expired link: %d", r.status)
		}
	})
}
