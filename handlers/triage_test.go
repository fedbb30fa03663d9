package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// The triage fixture seeds a clinic's patients straight into the store
// (a registration through HTTP would hash a password for each). Its
// patients live in Europe/Berlin, where testNow (Sunday 22 November 2026,
// 15:00 UTC) is 16:00 the same day: today is 2026-11-22, and tDay(n) is the
// local date n days before.

func tDay(ago int) string { return testNow.AddDate(0, 0, -ago).Format(time.DateOnly) }

// tAt is hour:00 UTC on the day ago days before today: in Berlin, the same date.
func tAt(ago, hour int) time.Time { return time.Date(2026, 11, 22-ago, hour, 0, 0, 0, time.UTC) }

type triageSeed struct {
	ts       *testServer
	ctx      context.Context
	clinicID string
}

// patient stores a patient named name and links them to the seed's clinic
// with scope; it returns their id.
func (s triageSeed) patient(name string, scope models.Scope) string {
	s.ts.t.Helper()
	id := newID()
	p := models.NewPatient(id, strings.ReplaceAll(strings.ToLower(name), " ", ".")+"@triage.example", name, "Europe/Berlin", testNow.AddDate(0, -6, 0))
	if err := s.ts.store.CreatePatient(s.ctx, p); err != nil {
		s.ts.t.Fatal(err)
	}
	if scope != "" {
		s.linkTo(id, s.clinicID, scope)
	}
	return id
}

func (s triageSeed) linkTo(patientID, clinicID string, scope models.Scope) models.CareLink {
	s.ts.t.Helper()
	l, err := s.ts.store.LinkPatient(s.ctx, models.CareLink{ID: newID(), PatientID: patientID, ClinicID: clinicID, LinkedBy: "code",
		Scope: scope, Status: models.LinkActive, CreatedAt: testNow.AddDate(0, -1, 0), UpdatedAt: testNow.AddDate(0, -1, 0)})
	if err != nil {
		s.ts.t.Fatal(err)
	}
	return l
}

// log stores one pain log ago days back, at hour:00 UTC.
func (s triageSeed) log(pid string, ago, hour, score int, flags ...models.RedFlag) {
	s.ts.t.Helper()
	at := tAt(ago, hour)
	l := models.PainLog{ID: models.PainLogDocID(pid, newID()), PatientID: pid, LoggedAt: at, LocalDate: tDay(ago), Score: score,
		Areas: []models.BodyArea{"lower_back"}, RedFlags: flags, Urgent: len(flags) > 0, CreatedAt: at, UpdatedAt: at}
	if _, _, err := s.ts.store.PutPainLog(s.ctx, l); err != nil {
		s.ts.t.Fatal(err)
	}
}

// daily logs score at 08:00 UTC on each day from `from` days ago to `to`
// days ago, but for the days in skip.
func (s triageSeed) daily(pid string, from, to, score int, skip ...int) {
	s.ts.t.Helper()
	for ago := from; ago >= to; ago-- {
		skipped := false
		for _, k := range skip {
			skipped = skipped || k == ago
		}
		if !skipped {
			s.log(pid, ago, 8, score)
		}
	}
}

func (s triageSeed) session(pid string, status models.SessionStatus, at time.Time) {
	s.ts.t.Helper()
	ss := models.Session{ID: newID(), PatientID: pid, ScheduledAt: at, DurationMinutes: 60, Status: status,
		ClinicID: s.clinicID, CreatedAt: testNow.AddDate(0, -2, 0), UpdatedAt: testNow.AddDate(0, -2, 0)}
	if status == models.SessionCompleted {
		done := at.Add(time.Hour)
		ss.CompletedAt = &done
	}
	if err := s.ts.store.CreateSession(s.ctx, ss); err != nil {
		s.ts.t.Fatal(err)
	}
}

// screening stores a screening answered "yes" to recent surgery, with clearance c.
func (s triageSeed) screening(pid string, c *models.Clearance) {
	s.ts.t.Helper()
	sc := models.Screening{ID: newID(), PatientID: pid, Answers: map[models.Contraindication]bool{}, TakenAt: tAt(25, 9), Clearance: c}
	for _, item := range models.Contraindications {
		sc.Answers[item] = item == models.RecentSurgery
	}
	if err := s.ts.store.CreateScreening(s.ctx, sc); err != nil {
		s.ts.t.Fatal(err)
	}
}

