package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/notifications/fcmfake"
)

// clinicWithTherapist signs a clinic up, invites a therapist, has them
// accept and sign in, and returns the therapist's access token and the
// invitation's token. The owner's password is "a long passphrase", the
// therapist's "another long passphrase".
func clinicWithTherapist(s *server, clinic, timezone, ownerName, ownerEmail, therapistName, therapistEmail string) (therapist, invitation string) {
	s.t.Helper()
	owner := s.must(s.call("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": clinic, "timezone": timezone, "name": ownerName, "email": ownerEmail, "password": "a long passphrase",
	}), 201).body["access_token"].(string)
	invitation = s.must(s.call("POST", "/v1/clinic/invitations", owner, map[string]any{"email": therapistEmail, "role": "therapist"}), 201).body["token"].(string)
	s.must(s.call("POST", "/v1/clinic/invitations/accept", "", map[string]any{
		"token": invitation, "name": therapistName, "password": "another long passphrase",
	}), 201)
	therapist = s.must(s.call("POST", "/v1/clinic/auth/login", "", map[string]any{
		"email": therapistEmail, "password": "another long passphrase",
	}), 200).body["access_token"].(string)
	return therapist, invitation
}

// TestClinicEndToEnd walks the clinic's whole path through the real
// program: a clinic signs up and invites a therapist, who links a patient
// by a code the patient previews and accepts, reads the patient's logs and
// triage, changes the plan (the patient's reminders change and the patient
// gets one push with no detail), writes a shared note (the patient sees
// the summary and none of the private fields), and once the patient
// revokes the clinic, every one of the therapist's routes about the
// patient answers 404.
func TestClinicEndToEnd(t *testing.T) {
	t.Parallel()
	fake := fcmfake.New()
	defer fake.Close()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "FCM_ENDPOINT": fake.URL(), "DISPATCH_INTERVAL": "1s"})
	defer s.stop()

	therapist, invitation := clinicWithTherapist(s, "Harbour Massage", "Europe/Lisbon", "Rui Owner", "owner@harbour.example", "Ana Therapist", "ana@harbour.example")

	patient := patientWithPhone(s, "joao@example.com")
	pid := s.must(s.call("GET", "/v1/me", patient, nil), 200).body["id"].(string)
	s.must(s.call("POST", "/v1/screening", patient, allNo()), 201)
	for day := 1; day <= 3; day++ {
		s.must(s.call("PUT", fmt.Sprintf("/v1/pain-logs/0b9d2c4e-7f61-4a8e-b3d5-2e6f8a1c9d7%d", day), patient, map[string]any{
			"logged_at": time.Now().Add(-time.Duration(day) * 24 * time.Hour).Format(time.RFC3339), "score": 6, "areas": []string{"lower_back"},
			"note": "PRIVATE-PATIENT-NOTE",
		}), 201)
	}

	code := s.must(s.call("POST", "/v1/clinic/link-codes", therapist, map[string]any{"scope": "care"}), 201).body["code"].(string)
	preview := s.must(s.call("POST", "/v1/care-team/preview", patient, map[string]any{"code": code}), 200).body
	if preview["clinic"].(map[string]any)["name"] != "Harbour Massage" || preview["therapist"].(map[string]any)["name"] != "Ana Therapist" || preview["scope"] != "care" {
		t.Fatalf("preview %v", preview)
	}
	link := s.must(s.call("POST", "/v1/care-team", patient, map[string]any{"code": code}), 201).body["id"].(string)

	logs := s.must(s.call("GET", "/v1/clinic/patients/"+pid+"/pain-logs", therapist, nil), 200).body["items"].([]any)
	if len(logs) != 3 {
		t.Fatalf("the therapist sees %d logs, want 3", len(logs))
	}
	triage := s.must(s.call("GET", "/v1/clinic/patients", therapist, nil), 200).body["items"].([]any)
	if len(triage) != 1 || triage[0].(map[string]any)["id"] != pid || triage[0].(map[string]any)["name"] != "Sam" {
		t.Fatalf("triage %v", triage)
	}

	// The dashboard, served by run beside the API: the therapist signs in
	// and finds the patient in the triage list.
	dash := dashboardAs(t, s, "ana@harbour.example", "another long passphrase")
	if page := dash.get(t, "/clinic/patients"); page.status != 200 || !strings.Contains(page.body, "/clinic/patients/"+pid) {
		t.Fatalf("the dashboard's patients page: %d", page.status)
	}

	// The patient's own plan plans daily stretching; the therapist changes
	// the plan and switches it off.
	s.must(s.call("POST", "/v1/plans", patient, map[string]any{}), 201)
	if before := dailyKinds(s, patient); !before["stretching"] {
		t.Fatalf("the plan plans no stretching: %v", before)
	}
	s.must(s.call("PUT", "/v1/clinic/patients/"+pid+"/plan", therapist, map[string]any{
		"initial_sessions": 4, "stretching": false, "home_care": "PRIVATE-HOME-CARE heat 20 minutes",
	}), 200)
	if after := dailyKinds(s, patient); after["stretching"] {
		t.Fatalf("the therapist switched stretching off, but it is still planned: %v", after)
	}
	// Other reminders may fall due meanwhile (a daily check-in at its
	// hour); the clinic's notice is the care_update one.
	careUpdates := func() []fcmfake.Received {
		var out []fcmfake.Received
		for _, r := range fake.Received() {
			if r.Data["kind"] == "care_update" {
				out = append(out, r)
			}
		}
		return out
	}
	waitUntil(t, 30*time.Second, "the care-plan push", func() bool { return len(careUpdates()) > 0 })
	time.Sleep(2 * time.Second) // two more dispatch runs: a second push would show now
	pushes := careUpdates()
	if len(pushes) != 1 || pushes[0].Title != "Your care plan was updated" {
		t.Fatalf("pushes %+v, want one care-plan notice", pushes)
	}
	for _, field := range []string{pushes[0].Title, pushes[0].Body, fmt.Sprint(pushes[0].Data)} {
		if strings.Contains(field, "PRIVATE") || strings.Contains(field, "heat") || strings.Contains(field, "Ana") {
			t.Fatalf("the push carries detail: %q", field)
		}
	}
	if plan := s.must(s.call("GET", "/v1/plans/current", patient, nil), 200).body; plan["home_care"] != "PRIVATE-HOME-CARE heat 20 minutes" {
		t.Fatalf("the patient's plan lacks the home care: %v", plan)
	}

	session := s.must(s.call("POST", "/v1/clinic/patients/"+pid+"/sessions", therapist, map[string]any{
		"scheduled_at": time.Now().Add(-3 * time.Hour).Format(time.RFC3339),
	}), 201).body["id"].(string)
	s.must(s.call("POST", "/v1/clinic/patients/"+pid+"/sessions/"+session+"/complete", therapist, map[string]any{}), 200)
	s.must(s.call("PUT", "/v1/clinic/patients/"+pid+"/sessions/"+session+"/note", therapist, map[string]any{
		"subjective": "PRIVATE-SUBJECTIVE", "assessment": "PRIVATE-ASSESSMENT", "pressure": "firm", "shared": true, "summary": "Walk every day this week.",
	}), 201)
	seen := s.must(s.call("GET", "/v1/sessions", patient, nil), 200).raw
	if !strings.Contains(seen, "Walk every day this week.") || strings.Contains(seen, "PRIVATE") {
		t.Fatalf("the patient's sessions: %s", seen)
	}

	s.must(s.call("DELETE", "/v1/care-team/"+link, patient, nil), 204)
	for _, path := range []string{"", "/pain-logs", "/insights", "/plan", "/sessions", "/screening"} {
		s.must(s.call("GET", "/v1/clinic/patients/"+pid+path, therapist, nil), 404)
	}
	s.must(s.call("PUT", "/v1/clinic/patients/"+pid+"/plan", therapist, map[string]any{"home_care": "x"}), 404)
	if page := dash.get(t, "/clinic/patients/"+pid); page.status != 404 || strings.Contains(page.body, "PRIVATE") {
		t.Fatalf("the dashboard's page of a patient who withdrew consent: %d", page.status)
	}
	s.must(s.call("PUT", "/v1/clinic/patients/"+pid+"/sessions/"+session+"/note", therapist, map[string]any{"plan": "x"}), 404)
	if items := s.must(s.call("GET", "/v1/clinic/patients", therapist, nil), 200).body["items"].([]any); len(items) != 0 {
		t.Fatalf("a revoked patient is still listed: %v", items)
	}
	access := s.must(s.call("GET", "/v1/me/access-log", patient, nil), 200).body["items"].([]any)
	if len(access) == 0 || !strings.Contains(fmt.Sprint(access), "Ana Therapist") {
		t.Fatalf("access log %v", access)
	}
	if out := s.out.String(); strings.Contains(out, code) || strings.Contains(out, invitation) {
		t.Fatal("the log holds a link code or an invitation token")
	}
}

