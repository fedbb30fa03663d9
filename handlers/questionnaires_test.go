package handlers

import (
	"net/http"
	"testing"
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