// soreness logs 3 on days 20 to 0 ago, the scores48h instead on day 8,
// the 48 h check-in of a session completed 10 days ago: Before (days 13 to
// 11) is 3.
func (s triageSeed) soreness(pid string, scores48h ...int) {
	s.ts.t.Helper()
	s.daily(pid, 20, 0, 3, 8)
	for i, score := range scores48h {
		s.log(pid, 8, 8+i, score)
	}
	s.session(pid, models.SessionCompleted, tAt(10, 9))
}

// triageWant is one patient's hand-computed triage item.
type triageWant struct {
	name      string
	scope     string // "care" when empty
	attention []string
	lastAgo   int // days since the last log; -1 for never
	redFlags  int
	soreness  bool
	waiting   bool
	self      bool
	missed    int
	asked     int
	rate      *float64
	next      *time.Time
	plan      string
	pain      painWant
}

type painWant struct {
	source           string
	baseFrom, baseTo int // days ago; -1 for none
	base             *float64
	baseN            int
	last             *float64
	lastN            int
	points, percent  *float64
	byPoints         bool
	byPercent        bool
	reason           string
}

// flat is the pain of a patient logging score every day from 20 days ago:
// the baseline is days 20 to 14 ago, the last 7 days 6 to 0 ago, both score.
func flat(score float64) painWant {
	return painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: &score, baseN: 7, last: &score, lastN: 7, points: ptrF(0), percent: ptrF(0)}
}

// quietPain is the pain of a patient logging score from 20 days ago to
// lastAgo (≥ 5): a baseline of score, and too few of the last 7 days.
func quietPain(score float64, lastAgo int) painWant {
	n := max(0, 7-lastAgo)
	return painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: &score, baseN: 7, lastN: n,
		reason: fmt.Sprintf("Not enough logs in the last 7 days. Not enough data: %d logged days, at least 3 needed.", n)}
}

func ptrF(v float64) *float64 { return &v }

func optF(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

func agoDate(ago int) string {
	if ago < 0 {
		return ""
	}
	return tDay(ago)
}

// line is the want as the one-line form triageLine gives an answer's item.
func (w triageWant) line() string {
	scope := w.scope
	if scope == "" {
		scope = "care"
	}
	days := "null"
	if w.lastAgo >= 0 {
		days = strconv.Itoa(w.lastAgo)
	}
	next := "null"
	if w.next != nil {
		next = w.next.UTC().Format(time.RFC3339)
	}
	plan := w.plan
	if plan == "" {
		plan = "null"
	}
	attention := w.attention
	if attention == nil {
		attention = []string{}
	}
	p := w.pain
	return fmt.Sprintf("%s scope=%s attention=%v last=%q days=%s red=%d sore=%v waiting=%v self=%v missed=%d adherence=%s/%d next=%s plan=%s"+
		" | pain %s base=%q..%q %s n%d last7=%q..%q %s n%d points=%s percent=%s byPoints=%v byPercent=%v meaningful=%v reason=%q",
		w.name, scope, attention, agoDate(w.lastAgo), days, w.redFlags, w.soreness, w.waiting, w.self, w.missed, optF(w.rate), w.asked, next, plan,
		p.source, agoDate(p.baseFrom), agoDate(p.baseTo), optF(p.base), p.baseN, tDay(6), tDay(0), optF(p.last), p.lastN,
		optF(p.points), optF(p.percent), p.byPoints, p.byPercent, p.byPoints || p.byPercent, p.reason)
}

type triageItemJSON struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Scope        string   `json:"scope"`
	Attention    []string `json:"attention"`
	LastLogDate  *string  `json:"last_log_date"`
	DaysSinceLog *int     `json:"days_since_log"`
	Pain         struct {
		Source   string     `json:"baseline_source"`
		Baseline windowWant `json:"baseline"`
		Last7    windowWant `json:"last_7_days"`
		Points   *float64   `json:"points"`
		Percent  *float64   `json:"percent_improvement"`
		ByPoints bool       `json:"meaningful_by_points"`
		ByPct    bool       `json:"meaningful_by_percent"`
		Meaning  bool       `json:"clinically_meaningful"`
		Reason   string     `json:"reason"`
	} `json:"pain"`
	RedFlags int  `json:"red_flags_14d"`
	Soreness bool `json:"soreness_flag"`
	Unread   int  `json:"unread_messages"`
	// SymptomMessage is an unread message that answers a symptom question.
	SymptomMessage bool `json:"symptom_message"`
	Waiting        bool `json:"clearance_waiting"`
	Self           bool `json:"clearance_self_attested"`
	Missed         int  `json:"missed_sessions_30d"`
	Adherence      struct {
		Rate  *float64 `json:"rate"`
		Asked int      `json:"asked"`
	} `json:"aftercare_adherence_30d"`
	NextSessionAt *time.Time `json:"next_session_at"`
	PlanStatus    *string    `json:"plan_status"`
}

