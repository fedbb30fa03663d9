package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

const staffPassword = "correct horse battery"

// clinicSide is a clinic with its owner and one therapist, signed in.
type clinicSide struct {
	clinicID                string
	ownerToken, ownerID     string
	therapist, therapistID  string
	therapistEmail, ownerEm string
}

// signupClinic signs a clinic up (slug names it and its staff's emails),
// invites a therapist and has them accept.
func (ts *testServer) signupClinic(slug string) clinicSide {
	ts.t.Helper()
	cs := clinicSide{ownerEm: "owner@" + slug + ".example", therapistEmail: "therapist@" + slug + ".example"}
	r := ts.do("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": "Clinic " + slug, "timezone": "Europe/Berlin", "name": "Owner " + slug, "email": cs.ownerEm, "password": staffPassword,
	})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("clinic signup: %d %s", r.status, r.body)
	}
	cs.ownerToken = r.json(ts.t)["access_token"].(string)
	cs.ownerID = ts.do("GET", "/v1/clinic/me", cs.ownerToken, nil).json(ts.t)["id"].(string)
	cs.clinicID = ts.do("GET", "/v1/clinic", cs.ownerToken, nil).json(ts.t)["id"].(string)
	inv := ts.do("POST", "/v1/clinic/invitations", cs.ownerToken, map[string]any{"email": cs.therapistEmail, "role": "therapist"})
	if inv.status != http.StatusCreated {
		ts.t.Fatalf("invite: %d %s", inv.status, inv.body)
	}
	acc := ts.do("POST", "/v1/clinic/invitations/accept", "", map[string]any{
		"token": inv.json(ts.t)["token"], "name": "Therapist " + slug, "password": staffPassword,
	})
	if acc.status != http.StatusCreated {
		ts.t.Fatalf("accept: %d %s", acc.status, acc.body)
	}
	cs.therapist = acc.json(ts.t)["access_token"].(string)
	cs.therapistID = ts.do("GET", "/v1/clinic/me", cs.therapist, nil).json(ts.t)["id"].(string)
	return cs
}

// linkCode makes a clinic's link code of scope with staffToken.
func (ts *testServer) linkCode(staffToken, scope string) string {
	ts.t.Helper()
	r := ts.do("POST", "/v1/clinic/link-codes", staffToken, map[string]any{"scope": scope})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("link code: %d %s", r.status, r.body)
	}
	return r.json(ts.t)["code"].(string)
}

// link links the patient to the staff member's clinic with scope, by a
// code the staff member made and the patient entered; it returns the
// link's id.
func (ts *testServer) link(staffToken, patientToken, scope string) string {
	ts.t.Helper()
	r := ts.do("POST", "/v1/care-team", patientToken, map[string]any{"code": ts.linkCode(staffToken, scope)})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("join care team: %d %s", r.status, r.body)
	}
	return r.json(ts.t)["id"].(string)
}

// clinicURL fills a clinic route's :id with the patient, :sid with the
// session and :uuid with a fresh message id.
func clinicURL(path, patientID, sessionID string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(path, ":sid", sessionID), ":id", patientID), ":uuid", newID())
}

// view reads urls as token and joins what they show: the body of a 200,
// or just the status of a refusal (whose request id differs every time).
func (ts *testServer) view(token string, urls ...string) string {
	ts.t.Helper()
	var b strings.Builder
	for _, u := range urls {
		r := ts.do("GET", u, token, nil)
		if r.status == http.StatusOK {
			b.Write(r.body)
		} else {
			fmt.Fprintf(&b, "[%s: %d]", u, r.status)
		}
	}
	return b.String()
}

// routeFixture has an account of each kind and a patient linked to the
// clinic with care scope, to call any route of the table as whom its
// policy asks.
type routeFixture struct {
	patient, patientID string
	clinic             clinicSide
	sessionID          string
}

func (ts *testServer) routeFixture() routeFixture {
	ts.t.Helper()
	f := routeFixture{clinic: ts.signupClinic("fixture")}
	f.patient, _ = ts.register("linked@example.com", "UTC")
	f.patientID = patientOf(ts.t, ts, f.patient)
	ts.link(f.clinic.therapist, f.patient, "care")
	f.sessionID = bookPastSession(ts, f.patient)
	return f
}

// call returns the URL of route r, its ids filled in, and the token of the
// account its policy asks for.
func (f routeFixture) call(r route) (url, token string) {
	id := newID()
	switch {
	case r.policy == policyStaffView || r.policy == policyStaffCare:
		id = f.patientID
	case r.path == "/v1/clinic/staff/:id":
		id = f.clinic.therapistID
	}
	url = strings.ReplaceAll(clinicURL(r.path, id, f.sessionID), ":token", strings.Repeat("t", 43))
	switch r.policy {
	case policyPatient:
		token = f.patient
	case policyStaff, policyStaffView, policyStaffCare:
		token = f.clinic.therapist
	case policyOwner:
		token = f.clinic.ownerToken
	}
	return url, token
}

// tableMessage is the patient's message in each of their conversations
// in TestClinicAuthorizationTable, which the read routes name.
const tableMessage = "9c1d6e2a-4b7f-4e3a-8d5c-1f2e3a4b5c6d"

