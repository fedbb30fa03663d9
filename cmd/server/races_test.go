package main

// Races: copies of one request released together against the whole
// program on the embedded engine, whose conditional updates are not atomic
// by themselves (it evaluates an update's filter on a snapshot and then
// writes). Each test checks an invariant, not a timing: no change answered
// 200 is lost, a refresh token is spent once, a once-only transition has
// one effect. Each race runs as many rounds as it takes, at the rate at
// which the program before the store's write markers broke the invariant
// (measured per round, in brackets), to have failed on every run then.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRaces runs the races on one server, one race after another: a start
// of the program under the race detector costs more than most races, and
// races run at once on one engine mostly queue for its write lock (they
// took three times as long, and broke the old program no more often).
func TestRaces(t *testing.T) {
	t.Parallel()
	shared := startSecure(t)
	for _, race := range []struct {
		name string
		run  func(t *testing.T, s *secureServer)
	}{
		{"refresh spends a token once", raceRefresh},
		{"pain log patches lose no change", racePainLogPatches},
		{"a questionnaire answered offline is stored once", raceQuestionnaireRetries},
		{"a message sent offline is stored once, and two answers make one push", raceMessageRetries},
		{"plan patches lose no change", racePlanPatches},
		{"session patches lose no change", raceSessionPatches},
		{"a session completes once", raceSessionCompletion},
		{"a reminder snoozes once per version and is done once", raceReminderSnoozeAndDone},
		{"a link code links once", raceLinkCode},
		{"an invitation makes one account", raceInvitation},
		{"a reset link sets one password", raceResetToken},
		{"wrong reset codes count once each", raceWrongCodes},
		{"a verification link verifies once", raceVerifyLink},
	} {
		t.Run(race.name, func(t *testing.T) { race.run(t, shared.forTest(t)) })
	}
}

// forTest returns a client of s's program for one test: its failures and
// the answers it collects are the test's own.
func (s *secureServer) forTest(t *testing.T) *secureServer {
	return &secureServer{server: &server{t: t, base: s.base, out: s.out, stop: func() {}, mail: s.mail}, client: s.client, dial: s.dial}
}

// race sends the requests build makes for 0..n-1 at the same moment and
// returns their answers in that order. It must be called from the test's
// own goroutine; the requests run on others.
func (s *secureServer) race(t *testing.T, n int, build func(i int) (method, path, token string, body any)) []answer {
	t.Helper()
	answers := make([]answer, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		method, path, token, body := build(i)
		answers[i] = answer{method: method, path: path}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, header, raw, err := exchange(s.client, method, s.base+path, token, body, nil)
			answers[i].status, answers[i].header, answers[i].raw, errs[i] = status, header, string(raw), err
		}()
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		if errs[i] != nil {
			t.Fatalf("%s %s: %v", a.method, a.path, errs[i])
		}
		if err := errorAnswerProblem(a); err != nil {
			t.Errorf("API8: %v", err)
		}
	}
	return answers
}

// sameJSON tells whether two values encode to the same JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// checkNoLostChange checks one round of concurrent edits: each edit
// answered 200 is in final, and each other answer is a 409 that tells the
// phone to fetch and try again.
func checkNoLostChange(t *testing.T, round int, answers []answer, changes []map[string]any, final map[string]any) {
	t.Helper()
	ok := 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok++
			for field, want := range changes[i] {
				if field != "effective_from" && !sameJSON(final[field], want) {
					t.Fatalf("round %d: %v was answered 200, but %s is %v afterwards: the change was lost\nall answers: %v",
						round, changes[i], field, final[field], answers)
				}
			}
		case http.StatusConflict:
			if !strings.Contains(a.object(t)["detail"].(string), "fetch") {
				t.Fatalf("round %d: a 409 that does not say to fetch and try again: %v", round, a)
			}
		default:
			t.Fatalf("round %d: %v", round, a)
		}
	}
	// Of edits racing one version, the one that takes its marker writes:
	// a round in which every edit was refused refused a change for nothing.
	if ok == 0 {
		t.Fatalf("round %d: every edit was refused: %v", round, answers)
	}
}

