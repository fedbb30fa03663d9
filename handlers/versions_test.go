package handlers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// doIfMatch sends a request with an If-Match header.
func (ts *testServer) doIfMatch(method, path, token, ifMatch string, body any) response {
	ts.t.Helper()
	return ts.doWith(method, path, token, body, http.Header{"If-Match": {ifMatch}})
}

func expectETag(t *testing.T, r response, status int, etag string) {
	t.Helper()
	if r.status != status || r.header.Get("ETag") != etag {
		t.Fatalf("status %d, ETag %q; want %d and %s: %s", r.status, r.header.Get("ETag"), status, etag, r.body)
	}
}

func TestIfMatchMakesAPainLogEditConditional(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("ida@example.com", "UTC")
	id := newID()
	url := "/v1/pain-logs/" + id
	expectETag(t, ts.do("PUT", url, token, painLog(testNow.Add(-time.Hour), 4)), http.StatusCreated, `"0"`)
	expectETag(t, ts.do("GET", url, token, nil), http.StatusOK, `"0"`)

	expectETag(t, ts.doIfMatch("PATCH", url, token, `"0"`, map[string]any{"score": 5}), http.StatusOK, `"1"`)
	// The phone's copy is of version 0 no more: nothing changes.
	expectProblem(t, ts.doIfMatch("PATCH", url, token, `"0"`, map[string]any{"score": 9}), http.StatusPreconditionFailed, "If-Match")
	expectProblem(t, ts.doIfMatch("PATCH", url, token, `W/"1"`, map[string]any{"score": 9}), http.StatusPreconditionFailed, "If-Match")
	if got := ts.do("GET", url, token, nil).json(t)["score"]; got != float64(5) {
		t.Fatalf("a refused conditional edit changed the score to %v", got)
	}
	for _, bad := range []string{"1", `"1`, `"1",`, ""} {
		expectProblem(t, ts.doIfMatch("PATCH", url, token, bad, map[string]any{"score": 9}), http.StatusBadRequest, "If-Match")
	}
	expectETag(t, ts.doIfMatch("PATCH", url, token, `"7", "1"`, map[string]any{"note": "listed"}), http.StatusOK, `"2"`)
	expectETag(t, ts.doIfMatch("PATCH", url, token, "*", map[string]any{"note": "any"}), http.StatusOK, `"3"`)

	// PUT with If-Match replaces only the version named, and creates nothing.
	expectProblem(t, ts.doIfMatch("PUT", url, token, `"2"`, painLog(testNow.Add(-time.Hour), 1)), http.StatusPreconditionFailed, "If-Match")
	expectETag(t, ts.doIfMatch("PUT", url, token, `"3"`, painLog(testNow.Add(-time.Hour), 1)), http.StatusOK, `"4"`)
	other := "/v1/pain-logs/" + newID()
	expectProblem(t, ts.doIfMatch("PUT", other, token, "*", painLog(testNow.Add(-time.Hour), 1)), http.StatusPreconditionFailed, "If-Match")
	expectProblem(t, ts.do("GET", other, token, nil), http.StatusNotFound, "")
}

func TestIfMatchMakesPlanAndSessionEditsConditional(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("jo@example.com", "UTC")
	ts.do("POST", "/v1/screening", token, allNo())
	plan := ts.do("POST", "/v1/plans", token, map[string]any{}).json(t)["id"].(string)
	expectETag(t, ts.do("GET", "/v1/plans/current", token, nil), http.StatusOK, `"0"`)
	expectETag(t, ts.doIfMatch("PATCH", "/v1/plans/"+plan, token, `"0"`, map[string]any{"action": "pause"}), http.StatusOK, `"1"`)
	expectProblem(t, ts.doIfMatch("PATCH", "/v1/plans/"+plan, token, `"0"`, map[string]any{"action": "resume"}), http.StatusPreconditionFailed, "If-Match")
	expectETag(t, ts.do("GET", "/v1/plans/current", token, nil), http.StatusOK, `"1"`)

	at := testNow.Add(48 * time.Hour).Format(time.RFC3339)
	session := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at}).json(t)["id"].(string)
	url := "/v1/sessions/" + session
	expectETag(t, ts.do("GET", url, token, nil), http.StatusOK, `"0"`)
	expectETag(t, ts.doIfMatch("PATCH", url, token, `"0"`, map[string]any{"therapist": "Ana"}), http.StatusOK, `"1"`)
	expectProblem(t, ts.doIfMatch("PATCH", url, token, `"0"`, map[string]any{"clinic": "Late"}), http.StatusPreconditionFailed, "If-Match")
	if got := ts.do("GET", url, token, nil).json(t); got["therapist"] != "Ana" || got["clinic"] != nil {
		t.Fatalf("the session after a refused conditional edit: %v", got)
	}
	stranger, _ := ts.register("stranger@example.com", "UTC")
	expectProblem(t, ts.do("GET", url, stranger, nil), http.StatusNotFound, "")
}

func TestRevokingAShareLinkTwiceLeavesOneAuditEntry(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("kai@example.com", "UTC")
	id := ts.do("POST", "/v1/reports", token, map[string]any{}).json(t)["id"].(string)
	for range 2 {
		if r := ts.do("DELETE", "/v1/reports/"+id, token, nil); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
	}
	entries, err := ts.store.AuditOf(context.Background(), patientOf(t, ts, token))
	if err != nil {
		t.Fatal(err)
	}
	revokes := 0
	for _, e := range entries {
		if e.Action == models.AuditReportRevoke {
			revokes++
		}
	}
	if revokes != 1 {
		t.Fatalf("%d report_revoke entries, want 1", revokes)
	}
}
