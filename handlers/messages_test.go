package handlers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications/fcmfake"
)

// TestMessagesFlow walks one conversation: the patient's offline retries
// make one message, the clinic reads and answers it, the patient gets one
// content-free push for two answers (held by quiet hours, never dropped),
// reads them, and the unread counts, read states, triage and access log
// follow; a view-scope therapist reads but cannot write, and a revoked link
// closes the conversation.
func TestMessagesFlow(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	dispatcher, fake := ts.dispatcher()
	patient, _ := ts.register("mia@example.com", "UTC")
	pid := patientOf(t, ts, patient)
	ts.do("POST", "/v1/devices", patient, map[string]any{"token": "mia-phone-token-xxxxxxxxxxxxxxxxxxxx", "platform": "android", "app_version": "3.0.0"})
	home := ts.signupClinic("harbour")
	link := ts.link(home.therapist, patient, "care")
	viewer := ts.signupClinic("lookout")
	ts.link(viewer.therapist, patient, "view")
	mine := "/v1/care-team/" + link + "/messages"
	theirs := "/v1/clinic/patients/" + pid + "/messages"
	expectStatus := func(r response, status int) map[string]any {
		t.Helper()
		if r.status != status {
			t.Fatalf("%d %s, want %d", r.status, r.body, status)
		}
		return r.json(t)
	}

	// Written offline, sent twice: one message.
	question := "The soreness is still there on day three — is that normal?"
	first := expectStatus(ts.do("PUT", mine+"/"+strings.ToUpper(tableMessage), patient, map[string]any{"text": question}), http.StatusCreated)
	again := expectStatus(ts.do("PUT", mine+"/"+tableMessage, patient, map[string]any{"text": question}), http.StatusOK)
	if first["id"] != tableMessage || again["created_at"] != first["created_at"] || first["author"].(map[string]any)["kind"] != "patient" {
		t.Fatalf("first %v, retry %v", first, again)
	}
	expectProblem(t, ts.do("PUT", mine+"/"+tableMessage, patient, map[string]any{"text": "Something else"}), http.StatusConflict, "")
	expectProblem(t, ts.do("PUT", mine+"/not-a-uuid", patient, map[string]any{"text": question}), http.StatusBadRequest, "uuid")
	expectProblem(t, ts.do("PUT", mine+"/"+newID(), patient, map[string]any{"text": strings.Repeat("a", 2001)}), http.StatusBadRequest, "text")

	// The clinic sees it unread, in the conversation and the triage.
	items := expectStatus(ts.do("GET", theirs, home.therapist, nil), http.StatusOK)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["text"] != question || items[0].(map[string]any)["read_at"] != nil {
		t.Fatalf("the clinic's view: %v", items)
	}
	if tri := ts.triage(home.therapist, ""); len(tri.Items) != 1 || tri.Items[0].Unread != 1 {
		t.Fatalf("triage: %+v", tri.Items)
	}
	read := expectStatus(ts.do("POST", theirs+"/read", home.therapist, map[string]any{"up_to": tableMessage}), http.StatusOK)
	if read["unread_count"] != float64(0) {
		t.Fatalf("after reading: %v", read)
	}
	if m := ts.do("GET", mine, patient, nil).json(t)["items"].([]any)[0].(map[string]any); m["read_at"] == nil {
		t.Fatalf("the patient does not see their message read: %v", m)
	}

	// A view-scope clinic reads but does not write.
	expectStatus(ts.do("GET", "/v1/clinic/patients/"+pid+"/messages", viewer.therapist, nil), http.StatusOK)
	expectProblem(t, ts.do("PUT", "/v1/clinic/patients/"+pid+"/messages/"+newID(), viewer.therapist, map[string]any{"text": "Hi"}), http.StatusNotFound, "")

	// Two answers late in the evening: one push, held by quiet hours
	// (21:00 to 08:00) until the morning.
	ts.now = time.Date(2026, 11, 22, 22, 30, 0, 0, time.UTC)
	home.therapist, patient = ts.staffLogin(home.therapistEmail), ts.login("mia@example.com")
	answer := newID()
	staffMsg := expectStatus(ts.do("PUT", theirs+"/"+answer, home.therapist, map[string]any{"text": "Yes, that is normal. Keep up the heat."}), http.StatusCreated)
	if a := staffMsg["author"].(map[string]any); a["kind"] != "staff" || a["name"] != "Therapist harbour" {
		t.Fatalf("author %v", a)
	}
	second := newID()
	expectStatus(ts.do("PUT", theirs+"/"+second, home.therapist, map[string]any{"text": "Call us if it gets worse."}), http.StatusCreated)
	team := ts.do("GET", "/v1/care-team", patient, nil).json(t)["items"].([]any)
	for _, it := range team {
		m := it.(map[string]any)
		if want := map[bool]float64{true: 2, false: 0}[m["id"] == link]; m["unread_count"] != want {
			t.Fatalf("care team %v: unread_count %v, want %v", m["id"], m["unread_count"], want)
		}
	}
	if err := dispatcher.RunOnce(context.Background(), ts.now); err != nil {
		t.Fatal(err)
	}
	// Other reminders fall due too (a weekly summary); the message's
	// are the message kind.
	messagePushes := func() []fcmfake.Received {
		return slices.DeleteFunc(fake.Received(), func(r fcmfake.Received) bool { return r.Data["kind"] != "message" })
	}
	if got := messagePushes(); len(got) != 0 {
		t.Fatalf("a push in quiet hours: %+v", got)
	}
	ts.now = time.Date(2026, 11, 23, 8, 0, 1, 0, time.UTC)
	if err := dispatcher.RunOnce(context.Background(), ts.now); err != nil {
		t.Fatal(err)
	}
	home.therapist, patient = ts.staffLogin(home.therapistEmail), ts.login("mia@example.com")
	pushes := messagePushes()
	if len(pushes) != 1 {
		t.Fatalf("%d pushes for two messages, want 1: %+v", len(pushes), pushes)
	}
	checkContentFree(t, pushes[0], "Yes, that is normal", "Call us", "harbour", "Therapist", link)

	// A third answer after the push: a second one, under the same collapse
	// key. The patient reads before it goes: it is cancelled.
	third := newID()
	expectStatus(ts.do("PUT", theirs+"/"+third, home.therapist, map[string]any{"text": "How is it today?"}), http.StatusCreated)
	if r := expectStatus(ts.do("POST", mine+"/read", patient, map[string]any{"up_to": third}), http.StatusOK); r["unread_count"] != float64(0) {
		t.Fatalf("after the patient read: %v", r)
	}
	ts.now = ts.now.Add(time.Minute)
	if err := dispatcher.RunOnce(context.Background(), ts.now); err != nil {
		t.Fatal(err)
	}
	if got := messagePushes(); len(got) != 1 {
		t.Fatalf("%d pushes: a push for a message already read went", len(got))
	}
	var notices []string
	for _, r := range ts.do("GET", "/v1/reminders?from=2026-11-22T00:00:00Z&to=2026-11-24T00:00:00Z", patient, nil).json(t)["items"].([]any) {
		if m := r.(map[string]any); m["kind"] == "message" {
			notices = append(notices, m["status"].(string))
		}
	}
	if slices.Sort(notices); !slices.Equal(notices, []string{"cancelled", "sent"}) {
		t.Fatalf("message notices %v, want one sent and one cancelled", notices)
	}

	// Sync: what changed since the push, the reads included.
	since := ts.do("GET", mine+"?updated_since=2026-11-23T08:00:00Z", patient, nil).json(t)["items"].([]any)
	if len(since) != 3 {
		t.Fatalf("changes since 08:00: %d, want the three answers read", len(since))
	}
	// Every staff read is in the patient's access log.
	var reads []string
	for _, e := range ts.do("GET", "/v1/me/access-log", patient, nil).json(t)["items"].([]any) {
		if m := e.(map[string]any); strings.HasPrefix(m["what"].(string), "messages") {
			reads = append(reads, m["action"].(string)+" "+m["what"].(string))
		}
	}
	if !slices.Contains(reads, "viewed messages") || !slices.Contains(reads, "viewed messages/read") || !slices.Contains(reads, "changed messages") {
		t.Fatalf("access log %v", reads)
	}

	// The export carries the conversation, in JSON and as FHIR Communications.
	if exported := ts.do("GET", "/v1/me/export", patient, nil).json(t)["messages"].([]any); len(exported) != 4 ||
		exported[0].(map[string]any)["care_link_id"] != link || exported[0].(map[string]any)["text"] != question {
		t.Fatalf("exported messages: %v", exported)
	}
	if fhir := string(ts.do("GET", "/v1/me/export/fhir", patient, nil).body); strings.Count(fhir, "Message between the patient and their clinic") != 4 {
		t.Fatalf("the FHIR export does not carry the four messages")
	}

	// The patient revokes: they keep the conversation, closed; the clinic
	// no longer sees it, and nothing can be added.
	if r := ts.do("DELETE", "/v1/care-team/"+link, patient, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.status)
	}
	kept := expectStatus(ts.do("GET", mine, patient, nil), http.StatusOK)
	if kept["closed"] != true || len(kept["items"].([]any)) != 4 {
		t.Fatalf("the revoked conversation: %v", kept)
	}
	expectProblem(t, ts.do("PUT", mine+"/"+newID(), patient, map[string]any{"text": "Hello?"}), http.StatusConflict, "")
	expectProblem(t, ts.do("GET", theirs, home.therapist, nil), http.StatusNotFound, "")
	expectProblem(t, ts.do("PUT", theirs+"/"+newID(), home.therapist, map[string]any{"text": "Hello?"}), http.StatusNotFound, "")
}