type windowWant struct {
	From string `json:"from"`
	To   string `json:"to"`
	Mean struct {
		Value *float64 `json:"value"`
		N     int      `json:"n"`
	} `json:"mean"`
}

func (it triageItemJSON) line() string {
	last, days, next, plan := "", "null", "null", "null"
	if it.LastLogDate != nil {
		last = *it.LastLogDate
	}
	if it.DaysSinceLog != nil {
		days = strconv.Itoa(*it.DaysSinceLog)
	}
	if it.NextSessionAt != nil {
		next = it.NextSessionAt.UTC().Format(time.RFC3339)
	}
	if it.PlanStatus != nil {
		plan = *it.PlanStatus
	}
	p := it.Pain
	return fmt.Sprintf("%s scope=%s attention=%v last=%q days=%s red=%d sore=%v waiting=%v self=%v missed=%d adherence=%s/%d next=%s plan=%s"+
		" | pain %s base=%q..%q %s n%d last7=%q..%q %s n%d points=%s percent=%s byPoints=%v byPercent=%v meaningful=%v reason=%q",
		it.Name, it.Scope, it.Attention, last, days, it.RedFlags, it.Soreness, it.Waiting, it.Self, it.Missed, optF(it.Adherence.Rate), it.Adherence.Asked, next, plan,
		p.Source, p.Baseline.From, p.Baseline.To, optF(p.Baseline.Mean.Value), p.Baseline.Mean.N, p.Last7.From, p.Last7.To, optF(p.Last7.Mean.Value), p.Last7.Mean.N,
		optF(p.Points), optF(p.Percent), p.ByPoints, p.ByPct, p.Meaning, p.Reason)
}

type triagePage struct {
	Items      []triageItemJSON `json:"items"`
	NextCursor *string          `json:"next_cursor"`
	Total      int              `json:"total"`
}

func (ts *testServer) triage(token, query string) triagePage {
	ts.t.Helper()
	r := ts.do("GET", "/v1/clinic/patients"+query, token, nil)
	if r.status != http.StatusOK {
		ts.t.Fatalf("GET /v1/clinic/patients%s: %d %s", query, r.status, r.body)
	}
	var page triagePage
	if err := json.Unmarshal(r.body, &page); err != nil {
		ts.t.Fatalf("triage body: %v: %s", err, r.body)
	}
	return page
}

func triageNames(items []triageItemJSON) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Name
	}
	return out
}

