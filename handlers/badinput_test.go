package handlers

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// bodyEndpoint is one route that takes a JSON body: a valid body and the
// JSON type of each of its fields.
type bodyEndpoint struct {
	method, path string
	auth         bool
	// as is whose token a route with auth takes: the patient's by
	// default, or "staff" (the clinic's therapist) or "owner".
	as     string
	valid  map[string]any
	fields map[string]string // field → "string", "int", "array" or "object"
	// domain are bodies that are well-formed JSON of the right types but
	// carry values the rules refuse, with the field each must name.
	domain []badBody
	// emptyOK marks a route whose body is optional.
	emptyOK bool
}

type badBody struct {
	name  string
	patch map[string]any
	field string
}

func bodyEndpoints(logID, planID, sessionID, patientID, linkID string) []bodyEndpoint {
	loggedAt := testNow.Add(-time.Hour).Format(time.RFC3339)
	painFields := map[string]string{
		"logged_at": "string", "score": "int", "areas": "array", "stiffness": "int",
		"sleep_quality": "int", "stress": "int", "note": "string", "red_flags": "array",
	}
	painDomain := []badBody{
		{"score above 10", map[string]any{"score": 11}, "score"},
		{"negative score", map[string]any{"score": -1}, "score"},
		{"fractional score", map[string]any{"score": 3.5}, "score"},
		{"unknown area", map[string]any{"areas": []string{"tail"}}, "areas"},
		{"area twice", map[string]any{"areas": []string{"neck", "neck"}}, "areas"},
		{"stiffness above 10", map[string]any{"stiffness": 11}, "stiffness"},
		{"sleep below 0", map[string]any{"sleep_quality": -2}, "sleep_quality"},
		{"stress above 10", map[string]any{"stress": 12}, "stress"},
		{"note too long", map[string]any{"note": strings.Repeat("é", 1001)}, "note"},
		{"unknown red flag", map[string]any{"red_flags": []string{"headache"}}, "red_flags"},
		{"date not RFC 3339", map[string]any{"logged_at": "22/11/2026"}, "logged_at"},
		{"future date", map[string]any{"logged_at": testNow.Add(48 * time.Hour).Format(time.RFC3339)}, "logged_at"},
	}
	return []bodyEndpoint{
		{method: "POST", path: "/v1/auth/register",
			valid:  map[string]any{"email": "new@example.com", "password": "correct horse battery", "name": "New", "timezone": "Europe/Berlin", "locale": "de-DE"},
			fields: map[string]string{"email": "string", "password": "string", "name": "string", "timezone": "string", "locale": "string"},
			domain: []badBody{
				{"unknown time zone", map[string]any{"timezone": "Mars/Olympus_Mons"}, "timezone"},
				{"Local is not a zone", map[string]any{"timezone": "Local"}, "timezone"},
				{"offset is not a zone", map[string]any{"timezone": "+05:30"}, "timezone"},
				{"empty time zone", map[string]any{"timezone": ""}, "timezone"},
				{"short password", map[string]any{"password": "short"}, "password"},
				{"not an email", map[string]any{"email": "new.example.com"}, "email"},
				{"email with a name", map[string]any{"email": "New <new@example.com>"}, "email"},
				{"bad locale", map[string]any{"locale": "not a locale!"}, "locale"},
				{"blank name", map[string]any{"name": "   "}, "name"},
			}},
		{method: "POST", path: "/v1/auth/login",
			valid:  map[string]any{"email": "owner@example.com", "password": "correct horse battery"},
			fields: map[string]string{"email": "string", "password": "string"},
			domain: []badBody{{"no password", map[string]any{"password": ""}, "password"}}},
		{method: "POST", path: "/v1/auth/refresh",
			valid:  map[string]any{"refresh_token": "not-a-real-token"},
			fields: map[string]string{"refresh_token": "string"},
			domain: []badBody{{"empty token", map[string]any{"refresh_token": ""}, "refresh_token"}}},
		{method: "POST", path: "/v1/auth/logout",
			valid:  map[string]any{"refresh_token": "not-a-real-token"},
			fields: map[string]string{"refresh_token": "string"},
			domain: []badBody{{"empty token", map[string]any{"refresh_token": ""}, "refresh_token"}}},
		{method: "PATCH", path: "/v1/me", auth: true,
			valid:  map[string]any{"name": "Owner", "timezone": "Asia/Kolkata", "locale": "en-IN", "quiet_hours": map[string]any{"start": "22:00", "end": "07:00"}},
			fields: map[string]string{"name": "string", "timezone": "string", "locale": "string", "quiet_hours": "object", "reminder_preferences": "object"},
			domain: []badBody{
				{"unknown time zone", map[string]any{"timezone": "America/Nowhere"}, "timezone"},
				{"quiet hours at 25:00", map[string]any{"quiet_hours": map[string]any{"start": "25:00", "end": "07:00"}}, "quiet_hours.start"},
				{"quiet hours without minutes", map[string]any{"quiet_hours": map[string]any{"start": "22:00", "end": "7"}}, "quiet_hours.end"},
				{"time for a session-timed kind", map[string]any{"reminder_preferences": map[string]any{"hydration_after": map[string]any{"time_of_day": "10:00"}}}, "reminder_preferences.hydration_after.time_of_day"},
				{"unknown reminder kind", map[string]any{"reminder_preferences": map[string]any{"yoga": map[string]any{"enabled": true}}}, "reminder_preferences.yoga"},
				{"bad weekday", map[string]any{"reminder_preferences": map[string]any{"weekly_summary": map[string]any{"weekday": "funday"}}}, "reminder_preferences.weekly_summary.weekday"},
				{"bad time of day", map[string]any{"reminder_preferences": map[string]any{"stretching": map[string]any{"time_of_day": "6pm"}}}, "reminder_preferences.stretching.time_of_day"},
			}},
		{method: "POST", path: "/v1/devices", auth: true,
			valid:  map[string]any{"token": "fcm-" + strings.Repeat("x", 60), "platform": "android", "app_version": "2.1.0"},
			fields: map[string]string{"token": "string", "platform": "string", "app_version": "string"},
			domain: []badBody{
				{"unknown platform", map[string]any{"platform": "windows"}, "platform"},
				{"short token", map[string]any{"token": "abc"}, "token"},
				{"token with spaces", map[string]any{"token": strings.Repeat("a b ", 10)}, "token"},
				{"bad app version", map[string]any{"app_version": "<script>"}, "app_version"},
			}},
		{method: "PUT", path: "/v1/pain-logs/" + newID(), auth: true,
			valid:  map[string]any{"logged_at": loggedAt, "score": 4, "areas": []string{"neck"}, "stiffness": 3, "sleep_quality": 6, "stress": 2, "note": "ok", "red_flags": []string{}},
			fields: painFields,
			domain: append(painDomain, badBody{"no score", map[string]any{"score": nil}, "score"})},
		{method: "PUT", path: "/v1/questionnaire-responses/" + newID(), auth: true,
			valid:  map[string]any{"questionnaire": "peg3", "answered_at": loggedAt, "answers": map[string]any{"pain": 6, "enjoyment": 5, "activity": 4}},
			fields: map[string]string{"questionnaire": "string", "answered_at": "string", "answers": "object"},
			domain: []badBody{
				{"an unknown questionnaire", map[string]any{"questionnaire": "odi"}, "questionnaire"},
				{"no questionnaire", map[string]any{"questionnaire": nil}, "questionnaire"},
				{"no time", map[string]any{"answered_at": nil}, "answered_at"},
				{"a time in words", map[string]any{"answered_at": "last night"}, "answered_at"},
				{"in the future", map[string]any{"answered_at": "2030-01-01T00:00:00Z"}, "answered_at"},
				{"an item missing", map[string]any{"answers": map[string]any{"pain": 6, "enjoyment": 5}}, "answers.activity"},
				{"an answer of 11", map[string]any{"answers": map[string]any{"pain": 11, "enjoyment": 5, "activity": 4}}, "answers.pain"},
				{"a negative answer", map[string]any{"answers": map[string]any{"pain": 6, "enjoyment": -1, "activity": 4}}, "answers.enjoyment"},
				{"a fraction", map[string]any{"answers": map[string]any{"pain": 6.5, "enjoyment": 5, "activity": 4}}, "answers"},
				{"an extra answer", map[string]any{"answers": map[string]any{"pain": 6, "enjoyment": 5, "activity": 4, "mood": 3}}, "answers.mood"},
				{"a score of its own", map[string]any{"score": 1}, "score"},
			}},
		{method: "PATCH", path: "/v1/pain-logs/" + logID, auth: true,
			valid:  map[string]any{"score": 2, "note": "calmer"},
			fields: painFields, domain: painDomain},
		{method: "DELETE", path: "/v1/me", auth: true,
			valid:  map[string]any{"password": "not the password, so nothing is erased"},
			fields: map[string]string{"password": "string"},
			domain: []badBody{{"empty password", map[string]any{"password": ""}, "password"}}},
		{method: "POST", path: "/v1/reports", auth: true,
			valid:  map[string]any{"from": "2026-11-01", "to": "2026-11-22", "valid_days": 7},
			fields: map[string]string{"from": "string", "to": "string", "valid_days": "int"},
			domain: []badBody{
				{"valid for 0 days", map[string]any{"valid_days": 0}, "valid_days"},
				{"valid for 31 days", map[string]any{"valid_days": 31}, "valid_days"},
				{"ends before it starts", map[string]any{"from": "2026-11-22", "to": "2026-11-01"}, "to"},
				{"not a date", map[string]any{"from": "1 Nov"}, "from"},
				{"367 days", map[string]any{"from": "2025-11-21", "to": "2026-11-22"}, "to"},
			}},
		{method: "POST", path: "/v1/screening", auth: true,
			valid:  allNo(),
			fields: map[string]string{"answers": "object"},
			domain: []badBody{
				{"unanswered question", map[string]any{"answers": map[string]any{"active_cancer": false}}, "answers.blood_clotting_disorder"},
				{"unknown question", map[string]any{"answers": withAnswer("pregnant", false)}, "answers"},
				// encoding/json alone would store a null answer as "no".
				{"null answer", map[string]any{"answers": withNullAnswer(string(models.RecentSurgery))}, "answers.recent_surgery"},
			}},
		{method: "POST", path: "/v1/screening/clearance", auth: true,
			valid:  map[string]any{"date": "2026-11-20", "note": "cleared"},
			fields: map[string]string{"date": "string", "note": "string"},
			domain: []badBody{
				{"future date", map[string]any{"date": "2026-12-24"}, "date"},
				{"not a date", map[string]any{"date": "20/11/2026"}, "date"},
				{"long note", map[string]any{"note": strings.Repeat("n", 501)}, "note"},
			}},
		{method: "POST", path: "/v1/plans", auth: true,
			valid:  map[string]any{"start_date": "2026-11-23", "initial_sessions": 5, "preferred_weekday": "monday", "preferred_time": "09:30"},
			fields: planFields,
			domain: planDomain},
		{method: "PATCH", path: "/v1/plans/" + planID, auth: true,
			valid:  map[string]any{"effective_from": "2026-12-01", "maintenance_weeks": 3},
			fields: mergeFields(planFields, map[string]string{"effective_from": "string", "action": "string"}),
			domain: append(planDomain,
				badBody{"unknown action", map[string]any{"action": "archive"}, "action"},
				badBody{"cadence change in the past", map[string]any{"effective_from": "2026-11-01"}, "effective_from"},
			)},
		{method: "POST", path: "/v1/sessions", auth: true,
			valid:  map[string]any{"scheduled_at": testNow.Add(72 * time.Hour).Format(time.RFC3339), "duration_minutes": 60, "therapist": "T", "clinic": "C"},
			fields: sessionFields,
			domain: sessionDomain},
		{method: "PATCH", path: "/v1/sessions/" + sessionID, auth: true,
			valid:  map[string]any{"scheduled_at": testNow.Add(96 * time.Hour).Format(time.RFC3339)},
			fields: mergeFields(sessionFields, map[string]string{"action": "string"}),
			domain: append(sessionDomain, badBody{"unknown action", map[string]any{"action": "postpone", "scheduled_at": nil}, "action"})},
		{method: "POST", path: "/v1/sessions/" + sessionID + "/complete", auth: true, emptyOK: true,
			valid:  map[string]any{"pressure_felt": 3, "soreness_after": 4, "note": "firm"},
			fields: map[string]string{"pressure_felt": "int", "soreness_after": "int", "note": "string"},
			domain: []badBody{
				{"pressure 0", map[string]any{"pressure_felt": 0}, "pressure_felt"},
				{"pressure 6", map[string]any{"pressure_felt": 6}, "pressure_felt"},
				{"soreness 11", map[string]any{"soreness_after": 11}, "soreness_after"},
				{"soreness without pressure", map[string]any{"pressure_felt": nil}, "pressure_felt"},
			}},
		{method: "POST", path: "/v1/clinic/signup",
			valid:  map[string]any{"clinic_name": "East", "timezone": "Europe/Berlin", "name": "Sam", "email": "sam@east.example", "password": "correct horse battery"},
			fields: map[string]string{"clinic_name": "string", "timezone": "string", "name": "string", "email": "string", "password": "string"},
			domain: []badBody{
				{"unknown time zone", map[string]any{"timezone": "Mars/Olympus_Mons"}, "timezone"},
				{"no clinic name", map[string]any{"clinic_name": " "}, "clinic_name"},
				{"bad email", map[string]any{"email": "sam@"}, "email"},
				{"short password", map[string]any{"password": "short"}, "password"},
			}},
		{method: "POST", path: "/v1/clinic/auth/login",
			valid:  map[string]any{"email": "sam@east.example", "password": "correct horse battery"},
			fields: map[string]string{"email": "string", "password": "string"}},
		{method: "POST", path: "/v1/clinic/invitations/accept",
			valid:  map[string]any{"token": "not-a-token", "name": "Kim", "password": "correct horse battery"},
			fields: map[string]string{"token": "string", "name": "string", "password": "string"},
			domain: []badBody{
				{"no name", map[string]any{"name": ""}, "name"},
				{"short password", map[string]any{"password": "short"}, "password"},
			}},
		{method: "PATCH", path: "/v1/clinic", auth: true, as: "owner",
			valid:  map[string]any{"cancellation_hours": 48},
			fields: map[string]string{"name": "string", "timezone": "string", "cancellation_hours": "int"},
			domain: []badBody{
				{"negative window", map[string]any{"cancellation_hours": -1}, "cancellation_hours"},
				{"a month's window", map[string]any{"cancellation_hours": 24 * 30}, "cancellation_hours"},
				{"unknown time zone", map[string]any{"timezone": "Nowhere/Else"}, "timezone"},
			}},
		{method: "POST", path: "/v1/clinic/invitations", auth: true, as: "owner",
			valid:  map[string]any{"email": "kim@east.example", "role": "therapist"},
			fields: map[string]string{"email": "string", "role": "string"},
			domain: []badBody{
				{"second owner", map[string]any{"role": "owner"}, "role"},
				{"bad email", map[string]any{"email": "kim"}, "email"},
			}},
		{method: "POST", path: "/v1/clinic/link-codes", auth: true, as: "staff",
			valid: map[string]any{"scope": "care"}, fields: map[string]string{"scope": "string"},
			domain: []badBody{{"unknown scope", map[string]any{"scope": "admin"}, "scope"}}},
		{method: "POST", path: "/v1/clinic/link-codes/redeem", auth: true, as: "staff",
			valid: map[string]any{"code": "7KQ4-MZ2P"}, fields: map[string]string{"code": "string"},
			domain: []badBody{{"look-alike letters", map[string]any{"code": "OOII-LL00"}, "code"}, {"too short", map[string]any{"code": "7KQ4"}, "code"}}},
		{method: "POST", path: "/v1/care-team/codes", auth: true,
			valid: map[string]any{"scope": "view"}, fields: map[string]string{"scope": "string"},
			domain: []badBody{{"unknown scope", map[string]any{"scope": "everything"}, "scope"}}},
		{method: "POST", path: "/v1/care-team/preview", auth: true,
			valid: map[string]any{"code": "7KQ4-MZ2P"}, fields: map[string]string{"code": "string"},
			domain: []badBody{{"too long", map[string]any{"code": "7KQ4-MZ2P-X"}, "code"}}},
		{method: "POST", path: "/v1/care-team", auth: true,
			valid: map[string]any{"code": "7KQ4-MZ2P"}, fields: map[string]string{"code": "string"},
			domain: []badBody{{"empty", map[string]any{"code": ""}, "code"}}},
		{method: "PUT", path: "/v1/clinic/patients/" + patientID + "/plan", auth: true, as: "staff",
			valid:  map[string]any{"home_care": "Heat for 20 minutes.", "stretching": false, "maintenance_weeks": 3},
			fields: mergeFields(planFields, map[string]string{"effective_from": "string", "action": "string", "home_care": "string", "stretching": "bool"}),
			domain: append(planDomain,
				badBody{"home care too long", map[string]any{"home_care": strings.Repeat("h", 2001)}, "home_care"},
				badBody{"start date of a started plan", map[string]any{"start_date": "2026-12-01"}, "start_date"},
				badBody{"unknown action", map[string]any{"action": "archive"}, "action"},
			)},
		{method: "POST", path: "/v1/clinic/patients/" + patientID + "/sessions", auth: true, as: "staff",
			valid:  map[string]any{"scheduled_at": testNow.Add(80 * time.Hour).Format(time.RFC3339), "duration_minutes": 60},
			fields: sessionFields,
			domain: sessionDomain},
		{method: "PATCH", path: "/v1/clinic/patients/" + patientID + "/sessions/" + sessionID, auth: true, as: "staff",
			valid:  map[string]any{"scheduled_at": testNow.Add(100 * time.Hour).Format(time.RFC3339)},
			fields: mergeFields(sessionFields, map[string]string{"action": "string"}),
			domain: append(sessionDomain, badBody{"unknown action", map[string]any{"action": "postpone", "scheduled_at": nil}, "action"})},
		{method: "PUT", path: "/v1/clinic/patients/" + patientID + "/sessions/" + sessionID + "/note", auth: true, as: "staff",
			valid: map[string]any{"subjective": "Sore after lifting.", "objective": "Tight QL", "assessment": "Improving", "plan": "Weekly",
				"areas_treated": []string{"lower_back"}, "techniques": []string{"myofascial release"}, "pressure": "firm", "shared": true, "summary": "Keep walking daily."},
			fields: map[string]string{"subjective": "string", "objective": "string", "assessment": "string", "plan": "string", "areas_treated": "array",
				"techniques": "array", "pressure": "string", "shared": "bool", "summary": "string"},
			domain: []badBody{
				{"unknown area", map[string]any{"areas_treated": []string{"elbow"}}, "areas_treated"},
				{"pressure word", map[string]any{"pressure": "crushing"}, "pressure"},
				{"shared without summary", map[string]any{"summary": nil}, "summary"},
				{"empty technique", map[string]any{"techniques": []string{" "}}, "techniques"},
				{"subjective too long", map[string]any{"subjective": strings.Repeat("s", 4001)}, "subjective"},
			}},
		{method: "POST", path: "/v1/clinic/patients/" + patientID + "/clearances", auth: true, as: "staff",
			valid:  map[string]any{"date": "2026-11-20", "note": "GP letter seen"},
			fields: map[string]string{"date": "string", "note": "string"},
			domain: []badBody{
				{"future date", map[string]any{"date": "2027-01-01"}, "date"},
				{"not a date", map[string]any{"date": "yesterday"}, "date"},
			}},
		{method: "PUT", path: "/v1/care-team/" + linkID + "/messages/" + newID(), auth: true,
			valid: map[string]any{"text": "Sore on day three?"}, fields: map[string]string{"text": "string"}, domain: messageDomain},
		{method: "PUT", path: "/v1/clinic/patients/" + patientID + "/messages/" + newID(), auth: true, as: "staff",
			valid: map[string]any{"text": "That is normal."}, fields: map[string]string{"text": "string"}, domain: messageDomain},
		{method: "POST", path: "/v1/care-team/" + linkID + "/messages/read", auth: true,
			valid: map[string]any{"up_to": newID()}, fields: map[string]string{"up_to": "string"}, domain: readDomain},
		{method: "POST", path: "/v1/clinic/patients/" + patientID + "/messages/read", auth: true, as: "staff",
			valid: map[string]any{"up_to": newID()}, fields: map[string]string{"up_to": "string"}, domain: readDomain},
	}
}

