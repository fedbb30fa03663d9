package models_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// The triage tests run at triNow, Saturday 4 April 2026, 15:00 UTC, for a
// patient in UTC unless a case says otherwise: today is 2026-04-04, and
// triDay(n) is the date n days before it.

var triNow = time.Date(2026, 4, 4, 15, 0, 0, 0, time.UTC)

func triDay(ago int) string { return triNow.AddDate(0, 0, -ago).Format(time.DateOnly) }

// triAt is hour:00 UTC on the day ago days before today.
func triAt(ago, hour int) time.Time { return time.Date(2026, 4, 4-ago, hour, 0, 0, 0, time.UTC) }

func triLog(ago, score int, flags ...models.RedFlag) models.PainLog {
	return models.PainLog{PatientID: "p1", LocalDate: triDay(ago), Score: score, RedFlags: flags}
}

// triDaily is one log of score on each day from `from` days ago to `to` days ago.
func triDaily(from, to, score int) []models.PainLog {
	var logs []models.PainLog
	for ago := from; ago >= to; ago-- {
		logs = append(logs, triLog(ago, score))
	}
	return logs
}

func triSession(id string, status models.SessionStatus, at time.Time) models.Session {
	return models.Session{ID: id, PatientID: "p1", ScheduledAt: at, DurationMinutes: 60, Status: status}
}

func triInput(zone string, logs []models.PainLog, sessions ...models.Session) models.TriageInput {
	return models.TriageInput{
		Patient:  models.Patient{ID: "p1", Name: "Pat", Timezone: zone},
		Link:     models.CareLink{PatientID: "p1", ClinicID: "c1", Scope: models.ScopeCare, Status: models.LinkActive},
		Logs:     logs,
		Sessions: sessions,
	}
}

func hasAttention(e models.TriageEntry, a models.Attention) bool {
	return slices.Contains(e.Attention, a)
}

func TestTriageCopiesWhoAndScope(t *testing.T) {
	in := triInput("UTC", triDaily(0, 0, 3))
	in.Link.Scope = models.ScopeView
	e := models.Triage(in, triNow)
	if e.PatientID != "p1" || e.Name != "Pat" || e.Scope != models.ScopeView || e.PlanStatus != "" {
		t.Errorf("entry = %+v", e)
	}
}

func TestTriageRedFlagWindow(t *testing.T) {
	// The window is TriageRedFlagDays local dates ending today, today
	// being day 1: from 2026-03-22 (13 days ago) to 2026-04-04.
	tests := []struct {
		name  string
		zone  string
		logs  []models.PainLog
		flags int
	}{
		{"today", "UTC", []models.PainLog{triLog(0, 4, "fever")}, 1},
		{"13 days ago is day 14 of the window", "UTC", []models.PainLog{triLog(0, 4), triLog(13, 4, "leg_weakness")}, 1},
		{"14 days ago is day 15: outside", "UTC", []models.PainLog{triLog(0, 4), triLog(14, 4, "leg_weakness")}, 0},
		{"one per log, not per flag or day", "UTC", []models.PainLog{
			triLog(0, 4), triLog(1, 4, "fever", "leg_weakness"), triLog(1, 5, "saddle_numbness"), triLog(13, 4, "major_trauma"), triLog(14, 4, "fever"),
		}, 3},
		{"a deleted log's flag is gone", "UTC", []models.PainLog{triLog(0, 4), {PatientID: "p1", LocalDate: triDay(1), Score: 8, RedFlags: []models.RedFlag{"fever"}, Deleted: true}}, 0},
		{"logs without flags", "UTC", triDaily(13, 0, 6), 0},
		// At 15:00 UTC it is 05:00 on 2026-04-05 in Kiritimati (UTC+14):
		// there 2026-03-22 is 14 days back, day 15 of the window.
		{"the window is the patient's local days", "Pacific/Kiritimati", []models.PainLog{triLog(0, 4), triLog(13, 4, "fever")}, 0},
		{"the same log in UTC", "UTC", []models.PainLog{triLog(0, 4), triLog(13, 4, "fever")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := models.Triage(triInput(tt.zone, tt.logs), triNow)
			if e.RedFlags != tt.flags {
				t.Errorf("RedFlags = %d, want %d", e.RedFlags, tt.flags)
			}
			var want []models.Attention
			if tt.flags > 0 {
				want = []models.Attention{models.AttentionRedFlag}
			}
			if !slices.Equal(e.Attention, want) {
				t.Errorf("Attention = %v, want %v", e.Attention, want)
			}
		})
	}
}

