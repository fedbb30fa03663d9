package handlers

import (
	"net/http"
	"testing"
	"time"
)

func TestPutPainLogIsIdempotent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("eve@example.com", "UTC")
	id := newID()
	body := painLog(testNow.Add(-time.Hour), 6)

	first := ts.do("PUT", "/v1/pain-logs/"+id, token, body)
	if first.status != http.StatusCreated {
		t.Fatalf("first PUT: %d %s", first.status, first.body)
	}
	again := ts.do("PUT", "/v1/pain-logs/"+id, token, body)
	if again.status != http.StatusOK {
		t.Fatalf("retried PUT: %d %s", again.status, again.body)
	}
	if first.json(t)["created_at"] != again.json(t)["created_at"] {
		t.Fatalf("a retry must not make a new entry: %s vs %s", first.body, again.body)
	}
	list := ts.do("GET", "/v1/pain-logs", token, nil).json(t)
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("%d entries after a retried PUT, want 1", n)
	}
	// The same UUID in capitals names the same entry.
	upper := ts.do("PUT", "/v1/pain-logs/"+toUpper(id), token, painLog(testNow.Add(-time.Hour), 4))
	if upper.status != http.StatusOK || upper.json(t)["score"] != float64(4) {
		t.Fatalf("PUT with the id in capitals: %d %s", upper.status, upper.body)
	}
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestLocalDateFollowsThePatientsZone(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cases := []struct {
		zone     string
		loggedAt string
		want     string
	}{
		// 23:30 in Edmonton (UTC-7 in November) is already the next day in UTC.
		{"America/Edmonton", "2026-11-21T23:30:00-07:00", "2026-11-21"},
		{"America/Edmonton", "2026-11-22T06:30:00Z", "2026-11-21"},
		// Kolkata is UTC+05:30: 19:00 UTC is 00:30 the next day there.
		{"Asia/Kolkata", "2026-11-21T19:00:00Z", "2026-11-22"},
		{"Asia/Kolkata", "2026-11-21T18:29:00Z", "2026-11-21"},
		{"UTC", "2026-11-21T23:59:59Z", "2026-11-21"},
	}
	for i, c := range cases {
		t.Run(c.zone+" "+c.loggedAt, func(t *testing.T) {
			token, _ := ts.register(path("zone%d@example.com", i), c.zone)
			r := ts.do("PUT", "/v1/pain-logs/"+newID(), token, map[string]any{"logged_at": c.loggedAt, "score": 3})
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := r.json(t)["local_date"]; got != c.want {
				t.Fatalf("local_date = %v, want %s", got, c.want)
			}
		})
	}
}

func TestRedFlagsCarryUrgentAdvice(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("fay@example.com", "UTC")
	body := painLog(testNow.Add(-time.Hour), 8)
	body["red_flags"] = []string{"saddle_numbness", "bladder_bowel_change"}
	r := ts.do("PUT", "/v1/pain-logs/"+newID(), token, body)
	m := r.json(t)
	advice, ok := m["urgent_advice"].(map[string]any)
	if r.status != http.StatusCreated || !ok || m["urgent"] != true {
		t.Fatalf("no urgent advice: %d %s", r.status, r.body)
	}
	if flags := advice["flags"].([]any); len(flags) != 2 || advice["title"] == "" {
		t.Fatalf("advice %v", advice)
	}
	plain := ts.do("PUT", "/v1/pain-logs/"+newID(), token, painLog(testNow.Add(-time.Hour), 3)).json(t)
	if _, has := plain["urgent_advice"]; has || plain["urgent"] == true {
		t.Fatalf("a log without red flags carries advice: %v", plain)
	}
}

func TestPainLogDatesAreBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("gus@example.com", "UTC")
	for name, at := range map[string]time.Time{
		"tomorrow":          testNow.Add(24 * time.Hour),
		"in ten minutes":    testNow.Add(10 * time.Minute),
		"more than a year":  testNow.AddDate(-1, 0, -1),
		"zero time instant": {},
	} {
		t.Run(name, func(t *testing.T) {
			expectProblem(t, ts.do("PUT", "/v1/pain-logs/"+newID(), token, painLog(at, 5)), http.StatusBadRequest, "logged_at")
		})
	}
	for name, at := range map[string]time.Time{
		"a phone clock a minute fast": testNow.Add(time.Minute),
		"almost a year ago":           testNow.AddDate(0, 0, -364),
	} {
		t.Run(name, func(t *testing.T) {
			if r := ts.do("PUT", "/v1/pain-logs/"+newID(), token, painLog(at, 5)); r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}

func TestPainLogPatchDeleteAndSync(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("hal@example.com", "UTC")
	keep, gone := newID(), newID()
	ts.do("PUT", "/v1/pain-logs/"+keep, token, painLog(testNow.Add(-2*time.Hour), 5))
	ts.do("PUT", "/v1/pain-logs/"+gone, token, painLog(testNow.Add(-3*time.Hour), 7))
	syncFrom := testNow

	ts.now = testNow.Add(time.Minute)
	r := ts.do("PATCH", "/v1/pain-logs/"+keep, token, map[string]any{"score": 2, "note": "better after the walk"})
	if m := r.json(t); r.status != http.StatusOK || m["score"] != float64(2) || m["note"] != "better after the walk" || m["areas"] == nil {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := ts.do("DELETE", "/v1/pain-logs/"+gone, token, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := ts.do("DELETE", "/v1/pain-logs/"+gone, token, nil); r.status != http.StatusNoContent {
		t.Fatalf("a retried delete must succeed: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("GET", "/v1/pain-logs/"+gone, token, nil), http.StatusNotFound, "")
	expectProblem(t, ts.do("PUT", "/v1/pain-logs/"+gone, token, painLog(testNow.Add(-3*time.Hour), 7)), http.StatusConflict, "")

	list := ts.do("GET", "/v1/pain-logs", token, nil).json(t)["items"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != keep {
		t.Fatalf("list after delete: %v", list)
	}
	changes := ts.do("GET", "/v1/pain-logs?updated_since="+syncFrom.Add(time.Second).Format(time.RFC3339), token, nil).json(t)["items"].([]any)
	if len(changes) != 2 {
		t.Fatalf("sync returned %d changes, want the edit and the deletion: %v", len(changes), changes)
	}
	var tomb map[string]any
	for _, c := range changes {
		if m := c.(map[string]any); m["id"] == gone {
			tomb = m
		}
	}
	if tomb == nil || tomb["deleted"] != true || tomb["score"] != nil || tomb["note"] != nil {
		t.Fatalf("tombstone %v", tomb)
	}
}

func TestPainLogListPagesAndRanges(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("ida@example.com", "UTC")
	for d := 0; d < 5; d++ {
		r := ts.do("PUT", "/v1/pain-logs/"+newID(), token, painLog(testNow.AddDate(0, 0, -d), d))
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	var scores []float64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		url := "/v1/pain-logs?limit=2"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		page := ts.do("GET", url, token, nil).json(t)
		for _, it := range page["items"].([]any) {
			scores = append(scores, it.(map[string]any)["score"].(float64))
		}
		next, ok := page["next_cursor"].(string)
		if !ok {
			break
		}
		cursor = next
	}
	if len(scores) != 5 || scores[0] != 0 || scores[4] != 4 {
		t.Fatalf("paged scores %v, want 0..4 newest first", scores)
	}
	r := ts.do("GET", "/v1/pain-logs?from=2026-11-19&to=2026-11-21", token, nil).json(t)
	if n := len(r["items"].([]any)); n != 3 {
		t.Fatalf("range returned %d, want 3", n)
	}
	big := ts.do("GET", "/v1/pain-logs?limit=100000", token, nil)
	if big.status != http.StatusOK {
		t.Fatalf("a large limit is clamped, not refused: %d %s", big.status, big.body)
	}
}