var (
	planFields = map[string]string{
		"start_date": "string", "initial_sessions": "int", "maintenance_weeks": "int", "maintenance_monthly": "bool",
		"preferred_weekday": "string", "preferred_time": "string", "session_minutes": "int", "aftercare": "string", "stretching_time": "string",
	}
	planDomain = []badBody{
		{"three initial sessions", map[string]any{"initial_sessions": 3}, "initial_sessions"},
		{"seven initial sessions", map[string]any{"initial_sessions": 7}, "initial_sessions"},
		{"maintenance every week", map[string]any{"maintenance_weeks": 1}, "maintenance_weeks"},
		{"maintenance every 7 weeks", map[string]any{"maintenance_weeks": 7}, "maintenance_weeks"},
		{"weekday name", map[string]any{"preferred_weekday": "someday"}, "preferred_weekday"},
		{"time of day", map[string]any{"preferred_time": "10am"}, "preferred_time"},
		{"45 minute session", map[string]any{"session_minutes": 45}, "session_minutes"},
		{"aftercare", map[string]any{"aftercare": "sauna"}, "aftercare"},
		{"stretching time", map[string]any{"stretching_time": "25:00"}, "stretching_time"},
	}
	sessionFields = map[string]string{"scheduled_at": "string", "duration_minutes": "int", "therapist": "string", "clinic": "string"}
	sessionDomain = []badBody{
		{"not a time", map[string]any{"scheduled_at": "next tuesday"}, "scheduled_at"},
		{"three years ahead", map[string]any{"scheduled_at": testNow.AddDate(3, 0, 0).Format(time.RFC3339)}, "scheduled_at"},
		{"30 minutes", map[string]any{"duration_minutes": 30}, "duration_minutes"},
		{"two hours", map[string]any{"duration_minutes": 120}, "duration_minutes"},
		{"long therapist name", map[string]any{"therapist": strings.Repeat("t", 101)}, "therapist"},
		{"control characters", map[string]any{"clinic": "a\u0000b"}, "clinic"},
	}
)

