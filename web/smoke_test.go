package web

import (
	"strings"
	"testing"
)

func TestSignInAndPages(t *testing.T) {
	t.Parallel()
	s := newSite(t, "https://backcare.test")
	c := s.signupClinic("smoke", "America/Edmonton")
	tok, pid := s.patient("pat@example.com", "Pat Example", "America/Edmonton")
	s.link(c.therapistToken, tok, "care")
	s.logs(pid, 0, 20, func(i int) int { return 6 - i/5 }, func(i int) bool { return i == 19 })
	s.must(201, s.api("POST", "/v1/clinic/patients/"+pid+"/sessions", c.therapistToken, map[string]any{"scheduled_at": "2026-11-24T20:00:00Z"}), "today's session")
	cl := s.signIn(c.therapistEmail)
	for _, p := range []string{"/clinic/", "/clinic/patients", "/clinic/patients/" + pid, "/clinic/patients/" + pid + "/plan",
		"/clinic/patients/" + pid + "/sessions/new", "/clinic/patients/" + pid + "/clearance", "/clinic/link-code"} {
		r := cl.get(p)
		if r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
		if !strings.Contains(string(r.body), "Therapist smoke") {
			t.Errorf("%s does not name who is signed in", p)
		}
	}
	// Each page that showed the patient is in their access log, named.
	log := s.must(200, s.api("GET", "/v1/me/access-log?limit=100", tok, nil), "access log").json(t)
	seen := map[string]bool{}
	for _, e := range log["items"].([]any) {
		entry := e.(map[string]any)
		if entry["staff"].(map[string]any)["name"] == "Therapist smoke" {
			seen[entry["what"].(string)] = true
		}
	}
	for _, what := range []string{"dashboard/today", "dashboard/patients", "dashboard", "dashboard/plan", "dashboard/sessions/new", "dashboard/clearance"} {
		if !seen[what] {
			t.Errorf("the access log lacks %q: %v", what, seen)
		}
	}
}
