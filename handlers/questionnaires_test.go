package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func TestQuestionnaireCatalog(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.do("GET", "/v1/questionnaires?locale=de-AT", "", nil)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("the catalog: %d %v", r.status, r.header)
	}
	items := r.json(t)["items"].([]any)
	peg := items[0].(map[string]any)
	questions := peg["items"].([]any)
	if len(items) != 1 || peg["id"] != "peg3" || peg["panel_code"] != "91148-7" || peg["score_code"] != "91147-9" || len(questions) != 3 ||
		peg["meaningful_change"].(map[string]any)["percent"] != 30.0 {
		t.Fatalf("the PEG: %v", peg)
	}
	first := questions[0].(map[string]any)
	if first["id"] != "pain" || first["min"] != 0.0 || first["max"] != 10.0 || first["text"] == "" || first["min_label"] != "No pain" {
		t.Errorf("the first item, in English for lack of a German text: %v", first)
	}
	for _, q := range []string{"?locale=not%20a%20tag", "?lang=en", "?locale=en&locale=de"} {
		if r := ts.do("GET", "/v1/questionnaires"+q, "", nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func pegResponse(at time.Time, pain, enjoyment, activity int) map[string]any {
	return map[string]any{"questionnaire": "peg3", "answered_at": at.Format(time.RFC3339),
		"answers": map[string]any{"pain": pain, "enjoyment": enjoyment, "activity": activity}}
}

func TestQuestionnaireResponsesThroughTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("peg@example.com", "America/Edmonton")
	id := newID()
	// Answered at 20:30 in Edmonton on the 21st: 03:30 UTC on the 22nd.
	at := time.Date(2026, 11, 22, 3, 30, 0, 0, time.UTC)
	first := ts.do("PUT", "/v1/questionnaire-responses/"+strings.ToUpper(id), token, pegResponse(at, 6, 5, 4))
	body := first.json(t)
	if first.status != http.StatusCreated || body["id"] != id || body["score"] != 5.0 || body["local_date"] != "2026-11-21" {
		t.Fatalf("the first PUT: %d %v", first.status, body)
	}
	again := ts.do("PUT", "/v1/questionnaire-responses/"+id, token, pegResponse(at, 6, 5, 4))
	if again.status != http.StatusOK {
		t.Fatalf("the retry: %d %s", again.status, again.body)
	}
	withScore := pegResponse(at, 1, 1, 1)
	withScore["score"] = 0
	if r := ts.do("PUT", "/v1/questionnaire-responses/"+newID(), token, withScore); r.status != http.StatusBadRequest {
		t.Fatalf("a score from the client: %d, want 400", r.status)
	}
	if r := ts.do("PUT", "/v1/questionnaire-responses/"+newID(), token, map[string]any{"questionnaire": "peg3", "answered_at": at.Format(time.RFC3339),
		"answers": map[string]any{"pain": 6, "enjoyment": 5}}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "answers.activity") {
		t.Fatalf("an item missing: %d %s", r.status, r.body)
	}
	list := ts.do("GET", "/v1/questionnaire-responses?from=2026-11-21&to=2026-11-21", token, nil).json(t)
	if items := list["items"].([]any); len(items) != 1 || list["next_cursor"] != nil {
		t.Fatalf("the day's list: %v", list)
	}
	if r := ts.do("DELETE", "/v1/questionnaire-responses/"+id, token, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	if r := ts.do("GET", "/v1/questionnaire-responses/"+id, token, nil); r.status != http.StatusNotFound {
		t.Fatalf("a deleted response: %d", r.status)
	}
	sync := ts.do("GET", "/v1/questionnaire-responses?updated_since="+at.Add(-time.Hour).Format(time.RFC3339), token, nil).json(t)
	items := sync["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["deleted"] != true || items[0].(map[string]any)["answers"] != nil || items[0].(map[string]any)["score"] != nil {
		t.Fatalf("the tombstone in a sync: %v", items)
	}
}

// TestPEGTrendInInsightsAndTriage: answers before and during the plan
// show in the patient's insights and the clinic's triage alike.
func TestPEGTrendInInsightsAndTriage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("trend@example.com", "UTC")
	ts.do("POST", "/v1/screening", token, allNo())
	// Answered on 2 and 9 November (before the plan of the 10th), then on the 21st.
	for day, pain := range map[int]int{2: 8, 9: 7, 21: 4} {
		at := time.Date(2026, 11, day, 18, 0, 0, 0, time.UTC)
		if r := ts.do("PUT", "/v1/questionnaire-responses/"+newID(), token, pegResponse(at, pain, pain, pain)); r.status != http.StatusCreated {
			t.Fatalf("answer of the %d: %d %s", day, r.status, r.body)
		}
	}
	if r := ts.do("POST", "/v1/plans", token, map[string]any{"start_date": "2026-11-10"}); r.status != http.StatusCreated {
		t.Fatalf("plan: %d %s", r.status, r.body)
	}
	qs := ts.do("GET", "/v1/insights?from=2026-11-01&to=2026-11-22", token, nil).json(t)["questionnaires"].([]any)
	peg := qs[0].(map[string]any)
	// Baseline 7 (the 9th, the last before the plan), latest 4: -3 points, 42.9 %.
	if peg["questionnaire"] != "peg3" || peg["n"] != 3.0 || peg["points"] != -3.0 || peg["percent_improvement"] != 42.9 || peg["meaningful"] != true ||
		peg["baseline"].(map[string]any)["local_date"] != "2026-11-09" || peg["meaningful_percent"] != 30.0 {
		t.Fatalf("the PEG in insights: %v", peg)
	}
	cs := ts.signupClinic("trend")
	ts.link(cs.therapist, token, "view")
	item := ts.do("GET", "/v1/clinic/patients", cs.therapist, nil).json(t)["items"].([]any)[0].(map[string]any)
	if tp := item["peg"].(map[string]any); tp["points"] != -3.0 || tp["meaningful"] != true {
		t.Fatalf("the PEG in triage: %v", tp)
	}
}

// TestAnsweringSkipsTheQuestionnaireReminder: the PEG-3 reminder planned
// for the day before a session goes once the patient answers today, and
// comes back when the answer is deleted.
func TestAnsweringSkipsTheQuestionnaireReminder(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("asked@example.com", "UTC")
	ts.do("POST", "/v1/screening", token, allNo())
	ts.do("POST", "/v1/plans", token, map[string]any{})
	// A session on Wednesday: the PEG-3 is asked on Tuesday.
	if r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": "2026-11-25T10:00:00Z"}); r.status != http.StatusCreated {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	// due counts the pending PEG-3 reminders of the next 5 days, which an
	// answer now covers; the one a week on is asked again.
	due := func() int {
		n := 0
		for _, it := range ts.do("GET", "/v1/reminders?limit=200", token, nil).json(t)["items"].([]any) {
			r := it.(map[string]any)
			at, _ := time.Parse(time.RFC3339, r["due_at"].(string))
			if r["kind"] == "questionnaire_due" && r["status"] == "pending" && at.Before(testNow.Add(models.QuestionnaireAnswerWindow)) {
				n++
			}
		}
		return n
	}
	if due() == 0 {
		t.Fatal("no questionnaire reminder is planned the day before the session")
	}
	id := newID()
	if r := ts.do("PUT", "/v1/questionnaire-responses/"+id, token, pegResponse(testNow.Add(-time.Minute), 5, 5, 5)); r.status != http.StatusCreated {
		t.Fatalf("answer: %d %s", r.status, r.body)
	}
	if n := due(); n != 0 {
		t.Fatalf("%d questionnaire reminders still pending right after an answer", n)
	}
	ts.do("DELETE", "/v1/questionnaire-responses/"+id, token, nil)
	if due() == 0 {
		t.Fatal("the deleted answer still holds the reminder back")
	}
}
