package web

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/auth"
)

// validForms are forms each POST page accepts from a staff member allowed
// to send them: a refusal in the table below is then the authorization's,
// not the input's. A POST route without one fails the test.
var validForms = map[string]url.Values{
	"/clinic/logout":                              {},
	"/clinic/patients/:id/sessions":               {"scheduled_at": {"2026-12-01T10:00"}, "duration_minutes": {"60"}, "therapist": {"Sam"}},
	"/clinic/patients/:id/sessions/:sid":          {"scheduled_at": {"2026-12-02T10:00"}, "duration_minutes": {"60"}, "therapist": {"Sam"}},
	"/clinic/patients/:id/sessions/:sid/status":   {"action": {"cancel"}},
	"/clinic/patients/:id/sessions/:sid/complete": {"subjective": {"Tight low back"}},
	"/clinic/patients/:id/sessions/:sid/note":     {"subjective": {"Tight low back"}},
	"/clinic/patients/:id/plan":                   {"home_care": {"Heat in the evening."}},
	"/clinic/patients/:id/plan/status":            {"action": {"pause"}},
	"/clinic/patients/:id/clearance":              {"date": {"2026-11-20"}, "note": {"GP letter"}},
	"/clinic/patients/:id/messages":               {"text": {"Some soreness on day three is normal."}, "message_id": {"7b0e4c9a-2d1f-4e8b-9a6c-5d4e3f2a1b0c"}},
	"/clinic/link-code":                           {"scope": {"care"}},
	"/clinic/settings":                            {"cancellation_hours": {"12"}},
	"/clinic/settings/invitations":                {"email": {"new@calm.example"}, "role": {"therapist"}},
	"/clinic/settings/invitations/:iid/revoke":    {},
	"/clinic/settings/invitations/:iid/resend":    {},
	"/clinic/settings/staff/:stid":                {"active": {"false"}},
}

// authzFixture is a clinic with a patient linked for care and one for
// view, another clinic, and what the table's paths name.
type authzFixture struct {
	s               *site
	calm, other     clinic
	care, view      string
	careToken       string
	session, invite string
}

func newAuthzFixture(t *testing.T) authzFixture {
	s := newSite(t, "https://backcare.test")
	f := authzFixture{s: s, calm: s.signupClinic("calm", "America/Edmonton"), other: s.signupClinic("other", "America/Edmonton")}
	var viewToken string
	f.careToken, f.care = s.patient("carla@example.com", "Carla Care", "America/Edmonton")
	viewToken, f.view = s.patient("vera@example.com", "Vera View", "America/Edmonton")
	s.link(f.calm.therapistToken, f.careToken, "care")
	s.link(f.calm.therapistToken, viewToken, "view")
	s.must(201, s.api("PUT", "/v1/clinic/patients/"+f.care+"/plan", f.calm.therapistToken, map[string]any{"start_date": "2026-11-16"}), "plan")
	book := func(pid string) string {
		return s.must(201, s.api("POST", "/v1/clinic/patients/"+pid+"/sessions", f.calm.therapistToken, map[string]any{
			"scheduled_at": siteNow.Add(-2 * time.Hour).Format(time.RFC3339), "duration_minutes": 60}), "book").json(t)["id"].(string)
	}
	f.session = book(f.care)
	f.invite = s.must(201, s.api("POST", "/v1/clinic/invitations", f.calm.ownerToken, map[string]any{"email": "later@calm.example", "role": "therapist"}), "invite").json(t)["id"].(string)
	return f
}

// path fills a route's parameters; patient is the {id}.
func (f authzFixture) path(route, patient string) string {
	r := strings.NewReplacer(":id", patient, ":sid", f.session, ":iid", f.invite, ":stid", f.calm.therapistID)
	return r.Replace(route)
}

// state is what the table must leave as it was: the patients' sessions,
// plans, screenings and notes as the clinic API shows them, and the
// clinic's staff, invitations and settings.
func (f authzFixture) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, pid := range []string{f.care, f.view} {
		for _, p := range []string{"/sessions", "/plan", "/screening"} {
			r := f.s.api("GET", "/v1/clinic/patients/"+pid+p, f.calm.ownerToken, nil)
			b.WriteString(p + ": " + requestIDs.ReplaceAllString(string(r.body), "") + "\n")
		}
	}
	for _, p := range []string{"/v1/clinic", "/v1/clinic/staff", "/v1/clinic/invitations"} {
		b.WriteString(p + ": " + string(f.s.api("GET", p, f.calm.ownerToken, nil).body) + "\n")
	}
	return b.String()
}