func TestTriageDaysSinceLog(t *testing.T) {
	tests := []struct {
		name     string
		zone     string
		logs     []models.PainLog
		lastDate string
		days     int // -1: never logged
		quiet    bool
	}{
		{"never logged", "UTC", nil, "", -1, true},
		{"only a deleted log", "UTC", []models.PainLog{{PatientID: "p1", LocalDate: triDay(0), Score: 3, Deleted: true}}, "", -1, true},
		{"today", "UTC", triDaily(9, 0, 3), triDay(0), 0, false},
		{"4 days: not yet quiet", "UTC", triDaily(9, 4, 3), triDay(4), 4, false},
		{"5 days: TriageQuietDays", "UTC", triDaily(9, 5, 3), triDay(5), 5, true},
		{"the latest, in any order", "UTC", []models.PainLog{triLog(8, 3), triLog(2, 3), triLog(30, 3)}, triDay(2), 2, false},
		{"a deleted newer log does not count", "UTC",
			append(triDaily(9, 5, 3), models.PainLog{PatientID: "p1", LocalDate: triDay(1), Score: 3, Deleted: true}), triDay(5), 5, true},
		// Local today is 2026-04-05 in Kiritimati: 2026-03-31 is 5 days back
		// there, 4 in UTC.
		{"counted in the patient's days", "Pacific/Kiritimati", []models.PainLog{triLog(4, 3)}, "2026-03-31", 5, true},
		{"the same log in UTC", "UTC", []models.PainLog{triLog(4, 3)}, "2026-03-31", 4, false},
		// Across the spring-forward day in Berlin (29 March 2026 has 23
		// hours) the count is still of calendar days: 2026-03-28 to
		// 2026-04-04 is 7.
		{"across a DST change", "Europe/Berlin", []models.PainLog{triLog(7, 3)}, "2026-03-28", 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := models.Triage(triInput(tt.zone, tt.logs), triNow)
			if e.LastLogDate != tt.lastDate {
				t.Errorf("LastLogDate = %q, want %q", e.LastLogDate, tt.lastDate)
			}
			switch {
			case tt.days < 0 && e.DaysSinceLog != nil:
				t.Errorf("DaysSinceLog = %d, want nil", *e.DaysSinceLog)
			case tt.days >= 0 && (e.DaysSinceLog == nil || *e.DaysSinceLog != tt.days):
				t.Errorf("DaysSinceLog = %v, want %d", e.DaysSinceLog, tt.days)
			}
			if got := hasAttention(e, models.AttentionNoRecentLog); got != tt.quiet {
				t.Errorf("no_recent_log = %v, want %v (attention %v)", got, tt.quiet, e.Attention)
			}
		})
	}
}

