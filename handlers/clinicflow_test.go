package handlers

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/backcare/backcare/models"
)

func TestClinicAccounts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cs := ts.signupClinic("acct")

	t.Run("an email has one staff account", func(t *testing.T) {
		r := ts.do("POST", "/v1/clinic/signup", "", map[string]any{
			"clinic_name": "Again", "timezone": "UTC", "name": "Dup", "email": cs.ownerEm, "password": staffPassword,
		})
		expectProblem(t, r, http.StatusConflict, "")
	})
	t.Run("staff and patients sign in apart", func(t *testing.T) {
		login := func(path, email string) int {
			return ts.do("POST", path, "", map[string]any{"email": email, "password": staffPassword}).status
		}
		if got := login("/v1/clinic/auth/login", cs.therapistEmail); got != http.StatusOK {
			t.Fatalf("staff sign-in: %d", got)
		}
		if got := login("/v1/auth/login", cs.therapistEmail); got != http.StatusUnauthorized {
			t.Fatalf("a staff account signed in to the phone app: %d", got)
		}
		ts.register("both@acct.example", "UTC")
		if got := login("/v1/clinic/auth/login", "both@acct.example"); got != http.StatusUnauthorized {
			t.Fatalf("a patient account signed in to the clinic API: %d", got)
		}
	})
	t.Run("refresh rotates within the audience, and reuse revokes the family", func(t *testing.T) {
		r := ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": cs.therapistEmail, "password": staffPassword}).json(t)
		first := r["refresh_token"].(string)
		_, patientRefresh := ts.register("refresher@acct.example", "UTC")
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": patientRefresh}), http.StatusUnauthorized, "")
		if got := ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": patientRefresh}); got.status != http.StatusOK {
			t.Fatalf("the patient's token was spent by the clinic route: %d %s", got.status, got.body)
		}
		expectProblem(t, ts.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": first}), http.StatusUnauthorized, "")
		second := ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": first})
		if second.status != http.StatusOK {
			t.Fatalf("staff refresh: %d %s", second.status, second.body)
		}
		next := second.json(t)
		if ts.do("GET", "/v1/clinic/me", next["access_token"].(string), nil).status != http.StatusOK {
			t.Fatal("the refreshed access token does not open the clinic API")
		}
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": first}), http.StatusUnauthorized, "")
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": next["refresh_token"]}), http.StatusUnauthorized, "")
	})
	t.Run("invitations are single use, revocable and owner-only", func(t *testing.T) {
		inv := ts.do("POST", "/v1/clinic/invitations", cs.ownerToken, map[string]any{"email": "kim@acct.example"}).json(t)
		if !strings.HasPrefix(inv["expires_at"].(string), testNow.Add(7*24*time.Hour).UTC().Format("2006-01-02")) {
			t.Fatalf("an invitation lasts 7 days: %v", inv)
		}
		expectProblem(t, ts.do("POST", "/v1/clinic/invitations", cs.therapist, map[string]any{"email": "x@acct.example"}), http.StatusForbidden, "")
		accept := map[string]any{"token": inv["token"], "name": "Kim", "password": staffPassword}
		if r := ts.do("POST", "/v1/clinic/invitations/accept", "", accept); r.status != http.StatusCreated {
			t.Fatalf("accept: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("POST", "/v1/clinic/invitations/accept", "", accept), http.StatusNotFound, "")
		revoked := ts.do("POST", "/v1/clinic/invitations", cs.ownerToken, map[string]any{"email": "lee@acct.example"}).json(t)
		if r := ts.do("DELETE", "/v1/clinic/invitations/"+revoked["id"].(string), cs.ownerToken, nil); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("POST", "/v1/clinic/invitations/accept", "", map[string]any{"token": revoked["token"], "name": "Lee", "password": staffPassword}),
			http.StatusNotFound, "")
		var stored []bson.M
		cur, err := ts.db.Collection("staff_invitations").Find(context.Background(), bson.D{})
		if err != nil || cur.All(context.Background(), &stored) != nil {
			t.Fatal(err)
		}
		for _, d := range stored {
			for _, v := range d {
				if v == inv["token"] || v == revoked["token"] {
					t.Fatalf("an invitation token is stored in clear: %v", d)
				}
			}
		}
	})
	t.Run("deactivating a therapist ends their sign-in at once", func(t *testing.T) {
		inv := ts.do("POST", "/v1/clinic/invitations", cs.ownerToken, map[string]any{"email": "gone@acct.example"}).json(t)
		acc := ts.do("POST", "/v1/clinic/invitations/accept", "", map[string]any{"token": inv["token"], "name": "Gone", "password": staffPassword}).json(t)
		access, refresh := acc["access_token"].(string), acc["refresh_token"].(string)
		id := ts.do("GET", "/v1/clinic/me", access, nil).json(t)["id"].(string)
		expectProblem(t, ts.do("PATCH", "/v1/clinic/staff/"+cs.ownerID, cs.ownerToken, map[string]any{"active": false}), http.StatusConflict, "")
		r := ts.do("PATCH", "/v1/clinic/staff/"+id, cs.ownerToken, map[string]any{"active": false})
		if r.status != http.StatusOK || r.json(t)["active"] != false {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("GET", "/v1/clinic/me", access, nil), http.StatusUnauthorized, "")
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/refresh", "", map[string]any{"refresh_token": refresh}), http.StatusUnauthorized, "")
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": "gone@acct.example", "password": staffPassword}), http.StatusUnauthorized, "")
	})
	t.Run("wrong passwords lock the staff account, not the patient one of the same address", func(t *testing.T) {
		both := ts.signupClinic("lock")
		ts.do("POST", "/v1/auth/register", "", map[string]any{"email": both.therapistEmail, "password": staffPassword, "name": "Also a patient", "timezone": "UTC"})
		wrong := map[string]any{"email": both.therapistEmail, "password": "wrong password!"}
		for range 4 {
			expectProblem(t, ts.do("POST", "/v1/clinic/auth/login", "", wrong), http.StatusUnauthorized, "")
		}
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/login", "", wrong), http.StatusTooManyRequests, "")
		expectProblem(t, ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": both.therapistEmail, "password": staffPassword}), http.StatusTooManyRequests, "")
		ts.login(both.therapistEmail)
	})
	t.Run("the owner sets the cancellation window", func(t *testing.T) {
		if got := ts.do("GET", "/v1/clinic", cs.therapist, nil).json(t)["cancellation_hours"]; got != float64(models.DefaultCancellationHours) {
			t.Fatalf("default window %v", got)
		}
		expectProblem(t, ts.do("PATCH", "/v1/clinic", cs.therapist, map[string]any{"cancellation_hours": 48}), http.StatusForbidden, "")
		if r := ts.do("PATCH", "/v1/clinic", cs.ownerToken, map[string]any{"cancellation_hours": 48}); r.status != http.StatusOK || r.json(t)["cancellation_hours"] != float64(48) {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
	})
}

var codeShape = regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`)

func TestLinkCodes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cs := ts.signupClinic("codes")
	patient, _ := ts.register("coder@example.com", "UTC")

	code := ts.linkCode(cs.therapist, "view")
	if !codeShape.MatchString(code) {
		t.Fatalf("code %q is not 8 unambiguous characters in two groups", code)
	}
	preview := ts.do("POST", "/v1/care-team/preview", patient, map[string]any{"code": strings.ToLower(strings.Replace(code, "-", " ", 1))})
	if preview.status != http.StatusOK {
		t.Fatalf("preview: %d %s", preview.status, preview.body)
	}
	p := preview.json(t)
	if p["clinic"].(map[string]any)["name"] != "Clinic codes" || p["therapist"].(map[string]any)["name"] != "Therapist codes" || p["scope"] != "view" {
		t.Fatalf("preview %v", p)
	}
	// Wrong guesses at the second group count against the code: the sixth
	// try fails even with the right code.
	wrong := code[:5] + strings.Map(func(r rune) rune {
		if r == '2' {
			return '3'
		}
		return '2'
	}, code[5:])
	for i := 0; i < models.LinkCodeMaxTries; i++ {
		expectProblem(t, ts.do("POST", "/v1/care-team", patient, map[string]any{"code": wrong}), http.StatusNotFound, "")
	}
	expectProblem(t, ts.do("POST", "/v1/care-team", patient, map[string]any{"code": code}), http.StatusNotFound, "")
	if got := ts.do("GET", "/v1/care-team", patient, nil).json(t)["items"].([]any); len(got) != 0 {
		t.Fatalf("a burnt code linked: %v", got)
	}

	// A code works once.
	code = ts.linkCode(cs.therapist, "care")
	joined := ts.do("POST", "/v1/care-team", patient, map[string]any{"code": code})
	if joined.status != http.StatusCreated || joined.json(t)["scope"] != "care" {
		t.Fatalf("join: %d %s", joined.status, joined.body)
	}
	expectProblem(t, ts.do("POST", "/v1/care-team", patient, map[string]any{"code": code}), http.StatusNotFound, "")

	// The other way round: the patient's code, redeemed at the front desk.
	other, _ := ts.register("desk@example.com", "UTC")
	mine := ts.do("POST", "/v1/care-team/codes", other, map[string]any{"scope": "care"})
	if mine.status != http.StatusCreated || !codeShape.MatchString(mine.json(t)["code"].(string)) {
		t.Fatalf("patient code: %d %s", mine.status, mine.body)
	}
	expectProblem(t, ts.do("POST", "/v1/care-team", patient, map[string]any{"code": mine.json(t)["code"]}), http.StatusNotFound, "")
	red := ts.do("POST", "/v1/clinic/link-codes/redeem", cs.therapist, map[string]any{"code": mine.json(t)["code"]})
	if red.status != http.StatusCreated || red.json(t)["patient"].(map[string]any)["id"] != patientOf(t, ts, other) {
		t.Fatalf("redeem: %d %s", red.status, red.body)
	}
	if got := ts.do("GET", "/v1/clinic/patients", cs.therapist, nil).json(t)["total"]; got != float64(2) {
		t.Fatalf("the clinic lists %v patients, want 2", got)
	}

	// Codes are kept only hashed.
	var docs []bson.M
	cur, err := ts.db.Collection("link_codes").Find(context.Background(), bson.D{})
	if err != nil || cur.All(context.Background(), &docs) != nil || len(docs) != 3 {
		t.Fatalf("link codes %d %v", len(docs), err)
	}
	for _, d := range docs {
		for _, v := range d {
			if s, ok := v.(string); ok && (strings.Contains(s, code[:4]) || strings.Contains(s, code[5:])) {
				t.Fatalf("a code is stored in clear: %v", d)
			}
		}
	}

	// Revoking the clinic closes its view of the patient at once.
	pid := patientOf(t, ts, patient)
	if r := ts.do("GET", "/v1/clinic/patients/"+pid+"/pain-logs", cs.therapist, nil); r.status != http.StatusOK {
		t.Fatalf("before revoking: %d %s", r.status, r.body)
	}
	if r := ts.do("DELETE", "/v1/care-team/"+joined.json(t)["id"].(string), patient, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	expectProblem(t, ts.do("GET", "/v1/clinic/patients/"+pid+"/pain-logs", cs.therapist, nil), http.StatusNotFound, "")
	if got := ts.do("GET", "/v1/care-team", patient, nil).json(t)["items"].([]any); len(got) != 0 {
		t.Fatalf("care team after revoking: %v", got)
	}
}

func TestTherapistCares(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cs := ts.signupClinic("cares")
	patient, _ := ts.register("cared@example.com", "UTC")
	pid := patientOf(t, ts, patient)
	ts.do("POST", "/v1/screening", patient, allNo(models.RecentFracture))
	ts.link(cs.therapist, patient, "care")
	base := "/v1/clinic/patients/" + pid

	t.Run("a care-linked patient's clearance waits for the clinic", func(t *testing.T) {
		if r := ts.do("POST", "/v1/plans", patient, map[string]any{}); r.status != http.StatusCreated || r.json(t)["status"] != "needs_clearance" {
			t.Fatalf("the patient's plan: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("POST", "/v1/screening/clearance", patient, map[string]any{"date": "2026-11-20"}), http.StatusConflict, "")
		r := ts.do("POST", base+"/clearances", cs.therapist, map[string]any{"date": "2026-11-20", "note": "Orthopaedic letter seen"})
		if r.status != http.StatusOK || r.json(t)["plan_status"] != "active" {
			t.Fatalf("clinic clearance: %d %s", r.status, r.body)
		}
		if !strings.Contains(string(ts.do("GET", "/v1/reminders", patient, nil).body), `"kind":"care_update"`) {
			t.Fatal("releasing the plan sent the patient no notice")
		}
		cl := ts.do("GET", "/v1/screening", patient, nil).json(t)["latest"].(map[string]any)["clearance"].(map[string]any)
		if cl["by"] != "staff" || cl["self_attested"] != false || cl["staff"].(map[string]any)["name"] != "Therapist cares" {
			t.Fatalf("clearance as the patient sees it: %v", cl)
		}
	})
	t.Run("the clinic writes the plan, and the patient gets a notice with no detail", func(t *testing.T) {
		r := ts.do("PUT", base+"/plan", cs.therapist, map[string]any{"initial_sessions": 4, "stretching": false, "home_care": "Heat 20 minutes after work."})
		if r.status != http.StatusOK {
			t.Fatalf("plan: %d %s", r.status, r.body)
		}
		mine := ts.do("GET", "/v1/plans/current", patient, nil).json(t)
		if mine["home_care"] != "Heat 20 minutes after work." || mine["cadence"].(map[string]any)["stretching"] != false || mine["status"] != "active" {
			t.Fatalf("the patient's plan: %v", mine)
		}
		recs := ts.do("GET", "/v1/reminders", patient, nil).json(t)["items"].([]any)
		notices := 0
		for _, it := range recs {
			rem := it.(map[string]any)
			switch rem["kind"] {
			case "care_update":
				notices++
				if strings.Contains(rem["body"].(string), "Heat") || rem["title"] != "Your care plan was updated" {
					t.Fatalf("the notice tells more than that the plan changed: %v", rem)
				}
			case "stretching":
				t.Fatalf("stretching was switched off but is planned: %v", rem)
			}
		}
		// The clearance that released the plan and this change are one
		// notice: they collapse per plan and day.
		if notices != 1 {
			t.Fatalf("%d care notices, want 1: %v", notices, recs)
		}
		again := ts.do("PUT", base+"/plan", cs.therapist, map[string]any{"home_care": "Ice if it flares."})
		if again.status != http.StatusOK || again.json(t)["home_care"] != "Ice if it flares." {
			t.Fatalf("second change: %d %s", again.status, again.body)
		}
	})
	var sessionID string
	t.Run("the clinic books, and a late cancellation is the clinic's", func(t *testing.T) {
		r := ts.do("POST", base+"/sessions", cs.therapist, map[string]any{"scheduled_at": testNow.Add(20 * time.Hour).Format(time.RFC3339)})
		if r.status != http.StatusCreated {
			t.Fatalf("book: %d %s", r.status, r.body)
		}
		sessionID = r.json(t)["id"].(string)
		expectProblem(t, ts.do("PATCH", "/v1/sessions/"+sessionID, patient, map[string]any{"action": "cancel"}), http.StatusConflict, "")
		expectProblem(t, ts.do("PATCH", "/v1/sessions/"+sessionID, patient, map[string]any{"scheduled_at": testNow.Add(50 * time.Hour).Format(time.RFC3339)}), http.StatusConflict, "")
		// Staff may still move it inside the window, and cancel it.
		moved := ts.do("PATCH", base+"/sessions/"+sessionID, cs.therapist, map[string]any{"scheduled_at": testNow.Add(22 * time.Hour).Format(time.RFC3339)})
		if moved.status != http.StatusOK {
			t.Fatalf("the clinic's reschedule: %d %s", moved.status, moved.body)
		}
		if r := ts.do("PATCH", base+"/sessions/"+sessionID, cs.therapist, map[string]any{"action": "cancel"}); r.status != http.StatusOK || r.json(t)["status"] != "cancelled" {
			t.Fatalf("the clinic's cancellation: %d %s", r.status, r.body)
		}
		expectProblem(t, ts.do("PATCH", "/v1/sessions/"+sessionID, patient, map[string]any{"action": "no_show"}), http.StatusBadRequest, "action")
	})
	t.Run("a shared note shows the patient its summary only; an edit keeps the earlier version", func(t *testing.T) {
		past := bookPastSession(ts, patient)
		note := map[string]any{"subjective": "PRIVATE worse when sitting", "objective": "Tight QL", "areas_treated": []string{"lower_back"},
			"techniques": []string{"myofascial release"}, "pressure": "firm", "shared": true, "summary": "Walk 20 minutes a day."}
		if r := ts.do("PUT", base+"/sessions/"+past+"/note", cs.therapist, note); r.status != http.StatusCreated {
			t.Fatalf("note: %d %s", r.status, r.body)
		}
		note["summary"] = "Walk 30 minutes a day."
		edited := ts.do("PUT", base+"/sessions/"+past+"/note", cs.therapist, note)
		if edited.status != http.StatusOK || len(edited.json(t)["revisions"].([]any)) != 1 {
			t.Fatalf("edit: %d %s", edited.status, edited.body)
		}
		seen := string(ts.do("GET", "/v1/sessions", patient, nil).body)
		if !strings.Contains(seen, "Walk 30 minutes a day.") || strings.Contains(seen, "PRIVATE") || strings.Contains(seen, "Tight QL") {
			t.Fatalf("the patient's sessions: %s", seen)
		}
		clinicSide := string(ts.do("GET", base+"/sessions", cs.therapist, nil).body)
		if !strings.Contains(clinicSide, "PRIVATE") || !strings.Contains(clinicSide, "Walk 20 minutes a day.") {
			t.Fatalf("the clinic's sessions lack its note or its revision: %s", clinicSide)
		}
		r := ts.do("PATCH", base+"/sessions/"+past, cs.therapist, map[string]any{"action": "no_show"})
		if r.status != http.StatusOK || r.json(t)["status"] != "no_show" {
			t.Fatalf("no-show: %d %s", r.status, r.body)
		}
	})
	t.Run("the patient reads who saw and changed what", func(t *testing.T) {
		items := ts.do("GET", "/v1/me/access-log", patient, nil).json(t)["items"].([]any)
		whats := map[string]bool{}
		for _, it := range items {
			e := it.(map[string]any)
			if e["clinic"].(map[string]any)["name"] != "Clinic cares" || e["staff"].(map[string]any)["name"] != "Therapist cares" {
				t.Fatalf("access log entry %v", e)
			}
			whats[e["action"].(string)+" "+e["what"].(string)] = true
		}
		for _, want := range []string{"changed plan", "changed clearances", "changed sessions", "changed sessions/note", "viewed sessions"} {
			if !whats[want] {
				t.Errorf("access log lacks %q: %v", want, whats)
			}
		}
	})
}

// TestTwoClinicsKeepTheirOwn: a patient linked to two clinics. Each sees
// the patient's sessions, as the patient consented to, but a clinic's
// notes are its own, and a session a clinic booked is that clinic's to
// change.
func TestTwoClinicsKeepTheirOwn(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a, b := ts.signupClinic("first"), ts.signupClinic("second")
	patient, _ := ts.register("shared@example.com", "UTC")
	pid := patientOf(t, ts, patient)
	ts.link(a.therapist, patient, "care")
	ts.link(b.therapist, patient, "care")
	base := "/v1/clinic/patients/" + pid

	r := ts.do("POST", base+"/sessions", a.therapist, map[string]any{"scheduled_at": testNow.Add(-3 * time.Hour).Format(time.RFC3339)})
	if r.status != http.StatusCreated {
		t.Fatalf("book: %d %s", r.status, r.body)
	}
	session := r.json(t)["id"].(string)
	note := map[string]any{"subjective": "FIRST-CLINIC-PRIVATE", "shared": false}
	if r := ts.do("PUT", base+"/sessions/"+session+"/note", a.therapist, note); r.status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	before := ts.view(a.therapist, base+"/sessions")

	seen := ts.do("GET", base+"/sessions", b.therapist, nil)
	if seen.status != http.StatusOK || !strings.Contains(string(seen.body), session) || strings.Contains(string(seen.body), "FIRST-CLINIC-PRIVATE") {
		t.Fatalf("the second clinic's view of the sessions: %d %s", seen.status, seen.body)
	}
	expectProblem(t, ts.do("PUT", base+"/sessions/"+session+"/note", b.therapist, map[string]any{"subjective": "overwritten"}), http.StatusNotFound, "")
	expectProblem(t, ts.do("PATCH", base+"/sessions/"+session, b.therapist, map[string]any{"action": "no_show"}), http.StatusNotFound, "")
	expectProblem(t, ts.do("POST", base+"/sessions/"+session+"/complete", b.therapist, map[string]any{}), http.StatusNotFound, "")
	if after := ts.view(a.therapist, base+"/sessions"); after != before {
		t.Fatalf("the second clinic changed the first's session or note:\nbefore %s\nafter  %s", before, after)
	}
	if !strings.Contains(before, "FIRST-CLINIC-PRIVATE") {
		t.Fatalf("the first clinic does not see its own note: %s", before)
	}
}