// careBodies are valid bodies for the clinic's write routes about a
// patient, so that a refusal is the authorization's, not the body's.
func careBodies() map[string]any {
	return map[string]any{
		"PUT /v1/clinic/patients/:id/plan":                    map[string]any{"home_care": "Heat for 20 minutes in the evening."},
		"POST /v1/clinic/patients/:id/sessions":               map[string]any{"scheduled_at": testNow.Add(72 * time.Hour).Format(time.RFC3339)},
		"PATCH /v1/clinic/patients/:id/sessions/:sid":         map[string]any{"action": "cancel"},
		"POST /v1/clinic/patients/:id/sessions/:sid/complete": map[string]any{},
		"PUT /v1/clinic/patients/:id/sessions/:sid/note":      map[string]any{"subjective": "Tight lower back.", "shared": true, "summary": "Keep walking."},
		"POST /v1/clinic/patients/:id/clearances":             map[string]any{"date": "2026-11-20", "note": "GP letter seen"},
		"PUT /v1/clinic/patients/:id/messages/:uuid":          map[string]any{"text": "Some soreness on day three is normal."},
		"POST /v1/clinic/patients/:id/messages/read":          map[string]any{"up_to": tableMessage},
	}
}

// TestClinicAuthorizationTable is generated from the route list: for every
// clinic route about a patient, a therapist of another clinic, a
// deactivated therapist, a view-scope therapist trying a care action, a
// therapist whose link the patient revoked, a patient's token and no token
// each get the documented status, and nothing stored changes.
func TestClinicAuthorizationTable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	patient, _ := ts.register("table@example.com", "UTC")
	pid := patientOf(t, ts, patient)
	ts.do("POST", "/v1/screening", patient, allNo(models.RecentSurgery))
	if r := ts.do("POST", "/v1/plans", patient, map[string]any{}); r.status != http.StatusCreated {
		t.Fatalf("plan: %d %s", r.status, r.body)
	}
	sessionID := bookPastSession(ts, patient)

	home := ts.signupClinic("home") // care link: the one that may act
	homeLink := ts.link(home.therapist, patient, "care")
	other := ts.signupClinic("other") // never linked
	viewer := ts.signupClinic("viewer")
	viewerLink := ts.link(viewer.therapist, patient, "view")
	for _, link := range []string{homeLink, viewerLink} {
		if r := ts.do("PUT", "/v1/care-team/"+link+"/messages/"+tableMessage, patient, map[string]any{"text": "Sore on day three?"}); r.status != http.StatusCreated {
			t.Fatalf("message: %d %s", r.status, r.body)
		}
	}
	revoked := ts.signupClinic("revoked")
	revokedLink := ts.link(revoked.therapist, patient, "care")
	if r := ts.do("DELETE", "/v1/care-team/"+revokedLink, patient, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	gone := ts.signupClinic("gone")
	ts.link(gone.therapist, patient, "care")
	if r := ts.do("PATCH", "/v1/clinic/staff/"+gone.therapistID, gone.ownerToken, map[string]any{"active": false}); r.status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}

	snapshot := func() string {
		return fmt.Sprint(ts.documents()) + ts.view(patient, "/v1/plans/current", "/v1/sessions", "/v1/screening", "/v1/me/access-log")
	}
	bodies := careBodies()
	cases := 0
	for _, r := range routes(Deps{}) {
		if r.policy != policyStaffView && r.policy != policyStaffCare {
			continue
		}
		url := clinicURL(r.path, pid, sessionID)
		body := bodies[r.method+" "+r.path]
		if r.method != fiber.MethodGet && body == nil {
			t.Fatalf("%s %s: no valid body in careBodies", r.method, r.path)
		}
		callers := []struct {
			who    string
			token  string
			status int
		}{
			{"a therapist of another clinic", other.therapist, http.StatusNotFound},
			{"the other clinic's owner", other.ownerToken, http.StatusNotFound},
			{"a deactivated therapist", gone.therapist, http.StatusUnauthorized},
			{"a therapist whose link was revoked", revoked.therapist, http.StatusNotFound},
			{"the patient", patient, http.StatusUnauthorized},
			{"nobody", "", http.StatusUnauthorized},
		}
		if r.policy == policyStaffCare {
			callers = append(callers, struct {
				who    string
				token  string
				status int
			}{"a therapist with view scope", viewer.therapist, http.StatusNotFound})
		}
		before := snapshot()
		for _, c := range callers {
			cases++
			t.Run(r.method+" "+r.path+"/"+c.who, func(t *testing.T) {
				expectProblem(t, ts.do(r.method, url, c.token, body), c.status, "")
			})
		}
		if after := snapshot(); after != before {
			t.Fatalf("a refused %s %s changed stored data:\nbefore %s\nafter  %s", r.method, r.path, before, after)
		}
		if r.policy == policyStaffView {
			// The view scope opens exactly the view routes.
			if got := ts.do(r.method, url, viewer.therapist, body); got.status != http.StatusOK {
				t.Errorf("%s %s with view scope: %d %s", r.method, r.path, got.status, got.body)
			}
		}
	}
	// The clinic's other routes with an id name the clinic's own staff
	// and invitations: another clinic's owner finds nothing.
	inv := ts.do("POST", "/v1/clinic/invitations", home.ownerToken, map[string]any{"email": "new@home.example"}).json(t)["id"].(string)
	for _, c := range []struct{ method, url string }{
		{"PATCH", "/v1/clinic/staff/" + home.therapistID}, {"DELETE", "/v1/clinic/invitations/" + inv},
	} {
		cases++
		before := snapshot() + ts.view(home.ownerToken, "/v1/clinic/invitations", "/v1/clinic/staff")
		var body any
		if c.method == "PATCH" {
			body = map[string]any{"active": false}
		}
		expectProblem(t, ts.do(c.method, c.url, other.ownerToken, body), http.StatusNotFound, "")
		expectProblem(t, ts.do(c.method, c.url, home.therapist, body), http.StatusForbidden, "")
		after := snapshot() + ts.view(home.ownerToken, "/v1/clinic/invitations", "/v1/clinic/staff")
		if after != before {
			t.Fatalf("a refused %s %s changed stored data", c.method, c.url)
		}
	}
	t.Logf("%d authorization cases", cases)
}
