package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/backcare/backcare/models"
)

func TestProfile(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	token, _ := ts.register("jo@example.com", "America/New_York")

	me := ts.do("GET", "/v1/me", token, nil).json(t)
	if me["timezone"] != "America/New_York" || me["locale"] != "en" {
		t.Fatalf("profile %v", me)
	}
	if _, leaked := me["password_hash"]; leaked {
		t.Fatal("the profile exposes the password hash")
	}
	qh := me["quiet_hours"].(map[string]any)
	if qh["start"] != "21:00" || qh["end"] != "08:00" {
		t.Fatalf("default quiet hours %v", qh)
	}
	prefs := me["reminder_preferences"].(map[string]any)
	if len(prefs) != len(models.Catalog) {
		t.Fatalf("%d reminder kinds, want the %d of the catalog", len(prefs), len(models.Catalog))
	}

	r := ts.do("PATCH", "/v1/me", token, map[string]any{
		"timezone":    "Australia/Sydney",
		"quiet_hours": map[string]any{"start": "22:30", "end": "06:45"},
		"reminder_preferences": map[string]any{
			"stretching":     map[string]any{"enabled": false},
			"daily_checkin":  map[string]any{"time_of_day": "20:15"},
			"weekly_summary": map[string]any{"weekday": "Monday"},
		},
	})
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	got := ts.do("GET", "/v1/me", token, nil).json(t)
	prefs = got["reminder_preferences"].(map[string]any)
	stretching := prefs["stretching"].(map[string]any)
	checkin := prefs["daily_checkin"].(map[string]any)
	weekly := prefs["weekly_summary"].(map[string]any)
	switch {
	case got["timezone"] != "Australia/Sydney":
		t.Fatalf("timezone %v", got["timezone"])
	case got["quiet_hours"].(map[string]any)["start"] != "22:30":
		t.Fatalf("quiet hours %v", got["quiet_hours"])
	case stretching["enabled"] != false || stretching["time_of_day"] != "18:00":
		t.Fatalf("turning stretching off must keep its time: %v", stretching)
	case checkin["time_of_day"] != "20:15" || checkin["enabled"] != true:
		t.Fatalf("daily check-in %v", checkin)
	case weekly["weekday"] != "monday":
		t.Fatalf("weekly summary %v", weekly)
	case got["name"] != "Pat":
		t.Fatalf("a patch must leave other fields alone: %v", got)
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ann, _ := ts.register("ann@example.com", "UTC")
	ben, _ := ts.register("ben@example.com", "UTC")
	token := "dGhpcyBpcyBhIGZha2UgdG9rZW4:APA91b" + "Hq7x_secret_tail"

	first := ts.do("POST", "/v1/devices", ann, map[string]any{"token": token, "platform": "ios", "app_version": "1.0.0"})
	if first.status != http.StatusCreated {
		t.Fatalf("register: %d %s", first.status, first.body)
	}
	if body := string(first.body); strings.Contains(body, "APA91b") {
		t.Fatalf("the response carries the whole token: %s", body)
	}
	ts.now = testNow.Add(10 * 60e9)
	again := ts.do("POST", "/v1/devices", ann, map[string]any{"token": token, "platform": "ios", "app_version": "1.1.0"})
	if again.status != http.StatusOK {
		t.Fatalf("same token again: %d %s", again.status, again.body)
	}
	list := ts.do("GET", "/v1/devices", ann, nil).json(t)["items"].([]any)
	if len(list) != 1 {
		t.Fatalf("registering one token twice made %d devices", len(list))
	}
	d := list[0].(map[string]any)
	if d["app_version"] != "1.1.0" || d["last_seen"] != "2026-11-22T15:10:00Z" || d["token_hint"] != "…t_tail" {
		t.Fatalf("device %v", d)
	}

	// The phone now signs in to another account: the token leaves the first.
	moved := ts.do("POST", "/v1/devices", ben, map[string]any{"token": token, "platform": "ios", "app_version": "1.1.0"})
	if moved.status != http.StatusOK {
		t.Fatalf("move: %d %s", moved.status, moved.body)
	}
	if n := len(ts.do("GET", "/v1/devices", ann, nil).json(t)["items"].([]any)); n != 0 {
		t.Fatalf("the old account still has %d devices", n)
	}
	id := moved.json(t)["id"].(string)
	expectProblem(t, ts.do("DELETE", "/v1/devices/"+id, ann, nil), http.StatusNotFound, "")
	if r := ts.do("DELETE", "/v1/devices/"+id, ben, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if n := len(ts.do("GET", "/v1/devices", ben, nil).json(t)["items"].([]any)); n != 0 {
		t.Fatalf("%d devices after delete", n)
	}
}
