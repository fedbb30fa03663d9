package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ownedResource makes one resource of the owner's for a route that takes an
// {id}. It returns the id, a request body valid for that route, and the URL
// where the owner reads the resource back.
type ownedResource func(ts *testServer, ownerToken string) (id string, body any, view string)

// ownedReminder picks one of the owner's pending reminders: signing up
// plans the daily check-ins.
func ownedReminder(body any) ownedResource {
	return func(ts *testServer, token string) (string, any, string) {
		items := ts.do("GET", "/v1/reminders", token, nil).json(ts.t)["items"].([]any)
		for _, it := range items {
			if r := it.(map[string]any); r["status"] == "pending" {
				return r["id"].(string), body, "/v1/reminders"
			}
		}
		ts.t.Fatalf("setup: the owner has no pending reminder: %v", items)
		return "", nil, ""
	}
}

// bookPastSession books a session for the owner that has already started.
func bookPastSession(ts *testServer, token string) string {
	ts.t.Helper()
	at := testNow.Add(-time.Duration(1+ts.sessions) * 2 * time.Hour)
	ts.sessions++
	r := ts.do("POST", "/v1/sessions", token, map[string]any{"scheduled_at": at.Format(time.RFC3339)})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("setup: %d %s", r.status, r.body)
	}
	return r.json(ts.t)["id"].(string)
}

// ownedResources covers every route with an :id. A new route with an id that
// is not listed here fails TestObjectLevelAuthorization: decide how another
// patient is kept out of it, then add it.
var ownedResources = map[string]ownedResource{
	"/v1/pain-logs/:id": func(ts *testServer, token string) (string, any, string) {
		id := newID()
		if r := ts.do("PUT", "/v1/pain-logs/"+id, token, painLog(testNow.Add(-time.Hour), 5)); r.status != http.StatusCreated {
			ts.t.Fatalf("setup: %d %s", r.status, r.body)
		}
		return id, painLog(testNow.Add(-time.Hour), 9), "/v1/pain-logs/" + id
	},
	"/v1/questionnaire-responses/:id": func(ts *testServer, token string) (string, any, string) {
		id := newID()
		if r := ts.do("PUT", "/v1/questionnaire-responses/"+id, token, pegResponse(testNow.Add(-time.Hour), 6, 5, 4)); r.status != http.StatusCreated {
			ts.t.Fatalf("setup: %d %s", r.status, r.body)
		}
		return id, pegResponse(testNow.Add(-time.Hour), 1, 1, 1), "/v1/questionnaire-responses/" + id
	},
	"/v1/devices/:id": func(ts *testServer, token string) (string, any, string) {
		r := ts.do("POST", "/v1/devices", token, map[string]any{"token": "fcm-token-" + strings.Repeat("a", 40) + newID(), "platform": "ios", "app_version": "1.0.0"})
		if r.status != http.StatusCreated {
			ts.t.Fatalf("setup: %d %s", r.status, r.body)
		}
		return r.json(ts.t)["id"].(string), nil, "/v1/devices"
	},
	"/v1/plans/:id": func(ts *testServer, token string) (string, any, string) {
		ts.do("POST", "/v1/screening", token, allNo())
		r := ts.do("POST", "/v1/plans", token, map[string]any{})
		if r.status != http.StatusCreated {
			ts.t.Fatalf("setup: %d %s", r.status, r.body)
		}
		return r.json(ts.t)["id"].(string), map[string]any{"action": "pause"}, "/v1/plans/current"
	},
	"/v1/sessions/:id": func(ts *testServer, token string) (string, any, string) {
		return bookPastSession(ts, token), map[string]any{"action": "cancel"}, "/v1/sessions"
	},
	"/v1/reports/:id": func(ts *testServer, token string) (string, any, string) {
		r := ts.do("POST", "/v1/reports", token, map[string]any{})
		if r.status != http.StatusCreated {
			ts.t.Fatalf("setup: %d %s", r.status, r.body)
		}
		return r.json(ts.t)["id"].(string), nil, r.json(ts.t)["url"].(string)
	},
	"/v1/reminders/:id/done":   ownedReminder(nil),
	"/v1/reminders/:id/snooze": ownedReminder(map[string]any{"minutes": 30}),
	"/v1/sessions/:id/complete": func(ts *testServer, token string) (string, any, string) {
		return bookPastSession(ts, token), map[string]any{"pressure_felt": 3, "soreness_after": 2}, "/v1/sessions"
	},
	"/v1/care-team/:id": func(ts *testServer, token string) (string, any, string) {
		cs := ts.signupClinic("owned" + strings.ReplaceAll(newID()[:8], "-", ""))
		return ts.link(cs.therapist, token, "view"), nil, "/v1/care-team"
	},
	"/v1/care-team/:id/messages":       ownedConversation(nil),
	"/v1/care-team/:id/messages/:uuid": ownedConversation(map[string]any{"text": "Is this soreness normal?"}),
	"/v1/care-team/:id/messages/read": func(ts *testServer, token string) (string, any, string) {
		link, msg := ts.conversation(token)
		return link, map[string]any{"up_to": msg}, "/v1/care-team/" + link + "/messages"
	},
}