// raceRefresh: four refreshes with one token [17 of 20 rounds broken].
func raceRefresh(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Refresher")
	const racers, rounds = 4, 5
	for round := range rounds {
		token := expect(t, s.send("POST", "/v1/auth/login", "", map[string]any{"email": p.email, "password": password}),
			http.StatusOK).object(t)["refresh_token"].(string)
		answers := s.race(t, racers, func(int) (string, string, string, any) {
			return "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": token}
		})
		var children []string
		for _, a := range answers {
			switch a.status {
			case http.StatusOK:
				children = append(children, a.object(t)["refresh_token"].(string))
			case http.StatusUnauthorized:
			default:
				t.Fatalf("round %d: %v", round, a)
			}
		}
		if len(children) != 1 {
			t.Fatalf("round %d: %d of %d refreshes with one token succeeded, want exactly 1: %v", round, len(children), racers, answers)
		}
		// The others presented a spent token: reuse, which revokes the
		// family, the one child included.
		expect(t, s.send("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": children[0]}), http.StatusUnauthorized)
	}
}

// racePainLogPatches: two PATCHes of one entry, one of score and one of
// the note [12 of 20 rounds broken].
func racePainLogPatches(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Editor")
	for round := range 10 {
		id := uuid.NewString()
		expect(t, s.send("PUT", "/v1/pain-logs/"+id, p.access, painLog(2, "before")), http.StatusCreated)
		changes := []map[string]any{{"score": 8}, {"note": fmt.Sprintf("after %d", round)}}
		answers := s.race(t, len(changes), func(i int) (string, string, string, any) {
			return "PATCH", "/v1/pain-logs/" + id, p.access, changes[i]
		})
		final := expect(t, s.send("GET", "/v1/pain-logs/"+id, p.access, nil), http.StatusOK).object(t)
		checkNoLostChange(t, round, answers, changes, final)
	}
}

// raceQuestionnaireRetries: a phone back online sends one queued PEG-3
// answer on four connections at once; one of them creates it, the others
// replace it with the same answer, and the list holds it once.
func raceQuestionnaireRetries(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Offline")
	for range 5 {
		id := uuid.NewString()
		body := pegAnswers(6)
		answers := s.race(t, 4, func(int) (string, string, string, any) {
			return "PUT", "/v1/questionnaire-responses/" + id, p.access, body
		})
		created := 0
		for _, a := range answers {
			switch a.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("a retry answered %v", a)
			}
		}
		if created != 1 {
			t.Fatalf("%d of 4 retries created the response: %v", created, answers)
		}
	}
	items := expect(t, s.send("GET", "/v1/questionnaire-responses?limit=50", p.access, nil), http.StatusOK).object(t)["items"].([]any)
	if len(items) != 5 {
		t.Fatalf("the list holds %d responses, want the 5 answered", len(items))
	}
}

// raceMessageRetries: a message a phone queued offline, sent on four
// connections at once, is one message; two staff answers sent at once,
// with no push pending, plan one push between them.
func raceMessageRetries(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Courier")
	c := s.clinicOf(t, p)
	conversation := "/v1/care-team/" + c.linkID + "/messages"
	for range 3 {
		id := uuid.NewString()
		answers := s.race(t, 4, func(int) (string, string, string, any) {
			return "PUT", conversation + "/" + id, p.access, map[string]any{"text": "Sore on day three, is that normal?"}
		})
		created := 0
		for _, a := range answers {
			switch a.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("a retry answered %v", a)
			}
		}
		if created != 1 {
			t.Fatalf("%d of 4 retries created the message: %v", created, answers)
		}
	}
	answers := s.race(t, 2, func(int) (string, string, string, any) {
		return "PUT", "/v1/clinic/patients/" + p.id + "/messages/" + uuid.NewString(), c.therapist, map[string]any{"text": "That is normal."}
	})
	for _, a := range answers {
		expect(t, a, http.StatusCreated)
	}
	// clinicOf's opening message, the three sent offline, the two answers.
	if items := expect(t, s.send("GET", conversation, p.access, nil), http.StatusOK).object(t)["items"].([]any); len(items) != 6 {
		t.Fatalf("the conversation holds %d messages, want 6", len(items))
	}
	notices := 0
	for _, it := range expect(t, s.send("GET", "/v1/reminders?limit=200", p.access, nil), http.StatusOK).object(t)["items"].([]any) {
		if it.(map[string]any)["kind"] == "message" {
			notices++
		}
	}
	if notices != 1 {
		t.Fatalf("two answers at once planned %d pushes, want 1", notices)
	}
}