// TestTriageClinicOf30 seeds a clinic of 30 patients from a few
// archetypes — red flags, a soreness flag after the last completed
// session, a clearance waiting, missed sessions, no log for 5 days or
// more, a clinically meaningful improvement, and near misses of each —
// and checks the therapist's triage list against hand-computed answers:
// the order, every item's figures, the name search, the paging, and that
// no one linked elsewhere or no longer linked appears.
func TestTriageClinicOf30(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	home := ts.signupClinic("triage")
	other := ts.signupClinic("elsewhere")
	s := triageSeed{ts: ts, ctx: context.Background(), clinicID: home.clinicID}
	care := models.ScopeCare
	since30 := testNow.AddDate(0, 0, -30)  // 2026-10-23 15:00 UTC: the missed sessions' window starts here
	nextDee := testNow.Add(19 * time.Hour) // 2026-11-23 10:00 UTC
	nextCat := testNow.Add(72 * time.Hour) // 2026-11-25 15:00 UTC
	nextZed := testNow.Add(48 * time.Hour) // 2026-11-24 15:00 UTC
	red, sore, waiting, missed, quiet := "red_flag", "soreness_flag", "clearance_waiting", "missed_session", "no_recent_log"
	sorePain := flat(3) // the soreness archetype logs 3 on every day but the 48 h one, 8 days ago: in neither window

	var wants []triageWant
	add := func(w triageWant, seed func(pid string)) {
		scope := care
		if w.scope != "" {
			scope = models.Scope(w.scope)
		}
		seed(s.patient(w.name, scope))
		wants = append(wants, w)
	}
	// Red flags (rank 0). The window is the 14 local dates ending today:
	// from 13 days ago (2026-11-09). Each logs 5 daily from 20 days ago.
	add(triageWant{name: "Red Ada", attention: []string{red}, redFlags: 1, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5, 3)
		s.log(pid, 3, 8, 5, "leg_weakness")
	})
	add(triageWant{name: "Red Ben", attention: []string{red}, redFlags: 1, pain: flat(5)}, func(pid string) {
		// 13 days ago is day 14 of the window; 14 days ago is outside.
		s.daily(pid, 20, 0, 5, 13, 14)
		s.log(pid, 13, 8, 5, "fever")
		s.log(pid, 14, 8, 5, "fever")
	})
	add(triageWant{name: "red Cal", attention: []string{red}, redFlags: 1, pain: flat(5)}, func(pid string) {
		// Lower case: the order by name ignores case, so Cal sorts before Dan.
		s.daily(pid, 20, 1, 5)
		s.log(pid, 0, 8, 5, "saddle_numbness")
	})
	add(triageWant{name: "Red Dan", attention: []string{red}, redFlags: 2, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5, 1, 2)
		s.log(pid, 1, 8, 5, "bladder_bowel_change")
		s.log(pid, 2, 8, 5, "leg_weakness", "fever") // one log, however many flags
	})
	add(triageWant{name: "Red Eve", attention: []string{red, missed}, redFlags: 1, missed: 1, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5, 5)
		s.log(pid, 5, 8, 5, "major_trauma")
		s.session(pid, models.SessionMissed, tAt(10, 9))
	})
	// Soreness (rank 1): 48 h after the session 10 days ago, pain at least
	// 2 above Before (3, days 13 to 11 ago).
	add(triageWant{name: "Sore Amy", attention: []string{sore}, soreness: true, pain: sorePain}, func(pid string) {
		s.soreness(pid, 5) // 5 − 3 = 2: the threshold itself
	})
	add(triageWant{name: "Sore Bob", attention: []string{sore}, soreness: true, pain: sorePain}, func(pid string) {
		s.soreness(pid, 6, 4) // (6 + 4) / 2 = 5; 5 − 3 = 2
	})
	add(triageWant{name: "Sore Cat", attention: []string{sore}, soreness: true, next: &nextCat, pain: sorePain}, func(pid string) {
		s.soreness(pid, 7)
		s.session(pid, models.SessionScheduled, nextCat)
	})
	add(triageWant{name: "Sore Dov", attention: []string{sore, waiting}, soreness: true, waiting: true, pain: sorePain}, func(pid string) {
		s.soreness(pid, 6)
		s.screening(pid, nil)
	})
	// Clearance waiting (rank 2): a "yes" to recent surgery, no clearance.
	for _, name := range []string{"Clear Ann", "Clear Bea", "Clear Col"} {
		add(triageWant{name: name, attention: []string{waiting}, waiting: true, pain: flat(4)}, func(pid string) {
			s.daily(pid, 20, 0, 4)
			s.screening(pid, nil)
		})
	}
	add(triageWant{name: "Clear Dot", attention: []string{waiting, quiet}, lastAgo: 5, waiting: true, pain: quietPain(4, 5)}, func(pid string) {
		s.daily(pid, 20, 5, 4)
		s.screening(pid, nil)
	})
	// Missed sessions (rank 3): missed or no-show since 2026-10-23 15:00 UTC.
	add(triageWant{name: "Miss Ari", attention: []string{missed}, missed: 1, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.session(pid, models.SessionMissed, tAt(10, 9))
	})
	add(triageWant{name: "Miss Bo", attention: []string{missed}, missed: 1, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.session(pid, models.SessionNoShow, tAt(29, 9))
	})
	add(triageWant{name: "Miss Cy", attention: []string{missed}, missed: 1, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.session(pid, models.SessionMissed, since30) // the window's first instant
	})
	add(triageWant{name: "Miss Di", attention: []string{missed, quiet}, lastAgo: 5, missed: 2, pain: quietPain(5, 5)}, func(pid string) {
		s.daily(pid, 20, 5, 5)
		s.session(pid, models.SessionMissed, tAt(3, 9))
		s.session(pid, models.SessionNoShow, tAt(20, 9))
		s.session(pid, models.SessionCancelled, tAt(5, 9))
	})
	// No log for 5 days or more (rank 4).
	add(triageWant{name: "Quiet Al", attention: []string{quiet}, lastAgo: 5, pain: quietPain(6, 5)}, func(pid string) {
		s.daily(pid, 20, 5, 6)
	})
	add(triageWant{name: "Quiet Bix", attention: []string{quiet}, lastAgo: -1, pain: painWant{source: "range_start", baseFrom: -1, baseTo: -1,
		reason: "No baseline yet. Not enough data: 0 logged days, at least 3 needed."}}, func(pid string) {})
	add(triageWant{name: "Quiet Cole", attention: []string{quiet}, lastAgo: 12, pain: quietPain(6, 12)}, func(pid string) {
		s.daily(pid, 20, 12, 6)
	})
	add(triageWant{name: "Quiet Dee", attention: []string{quiet}, lastAgo: 5, next: &nextDee, pain: quietPain(6, 5)}, func(pid string) {
		s.daily(pid, 20, 5, 6)
		s.session(pid, models.SessionCancelled, testNow.Add(2*time.Hour))
		s.session(pid, models.SessionScheduled, testNow.Add(8*24*time.Hour))
		s.session(pid, models.SessionScheduled, nextDee)
		s.session(pid, models.SessionScheduled, testNow.Add(-2*time.Hour)) // past, unmarked: neither next nor missed
	})
	// Nothing needs attention: by name, last.
	add(triageWant{name: "Good Ana", pain: painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: ptrF(7), baseN: 7, last: ptrF(4), lastN: 7,
		// 7 → 4: points 4 − 7 = −3 (≥ 2 better); percent 3 / 7 × 100 = 42.857 (≥ 30).
		points: ptrF(-3), percent: ptrF(300.0 / 7), byPoints: true, byPercent: true}}, func(pid string) {
		s.daily(pid, 20, 14, 7)
		s.daily(pid, 13, 7, 5)
		s.daily(pid, 6, 0, 4)
	})
	add(triageWant{name: "Good Ben", pain: painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: ptrF(5), baseN: 7, last: ptrF(3.5), lastN: 7,
		// Last 7 days: 3, 4, 3, 4, 3, 4 and today 3 and 4 (mean 3.5):
		// 24.5 / 7 = 3.5. 5 → 3.5: points −1.5 (< 2); percent 1.5 / 5 × 100 = 30 exactly.
		points: ptrF(-1.5), percent: ptrF(30), byPercent: true}}, func(pid string) {
		s.daily(pid, 20, 14, 5)
		s.daily(pid, 13, 7, 4)
		for ago := 6; ago >= 1; ago-- {
			s.log(pid, ago, 8, 3+ago%2)
		}
		s.log(pid, 0, 8, 3)
		s.log(pid, 0, 12, 4)
	})
	add(triageWant{name: "Good Cai", scope: "view", pain: painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: ptrF(8), baseN: 7, last: ptrF(6), lastN: 7,
		// 8 → 6: points −2 exactly; percent 2 / 8 × 100 = 25 (< 30).
		points: ptrF(-2), percent: ptrF(25), byPoints: true}}, func(pid string) {
		s.daily(pid, 20, 14, 8)
		s.daily(pid, 13, 7, 7)
		s.daily(pid, 6, 0, 6)
	})
	add(triageWant{name: "Nil Cancelled", pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.session(pid, models.SessionCancelled, tAt(5, 9))
		s.session(pid, models.SessionMissed, since30.Add(-time.Minute)) // just before the window
		s.session(pid, models.SessionNoShow, tAt(31, 9))
	})
	add(triageWant{name: "Nil Cleared", self: true, pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.screening(pid, &models.Clearance{Date: tDay(20), RecordedAt: tAt(20, 9), By: models.ClearedByPatient})
	})
	add(triageWant{name: "Nil Quiet4", lastAgo: 4, pain: painWant{source: "range_start", baseFrom: 20, baseTo: 14, base: ptrF(6), baseN: 7,
		// Days 6, 5 and 4 ago are 3 logged days of the last 7: enough.
		last: ptrF(6), lastN: 3, points: ptrF(0), percent: ptrF(0)}}, func(pid string) {
		s.daily(pid, 20, 4, 6)
	})
	add(triageWant{name: "Nil Soreness", pain: sorePain}, func(pid string) {
		s.soreness(pid, 4) // 4 − 3 = 1: below the flag
	})
	add(triageWant{name: "Nil Staff", pain: flat(5)}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		s.screening(pid, &models.Clearance{Date: tDay(20), RecordedAt: tAt(20, 9), By: models.ClearedByStaff,
			StaffID: home.therapistID, StaffName: "Therapist triage", ClinicID: home.clinicID})
	})
	// A plan from 10 days ago (2026-11-12): the baseline is the 7 days
	// before it, 17 to 11 days ago, all 5. Aftercare, asked 4 and done 3
	// (3 / 4 = 0.75): stretching 1 and 2 days ago sent and done, heat_ice
	// 3 days ago done before its push (skipped), take_it_easy 29 days ago
	// (day 30 of the window) sent, not done. Not asked: hydration_after 30
	// days ago (outside), a pending stretching today, a session_upcoming.
	add(triageWant{name: "Zed Flat", lastAgo: 0, asked: 4, rate: ptrF(0.75), next: &nextZed, plan: "active",
		pain: painWant{source: "pre_treatment", baseFrom: 17, baseTo: 11, base: ptrF(5), baseN: 7, last: ptrF(5), lastN: 7, points: ptrF(0), percent: ptrF(0)}}, func(pid string) {
		s.daily(pid, 20, 0, 5)
		plan, err := models.NewPlan(newID(), pid, tDay(10), models.DefaultCadence(time.Thursday), false, tAt(11, 9))
		if err != nil {
			t.Fatal(err)
		}
		plan.ClinicID = home.clinicID
		if err := ts.store.CreatePlan(s.ctx, plan); err != nil {
			t.Fatal(err)
		}
		s.session(pid, models.SessionScheduled, nextZed)
		var rs []models.Reminder
		for _, r := range []struct {
			kind        models.ReminderKind
			ago         int
			status      models.ReminderStatus
			sent, acked bool
		}{
			{models.KindStretching, 1, models.ReminderSent, true, true},
			{models.KindStretching, 2, models.ReminderSent, true, true},
			{models.KindHeatIce, 3, models.ReminderSkipped, false, true},
			{models.KindTakeItEasy, 29, models.ReminderSent, true, false},
			{models.KindHydrationAfter, 30, models.ReminderSent, true, true},
			{models.KindStretching, 0, models.ReminderPending, false, false},
			{models.KindSessionUpcoming, 1, models.ReminderSent, true, true},
		} {
			due := tAt(r.ago, 17)
			rm := models.Reminder{PatientID: pid, Kind: r.kind, Source: models.SourcePlan, SourceID: plan.ID, LocalDate: tDay(r.ago),
				DueAt: due, ExpiresAt: due.Add(6 * time.Hour), Status: r.status, CreatedAt: due, UpdatedAt: due}
			if r.sent {
				rm.SentAt = &due
			}
			if r.acked {
				acked := due.Add(time.Hour)
				rm.AckedAt = &acked
			}
			rm.SetKey()
			rs = append(rs, rm)
		}
		if _, err := ts.store.UpsertReminders(s.ctx, rs); err != nil {
			t.Fatal(err)
		}
	})
	// lastAgo 0: every patient above without one logs today.
	if len(wants) != 30 {
		t.Fatalf("%d patients seeded, want 30", len(wants))
	}

	// Patients who must never appear: linked to another clinic only,
	// linked and then revoked, never linked. Each has a red flag today,
	// which would put them at the top.
	olga := s.patient("Olga Elsewhere", "")
	s.linkTo(olga, other.clinicID, care)
	rae := s.patient("Rae Revoked", "")
	if ok, err := ts.store.RevokeLink(s.ctx, rae, s.linkTo(rae, home.clinicID, care).ID, "patient", testNow.Add(-time.Hour)); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	una := s.patient("Una Unlinked", "")
	for _, pid := range []string{olga, rae, una} {
		s.log(pid, 0, 8, 9, "fever")
	}

	order := []string{
		"Red Eve", "Red Ada", "Red Ben", "red Cal", "Red Dan", // red flag: two reasons first, then by name, ignoring case
		"Sore Dov", "Sore Amy", "Sore Bob", "Sore Cat",
		"Clear Dot", "Clear Ann", "Clear Bea", "Clear Col",
		"Miss Di", "Miss Ari", "Miss Bo", "Miss Cy",
		"Quiet Al", "Quiet Bix", "Quiet Cole", "Quiet Dee",
		"Good Ana", "Good Ben", "Good Cai", "Nil Cancelled", "Nil Cleared", "Nil Quiet4", "Nil Soreness", "Nil Staff", "Zed Flat",
	}
	byName := map[string]triageWant{}
	for _, w := range wants {
		byName[w.name] = w
	}

	raw := ts.do("GET", "/v1/clinic/patients", home.therapist, nil)
	if raw.status != http.StatusOK {
		t.Fatalf("triage: %d %s", raw.status, raw.body)
	}
	var shape struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw.body, &shape); err != nil || len(shape.Items) == 0 {
		t.Fatalf("triage body: %v: %s", err, raw.body)
	}
	top := raw.json(t)
	for _, k := range []string{"items", "next_cursor", "total"} {
		if _, ok := top[k]; !ok {
			t.Errorf("the answer has no %q", k)
		}
	}
	for _, k := range []string{"id", "name", "attention", "last_log_date", "days_since_log", "last_score", "pain", "peg", "red_flags_14d", "soreness_flag",
		"clearance_waiting", "clearance_self_attested", "missed_sessions_30d", "aftercare_adherence_30d", "next_session_at", "plan_status"} {
		for _, it := range shape.Items {
			if _, ok := it[k]; !ok {
				t.Errorf("an item has no %q: %v", k, it)
				break
			}
		}
	}

	all := ts.triage(home.therapist, "")
	if all.Total != 30 || all.NextCursor != nil || len(all.Items) != 30 {
		t.Fatalf("total %d, next %v, %d items; want 30, null, 30", all.Total, all.NextCursor, len(all.Items))
	}
	if got := triageNames(all.Items); strings.Join(got, ", ") != strings.Join(order, ", ") {
		t.Errorf("order:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(order, ", "))
	}
	ids := map[string]string{} // name → id, to check the ids' order too
	for _, it := range all.Items {
		ids[it.Name] = it.ID
		w, ok := byName[it.Name]
		if !ok {
			t.Errorf("unexpected patient %q in the list", it.Name)
			continue
		}
		if got, want := it.line(), w.line(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", it.Name, got, want)
		}
	}
	wantIDs := make([]string, len(order))
	for i, name := range order {
		wantIDs[i] = ids[name]
	}

	// The owner sees the same list; the other clinic sees only its own.
	if got := ts.triage(home.ownerToken, ""); strings.Join(triageNames(got.Items), ",") != strings.Join(order, ",") {
		t.Errorf("the owner's list differs: %v", triageNames(got.Items))
	}
	if got := ts.triage(other.therapist, ""); got.Total != 1 || len(got.Items) != 1 || got.Items[0].ID != olga {
		t.Errorf("the other clinic's list: %+v", triageNames(got.Items))
	}

	t.Run("paging joins to the whole list", func(t *testing.T) {
		var joined []string
		query, pages := "?limit=7", 0
		for {
			page := ts.triage(home.therapist, query)
			pages++
			if page.Total != 30 {
				t.Errorf("page %d: total %d, want 30", pages, page.Total)
			}
			want := min(7, 30-len(joined))
			if len(page.Items) != want {
				t.Errorf("page %d: %d items, want %d", pages, len(page.Items), want)
			}
			for _, it := range page.Items {
				joined = append(joined, it.ID)
			}
			if page.NextCursor == nil {
				break
			}
			if pages > 10 {
				t.Fatal("the cursor never ends")
			}
			query = "?limit=7&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if pages != 5 || strings.Join(joined, ",") != strings.Join(wantIDs, ",") {
			nameOf := map[string]string{}
			for name, id := range ids {
				nameOf[id] = name
			}
			var got []string
			for _, id := range joined {
				got = append(got, nameOf[id])
			}
			t.Errorf("%d pages joined to %s; want 5 pages of %s", pages, strings.Join(got, ", "), strings.Join(order, ", "))
		}
		// A limit above the most allowed is the most allowed.
		if got := ts.triage(home.therapist, "?limit=100000"); len(got.Items) != 30 || got.NextCursor != nil {
			t.Errorf("limit 100000: %d items, next %v", len(got.Items), got.NextCursor)
		}
		// A cursor past the end gives an empty page.
		past := base64.RawURLEncoding.EncodeToString([]byte("o:100"))
		if got := ts.triage(home.therapist, "?cursor="+past); len(got.Items) != 0 || got.Total != 30 || got.NextCursor != nil {
			t.Errorf("past the end: %d items, total %d, next %v", len(got.Items), got.Total, got.NextCursor)
		}
	})

	t.Run("name search", func(t *testing.T) {
		for _, tt := range []struct {
			q    string
			want []string
		}{
			// "red" is in "Nil Cleared" too; the search ignores case.
			{"red", []string{"Red Eve", "Red Ada", "Red Ben", "red Cal", "Red Dan", "Nil Cleared"}},
			{"  SORE ", []string{"Sore Dov", "Sore Amy", "Sore Bob", "Sore Cat", "Nil Soreness"}},
			{"Dee", []string{"Quiet Dee"}},
			{"Olga", nil},
			{"Rae", nil},
			// 100 characters of two bytes each are within the limit.
			{strings.Repeat("ü", models.MaxNameLength), nil},
		} {
			page := ts.triage(home.therapist, "?q="+url.QueryEscape(tt.q))
			if strings.Join(triageNames(page.Items), ",") != strings.Join(tt.want, ",") || page.Total != len(tt.want) || page.NextCursor != nil {
				t.Errorf("q=%q: %v (total %d, next %v), want %v", tt.q, triageNames(page.Items), page.Total, page.NextCursor, tt.want)
			}
		}
		first := ts.triage(home.therapist, "?q=red&limit=4")
		if first.Total != 6 || len(first.Items) != 4 || first.NextCursor == nil {
			t.Fatalf("q=red&limit=4: %v, total %d, next %v", triageNames(first.Items), first.Total, first.NextCursor)
		}
		second := ts.triage(home.therapist, "?q=red&limit=4&cursor="+url.QueryEscape(*first.NextCursor))
		if got := strings.Join(append(triageNames(first.Items), triageNames(second.Items)...), ","); got != "Red Eve,Red Ada,Red Ben,red Cal,Red Dan,Nil Cleared" ||
			second.Total != 6 || second.NextCursor != nil {
			t.Errorf("q=red in pages of 4: %s, total %d, next %v", got, second.Total, second.NextCursor)
		}
	})

	t.Run("bad parameters name the field", func(t *testing.T) {
		cursor := func(s string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(s))) }
		for _, tt := range []struct{ query, field string }{
			{"?limit=0", "limit"},
			{"?limit=-1", "limit"},
			{"?limit=ten", "limit"},
			{"?limit=1.5", "limit"},
			{"?limit=5&limit=6", "limit"},
			{"?cursor=%21%21%21", "cursor"},
			{"?cursor=" + cursor("o:-7"), "cursor"},
			{"?cursor=" + cursor("x:7"), "cursor"},
			{"?cursor=" + cursor("o:seven"), "cursor"},
			{"?cursor=" + cursor("7"), "cursor"},
			{"?q=" + strings.Repeat("a", models.MaxNameLength+1), "q"},
			{"?sort=name", "sort"},
		} {
			expectProblem(t, ts.do("GET", "/v1/clinic/patients"+tt.query, home.therapist, nil), http.StatusBadRequest, tt.field)
		}
	})
}