// dailyKinds lists the kinds of the patient's pending reminders.
func dailyKinds(s *server, access string) map[string]bool {
	kinds := map[string]bool{}
	for _, it := range s.must(s.call("GET", "/v1/reminders", access, nil), 200).body["items"].([]any) {
		if m := it.(map[string]any); m["status"] == "pending" {
			kinds[m["kind"].(string)] = true
		}
	}
	return kinds
}

// raceLinkCode: four patients enter one clinic's code at once; it links
// exactly one of them. (store/clinic_test.go races eight at the store; a
// sign-up through the program costs a password hash, slow under -race.)
func raceLinkCode(t *testing.T, s *secureServer) {
	owner := expect(t, s.send("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": "Race Clinic", "timezone": "UTC", "name": "Racer", "email": fmt.Sprintf("race-%d@clinic.example", s.emails.Add(1)), "password": password,
	}), http.StatusCreated).object(t)["access_token"].(string)
	const racers = 4
	patients := make([]patient, racers)
	for i := range patients {
		patients[i] = s.signUp(t, "Linker")
	}
	linked := map[string]bool{}
	for round := range 3 {
		code := expect(t, s.send("POST", "/v1/clinic/link-codes", owner, map[string]any{"scope": "view"}), http.StatusCreated).object(t)["code"].(string)
		answers := s.race(t, racers, func(i int) (string, string, string, any) {
			return "POST", "/v1/care-team", patients[i].access, map[string]any{"code": code}
		})
		won := 0
		for i, a := range answers {
			switch a.status {
			case http.StatusCreated:
				won++
				linked[patients[i].id] = true
			case http.StatusNotFound:
			default:
				t.Fatalf("round %d: %v", round, a)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d patients linked with one code, want exactly 1", round, won, racers)
		}
	}
	if n := expect(t, s.send("GET", "/v1/clinic/patients", owner, nil), http.StatusOK).object(t)["total"]; n != float64(len(linked)) {
		t.Fatalf("the clinic has %v patients, want the %d who won a code", n, len(linked))
	}
}

