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
}