func TestTriageMissedSessions(t *testing.T) {
	// The window is the 30 days before now as instants: from 2026-03-05 15:00 UTC.
	since := triNow.AddDate(0, 0, -models.TriageMissedDays)
	tests := []struct {
		name     string
		sessions []models.Session
		missed   int
	}{
		{"none", nil, 0},
		{"missed 10 days ago", []models.Session{triSession("a", models.SessionMissed, triAt(10, 9))}, 1},
		{"no-show 29 days ago", []models.Session{triSession("a", models.SessionNoShow, triAt(29, 9))}, 1},
		{"missed exactly 30 days ago counts", []models.Session{triSession("a", models.SessionMissed, since)}, 1},
		{"a second earlier is outside", []models.Session{triSession("a", models.SessionMissed, since.Add(-time.Second))}, 0},
		{"no-show 31 days ago is outside", []models.Session{triSession("a", models.SessionNoShow, triAt(31, 9))}, 0},
		{"cancelled does not count", []models.Session{triSession("a", models.SessionCancelled, triAt(1, 9))}, 0},
		{"completed and unmarked past ones do not count", []models.Session{
			triSession("a", models.SessionCompleted, triAt(3, 9)), triSession("b", models.SessionScheduled, triAt(2, 9)),
		}, 0},
		{"missed and no-show add up; cancelled and old ones do not", []models.Session{
			triSession("a", models.SessionMissed, triAt(3, 9)), triSession("b", models.SessionNoShow, triAt(20, 9)),
			triSession("c", models.SessionCancelled, triAt(5, 9)), triSession("d", models.SessionMissed, triAt(40, 9)),
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := models.Triage(triInput("UTC", triDaily(0, 0, 3), tt.sessions...), triNow)
			if e.MissedSessions != tt.missed {
				t.Errorf("MissedSessions = %d, want %d", e.MissedSessions, tt.missed)
			}
			var want []models.Attention
			if tt.missed > 0 {
				want = []models.Attention{models.AttentionMissedSession}
			}
			if !slices.Equal(e.Attention, want) {
				t.Errorf("Attention = %v, want %v", e.Attention, want)
			}
		})
	}
}

