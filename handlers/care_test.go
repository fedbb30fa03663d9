package handlers

import (
	"net/http"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// allNo answers every screening question "no"; yes lists the exceptions.
func allNo(yes ...models.Contraindication) map[string]any {
	answers := map[string]any{}
	for _, c := range models.Contraindications {
		answers[string(c)] = false
	}
	for _, c := range yes {
		answers[string(c)] = true
	}
	return map[string]any{"answers": answers}
}

func TestCarePlanJourney(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("mo@example.com", "America/Edmonton")

	expectProblem(t, ts.do("POST", "/v1/plans", token, map[string]any{}), http.StatusConflict, "screening")
	sc := ts.do("POST", "/v1/screening", token, allNo())
	if sc.status != http.StatusCreated || sc.json(t)["latest"].(map[string]any)["needs_clearance"] != false {
		t.Fatalf("screening: %d %s", sc.status, sc.body)
	}
	// The plan starts on Monday 2 November 2026, at 10:00 local on Mondays.
	r := ts.do("POST", "/v1/plans", token, map[string]any{"start_date": "2026-11-02", "preferred_time": "10:00"})
	if r.status != http.StatusCreated {
		t.Fatalf("plan: %d %s", r.status, r.body)
	}
	plan := r.json(t)
	if plan["status"] != "active" || plan["phase"] != "initial" || plan["cadence"].(map[string]any)["initial_sessions"] != float64(6) {
		t.Fatalf("new plan %s", r.body)
	}
	expectProblem(t, ts.do("POST", "/v1/plans", token, map[string]any{}), http.StatusConflict, "")

	edmonton, _ := time.LoadLocation("America/Edmonton")
	// Six weekly sessions, each completed an hour after it starts.
	for week := 0; week < 6; week++ {
		at := time.Date(2026, 11, 2+7*week, 10, 0, 0, 0, edmonton)
		ts.now = at.Add(-48 * time.Hour)
		token = ts.login("mo@example.com")
		book := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Format(time.RFC3339), "therapist": "Clinic therapist"})
		if book.status != http.StatusCreated {
			t.Fatalf("book week %d: %d %s", week, book.status, book.body)
		}
		id := book.json(t)["id"].(string)
		ts.now = at.Add(time.Hour)
		token = ts.login("mo@example.com")
		done := ts.do("POST", "/v1/sessions/"+id+"/complete", token, map[string]any{"pressure_felt": 3, "soreness_after": 4})
		if done.status != http.StatusOK || done.json(t)["status"] != "completed" {
			t.Fatalf("complete week %d: %d %s", week, done.status, done.body)
		}
		current := ts.do("GET", "/v1/plans/current", token, nil).json(t)
		if week < 5 && current["phase"] != "initial" {
			t.Fatalf("after %d sessions the plan is in %v", week+1, current["phase"])
		}
	}
	current := ts.do("GET", "/v1/plans/current", token, nil).json(t)
	next := current["next_session"].(map[string]any)
	// The last weekly session was on 7 December at 10:00; maintenance is every 4 weeks.
	if current["phase"] != "maintenance" || next["due_date"] != "2027-01-04" || next["due_at"] != "2027-01-04T17:00:00Z" {
		t.Fatalf("after six sessions: phase %v, next %v", current["phase"], next)
	}
	history := current["history"].([]any)
	last := history[len(history)-1].(map[string]any)
	if last["what"] != "phase" || last["to"] != "maintenance" {
		t.Fatalf("the phase change is not in the history: %v", history)
	}
}