// racePlanPatches: two PATCHes of one plan's cadence, one of the session
// time and one of the stretching time [13 of 20].
func racePlanPatches(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Planner")
	planID := s.openPlan(t, p)
	today := time.Now().UTC().Format(time.DateOnly)
	for round := range 10 {
		changes := []map[string]any{
			{"preferred_time": fmt.Sprintf("%02d:15", 8+round), "effective_from": today},
			{"stretching_time": fmt.Sprintf("%02d:45", 7+round), "effective_from": today},
		}
		answers := s.race(t, len(changes), func(i int) (string, string, string, any) {
			return "PATCH", "/v1/plans/" + planID, p.access, changes[i]
		})
		final := expect(t, s.send("GET", "/v1/plans/current", p.access, nil), http.StatusOK).object(t)["cadence"].(map[string]any)
		checkNoLostChange(t, round, answers, changes, final)
	}
}

// raceSessionPatches: two PATCHes of one session, one of the therapist and
// one of the clinic [15 of 20].
func raceSessionPatches(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Booker")
	for round := range 8 {
		at := time.Now().UTC().Add(24*time.Hour + time.Duration(round)*3*time.Hour).Truncate(time.Minute)
		id := expect(t, s.send("POST", "/v1/sessions", p.access, map[string]any{"scheduled_at": at.Format(time.RFC3339)}),
			http.StatusCreated).object(t)["id"].(string)
		changes := []map[string]any{{"therapist": fmt.Sprintf("Therapist %d", round)}, {"clinic": fmt.Sprintf("Clinic %d", round)}}
		answers := s.race(t, len(changes), func(i int) (string, string, string, any) {
			return "PATCH", "/v1/sessions/" + id, p.access, changes[i]
		})
		checkNoLostChange(t, round, answers, changes, s.listedSession(t, p, id))
	}
}