func TestTriageNextSession(t *testing.T) {
	tests := []struct {
		name     string
		sessions []models.Session
		want     *time.Time
	}{
		{"none", nil, nil},
		{"the earliest future scheduled, in any order", []models.Session{
			triSession("later", models.SessionScheduled, triNow.Add(48*time.Hour)),
			triSession("next", models.SessionScheduled, triNow.Add(time.Hour)),
			triSession("cancelled", models.SessionCancelled, triNow.Add(30*time.Minute)),
			triSession("past", models.SessionScheduled, triNow.Add(-time.Hour)),
			triSession("in a week", models.SessionScheduled, triNow.Add(7*24*time.Hour)),
		}, ptrTime(triNow.Add(time.Hour))},
		{"one starting now is not next", []models.Session{triSession("now", models.SessionScheduled, triNow)}, nil},
		{"a second from now is", []models.Session{triSession("soon", models.SessionScheduled, triNow.Add(time.Second))}, ptrTime(triNow.Add(time.Second))},
		{"only cancelled and past", []models.Session{
			triSession("c", models.SessionCancelled, triNow.Add(time.Hour)), triSession("m", models.SessionMissed, triAt(1, 9)),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := models.Triage(triInput("UTC", triDaily(0, 0, 3), tt.sessions...), triNow)
			switch {
			case tt.want == nil && e.NextSession != nil:
				t.Errorf("NextSession = %v, want nil", *e.NextSession)
			case tt.want != nil && (e.NextSession == nil || !e.NextSession.Equal(*tt.want)):
				t.Errorf("NextSession = %v, want %v", e.NextSession, *tt.want)
			}
		})
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestTriageClearance(t *testing.T) {
	yes := func(c *models.Clearance) *models.Screening {
		s := &models.Screening{ID: "s1", PatientID: "p1", Answers: map[models.Contraindication]bool{}, TakenAt: triAt(20, 9), Clearance: c}
		for _, item := range models.Contraindications {
			s.Answers[item] = item == models.RecentSurgery
		}
		return s
	}
	allNo := &models.Screening{ID: "s1", PatientID: "p1", Answers: map[models.Contraindication]bool{models.RecentSurgery: false}}
	tests := []struct {
		name          string
		screening     *models.Screening
		waiting, self bool
	}{
		{"no screening", nil, false, false},
		{"all no", allNo, false, false},
		{"a yes without clearance waits", yes(nil), true, false},
		{"the patient's own clearance", yes(&models.Clearance{Date: triDay(3), By: models.ClearedByPatient}), false, true},
		{"a clearance from before clinics was the patient's", yes(&models.Clearance{Date: triDay(3)}), false, true},
		{"a clinic's clearance", yes(&models.Clearance{Date: triDay(3), By: models.ClearedByStaff, StaffID: "st1", ClinicID: "c1"}), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := triInput("UTC", triDaily(0, 0, 3))
			in.Screening = tt.screening
			e := models.Triage(in, triNow)
			if e.ClearanceWaiting != tt.waiting || e.SelfAttested != tt.self {
				t.Errorf("ClearanceWaiting, SelfAttested = %v, %v; want %v, %v", e.ClearanceWaiting, e.SelfAttested, tt.waiting, tt.self)
			}
			var want []models.Attention
			if tt.waiting {
				want = []models.Attention{models.AttentionClearance}
			}
			if !slices.Equal(e.Attention, want) {
				t.Errorf("Attention = %v, want %v", e.Attention, want)
			}
		})
	}
}

func TestTriageAdherence(t *testing.T) {
	at := triAt(1, 18)
	reminder := func(kind models.ReminderKind, ago int, status models.ReminderStatus, sent, acked bool) models.Reminder {
		r := models.Reminder{PatientID: "p1", Kind: kind, LocalDate: triDay(ago), Status: status}
		if sent {
			r.SentAt = &at
		}
		if acked {
			r.AckedAt = &at
		}
		return r
	}
	tests := []struct {
		name      string
		reminders []models.Reminder
		asked     int
		rate      *float64
	}{
		{"none sent", nil, 0, nil},
		{"only pending and informing kinds", []models.Reminder{
			reminder(models.KindStretching, 0, models.ReminderPending, false, false),
			reminder(models.KindSessionUpcoming, 1, models.ReminderSent, true, true),
			reminder(models.KindWeeklySummary, 2, models.ReminderSent, true, false),
		}, 0, nil},
		// Asked: stretching 1 and 2 days ago (sent, done), heat_ice 3 days
		// ago (done before its push, so skipped, yet asked), take_it_easy 29
		// days ago (day 30 of the window; sent, not done) = 4; done 3:
		// 3 / 4 = 0.75. Not asked: hydration_after 30 days ago (outside),
		// a pending stretching today, a session_upcoming (it only informs).
		{"sent and acknowledged over all kinds", []models.Reminder{
			reminder(models.KindStretching, 1, models.ReminderSent, true, true),
			reminder(models.KindStretching, 2, models.ReminderSent, true, true),
			reminder(models.KindHeatIce, 3, models.ReminderSkipped, false, true),
			reminder(models.KindTakeItEasy, 29, models.ReminderSent, true, false),
			reminder(models.KindHydrationAfter, 30, models.ReminderSent, true, true),
			reminder(models.KindStretching, 0, models.ReminderPending, false, false),
			reminder(models.KindSessionUpcoming, 1, models.ReminderSent, true, true),
		}, 4, fp(0.75)},
		// One asked is enough for the triage's rate (Need 1), unlike an
		// insights kind's, which needs MinAdherenceAsked: 0 / 1 = 0.
		{"one sent, not done", []models.Reminder{reminder(models.KindDailyCheckin, 0, models.ReminderSent, true, false)}, 1, fp(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := triInput("UTC", triDaily(0, 0, 3))
			in.Reminders = tt.reminders
			e := models.Triage(in, triNow)
			checkFigure(t, "Adherence", e.Adherence, tt.rate, tt.asked)
			if tt.asked == 0 && !strings.Contains(e.Adherence.Reason, "30 days") {
				t.Errorf("Reason = %q", e.Adherence.Reason)
			}
		})
	}
}

func TestTriageSorenessFlag(t *testing.T) {
	// sorenessAround is a completed session 10 days ago (day D) after 3
	// days of 3 (D−3 to D−1: Before = 3) and one day of the given scores
	// at D+2 (the 48 h check-in). A flag needs Soreness48h − Before ≥ 2.
	sorenessAround := func(id string, d int, scores48h ...int) ([]models.PainLog, models.Session) {
		logs := triDaily(d+3, d+1, 3)
		for _, s := range scores48h {
			logs = append(logs, triLog(d-2, s))
		}
		return logs, triSession(id, models.SessionCompleted, triAt(d, 10))
	}
	flagged, s10 := sorenessAround("s10", 10, 5)          // 5 − 3 = 2: the threshold itself
	notFlagged, s10n := sorenessAround("s10n", 10, 4)     // 4 − 3 = 1
	twoLogs, s10two := sorenessAround("s10two", 10, 6, 4) // mean (6 + 4) / 2 = 5; 5 − 3 = 2
	oldFlagged, s20 := sorenessAround("s20", 20, 6)       // 6 − 3 = 3
	laterQuiet, s6 := sorenessAround("s6", 6, 3)          // 3 − 3 = 0
	tooOld, s95 := sorenessAround("s95", 95, 9)           // before the 90-day range
	tests := []struct {
		name     string
		logs     []models.PainLog
		sessions []models.Session
		flag     bool
	}{
		{"two points above before", flagged, []models.Session{s10}, true},
		{"one point above", notFlagged, []models.Session{s10n}, false},
		{"the mean of the day's logs", twoLogs, []models.Session{s10two}, true},
		{"one logged day before is too few", []models.PainLog{triLog(11, 3), triLog(8, 9)}, []models.Session{triSession("x", models.SessionCompleted, triAt(10, 10))}, false},
		{"no 48 h log", triDaily(13, 11, 3), []models.Session{triSession("x", models.SessionCompleted, triAt(10, 10))}, false},
		{"the same logs around a missed session", flagged, []models.Session{triSession("m", models.SessionMissed, triAt(10, 10))}, false},
		{"the last completed session decides: later one not raised", slices.Concat(oldFlagged, laterQuiet), []models.Session{s20, s6}, false},
		{"the last completed session decides, in any order", slices.Concat(flagged, triDaily(23, 21, 3), []models.PainLog{triLog(18, 3)}),
			[]models.Session{s10, triSession("s20q", models.SessionCompleted, triAt(20, 10))}, true},
		{"a later missed or scheduled session does not hide it", flagged, []models.Session{
			s10, triSession("m", models.SessionMissed, triAt(3, 10)), triSession("n", models.SessionScheduled, triNow.Add(24*time.Hour)),
		}, true},
		// The last completed session was yesterday: its 48 h check-in is
		// tomorrow, so there is no flag yet, whatever the earlier one had.
		{"a session too recent for its 48 h check-in", slices.Concat(flagged, triDaily(4, 2, 3)), []models.Session{
			s10, triSession("y", models.SessionCompleted, triAt(1, 10)),
		}, false},
		{"a session before the 90-day range", tooOld, []models.Session{s95}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := models.Triage(triInput("UTC", tt.logs, tt.sessions...), triNow)
			if e.SorenessFlag != tt.flag {
				t.Errorf("SorenessFlag = %v, want %v", e.SorenessFlag, tt.flag)
			}
			if hasAttention(e, models.AttentionSoreness) != tt.flag {
				t.Errorf("Attention = %v", e.Attention)
			}
		})
	}
}