func TestScreeningGate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("ned@example.com", "Europe/Berlin")

	sc := ts.do("POST", "/v1/screening", token, allNo(models.DeepVeinThrombosis))
	body := sc.json(t)
	if sc.status != http.StatusCreated || body["advice"] == nil || body["latest"].(map[string]any)["needs_clearance"] != true {
		t.Fatalf("a yes answer must carry advice: %d %s", sc.status, sc.body)
	}
	plan := ts.do("POST", "/v1/plans", token, map[string]any{}).json(t)
	if plan["status"] != "needs_clearance" || plan["advice"] == nil {
		t.Fatalf("plan after a yes: %v", plan)
	}
	expectProblem(t, ts.do("POST", "/v1/screening/clearance", token, map[string]any{"date": "2026-12-01"}), http.StatusBadRequest, "date")
	cl := ts.do("POST", "/v1/screening/clearance", token, map[string]any{"date": "2026-11-20", "note": "GP says fine"})
	if cl.status != http.StatusOK || cl.json(t)["plan_status"] != "active" {
		t.Fatalf("clearance: %d %s", cl.status, cl.body)
	}
	if got := ts.do("GET", "/v1/plans/current", token, nil).json(t)["status"]; got != "active" {
		t.Fatalf("plan after clearance: %v", got)
	}
	// A new screening with a new "yes" holds the plan again.
	ts.do("POST", "/v1/screening", token, allNo(models.RecentFracture))
	if got := ts.do("GET", "/v1/plans/current", token, nil).json(t)["status"]; got != "needs_clearance" {
		t.Fatalf("plan after a new yes: %v", got)
	}

	t.Run("a stale screening is asked again", func(t *testing.T) {
		ts := newTestServer(t)
		token, _ := ts.register("old@example.com", "UTC")
		ts.do("POST", "/v1/screening", token, allNo())
		ts.now = testNow.AddDate(0, 6, 1)
		access := ts.login("old@example.com")
		if got := ts.do("GET", "/v1/screening", access, nil).json(t)["required"]; got != true {
			t.Fatalf("required = %v for a screening over 6 months old", got)
		}
		expectProblem(t, ts.do("POST", "/v1/plans", access, map[string]any{}), http.StatusConflict, "screening")
		ts.do("POST", "/v1/screening", access, allNo())
		if r := ts.do("POST", "/v1/plans", access, map[string]any{}); r.status != http.StatusCreated {
			t.Fatalf("plan after a fresh screening: %d %s", r.status, r.body)
		}
	})
}

func TestSessionRules(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("oz@example.com", "UTC")
	at := testNow.Add(-2 * time.Hour)
	book := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Format(time.RFC3339), "duration_minutes": 90})
	if book.status != http.StatusCreated {
		t.Fatalf("book: %d %s", book.status, book.body)
	}
	id := book.json(t)["id"].(string)

	t.Run("completing twice yields one completion", func(t *testing.T) {
		first := ts.do("POST", "/v1/sessions/"+id+"/complete", token, nil).json(t)
		ts.now = testNow.Add(time.Minute)
		defer func() { ts.now = testNow }()
		second := ts.do("POST", "/v1/sessions/"+id+"/complete", token, map[string]any{"pressure_felt": 5, "soreness_after": 9})
		s2 := second.json(t)
		if first["already_completed"] == true || s2["already_completed"] != true || s2["completed_at"] != first["completed_at"] || s2["feedback"] != nil {
			t.Fatalf("first %v\nsecond %s", first, second.body)
		}
	})
	t.Run("overlap is refused", func(t *testing.T) {
		r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Add(time.Hour).Format(time.RFC3339)})
		expectProblem(t, r, http.StatusConflict, "scheduled_at")
	})
	t.Run("back to back is fine", func(t *testing.T) {
		r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Add(90 * time.Minute).Format(time.RFC3339), "duration_minutes": 60})
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("more than two years ahead", func(t *testing.T) {
		r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": testNow.AddDate(2, 0, 1).Format(time.RFC3339)})
		expectProblem(t, r, http.StatusBadRequest, "scheduled_at")
	})
	t.Run("a future session cannot be completed", func(t *testing.T) {
		r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": testNow.Add(48 * time.Hour).Format(time.RFC3339)})
		id := r.json(t)["id"].(string)
		expectProblem(t, ts.do("POST", "/v1/sessions/"+id+"/complete", token, nil), http.StatusBadRequest, "scheduled_at")
		expectProblem(t, ts.do("PATCH", "/v1/sessions/"+id, token, map[string]any{"action": "missed"}), http.StatusBadRequest, "scheduled_at")
		moved := ts.do("PATCH", "/v1/sessions/"+id, token, map[string]any{"scheduled_at": testNow.Add(72 * time.Hour).Format(time.RFC3339)})
		if moved.status != http.StatusOK || moved.json(t)["scheduled_at"] != "2026-11-25T15:00:00Z" {
			t.Fatalf("reschedule: %d %s", moved.status, moved.body)
		}
		if r := ts.do("PATCH", "/v1/sessions/"+id, token, map[string]any{"action": "cancel"}); r.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("PATCH", "/v1/sessions/"+id, token, map[string]any{"action": "cancel"}), http.StatusConflict, "")
		expectProblem(t, ts.do("POST", "/v1/sessions/"+id+"/complete", token, nil), http.StatusConflict, "")
	})
	list := ts.do("GET", "/v1/sessions", token, nil).json(t)["items"].([]any)
	if len(list) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list))
	}
}