// staffLogin signs a staff member in again, at the test's clock.
func (ts *testServer) staffLogin(email string) string {
	ts.t.Helper()
	r := ts.do("POST", "/v1/clinic/auth/login", "", map[string]any{"email": email, "password": staffPassword})
	if r.status != http.StatusOK {
		ts.t.Fatalf("staff sign-in: %d %s", r.status, r.body)
	}
	return r.json(ts.t)["access_token"].(string)
}

// checkContentFree fails unless push p is the message notice, field by
// field, with none of secrets anywhere in it.
func checkContentFree(t *testing.T, p fcmfake.Received, secrets ...string) {
	t.Helper()
	f := p.Fields()
	want := map[string]string{"title": "New message", "body": "You have a new message from your clinic", "data.kind": "message"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("push %s = %q, want %q", k, f[k], v)
		}
	}
	for k, v := range f {
		if !strings.HasPrefix(k, "data.") {
			continue
		}
		if k != "data.kind" && k != "data.reminder_id" {
			t.Errorf("push carries data %s = %q", k, v)
		}
	}
	if !strings.HasPrefix(f["collapse_key"], "conversation-") || f["tag"] != f["collapse_key"] || f["apns-collapse-id"] != f["collapse_key"] {
		t.Errorf("push collapse keys: %v", f)
	}
	for k, v := range f {
		for _, s := range secrets {
			if strings.Contains(strings.ToLower(v), strings.ToLower(s)) {
				t.Errorf("push %s = %q carries %q", k, v, s)
			}
		}
	}
}