func TestTriagePainChange(t *testing.T) {
	// Without a plan the baseline is the first 7 logged days of the 90
	// days ending today (from 89 days ago); the last 7 days are 6 days
	// ago to today.
	plan := func(startAgo int) *models.Plan {
		p, err := models.NewPlan("plan1", "p1", triDay(startAgo), models.DefaultCadence(time.Monday), false, triAt(30, 9))
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	// percentOnly has 3, 4, 3, 4, 3, 4 on days 6 to 1 ago and 3 and 4
	// today (a day mean of 3.5): (3+4+3+4+3+4+3.5) / 7 = 24.5 / 7 = 3.5.
	percentOnly := slices.Concat(triDaily(20, 14, 5), []models.PainLog{
		triLog(6, 3), triLog(5, 4), triLog(4, 3), triLog(3, 4), triLog(2, 3), triLog(1, 4), triLog(0, 3), triLog(0, 4),
	})
	tests := []struct {
		name                string
		logs                []models.PainLog
		plan                *models.Plan
		source              models.BaselineSource
		baseFrom, baseTo    string
		base, last          *float64
		points, percent     *float64
		byPoints, byPercent bool
		reason              string
	}{
		{
			// 7 → 4: points 4 − 7 = −3; percent 3 / 7 × 100 = 42.857…
			name:   "7 to 4: meaningful both ways",
			logs:   slices.Concat(triDaily(20, 14, 7), triDaily(13, 7, 5), triDaily(6, 0, 4)),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(7), last: fp(4), points: fp(-3), percent: fp(300.0 / 7), byPoints: true, byPercent: true,
		},
		{
			// 5 → 3.5: points −1.5 (< 2); percent 1.5 / 5 × 100 = 30 exactly.
			name: "5 to 3.5: meaningful by percent only", logs: percentOnly,
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(5), last: fp(3.5), points: fp(-1.5), percent: fp(30), byPercent: true,
		},
		{
			// 8 → 6: points −2 exactly; percent 2 / 8 × 100 = 25 (< 30).
			name: "8 to 6: meaningful by points only", logs: slices.Concat(triDaily(20, 14, 8), triDaily(6, 0, 6)),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(8), last: fp(6), points: fp(-2), percent: fp(25), byPoints: true,
		},
		{
			// 5 → 4: points −1; percent 20: neither.
			name: "5 to 4: not meaningful", logs: slices.Concat(triDaily(20, 14, 5), triDaily(6, 0, 4)),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(5), last: fp(4), points: fp(-1), percent: fp(20),
		},
		{
			// 4 → 6: points +2 is worse, not meaningful; percent −50.
			name: "worse by 2", logs: slices.Concat(triDaily(20, 14, 4), triDaily(6, 0, 6)),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(4), last: fp(6), points: fp(2), percent: fp(-50),
		},
		{
			// Days 6 and 5 ago are the last 7 days' only logs: 2 < MinWindowDays.
			name: "too few logs in the last 7 days", logs: triDaily(20, 5, 6),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(6), reason: "Not enough logs in the last 7 days.",
		},
		{
			name: "never logged", source: models.BaselineRangeStart, reason: "No baseline yet.",
		},
		{
			// A baseline of 0 gives points (0) but no percentage.
			name: "a baseline of 0", logs: triDaily(20, 0, 0),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(0), last: fp(0), points: fp(0), reason: "baseline pain was 0",
		},
		{
			// Logs 100 to 94 days ago (9) are before the range: the
			// baseline is days 20 to 14 ago (6); 6 → 6 is 0.
			name: "logs before the 90 days do not make the baseline", logs: slices.Concat(triDaily(100, 94, 9), triDaily(20, 0, 6)),
			source: models.BaselineRangeStart, baseFrom: triDay(20), baseTo: triDay(14),
			base: fp(6), last: fp(6), points: fp(0), percent: fp(0),
		},
		{
			// The plan started 10 days ago; the 7 days before it (17 to 11
			// ago) are logged at 8: the pre-treatment baseline. 8 → 5:
			// points −3, percent 3 / 8 × 100 = 37.5.
			name: "a plan's pre-treatment baseline", logs: slices.Concat(triDaily(17, 11, 8), triDaily(10, 0, 5)), plan: plan(10),
			source: models.BaselinePreTreatment, baseFrom: triDay(17), baseTo: triDay(11),
			base: fp(8), last: fp(5), points: fp(-3), percent: fp(37.5), byPoints: true, byPercent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := triInput("UTC", tt.logs)
			in.Plan = tt.plan
			c := models.Triage(in, triNow).Change
			if c.Source != tt.source || c.Baseline.From != tt.baseFrom || c.Baseline.To != tt.baseTo {
				t.Errorf("baseline %s %s–%s, want %s %s–%s", c.Source, c.Baseline.From, c.Baseline.To, tt.source, tt.baseFrom, tt.baseTo)
			}
			if c.Last7.From != triDay(6) || c.Last7.To != triDay(0) {
				t.Errorf("last 7 days %s–%s, want %s–%s", c.Last7.From, c.Last7.To, triDay(6), triDay(0))
			}
			checkOptional(t, "Baseline", c.Baseline.Mean.Value, tt.base)
			checkOptional(t, "Last7", c.Last7.Mean.Value, tt.last)
			checkOptional(t, "Points", c.Points, tt.points)
			checkOptional(t, "Percent", c.Percent, tt.percent)
			if c.ByPoints != tt.byPoints || c.ByPercent != tt.byPercent || c.Meaningful != (tt.byPoints || tt.byPercent) {
				t.Errorf("ByPoints, ByPercent, Meaningful = %v, %v, %v; want %v, %v, %v",
					c.ByPoints, c.ByPercent, c.Meaningful, tt.byPoints, tt.byPercent, tt.byPoints || tt.byPercent)
			}
			if (tt.reason == "") != (c.Reason == "") || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason = %q, want one with %q", c.Reason, tt.reason)
			}
		})
	}
	t.Run("plan status", func(t *testing.T) {
		in := triInput("UTC", triDaily(0, 0, 3))
		in.Plan = plan(10)
		if got := models.Triage(in, triNow).PlanStatus; got != models.PlanActive {
			t.Errorf("PlanStatus = %q, want active", got)
		}
	})
}