var (
	messageDomain = []badBody{
		{"empty", map[string]any{"text": ""}, "text"},
		{"only spaces", map[string]any{"text": " \n "}, "text"},
		{"too long", map[string]any{"text": strings.Repeat("a", 2001)}, "text"},
		{"a control character", map[string]any{"text": "sore\u0007"}, "text"},
	}
	readDomain = []badBody{
		{"not a UUID", map[string]any{"up_to": "last"}, "up_to"},
		{"no message of the conversation", map[string]any{"up_to": "3f2b6f0e-8a4c-4b1e-9d2a-0c7e5f1a2b3c"}, "up_to"},
		{"empty", map[string]any{"up_to": ""}, "up_to"},
	}
)

func withAnswer(key string, v bool) map[string]any {
	a := allNo()["answers"].(map[string]any)
	a[key] = v
	return a
}

func withNullAnswer(key string) map[string]any {
	a := allNo()["answers"].(map[string]any)
	a[key] = nil
	return a
}

func mergeFields(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// wrongTypeValue returns a JSON value of a type other than kind.
func wrongTypeValue(kind string) any {
	if kind == "string" {
		return 42
	}
	return "not the right type"
}

func TestBadInputIsRefusedAndStoresNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("owner@example.com", "UTC")
	logID := newID()
	if r := ts.do("PUT", "/v1/pain-logs/"+logID, token, painLog(testNow.Add(-2*time.Hour), 6)); r.status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	ts.do("POST", "/v1/screening", token, allNo(models.ActiveCancer))
	plan := ts.do("POST", "/v1/plans", token, map[string]any{})
	session := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": testNow.Add(-3 * time.Hour).Format(time.RFC3339)})
	if plan.status != http.StatusCreated || session.status != http.StatusCreated {
		t.Fatalf("setup: %s %s", plan.body, session.body)
	}
	planID, sessionID := plan.json(t)["id"].(string), session.json(t)["id"].(string)
	clinic := ts.signupClinic("bad")
	linkID := ts.link(clinic.therapist, token, "care")
	patientID := patientOf(t, ts, token)
	// snapshot is everything a refused request could have changed.
	snapshot := func() string {
		return fmt.Sprint(ts.documents()) +
			string(ts.do("GET", "/v1/me", token, nil).body) +
			string(ts.do("GET", "/v1/pain-logs?updated_since=2000-01-01T00:00:00Z", token, nil).body) +
			string(ts.do("GET", "/v1/questionnaire-responses?updated_since=2000-01-01T00:00:00Z", token, nil).body) +
			string(ts.do("GET", "/v1/devices", token, nil).body) +
			string(ts.do("GET", "/v1/screening", token, nil).body) +
			string(ts.do("GET", "/v1/plans/current", token, nil).body) +
			string(ts.do("GET", "/v1/sessions", token, nil).body) +
			ts.view(clinic.ownerToken, "/v1/clinic", "/v1/clinic/invitations", "/v1/clinic/staff") + ts.view(token, "/v1/care-team", "/v1/care-team/"+linkID+"/messages")
	}
	with := func(base map[string]any, patch map[string]any) map[string]any {
		b := maps.Clone(base)
		for k, v := range patch {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases := 0
	for _, ep := range bodyEndpoints(logID, planID, sessionID, patientID, linkID) {
		tok := ""
		switch {
		case ep.auth && ep.as == "staff":
			tok = clinic.therapist
		case ep.auth && ep.as == "owner":
			tok = clinic.ownerToken
		case ep.auth:
			tok = token
		}
		// The stored data is compared around each route's refusals rather
		// than around each one: every refusal still has to leave it as it
		// was, and a change is pinned to the route, at a small part of the
		// cost of comparing around each of the five hundred requests.
		before := snapshot()
		check := func(name string, body any, status int, field string) {
			t.Helper()
			cases++
			t.Run(ep.method+" "+ep.path+"/"+name, func(t *testing.T) {
				expectProblem(t, ts.do(ep.method, ep.path, tok, body), status, field)
			})
		}
		for _, field := range slices.Sorted(maps.Keys(ep.fields)) {
			kind := ep.fields[field]
			check(field+" $ne", with(ep.valid, map[string]any{field: map[string]any{"$ne": nil}}), http.StatusBadRequest, field)
			check(field+" $gt", with(ep.valid, map[string]any{field: map[string]any{"$gt": ""}}), http.StatusBadRequest, field)
			check(field+" wrong type", with(ep.valid, map[string]any{field: wrongTypeValue(kind)}), http.StatusBadRequest, field)
			null := maps.Clone(ep.valid)
			null[field] = nil
			check(field+" null", null, http.StatusBadRequest, field)
		}
		for _, d := range ep.domain {
			check(d.name, with(ep.valid, d.patch), http.StatusBadRequest, d.field)
		}
		check("unknown field", with(ep.valid, map[string]any{"patient_id": "someone-else"}), http.StatusBadRequest, "patient_id")
		check("dotted key", with(ep.valid, map[string]any{"profile.name": "x"}), http.StatusBadRequest, "profile.name")
		check("top-level $where", with(ep.valid, map[string]any{"$where": "sleep(1000)"}), http.StatusBadRequest, "$where")
		check("not JSON", "{email: nope", http.StatusBadRequest, "body")
		check("an array, not an object", "[1,2]", http.StatusBadRequest, "body")
		check("two objects", `{} {}`, http.StatusBadRequest, "body")
		check("null", "null", http.StatusBadRequest, "body")
		check("an empty key", with(ep.valid, map[string]any{"": "x"}), http.StatusBadRequest, "body")
		if !ep.emptyOK {
			check("empty body", " ", http.StatusBadRequest, "body")
		}
		check("2 MB body", `{"note":"`+strings.Repeat("a", 2<<20)+`"}`, http.StatusRequestEntityTooLarge, "")
		if after := snapshot(); after != before {
			t.Fatalf("a refused request to %s %s changed stored data:\nbefore %s\nafter  %s", ep.method, ep.path, before, after)
		}
	}
	t.Run("wrong content type", func(t *testing.T) {
		r := ts.do("PUT", "/v1/pain-logs/"+newID(), token, nil)
		expectProblem(t, r, http.StatusUnsupportedMediaType, "")
	})
	t.Run("id that is not a UUID", func(t *testing.T) {
		expectProblem(t, ts.do("PUT", "/v1/pain-logs/not-a-uuid", token, painLog(testNow, 3)), http.StatusBadRequest, "id")
	})
	for _, q := range []struct{ path, field string }{
		{"/v1/insights?from=2026-13-01", "from"}, {"/v1/insights?from[$gt]=", "from[$gt]"},
		{"/v1/me/export?format=xml", "format"}, {"/v1/me/export?format[$ne]=x", "format[$ne]"},
		{"/v1/reminders?limit=-1", "limit"}, {"/v1/reminders?%24where=1", "$where"},
		{"/v1/sessions?from=tomorrow", "from"}, {"/v1/sessions?status[$ne]=x", "status[$ne]"},
	} {
		cases++
		t.Run("GET "+q.path, func(t *testing.T) {
			expectProblem(t, ts.do("GET", q.path, token, nil), http.StatusBadRequest, q.field)
		})
	}
	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=ten", "limit"}, {"from=2026-13-01", "from"}, {"to=yesterday", "to"},
		{"from=2026-11-10&to=2026-11-01", "to"}, {"from=2020-01-01&to=2026-01-01", "to"},
		{"updated_since=last-week", "updated_since"}, {"updated_since=2026-11-01T00:00:00Z&from=2026-11-01", "updated_since"},
		{"cursor=%24ne", "cursor"}, {"from[$ne]=x", "from[$ne]"}, {"%24where=1", "$where"}, {"sort=score", "sort"},
	} {
		cases++
		t.Run("GET /v1/pain-logs?"+q.query, func(t *testing.T) {
			expectProblem(t, ts.do("GET", "/v1/pain-logs?"+q.query, token, nil), http.StatusBadRequest, q.field)
		})
	}
	t.Logf("%d bad-input cases", cases)
}
