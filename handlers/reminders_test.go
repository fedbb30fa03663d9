package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
	"github.com/backcare/backcare/notifications/fcmfake"
)

// dispatcher returns the real dispatcher, sending through the Firebase SDK
// to an FCM fake, on the test server's clock.
func (ts *testServer) dispatcher() (*jobs.Dispatcher, *fcmfake.Server) {
	ts.t.Helper()
	fake := fcmfake.New()
	ts.t.Cleanup(fake.Close)
	clock := func() time.Time { return ts.now }
	sender, err := notifications.NewFCMSender(context.Background(), notifications.FCMConfig{ProjectID: "test", Endpoint: fake.URL(), Now: clock})
	if err != nil {
		ts.t.Fatal(err)
	}
	return jobs.NewDispatcher(jobs.DispatchConfig{
		Store: ts.store, Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: jobs.NewDispatchMetrics(prometheus.NewRegistry()), Now: clock,
	}), fake
}

// TestAftercareArrivesOnceAtTheRightLocalTimes completes a session through
// the API and runs the real dispatcher at every moment something is due.
func TestAftercareArrivesOnceAtTheRightLocalTimes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	edmonton, _ := time.LoadLocation("America/Edmonton")
	local := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, edmonton) }
	ts.now = local(22, 9, 0)
	token, _ := ts.register("ava@example.com", "America/Edmonton")
	ts.do("POST", "/v1/devices", token, map[string]any{"token": "ava-phone-token-xxxxxxxxxxxxxxxxxxxx", "platform": "ios", "app_version": "3.0.0"})
	ts.do("POST", "/v1/screening", token, allNo())
	ts.do("POST", "/v1/plans", token, map[string]any{})
	book := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": local(23, 10, 0).Format(time.RFC3339)})
	session := book.json(t)["id"].(string)

	ts.now = local(23, 11, 5)
	token = ts.login("ava@example.com")
	if r := ts.do("POST", "/v1/sessions/"+session+"/complete", token, map[string]any{"pressure_felt": 3, "soreness_after": 5}); r.status != http.StatusOK {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	// Completing again must not plan a second round.
	ts.do("POST", "/v1/sessions/"+session+"/complete", token, nil)

	want := map[string]time.Time{
		"hydration_after 0h": local(23, 11, 0), "take_it_easy ": local(23, 11, 0),
		"hydration_after 2h": local(23, 13, 0), "hydration_after 4h": local(23, 15, 0),
		"heat_ice day1": local(23, 19, 30), "heat_ice day2": local(24, 19, 30),
		"soreness_checkin 24h": local(24, 11, 0), "soreness_checkin 48h": local(25, 11, 0),
	}
	var aftercare []models.Reminder
	all, err := ts.store.ListReminders(context.Background(), models.ReminderQuery{
		PatientID: patientOf(t, ts, token), From: local(23, 0, 0), To: local(26, 0, 0), Limit: 500,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.SourceID == session && r.Kind != models.KindSessionUpcoming && r.Kind != models.KindHydrationBefore {
			aftercare = append(aftercare, r)
		}
	}
	if len(aftercare) != len(want) {
		t.Fatalf("%d aftercare reminders planned, want %d: %v", len(aftercare), len(want), aftercare)
	}
	for _, r := range aftercare {
		at, ok := want[string(r.Kind)+" "+r.Variant]
		if !ok || !r.DueAt.Equal(at) {
			t.Errorf("%s %s due %s, want %s", r.Kind, r.Variant, r.DueAt.In(edmonton), at)
		}
	}

	// Run the dispatcher at each due time, in order, as the cron would.
	d, fake := ts.dispatcher()
	var times []time.Time
	for _, at := range want {
		times = append(times, at)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for _, at := range slices.Compact(times) {
		ts.now = at
		if err := d.RunOnce(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	received := map[string]int{}
	for _, rec := range fake.Received() {
		received[rec.Data["reminder_id"]]++
	}
	for _, r := range aftercare {
		got, err := ts.store.Reminder(context.Background(), r.PatientID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if received[r.ID] != 1 || got.Status != models.ReminderSent || !got.SentAt.Equal(want[string(r.Kind)+" "+r.Variant]) {
			t.Errorf("%s %s: %d pushes, status %s, sent %v", r.Kind, r.Variant, received[r.ID], got.Status, got.SentAt)
		}
	}
}

func patientOf(t *testing.T, ts *testServer, token string) string {
	t.Helper()
	return ts.do("GET", "/v1/me", token, nil).json(t)["id"].(string)
}

func TestRemindersAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("bo@example.com", "UTC")
	list := ts.do("GET", "/v1/reminders", token, nil).json(t)["items"].([]any)
	if len(list) == 0 {
		t.Fatal("signing up planned no daily check-ins")
	}
	var first map[string]any
	for _, it := range list {
		if m := it.(map[string]any); m["kind"] == "daily_checkin" && first == nil {
			first = m
		}
	}
	if first == nil || first["status"] != "pending" || first["title"] == "" || first["due_at"] != "2026-11-22T19:00:00Z" {
		t.Fatalf("first reminder %v", first)
	}
	id := first["id"].(string)

	t.Run("snooze within its useful life", func(t *testing.T) {
		expectProblem(t, ts.do("POST", "/v1/reminders/"+id+"/snooze", token, map[string]any{"minutes": 10}), http.StatusBadRequest, "minutes")
		// The check-in lives until the end of the day: 4 h from 20:30 is past it.
		ts.now = time.Date(2026, 11, 22, 20, 30, 0, 0, time.UTC)
		token := ts.login("bo@example.com")
		defer func() { ts.now = testNow }()
		expectProblem(t, ts.do("POST", "/v1/reminders/"+id+"/snooze", token, map[string]any{"minutes": 240}), http.StatusBadRequest, "minutes")
		r := ts.do("POST", "/v1/reminders/"+id+"/snooze", token, map[string]any{"minutes": 30})
		if m := r.json(t); r.status != http.StatusOK || m["due_at"] != "2026-11-22T21:00:00Z" || m["snoozed_from"] != "2026-11-22T19:00:00Z" {
			t.Fatalf("snooze: %d %s", r.status, r.body)
		}
	})
	t.Run("done is recorded once and the push is not sent", func(t *testing.T) {
		r := ts.do("POST", "/v1/reminders/"+id+"/done", token, nil)
		m := r.json(t)
		if r.status != http.StatusOK || m["done_at"] != "2026-11-22T15:00:00Z" || m["status"] != "skipped" {
			t.Fatalf("done: %d %s", r.status, r.body)
		}
		ts.now = testNow.Add(time.Minute)
		again := ts.do("POST", "/v1/reminders/"+id+"/done", token, nil).json(t)
		ts.now = testNow
		if again["done_at"] != "2026-11-22T15:00:00Z" {
			t.Fatalf("a second done moved the time: %v", again)
		}
	})
	t.Run("switching a kind off re-plans it away", func(t *testing.T) {
		ts.do("PATCH", "/v1/me", token, map[string]any{"reminder_preferences": map[string]any{"daily_checkin": map[string]any{"enabled": false}}})
		for _, it := range ts.do("GET", "/v1/reminders", token, nil).json(t)["items"].([]any) {
			if m := it.(map[string]any); m["kind"] == "daily_checkin" && m["status"] == "pending" {
				t.Fatalf("a pending check-in is left after switching them off: %v", m)
			}
		}
	})
	t.Run("a time zone change moves the routine", func(t *testing.T) {
		ts.do("PATCH", "/v1/me", token, map[string]any{
			"timezone":             "Asia/Kolkata",
			"reminder_preferences": map[string]any{"daily_checkin": map[string]any{"enabled": true}},
		})
		for _, it := range ts.do("GET", "/v1/reminders", token, nil).json(t)["items"].([]any) {
			m := it.(map[string]any)
			if m["kind"] == "daily_checkin" && m["status"] == "pending" {
				// 19:00 in Kolkata is 13:30 UTC.
				if at, _ := time.Parse(time.RFC3339, m["due_at"].(string)); at.Hour() != 13 || at.Minute() != 30 {
					t.Fatalf("check-in due %v after moving to Kolkata", m["due_at"])
				}
			}
		}
	})
	t.Run("cancelling a session cancels its reminders", func(t *testing.T) {
		at := testNow.Add(72 * time.Hour)
		id := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Format(time.RFC3339)}).json(t)["id"].(string)
		kinds := func(status string) []string {
			var out []string
			for _, it := range ts.do("GET", "/v1/reminders", token, nil).json(t)["items"].([]any) {
				if m := it.(map[string]any); m["session_id"] == id && m["status"] == status {
					out = append(out, m["kind"].(string))
				}
			}
			slices.Sort(out)
			return out
		}
		// The day before it, the PEG-3 is asked too.
		if got := kinds("pending"); !slices.Equal(got, []string{"hydration_before", "questionnaire_due", "session_upcoming", "session_upcoming"}) {
			t.Fatalf("booking planned %v", got)
		}
		ts.do("PATCH", "/v1/sessions/"+id, token, map[string]any{"action": "cancel"})
		if got := kinds("cancelled"); len(got) != 4 || len(kinds("pending")) != 0 {
			t.Fatalf("after cancelling: cancelled %v, pending %v", got, kinds("pending"))
		}
	})
	t.Run("no session reminders while the plan needs clearance", func(t *testing.T) {
		ts.do("POST", "/v1/screening", token, allNo(models.ActiveCancer))
		ts.do("POST", "/v1/plans", token, map[string]any{})
		at := testNow.Add(96 * time.Hour)
		id := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Format(time.RFC3339)}).json(t)["id"].(string)
		for _, it := range ts.do("GET", "/v1/reminders", token, nil).json(t)["items"].([]any) {
			if m := it.(map[string]any); m["session_id"] == id {
				t.Fatalf("a session reminder was planned for a plan that needs clearance: %v", m)
			}
		}
	})
}