// requestIDs differ between two reads of the same refusal.
var requestIDs = regexp.MustCompile(`"request_id":"[^"]*"`)

func TestDashboardAuthorization(t *testing.T) {
	t.Parallel()
	f := newAuthzFixture(t)
	s := f.s
	// Signing out goes last: it ends the sessions the other rows use.
	routes := (&dashboard{}).routes()
	slices.SortStableFunc(routes, func(a, b webRoute) int {
		return cmp.Compare(strings.Count(a.path, "/logout"), strings.Count(b.path, "/logout"))
	})
	for _, r := range routes {
		if _, ok := validForms[r.path]; r.method == "POST" && r.signedIn && !ok {
			t.Fatalf("%s %s has no valid form in validForms", r.method, r.path)
		}
	}

	// Who asks: each a client of the dashboard.
	anonymous := s.client()
	patientCookie := s.client()
	patientCookie.cookies["__Host-backcare_session"] = f.careToken
	patientCookie.header.Set("Authorization", "Bearer "+f.careToken)
	otherClinic := s.signIn(f.other.therapistEmail)
	deactivated := s.signIn(f.calm.therapistEmail)
	s.must(200, s.api("PATCH", "/v1/clinic/staff/"+f.calm.therapistID, f.calm.ownerToken, map[string]any{"active": false}), "deactivate")
	ws, err := s.store.WebSession(context.Background(), auth.HashOpaqueToken(deactivated.cookies["__Host-backcare_session"]))
	if err == nil {
		t.Fatalf("deactivating the therapist left their dashboard session: %+v", ws)
	}
	owner := s.signIn(f.calm.ownerEmail)
	before := f.state(t)

	for _, r := range routes {
		if !r.signedIn {
			continue
		}
		form := validForms[r.path]
		send := func(cl *client, patient string) reply {
			if r.method == "GET" {
				return cl.get(f.path(r.path, patient))
			}
			return cl.post(f.path(r.path, patient), form)
		}
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			// No session, a patient's token, a deactivated account: the
			// sign-in page, and nothing else.
			for name, cl := range map[string]*client{"no session": anonymous, "a patient's token": patientCookie, "a deactivated therapist": deactivated} {
				got := send(cl, f.care)
				if loc := got.header.Get("Location"); got.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/clinic/login") {
					t.Errorf("%s: %d %q, want a redirect to the sign-in page", name, got.status, loc)
				}
				if strings.Contains(string(got.body), "Carla") {
					t.Errorf("%s saw the patient's name", name)
				}
			}
			// Another clinic: the patient is not one of theirs.
			got := send(otherClinic, f.care)
			switch {
			case strings.Contains(r.path, ":id"):
				if got.status != http.StatusNotFound || strings.Contains(string(got.body), "Carla") {
					t.Errorf("another clinic: %d, want the 404 page without the patient", got.status)
				}
			case strings.HasPrefix(r.path, "/clinic/settings"):
				if got.status != http.StatusForbidden {
					t.Errorf("another clinic's therapist on the owner's pages: %d, want 403", got.status)
				}
			case r.path == "/clinic/logout" || r.path == "/clinic/link-code" && r.method == "POST":
			default:
				if got.status != http.StatusOK || strings.Contains(string(got.body), "Carla") {
					t.Errorf("another clinic's own page: %d, or it shows our patient", got.status)
				}
			}
			// A view link: the pages that read, not the ones that change.
			if strings.Contains(r.path, ":id") && r.path != "/clinic/patients/:id/sessions/:sid" {
				got := send(owner, f.view)
				readOnly := r.method == "GET" && r.path == "/clinic/patients/:id"
				switch {
				case readOnly && got.status != http.StatusOK:
					t.Errorf("a view link's page: %d, want 200", got.status)
				case !readOnly && got.status != http.StatusNotFound:
					t.Errorf("a view link on a care page: %d, want 404", got.status)
				}
			}
			// A malformed or unknown patient id: the same 404.
			if strings.Contains(r.path, ":id") {
				for _, id := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
					if got := send(owner, id); got.status != http.StatusNotFound {
						t.Errorf("patient %s: %d, want 404", id, got.status)
					}
				}
			}
		})
	}
	if after := f.state(t); after != before {
		t.Errorf("the refused requests changed something:\nbefore %s\nafter  %s", before, after)
	}
}