func TestMessageSymptomFlag(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	patient, _ := ts.register("lee@example.com", "UTC")
	clinic := ts.signupClinic("dunes")
	link := ts.link(clinic.therapist, patient, "care")
	session := bookPastSession(ts, patient)
	if r := ts.do("POST", "/v1/sessions/"+session+"/complete", patient, map[string]any{}); r.status != http.StatusOK {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if e := ts.triage(clinic.therapist, "").Items[0]; slices.Contains(e.Attention, string(models.AttentionSymptomMessage)) {
		t.Fatalf("flagged before any message: %v", e.Attention)
	}
	ts.now = ts.now.Add(26 * time.Hour)
	clinic.therapist, patient = ts.staffLogin(clinic.therapistEmail), ts.login("lee@example.com")
	msg := newID()
	ts.do("PUT", "/v1/care-team/"+link+"/messages/"+msg, patient, map[string]any{"text": "Still sore today."})
	e := ts.triage(clinic.therapist, "").Items[0]
	if !slices.Contains(e.Attention, string(models.AttentionSymptomMessage)) || !e.SymptomMessage {
		t.Fatalf("a message a day after the session: %+v", e)
	}
	pid := patientOf(t, ts, patient)
	ts.do("POST", "/v1/clinic/patients/"+pid+"/messages/read", clinic.therapist, map[string]any{"up_to": msg})
	if e := ts.triage(clinic.therapist, "").Items[0]; slices.Contains(e.Attention, string(models.AttentionSymptomMessage)) || e.Unread != 0 {
		t.Fatalf("still flagged once read: %+v", e)
	}
}

// TestMessageRateLimit: a sender past the limit is refused with
// Retry-After, and another sender is not held back by them.
func TestMessageRateLimit(t *testing.T) {
	t.Parallel()
	limits := roomyLimits
	limits.Message = RouteLimits{PerAccount: RateLimit{2, time.Hour}}
	ts := newTestServer(t, withLimits(limits))
	patient, _ := ts.register("kit@example.com", "UTC")
	clinic := ts.signupClinic("cove")
	link := ts.link(clinic.therapist, patient, "care")
	send := func(token, path string) response {
		return ts.do("PUT", path+"/"+newID(), token, map[string]any{"text": "Hello"})
	}
	mine := "/v1/care-team/" + link + "/messages"
	for range 2 {
		if r := send(patient, mine); r.status != http.StatusCreated {
			t.Fatalf("within the limit: %d %s", r.status, r.body)
		}
	}
	r := send(patient, mine)
	expectProblem(t, r, http.StatusTooManyRequests, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if r := send(clinic.therapist, "/v1/clinic/patients/"+patientOf(t, ts, patient)+"/messages"); r.status != http.StatusCreated {
		t.Fatalf("the clinic, held back by the patient's sends: %d %s", r.status, r.body)
	}
}
