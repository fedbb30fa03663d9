package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/backcare/backcare/notifications/fcmfake"
	"github.com/backcare/backcare/web/browsertest"
)

// TestMessagesEndToEnd is a conversation through the real program: a
// patient writes offline (the phone sends the same UUID twice: one
// message), the therapist finds it in the dashboard's inbox in a real
// browser, reads and answers it, the patient gets one push that says
// nothing but that the clinic wrote, and reads the answer; the unread
// counts follow on both sides.
func TestMessagesEndToEnd(t *testing.T) {
	t.Parallel()
	fake := fcmfake.New()
	defer fake.Close()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "FCM_ENDPOINT": fake.URL(), "DISPATCH_INTERVAL": "1s"})
	defer s.stop()

	therapist, _ := clinicWithTherapist(s, "Quayside Massage", "Europe/Dublin", "Niamh Owner", "owner@quayside.example", "Ciara Therapist", "ciara@quayside.example")
	patient := patientWithPhone(s, "orla@example.com")
	pid := s.must(s.call("GET", "/v1/me", patient, nil), 200).body["id"].(string)
	code := s.must(s.call("POST", "/v1/clinic/link-codes", therapist, map[string]any{"scope": "care"}), 201).body["code"].(string)
	link := s.must(s.call("POST", "/v1/care-team", patient, map[string]any{"code": code}), 201).body["id"].(string)
	conversation := "/v1/care-team/" + link + "/messages"
	unread := func() float64 {
		t.Helper()
		return s.must(s.call("GET", "/v1/care-team", patient, nil), 200).body["items"].([]any)[0].(map[string]any)["unread_count"].(float64)
	}

	// Written on the bus without signal; the phone sends it when it can,
	// and again when the first answer was lost.
	const question = "The soreness is still there on day three — is that normal?"
	id := uuid.NewString()
	s.must(s.call("PUT", conversation+"/"+id, patient, map[string]any{"text": question}), 201)
	s.must(s.call("PUT", conversation+"/"+id, patient, map[string]any{"text": question}), 200)
	if items := s.must(s.call("GET", conversation, patient, nil), 200).body["items"].([]any); len(items) != 1 {
		t.Fatalf("two sends of one message made %d", len(items))
	}

	// The therapist, at the dashboard in a browser.
	tab := browsertest.Open(t, 2*time.Minute, "../..", "messages")
	// The server's log of the dashboard's requests tells which one went
	// wrong.
	tab.OnFail = func() {
		for _, l := range strings.Split(s.out.String(), "\n") {
			if strings.Contains(l, "/clinic/") {
				t.Log(l)
			}
		}
	}
	do, text := tab.Do, tab.Text
	shot := func(name string) { tab.Shot(name, browsertest.Desktop) }
	do("sign in", chromedp.Navigate(s.base+"/clinic/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ciara@quayside.example"), chromedp.SendKeys(chromedp.CSS("#password"), "another long passphrase"),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#today-table")))
	do("the inbox", chromedp.Click(chromedp.CSS(`.nav a[href="/clinic/messages"]`)), chromedp.WaitVisible(chromedp.CSS("#inbox-table")))
	if row := text("#inbox-table tbody"); !strings.Contains(row, "Sam") || !strings.Contains(row, "1 new") || strings.Contains(row, "soreness") {
		t.Errorf("the inbox row (a name, a count, no text): %q", row)
	}
	if got := text("#unread-total"); !strings.Contains(got, "1 unread message") {
		t.Errorf("the inbox's count: %q", got)
	}
	shot("inbox")
	do("open the conversation", chromedp.Click(chromedp.CSS("#inbox-table .name a")), chromedp.WaitVisible(chromedp.CSS("#conversation")))
	if got := text("#conversation"); !strings.Contains(got, question) {
		t.Fatalf("the conversation shows %q", got)
	}
	// Opening it read it: the patient sees their message read.
	if m := s.must(s.call("GET", conversation, patient, nil), 200).body["items"].([]any)[0].(map[string]any); m["read_at"] == nil {
		t.Errorf("the therapist read the message, but the patient sees it unread: %v", m)
	}
	const answer = "Yes, some soreness can last three days after deep work.\nKeep up the heat and gentle walks; call us if it gets worse."
	// Set, not typed key by key: on a busy machine typing a paragraph
	// takes longer than the step may. The form still sends the browser's
	// CR LF line breaks.
	do("answer", chromedp.SetValue(chromedp.CSS("#reply-text"), answer), chromedp.Click(chromedp.CSS("form.reply-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text("#conversation"); !strings.Contains(got, "Keep up the heat") || !strings.Contains(got, "Ciara Therapist") || !strings.Contains(got, "Not read yet") {
		t.Errorf("the answer in the conversation: %q", got)
	}
	shot("conversation")
	// Back in the inbox, nothing waits.
	do("the inbox again", chromedp.Navigate(s.base+"/clinic/messages"), chromedp.WaitVisible(chromedp.CSS("#inbox-table")))
	if got := text("#unread-total"); !strings.Contains(got, "Nothing unread") {
		t.Errorf("the inbox after reading: %q", got)
	}

	// The patient's phone: one push, with nothing of the conversation in it.
	if n := unread(); n != 1 {
		t.Errorf("the patient's unread count is %v, want 1", n)
	}
	messagePushes := func() []fcmfake.Received {
		var out []fcmfake.Received
		for _, r := range fake.Received() {
			if r.Data["kind"] == "message" {
				out = append(out, r)
			}
		}
		return out
	}
	waitUntil(t, 30*time.Second, "the message push", func() bool { return len(messagePushes()) > 0 })
	time.Sleep(2 * time.Second) // two more dispatch runs: a second push would show now
	pushes := messagePushes()
	if len(pushes) != 1 {
		t.Fatalf("%d message pushes, want 1: %+v", len(pushes), pushes)
	}
	fields := pushes[0].Fields()
	want := map[string]string{"title": "New message", "body": "You have a new message from your clinic", "data.kind": "message", "priority": "high"}
	for k, v := range fields {
		switch {
		case want[k] != "":
			if v != want[k] {
				t.Errorf("push %s = %q, want %q", k, v, want[k])
			}
		case k == "data.reminder_id", k == "apns-expiration", k == "apns-priority":
		case k == "collapse_key", k == "tag", k == "apns-collapse-id":
			if !strings.HasPrefix(v, "conversation-") || v != fields["collapse_key"] {
				t.Errorf("push %s = %q: not the conversation's collapse key", k, v)
			}
		default:
			t.Errorf("push carries %s = %q", k, v)
		}
		for _, secret := range []string{"soreness", "heat", "Ciara", "Quayside", "Sam", link, pid} {
			if strings.Contains(v, secret) {
				t.Errorf("push %s = %q carries %q", k, v, secret)
			}
		}
	}

	// The patient reads the answer.
	items := s.must(s.call("GET", conversation, patient, nil), 200).body["items"].([]any)
	newest := items[0].(map[string]any)
	if newest["text"] != answer || newest["author"].(map[string]any)["name"] != "Ciara Therapist" || newest["read_at"] != nil {
		t.Fatalf("the answer as the patient reads it: %v", newest)
	}
	if r := s.must(s.call("POST", conversation+"/read", patient, map[string]any{"up_to": newest["id"]}), 200); r.body["unread_count"] != float64(0) {
		t.Fatalf("after reading: %v", r.body)
	}
	if n := unread(); n != 0 {
		t.Errorf("the patient's unread count after reading is %v", n)
	}
	if m := s.must(s.call("GET", "/v1/clinic/patients/"+pid+"/messages", therapist, nil), 200).body["items"].([]any)[0].(map[string]any); m["read_at"] == nil {
		t.Errorf("the clinic does not see its answer read: %v", m)
	}
	// The patient's access log shows the dashboard's read.
	found := false
	for _, e := range s.must(s.call("GET", "/v1/me/access-log", patient, nil), 200).body["items"].([]any) {
		found = found || e.(map[string]any)["what"] == "dashboard/messages"
	}
	if !found {
		t.Errorf("the access log does not show the therapist reading the conversation")
	}
}