func TestPlanChanges(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("pia@example.com", "UTC")
	ts.do("POST", "/v1/screening", token, allNo())
	plan := ts.do("POST", "/v1/plans", token, map[string]any{"start_date": "2026-11-16"}).json(t)
	id := plan["id"].(string)

	expectProblem(t, ts.do("PATCH", "/v1/plans/"+id, token, map[string]any{"maintenance_weeks": 3}), http.StatusBadRequest, "effective_from")
	expectProblem(t, ts.do("PATCH", "/v1/plans/"+id, token, map[string]any{"effective_from": "2026-11-01", "maintenance_weeks": 3}), http.StatusBadRequest, "effective_from")
	r := ts.do("PATCH", "/v1/plans/"+id, token, map[string]any{"effective_from": "2026-12-01", "maintenance_monthly": true, "preferred_time": "17:30"})
	if r.status != http.StatusOK {
		t.Fatalf("cadence change: %d %s", r.status, r.body)
	}
	changed := r.json(t)
	versions := changed["cadence_versions"].([]any)
	if len(versions) != 2 {
		t.Fatalf("versions %v", versions)
	}
	before := versions[0].(map[string]any)["cadence"].(map[string]any)
	after := versions[1].(map[string]any)["cadence"].(map[string]any)
	if before["preferred_time"] != "10:00" || before["maintenance_weeks"] != float64(4) || after["maintenance_monthly"] != true || after["preferred_time"] != "17:30" {
		t.Fatalf("the change must keep what was planned before: %v / %v", before, after)
	}
	if changed["cadence"].(map[string]any)["preferred_time"] != "10:00" {
		t.Fatalf("today's cadence is still the first: %v", changed["cadence"])
	}
	for _, step := range []struct {
		action, status string
		code           int
	}{
		{"pause", "paused", 200}, {"pause", "", 409}, {"resume", "active", 200}, {"complete", "completed", 200}, {"resume", "", 409},
	} {
		r := ts.do("PATCH", "/v1/plans/"+id, token, map[string]any{"action": step.action})
		if step.code != http.StatusOK {
			expectProblem(t, r, step.code, "")
			continue
		}
		if r.status != http.StatusOK || r.json(t)["status"] != step.status {
			t.Fatalf("%s: %d %s", step.action, r.status, r.body)
		}
	}
	expectProblem(t, ts.do("GET", "/v1/plans/current", token, nil), http.StatusNotFound, "")
	if r := ts.do("POST", "/v1/plans", token, map[string]any{}); r.status != http.StatusCreated {
		t.Fatalf("a new plan after completing the old: %d %s", r.status, r.body)
	}
}