// listedSession returns the session with id as the sessions list shows it.
func (s *secureServer) listedSession(t *testing.T, p patient, id string) map[string]any {
	t.Helper()
	from := time.Now().UTC().Add(-30 * 24 * time.Hour).Format(time.RFC3339)
	to := time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	for _, it := range expect(t, s.send("GET", "/v1/sessions?from="+from+"&to="+to, p.access, nil), http.StatusOK).object(t)["items"].([]any) {
		if m := it.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("session %s is not listed", id)
	return nil
}

// raceSessionCompletion: four completions of one session, each with its
// own feedback [15 of 20].
func raceSessionCompletion(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Completer")
	const racers = 4
	for round := range 8 {
		id := s.bookPastSession(t, p)
		answers := s.race(t, racers, func(i int) (string, string, string, any) {
			return "POST", "/v1/sessions/" + id + "/complete", p.access,
				map[string]any{"pressure_felt": 3, "soreness_after": i, "note": fmt.Sprintf("from request %d", i)}
		})
		stored := s.listedSession(t, p, id)
		firsts := 0
		for i, a := range answers {
			expect(t, a, http.StatusOK)
			got := a.object(t)
			if got["already_completed"] != true {
				firsts++
				if got["feedback"].(map[string]any)["note"] != fmt.Sprintf("from request %d", i) {
					t.Fatalf("round %d: the completing request answers another's feedback: %v", round, a)
				}
			}
			if got["completed_at"] != stored["completed_at"] || !sameJSON(got["feedback"], stored["feedback"]) {
				t.Fatalf("round %d: an answer shows a completion that is not the stored one:\nanswer %v\nstored %v", round, a, stored)
			}
		}
		if firsts != 1 {
			t.Fatalf("round %d: %d of %d completions say they completed the session, want 1: %v", round, firsts, racers, answers)
		}
	}
}

// freshReminder returns a pending reminder hours ahead that no test has
// touched yet, signing up another patient when p has none left.
func (s *secureServer) freshReminder(t *testing.T, p *patient, used map[string]bool) string {
	t.Helper()
	for range 2 {
		for _, it := range expect(t, s.send("GET", "/v1/reminders", p.access, nil), http.StatusOK).object(t)["items"].([]any) {
			r := it.(map[string]any)
			due, _ := time.Parse(time.RFC3339, r["due_at"].(string))
			if id := r["id"].(string); r["status"] == "pending" && !used[id] && time.Until(due) > 5*time.Hour {
				used[id] = true
				return id
			}
		}
		*p = s.signUp(t, "Reminded")
	}
	t.Fatal("setup: no pending reminder hours ahead")
	return ""
}

// listedReminder returns the reminder with id as the reminders list shows it.
func (s *secureServer) listedReminder(t *testing.T, p patient, id string) map[string]any {
	t.Helper()
	for _, it := range expect(t, s.send("GET", "/v1/reminders", p.access, nil), http.StatusOK).object(t)["items"].([]any) {
		if m := it.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("reminder %s is not listed", id)
	return nil
}

// raceReminderSnoozeAndDone: four snoozes of one reminder for different
// times, then four dones [19 of 20 made two snoozes of one version, 18 of 20 recorded done more than once]. Snoozes that arrive one after
// another are each made, so the invariant is that no two are made from one
// version (their ETags differ) and the reminder is left as the one made
// last says.
func raceReminderSnoozeAndDone(t *testing.T, s *secureServer) {
	p := s.signUp(t, "Snoozer")
	used := map[string]bool{}
	minutes := []int{30, 45, 60, 90}
	for round := range 4 {
		id := s.freshReminder(t, &p, used)
		snoozes := s.race(t, len(minutes), func(i int) (string, string, string, any) {
			return "POST", "/v1/reminders/" + id + "/snooze", p.access, map[string]any{"minutes": minutes[i]}
		})
		stored := s.listedReminder(t, p, id)
		var last answer
		versions := map[string]bool{}
		for _, a := range snoozes {
			switch a.status {
			case http.StatusOK:
				tag := a.header.Get("ETag")
				if tag == "" || versions[tag] {
					t.Fatalf("round %d: two snoozes answered 200 for version %q: one of them was lost\n%v", round, tag, snoozes)
				}
				versions[tag] = true
				if last.status == 0 || versionOf(t, tag) > versionOf(t, last.header.Get("ETag")) {
					last = a
				}
			case http.StatusConflict:
			default:
				t.Fatalf("round %d: %v", round, a)
			}
		}
		if last.status == 0 {
			t.Fatalf("round %d: no snooze took effect: %v", round, snoozes)
		}
		if due := last.object(t)["due_at"]; due != stored["due_at"] {
			t.Fatalf("round %d: the snooze made last is due at %v, the stored reminder at %v", round, due, stored["due_at"])
		}

		dones := s.race(t, len(minutes), func(int) (string, string, string, any) {
			return "POST", "/v1/reminders/" + id + "/done", p.access, nil
		})
		stored = s.listedReminder(t, p, id)
		for _, a := range dones {
			expect(t, a, http.StatusOK)
			if doneAt := a.object(t)["done_at"]; doneAt != stored["done_at"] {
				t.Fatalf("round %d: a done answers done_at %v, the stored reminder %v: it was recorded more than once\n%v",
					round, doneAt, stored["done_at"], dones)
			}
		}
	}
}

// versionOf reads the version an ETag names.
func versionOf(t *testing.T, tag string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.Trim(tag, `"`))
	if err != nil {
		t.Fatalf("ETag %q is not a version", tag)
	}
	return v
}