// conversation links the owner to a new clinic and sends it a message; it
// returns the link's id and the message's.
func (ts *testServer) conversation(token string) (link, message string) {
	ts.t.Helper()
	cs := ts.signupClinic("talk" + strings.ReplaceAll(newID()[:8], "-", ""))
	link, message = ts.link(cs.therapist, token, "care"), newID()
	if r := ts.do("PUT", "/v1/care-team/"+link+"/messages/"+message, token, map[string]any{"text": "Sore on day three?"}); r.status != http.StatusCreated {
		ts.t.Fatalf("setup: %d %s", r.status, r.body)
	}
	return link, message
}

func ownedConversation(body any) ownedResource {
	return func(ts *testServer, token string) (string, any, string) {
		link, _ := ts.conversation(token)
		return link, body, "/v1/care-team/" + link + "/messages"
	}
}

func TestObjectLevelAuthorization(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	owner, _ := ts.register("owner@example.com", "UTC")
	other, _ := ts.register("other@example.com", "UTC")
	for _, r := range routes(Deps{}) {
		// The clinic's routes with an id have their own table
		// (TestClinicAuthorizationTable).
		if !strings.Contains(r.path, ":id") || r.policy != policyPatient {
			continue
		}
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			make, ok := ownedResources[r.path]
			if !ok {
				t.Fatalf("route %s %s takes an id but has no object-level authorization case", r.method, r.path)
			}
			id, body, view := make(ts, owner)
			switch {
			case r.method == fiber.MethodPatch && r.path == "/v1/pain-logs/:id":
				body = map[string]any{"score": 1}
			case r.method == fiber.MethodGet || r.method == fiber.MethodDelete:
				body = nil
			}
			url := strings.Replace(strings.Replace(r.path, ":id", id, 1), ":uuid", newID(), 1)
			before := ts.do("GET", view, owner, nil)
			res := ts.do(r.method, url, other, body)
			// A conversation's id is the owner's link, which no other
			// patient has: their PUT finds nothing to write in.
			if r.method == fiber.MethodPut && !strings.Contains(r.path, "/messages/") {
				// PUT with a client id creates the other patient's own entry
				// under the same UUID; it must not touch the owner's.
				if res.status != http.StatusCreated {
					t.Fatalf("PUT by another patient: %d %s", res.status, res.body)
				}
			} else {
				expectProblem(t, res, http.StatusNotFound, "")
			}
			after := ts.do("GET", view, owner, nil)
			if before.status != http.StatusOK || string(before.body) != string(after.body) {
				t.Fatalf("another patient's request changed the owner's data:\nbefore %s\nafter  %s", before.body, after.body)
			}
		})
	}
	t.Run("lists and sync never show another patient's rows", func(t *testing.T) {
		// The owner's entries all have score 5; the other patient's one
		// entry (made by the PUT above under the owner's UUID) has score 9.
		sync := "/v1/pain-logs?updated_since=2020-01-01T00:00:00Z"
		for _, url := range []string{"/v1/pain-logs", sync} {
			mine := ts.do("GET", url, other, nil).json(t)["items"].([]any)
			if len(mine) != 1 || mine[0].(map[string]any)["score"] != float64(9) {
				t.Fatalf("%s for the other patient: %v", url, mine)
			}
			for _, it := range ts.do("GET", url, owner, nil).json(t)["items"].([]any) {
				if m := it.(map[string]any); m["score"] == float64(9) {
					t.Fatalf("%s for the owner shows the other patient's entry: %v", url, m)
				}
			}
		}
		for _, url := range []string{"/v1/devices", "/v1/sessions"} {
			if items := ts.do("GET", url, other, nil).json(t)["items"].([]any); len(items) != 0 {
				t.Fatalf("the other patient sees the owner's %s: %v", url, items)
			}
		}
		expectProblem(t, ts.do("GET", "/v1/plans/current", other, nil), http.StatusNotFound, "")
		if latest := ts.do("GET", "/v1/screening", other, nil).json(t)["latest"]; latest != nil {
			t.Fatalf("the other patient sees the owner's screening: %v", latest)
		}
	})
}
