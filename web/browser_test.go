package web

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/web/browsertest"
)

// TestDashboardInABrowser is a therapist's day in a real headless
// Chromium: sign in, the triage list, a patient, a session note, a plan
// change — checked through the patient's own API — sign out, a stale form,
// and a patient who withdraws consent. Every page is photographed at a
// desk's 1280×800 and a tablet's 768 px width, under test-artifacts/.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	s := newSite(t, base)
	go func() { _ = s.app.Listener(ln) }()
	t.Cleanup(func() { _ = s.app.Shutdown() })

	// A clinic in Edmonton (08:00 there at the tests' clock) with five
	// linked patients, and one of another clinic's who must not show.
	c := s.signupClinic("calm", "America/Edmonton")
	other := s.signupClinic("other", "America/Edmonton")
	edmonton, _ := time.LoadLocation("America/Edmonton")
	today := func(h, m int) string {
		d := siteNow.In(edmonton)
		return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, edmonton).Format(time.RFC3339)
	}
	patients := map[string]string{}
	tokens := map[string]string{}
	links := map[string]string{}
	for _, p := range []struct {
		name, scope string
		yes         []models.Contraindication
		// logs are one a day for logs days, ending endAgo days ago.
		logs, endAgo int
		score        func(int) int
		flag         func(int) bool
	}{
		{"Avery Lindqvist", "care", nil, 30, 0, func(i int) int { return 5 + i%2 }, func(i int) bool { return i == 28 }},
		{"Blake Okafor", "care", []models.Contraindication{models.RecentFracture}, 20, 0, func(int) int { return 4 }, nil},
		{"Casey Moreau", "care", nil, 12, 8, func(int) int { return 6 }, nil},
		{"Drew Tanaka", "care", nil, 60, 0, func(i int) int { return 7 - i/12 }, nil},
		{"Emery Walsh", "view", nil, 40, 0, func(i int) int { return 3 }, nil},
	} {
		email := strings.ToLower(strings.Fields(p.name)[0]) + "@example.com"
		tok, id := s.patient(email, p.name, "America/Edmonton", p.yes...)
		patients[p.name], tokens[p.name] = id, tok
		links[p.name] = s.link(c.therapistToken, tok, p.scope)
		s.logs(id, p.endAgo, p.logs, p.score, p.flag)
	}
	strangerToken, _ := s.patient("stranger@example.com", "Sam Stranger", "America/Edmonton")
	s.link(other.therapistToken, strangerToken, "care")

	drew := patients["Drew Tanaka"]
	s.must(201, s.api("PUT", "/v1/clinic/patients/"+drew+"/plan", c.therapistToken, map[string]any{"start_date": "2026-10-19", "preferred_weekday": "monday"}), "Drew's plan")
	// Yesterday's session, to complete with a note; two today.
	yesterday := s.must(201, s.api("POST", "/v1/clinic/patients/"+drew+"/sessions", c.therapistToken, map[string]any{
		"scheduled_at": siteNow.Add(-24 * time.Hour).Format(time.RFC3339), "duration_minutes": 60, "therapist": "Therapist calm"}), "yesterday's session").json(t)["id"].(string)
	s.must(201, s.api("POST", "/v1/clinic/patients/"+drew+"/sessions", c.therapistToken, map[string]any{"scheduled_at": today(11, 30), "duration_minutes": 75}), "Drew today")
	s.must(201, s.api("POST", "/v1/clinic/patients/"+patients["Avery Lindqvist"]+"/sessions", c.therapistToken, map[string]any{"scheduled_at": today(10, 0), "duration_minutes": 60}), "Avery today")
	// Drew answered the PEG-3 the week before the plan and this week.
	for at, pain := range map[time.Time]int{time.Date(2026, 10, 16, 18, 0, 0, 0, time.UTC): 7, siteNow.Add(-48 * time.Hour): 4} {
		s.must(201, s.api("PUT", "/v1/questionnaire-responses/"+uuid.NewString(), tokens["Drew Tanaka"], map[string]any{"questionnaire": "peg3",
			"answered_at": at.Format(time.RFC3339), "answers": map[string]any{"pain": pain, "enjoyment": pain, "activity": pain}}), "PEG answer")
	}
	remindersBefore := kindsOf(t, s.api("GET", "/v1/reminders?limit=200", tokens["Drew Tanaka"], nil).json(t))

	tab := browsertest.Open(t, 3*time.Minute, "..", "dashboard")
	ctx, do, text := tab.Ctx, tab.Do, tab.Text
	shot := func(name string) { tab.Shot(name, browsertest.Desktop, browsertest.Tablet) }

	// Signing in: the today page asked for goes to the sign-in form first.
	do("open the dashboard", chromedp.Navigate(base+"/clinic/"), chromedp.WaitVisible(chromedp.CSS("#email")))
	shot("login")
	do("sign in", chromedp.SendKeys(chromedp.CSS("#email"), c.therapistEmail), chromedp.SendKeys(chromedp.CSS("#password"), staffPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#today-table")))
	if got := text("#today-table tbody"); !strings.Contains(got, "10:00–11:00") || !strings.Contains(got, "Avery Lindqvist") || !strings.Contains(got, "11:30–12:45") ||
		strings.Index(got, "Avery") > strings.Index(got, "Drew") {
		t.Errorf("today's sessions, in the clinic's time and in order: %q", got)
	}
	shot("today")

	// The triage list, in the clinic API's order.
	do("the patients page", chromedp.Click(chromedp.CSS(`.nav a[href="/clinic/patients"]`)), chromedp.WaitVisible(chromedp.CSS("#attention-table")))
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".patient-row .name a")].map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, it := range s.api("GET", "/v1/clinic/patients", c.therapistToken, nil).json(t)["items"].([]any) {
		want = append(want, it.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, want) || len(names) != 5 || slices.Contains(names, "Sam Stranger") {
		t.Fatalf("the triage list shows %v, the clinic API %v", names, want)
	}
	if names[0] != "Avery Lindqvist" || !strings.Contains(text("#patient-count"), "5 linked patients") {
		t.Errorf("the red flag first and the count: %v, %q", names, text("#patient-count"))
	}
	if got := text("#rest-table"); !strings.Contains(got, "PEG-3 7.0 → 4.0: meaningful") {
		t.Errorf("Drew's PEG-3 in the list: %q", got)
	}
	if got := text("#rest-table"); !strings.Contains(got, "Drew Tanaka") || !strings.Contains(got, "Emery Walsh") {
		t.Errorf("the patients needing nothing: %q", got)
	}
	shot("patients")

	// A patient: the chart with its dates, session days and baseline.
	do("open Drew", chromedp.Click(chromedp.CSS(`a[href="/clinic/patients/`+drew+`"]`)), chromedp.WaitVisible(chromedp.CSS("#pain-chart")))
	svg, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#pain-chart")))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(svg, `class="day"`); n != 60 || !strings.Contains(svg, `class="baseline"`) || strings.Count(svg, `class="date-tick"`) != 7 {
		t.Errorf("the chart has %d day points (want 60), a baseline %v, %d dates", n, strings.Contains(svg, `class="baseline"`), strings.Count(svg, `class="date-tick"`))
	}
	if v := text("#verdict"); !strings.Contains(v, "Meaningful improvement") {
		t.Errorf("Drew's verdict: %q", v)
	}
	if v := text("#peg"); !strings.Contains(v, "Baseline 7.0 on 2026-10-16, latest 4.0") || !strings.Contains(v, "A meaningful improvement") {
		t.Errorf("Drew's PEG-3: %q", v)
	}
	shot("patient")
	// Printed, it is a visit summary: no navigation, no forms, no buttons.
	media := func(m string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
			return err
		})
	}
	do("print media", media("print"))
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[".topbar", ".actions"].some(s => { const e = document.querySelector(s); return e && getComputedStyle(e).display !== "none" })`)); err != nil || shown {
		t.Errorf("the printed page shows the navigation or the actions (%v)", err)
	}
	shot("patient-print")
	do("screen media", media(""))

	// The session note, as the session is completed.
	do("yesterday's session", chromedp.Navigate(base+"/clinic/patients/"+drew+"/sessions/"+yesterday), chromedp.WaitVisible(chromedp.CSS("#complete-form")),
		chromedp.SendKeys(chromedp.CSS("#subjective"), "Low back tight after a weekend of gardening."),
		chromedp.SendKeys(chromedp.CSS("#objective"), "Hypertonic left QL; range of motion better than last week."),
		chromedp.SendKeys(chromedp.CSS("#note-assessment"), "Responding to treatment."),
		chromedp.SendKeys(chromedp.CSS("#note-plan"), "Continue weekly; add hip flexor work."),
		chromedp.Click(chromedp.CSS(`input[name="areas_treated[]"][value="lower_back"]`)),
		chromedp.SendKeys(chromedp.CSS("#techniques"), "trigger point, myofascial release"),
		chromedp.SetValue(chromedp.CSS("#pressure"), "firm"),
		chromedp.Click(chromedp.CSS("#shared")),
		chromedp.SendKeys(chromedp.CSS("#summary"), "Drink water today and keep walking gently."))
	shot("session")
	do("complete it", chromedp.Click(chromedp.CSS("#complete-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text("#sessions-table"); !strings.Contains(got, "Hypertonic left QL") || !strings.Contains(got, "Drink water today") {
		t.Errorf("the note on the patient page: %q", got)
	}

	// The plan and the home-care instructions.
	const homeCare = "Heat for 20 minutes each evening. Cat-cow stretch twice a day."
	do("the plan form", chromedp.Click(chromedp.CSS(`a[href="/clinic/patients/`+drew+`/plan"]`)), chromedp.WaitVisible(chromedp.CSS("#plan-form")),
		chromedp.SendKeys(chromedp.CSS("#home_care"), homeCare), chromedp.SetValue(chromedp.CSS("#maintenance"), "monthly"))
	shot("plan")
	do("save the plan", chromedp.Click(chromedp.CSS("#plan-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text("#home-care"); got != homeCare {
		t.Errorf("home care on the patient page: %q", got)
	}

	// What the patient's own app now reads.
	plan := s.api("GET", "/v1/plans/current", tokens["Drew Tanaka"], nil).json(t)
	if plan["home_care"] != homeCare || plan["cadence"].(map[string]any)["maintenance_monthly"] != true {
		t.Errorf("the patient's plan: %v", plan)
	}
	var shared string
	for _, it := range s.api("GET", "/v1/sessions", tokens["Drew Tanaka"], nil).json(t)["items"].([]any) {
		ss := it.(map[string]any)
		if ss["id"] == yesterday {
			if ss["status"] != "completed" || ss["note"] != nil {
				t.Errorf("the patient's session: %v", ss)
			}
			if n, ok := ss["shared_note"].(map[string]any); ok {
				shared = n["summary"].(string)
			}
		}
	}
	if shared != "Drink water today and keep walking gently." {
		t.Errorf("the shared summary the patient reads: %q", shared)
	}
	remindersAfter := kindsOf(t, s.api("GET", "/v1/reminders?limit=200", tokens["Drew Tanaka"], nil).json(t))
	// Completing the session started its aftercare; the clinic's changes
	// are announced by a notice with no detail.
	if k := string(models.KindSorenessCheckin); remindersBefore[k] > 0 || remindersAfter[k] == 0 {
		t.Errorf("soreness check-ins: %d before the session was completed, %d after", remindersBefore[k], remindersAfter[k])
	}
	if remindersAfter[string(models.KindCareUpdate)] == 0 {
		t.Errorf("no notice of the clinic's changes: %v", remindersAfter)
	}

	// A link code, large.
	do("make a link code", chromedp.Navigate(base+"/clinic/link-code"), chromedp.WaitVisible(chromedp.CSS("form.stack")),
		chromedp.Click(chromedp.CSS("form.stack button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#link-code")))
	if code := text(".code"); len(code) != 9 || code[4] != '-' {
		t.Errorf("the link code shown: %q", code)
	}
	shot("linkcode")

	// A form refused: the field's error, and what was typed kept.
	do("a booking too far ahead", chromedp.Navigate(base+"/clinic/patients/"+drew+"/sessions/new"), chromedp.WaitVisible(chromedp.CSS("#scheduled_at")),
		chromedp.SetValue(chromedp.CSS("#scheduled_at"), "2030-01-07T10:00"), chromedp.SetValue(chromedp.CSS("#therapist"), "Jo Kowalski"),
		chromedp.Click(chromedp.CSS("form.card button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".field-error .error")))
	if got := text(".field-error .error"); !strings.Contains(got, "years ahead") {
		t.Errorf("the field's error: %q", got)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#therapist"))); v != "Jo Kowalski" {
		t.Errorf("the therapist typed is gone: %q", v)
	}
	shot("book-error")

	// Sign out: the back button shows nothing of the patient.
	stale, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="_csrf"]`)))
	if err != nil {
		t.Fatal(err)
	}
	do("back to Drew", chromedp.Navigate(base+"/clinic/patients/"+drew), chromedp.WaitVisible(chromedp.CSS("#pain-chart")))
	do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	do("back", chromedp.NavigateBack(), chromedp.WaitReady(chromedp.CSS("body")))
	if body := text("body"); strings.Contains(body, "Drew") || !strings.Contains(body, "Sign in") {
		t.Errorf("after signing out, the back button shows: %q", body)
	}

	// A form sent with the token of the session that ended is refused.
	do("sign in again", chromedp.Navigate(base+"/clinic/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), c.therapistEmail), chromedp.SendKeys(chromedp.CSS("#password"), staffPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#today-table")))
	do("a stale plan form", chromedp.Navigate(base+"/clinic/patients/"+drew+"/plan"), chromedp.WaitVisible(chromedp.CSS("#plan-form")),
		chromedp.SetValue(chromedp.CSS(`#plan-form input[name="_csrf"]`), stale), chromedp.SetValue(chromedp.CSS("#home_care"), "This must not be saved."))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#plan-form button[type=submit]")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden || !strings.Contains(text("main"), "This form has expired") {
		t.Errorf("a stale form: %d %q", resp.Status, text("main"))
	}
	shot("stale-form")
	if got := s.api("GET", "/v1/plans/current", tokens["Drew Tanaka"], nil).json(t)["home_care"]; got != homeCare {
		t.Errorf("the stale form changed the plan: %v", got)
	}

	// The patient withdraws consent: the page is gone on reload.
	do("Drew's page", chromedp.Navigate(base+"/clinic/patients/"+drew), chromedp.WaitVisible(chromedp.CSS("#pain-chart")))
	s.must(204, s.api("DELETE", "/v1/care-team/"+links["Drew Tanaka"], tokens["Drew Tanaka"], nil), "revoke")
	resp, err = chromedp.RunResponse(ctx, chromedp.Reload())
	if err != nil {
		t.Fatal(err)
	}
	if body := text("main"); resp.Status != http.StatusNotFound || strings.Contains(body, "Drew") || !strings.Contains(body, "Not found") {
		t.Errorf("after consent was withdrawn: %d %q", resp.Status, body)
	}
	shot("not-found")

	// The owner's clinic page, and Blake's clearance form.
	do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), c.ownerEmail), chromedp.SendKeys(chromedp.CSS("#password"), staffPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#today-table")),
		chromedp.Navigate(base+"/clinic/settings"), chromedp.WaitVisible(chromedp.CSS("#staff")))
	if got := text("#staff"); !strings.Contains(got, "Therapist calm") || !strings.Contains(got, "(you)") {
		t.Errorf("the staff list: %q", got)
	}
	shot("settings")
	// An invitation is mailed, and sent again: the second mail's link is
	// the one that works.
	do("invite", chromedp.SendKeys(chromedp.CSS("#invite-email"), "kit@calm.example"),
		chromedp.Click(chromedp.CSS(`form[action="/clinic/settings/invitations"] button`)), chromedp.WaitVisible(chromedp.CSS("#invited")))
	_, first := s.mailed("kit@calm.example", models.MailStaffInvitation, "/clinic/invitation")
	do("resend", chromedp.Navigate(base+"/clinic/settings"), chromedp.WaitVisible(chromedp.CSS("#invitations")),
		chromedp.Click(chromedp.CSS(`form[action$="/resend"] button`)), chromedp.WaitVisible(chromedp.CSS("#invited")))
	_, second := s.mailed("kit@calm.example", models.MailStaffInvitation, "/clinic/invitation")
	if got := text("#invited"); first == second || !strings.Contains(got, "mailed to kit@calm.example") || !strings.Contains(got, second) {
		t.Errorf("after resending: first %s, second %s, notice %q", first, second, got)
	}
	if got := text("#invitations"); strings.Count(got, "kit@calm.example") != 2 || !strings.Contains(got, "revoked") {
		t.Errorf("the invitations after resending: %q", got)
	}
	shot("settings-resent")
	do("Blake's clearance", chromedp.Navigate(base+"/clinic/patients/"+patients["Blake Okafor"]+"/clearance"), chromedp.WaitVisible(chromedp.CSS("#note")))
	shot("clearance")
}

// kindsOf counts a reminder list's items by kind.
func kindsOf(t *testing.T, list map[string]any) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, it := range list["items"].([]any) {
		n[it.(map[string]any)["kind"].(string)]++
	}
	return n
}