// raceInvitation: three acceptances of one invitation make one account.
func raceInvitation(t *testing.T, s *secureServer) {
	owner := expect(t, s.send("POST", "/v1/clinic/signup", "", map[string]any{
		"clinic_name": "Invite Clinic", "timezone": "UTC", "name": "Inviter", "email": fmt.Sprintf("invite-%d@clinic.example", s.emails.Add(1)), "password": password,
	}), http.StatusCreated).object(t)["access_token"].(string)
	for round := range 2 {
		token := expect(t, s.send("POST", "/v1/clinic/invitations", owner, map[string]any{"email": fmt.Sprintf("staff-%d@clinic.example", round)}),
			http.StatusCreated).object(t)["token"]
		answers := s.race(t, 3, func(i int) (string, string, string, any) {
			return "POST", "/v1/clinic/invitations/accept", "", map[string]any{"token": token, "name": fmt.Sprintf("Racer %d", i), "password": password}
		})
		won := 0
		for _, a := range answers {
			switch a.status {
			case http.StatusCreated:
				won++
			case http.StatusNotFound, http.StatusConflict:
			default:
				t.Fatalf("round %d: %v", round, a)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d acceptances of one invitation succeeded, want exactly 1", round, won)
		}
	}
	staff := expect(t, s.send("GET", "/v1/clinic/staff", owner, nil), http.StatusOK).object(t)["items"].([]any)
	if len(staff) != 3 {
		t.Fatalf("%d staff accounts after 2 invitations, want the owner and 2", len(staff))
	}
}

// dashboard is a browser's cookie jar signed in to the dashboard.
type dashboard struct {
	base   string
	client *http.Client
}

type page struct {
	status int
	body   string
}

func (d dashboard) get(t *testing.T, path string) page {
	t.Helper()
	resp, err := d.client.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b)}
}

// dashboardAs signs in to the dashboard as a browser does: the form's
// token from the sign-in page, then the form.
func dashboardAs(t *testing.T, s *server, email, password string) dashboard {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	d := dashboard{base: s.base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	login := d.get(t, "/clinic/login")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(login.body)
	if login.status != 200 || m == nil {
		t.Fatalf("the sign-in page: %d", login.status)
	}
	resp, err := d.client.PostForm(s.base+"/clinic/login", url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}, "next": {"/clinic/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/clinic/" {
		t.Fatalf("signing in to the dashboard: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return d
}