func TestTriageAttentionOrder(t *testing.T) {
	// Every reason at once: a completed session 12 days ago after 3 days
	// of 3 (15 to 13 days ago), its 48 h check-in 10 days ago at 6 with a
	// red flag (6 − 3 = 3 ≥ 2, and inside the 14 days), no log since (10
	// ≥ 5 days), a screening "yes" without clearance, a missed session 20
	// days ago.
	in := triInput("UTC", append(triDaily(15, 13, 3), triLog(10, 6, "leg_weakness")),
		triSession("done", models.SessionCompleted, triAt(12, 10)), triSession("missed", models.SessionMissed, triAt(20, 10)))
	in.Screening = &models.Screening{ID: "s", PatientID: "p1", Answers: map[models.Contraindication]bool{models.HeartCondition: true}}
	// A message the day after the session, which the clinic has not read.
	in.Messages = []models.Message{{ID: "l:m", Author: models.SidePatient, UnreadBy: models.SideStaff, CreatedAt: triAt(11, 9)}}
	e := models.Triage(in, triNow)
	if !slices.Equal(e.Attention, models.AttentionOrder) {
		t.Errorf("Attention = %v, want %v", e.Attention, models.AttentionOrder)
	}
	if e.RedFlags != 1 || !e.SorenessFlag || !e.SymptomMessage || e.UnreadMessages != 1 || !e.ClearanceWaiting || e.MissedSessions != 1 ||
		e.DaysSinceLog == nil || *e.DaysSinceLog != 10 {
		t.Errorf("entry = %+v", e)
	}

	calm := models.Triage(triInput("UTC", triDaily(3, 0, 2)), triNow)
	if len(calm.Attention) != 0 {
		t.Errorf("a patient logging daily without flags: Attention = %v", calm.Attention)
	}
}

func TestSortTriage(t *testing.T) {
	entry := func(id, name string, reasons ...models.Attention) models.TriageEntry {
		return models.TriageEntry{PatientID: id, Name: name, Attention: reasons}
	}
	red, sore, clear, missed, quiet := models.AttentionRedFlag, models.AttentionSoreness, models.AttentionClearance,
		models.AttentionMissedSession, models.AttentionNoRecentLog
	entries := []models.TriageEntry{
		entry("1", "Abe"),
		entry("2", "Aaron", quiet),
		entry("3", "Zed", red),
		entry("4", "Xu", sore, clear, missed, quiet), // 4 reasons, but soreness ranks below any red flag
		entry("5", "amy", red),                       // case does not matter: amy before Zed
		entry("6", "Yan", red, missed),               // 2 reasons: before the red flags with one
		entry("7", "Bea"),
		entry("8", "Cy", clear),
		entry("9", "Dee", missed, quiet),
		entry("10", "Dee", missed, quiet), // same name: by id, "10" < "9"
		entry("11", "Eli", missed),
		entry("12", "Al", quiet),
		entry("13", "Ann", red, sore, clear, missed, quiet),
	}
	models.SortTriage(entries)
	var got []string
	for _, e := range entries {
		got = append(got, e.PatientID+" "+e.Name)
	}
	want := []string{
		"13 Ann", "6 Yan", "5 amy", "3 Zed", // red flag: 5 reasons, 2, then by name
		"4 Xu",                      // soreness
		"8 Cy",                      // clearance
		"10 Dee", "9 Dee", "11 Eli", // missed: 2 reasons (by id), then 1
		"2 Aaron", "12 Al", // no recent log
		"1 Abe", "7 Bea", // nothing: by name
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %v\nwant %v", got, want)
	}
	models.SortTriage(nil) // an empty clinic
}
