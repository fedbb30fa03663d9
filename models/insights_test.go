package models_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

// The insight tests count days from 2026-01-05, a Monday: insDay(0) is that
// day and insDay(89) is 2026-04-04, the "today" of a 90-day history.

func insDay(i int) string {
	return time.Date(2026, 1, 5+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// insLog is one pain log on day i.
func insLog(i, score int) models.PainLog {
	return models.PainLog{PatientID: "p1", LocalDate: insDay(i), Score: score}
}

// insRun returns, for each day from first to last, one log per score.
func insRun(first, last int, scores ...int) []models.PainLog {
	var logs []models.PainLog
	for i := first; i <= last; i++ {
		for _, s := range scores {
			logs = append(logs, insLog(i, s))
		}
	}
	return logs
}

func insDeleted(logs []models.PainLog) []models.PainLog {
	for i := range logs {
		logs[i].Deleted = true
	}
	return logs
}

func insHistory(parts ...[]models.PainLog) []models.PainLog { return slices.Concat(parts...) }

func insPlan(t *testing.T, startDay int) *models.Plan {
	t.Helper()
	p, err := models.NewPlan("plan1", "p1", insDay(startDay), models.DefaultCadence(time.Monday), false,
		time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func insCompute(t *testing.T, in models.InsightsInput) models.Insights {
	t.Helper()
	got, err := models.ComputeInsights(in)
	if err != nil {
		t.Fatalf("ComputeInsights: %v", err)
	}
	return got
}

func fp(v float64) *float64 { return &v }

func optString(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}

// checkOptional compares a value that is absent (nil) when want is nil.
func checkOptional(t *testing.T, name string, got, want *float64) {
	t.Helper()
	switch {
	case (got == nil) != (want == nil):
		t.Errorf("%s = %s, want %s", name, optString(got), optString(want))
	case got != nil && math.Abs(*got-*want) > 1e-9:
		t.Errorf("%s = %v, want %v", name, *got, *want)
	}
}

// checkFigure checks a figure: with want nil it must have no number and say why.
func checkFigure(t *testing.T, name string, f models.Figure, want *float64, n int) {
	t.Helper()
	if f.N != n {
		t.Errorf("%s: N = %d, want %d", name, f.N, n)
	}
	if f.Enough != (f.Value != nil) || f.Enough != (f.Reason == "") {
		t.Errorf("%s: Enough = %v, Value = %s, Reason = %q: inconsistent", name, f.Enough, optString(f.Value), f.Reason)
	}
	checkOptional(t, name, f.Value, want)
}

func TestInsightsChange(t *testing.T) {
	const meaningful = " A change this size counts as a clinically meaningful improvement for back pain."
	tests := []struct {
		name      string
		planStart int // day index; -1 for no plan
		from, to  int // day indexes of the range; today is day 89
		logs      []models.PainLog

		source           models.BaselineSource
		baseFrom, baseTo string
		base             *float64
		baseN            int
		last7From        string
		last             *float64
		lastN            int
		points, percent  *float64
		byPoints         bool
		byPercent        bool
		reason           string // a part of Reason; "" when Reason must be empty
		summary          string // the exact Summary; "" to check only that it is set iff Points is
	}{
		{
			// Baseline: days 0–6 before the plan starts on day 7, all 6 → 6.
			// Last 7: days 83–89, all 4 → 4. Points 4 − 6 = −2.0 (meaningful);
			// percent (6 − 4) × 100 / 6 = 33.3… (meaningful). The deleted 10s
			// on both windows must not count.
			name: "pre-treatment 6 to 4: meaningful by points and percent", planStart: 7, from: 0, to: 89,
			logs: insHistory(insRun(0, 6, 6), insRun(7, 82, 5), insRun(83, 89, 4),
				insDeleted(insRun(0, 6, 10)), insDeleted(insRun(83, 89, 10))),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(6), baseN: 7,
			last7From: insDay(83), last: fp(4), lastN: 7,
			points: fp(-2), percent: fp(100.0 / 3), byPoints: true, byPercent: true,
			summary: "Over the last 7 days your pain averaged 4.0 (7 logged days), 2.0 points lower than your baseline of 6.0 (7 logged days): 33.3% better." + meaningful,
		},
		{
			// Baseline 5. Last 7: each day logs 3 and 4, daily mean 3.5 → 3.5.
			// Points 3.5 − 5 = −1.5 (not 2); percent 1.5 × 100 / 5 = 30 exactly → meaningful.
			name: "5 to 3.5: exactly 30 percent, meaningful by percent only", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 82, 5), insRun(83, 89, 3, 4)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(5), baseN: 7,
			last7From: insDay(83), last: fp(3.5), lastN: 7,
			points: fp(-1.5), percent: fp(30), byPercent: true,
			summary: "Over the last 7 days your pain averaged 3.5 (7 logged days), 1.5 points lower than your baseline of 5.0 (7 logged days): 30.0% better." + meaningful,
		},
		{
			// Baseline 10, last 7 all 8: points −2.0 exactly → meaningful;
			// percent 2 × 100 / 10 = 20 (not 30).
			name: "10 to 8: exactly 2 points, meaningful by points only", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 6, 10), insRun(7, 82, 9), insRun(83, 89, 8)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(10), baseN: 7,
			last7From: insDay(83), last: fp(8), lastN: 7,
			points: fp(-2), percent: fp(20), byPoints: true,
		},
		{
			// Last 7: six days of 8 and one of 9 → 57/7 = 8.142857.
			// Points 57/7 − 10 = −13/7 ≈ −1.857 (< 2); percent (13/7) × 100 / 10 ≈ 18.6 (< 30).
			name: "10 to 57/7: just short of both", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 6, 10), insRun(7, 88, 8), insRun(89, 89, 9)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(10), baseN: 7,
			last7From: insDay(83), last: fp(57.0 / 7), lastN: 7,
			points: fp(57.0/7 - 10), percent: fp(13.0 / 7 * 10),
		},
		{
			// Worse: 3 → 5 is +2.0 points and (3 − 5) × 100 / 3 = −66.7 %: no improvement.
			name: "3 to 5: worse", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 6, 3), insRun(7, 89, 5)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(3), baseN: 7,
			last7From: insDay(83), last: fp(5), lastN: 7,
			points: fp(2), percent: fp(-200.0 / 3),
			summary: "Over the last 7 days your pain averaged 5.0 (7 logged days), 2.0 points higher than your baseline of 3.0 (7 logged days): 66.7% worse.",
		},
		{
			// Only days 3 and 5 before the plan (day 10) are logged: 2 < 3, so
			// the first 7 logged days from the start, days 10–16 at 6, are the
			// baseline. Last 7 all 4 → −2.0, 33.3 %.
			name: "thin pre-treatment window falls back to the plan's first days", planStart: 10, from: 0, to: 89,
			logs:   insHistory(insRun(3, 3, 9), insRun(5, 5, 9), insRun(10, 16, 6), insRun(17, 82, 5), insRun(83, 89, 4)),
			source: models.BaselinePlanStart, baseFrom: insDay(10), baseTo: insDay(16), base: fp(6), baseN: 7,
			last7From: insDay(83), last: fp(4), lastN: 7,
			points: fp(-2), percent: fp(100.0 / 3), byPoints: true, byPercent: true,
		},
		{
			// No logs before the plan; from its start only even days are logged
			// until day 22: the first 7 logged days are 10, 12, …, 22 (all 7),
			// whatever the gaps. Days 23 on are 5. Points 5 − 7 = −2.0; percent 2 × 100 / 7 = 28.6.
			name: "plan start baseline skips unlogged days", planStart: 10, from: 0, to: 89,
			logs: insHistory(insRun(10, 10, 7), insRun(12, 12, 7), insRun(14, 14, 7), insRun(16, 16, 7),
				insRun(18, 18, 7), insRun(20, 20, 7), insRun(22, 22, 7), insRun(23, 89, 5)),
			source: models.BaselinePlanStart, baseFrom: insDay(10), baseTo: insDay(22), base: fp(7), baseN: 7,
			last7From: insDay(83), last: fp(5), lastN: 7,
			points: fp(-2), percent: fp(200.0 / 7), byPoints: true,
		},
		{
			// No plan, range from day 30: the first 7 logged days of the range,
			// days 30–36 at 8 (the 9s before the range do not count).
			// Points 6 − 8 = −2.0; percent 2 × 100 / 8 = 25.
			name: "no plan: first 7 logged days of the range", planStart: -1, from: 30, to: 89,
			logs:   insHistory(insRun(0, 29, 9), insRun(30, 36, 8), insRun(37, 89, 6)),
			source: models.BaselineRangeStart, baseFrom: insDay(30), baseTo: insDay(36), base: fp(8), baseN: 7,
			last7From: insDay(83), last: fp(6), lastN: 7,
			points: fp(-2), percent: fp(25), byPoints: true,
		},
		{
			// The plan started on day 86, inside the last 7 days (83–89). Its
			// pre-treatment window, days 79–85, is cut at day 82 so that it
			// shares no day with the last 7: days 79–82, N = 4. All 5 → no change.
			name: "plan started within the last 7 days", planStart: 86, from: 0, to: 89,
			logs:   insRun(0, 89, 5),
			source: models.BaselinePreTreatment, baseFrom: insDay(79), baseTo: insDay(82), base: fp(5), baseN: 4,
			last7From: insDay(83), last: fp(5), lastN: 7,
			points: fp(0), percent: fp(0),
			summary: "Over the last 7 days your pain averaged 5.0 (7 logged days), about the same as your baseline of 5.0 (4 logged days).",
		},
		{
			// To (day 60) is before today (day 89): the last 7 days are 54–60 at 4;
			// the 9s after day 60 do not count. Baseline days 0–6 at 6 → −2.0, 33.3 %.
			name: "range ending before today", planStart: -1, from: 0, to: 60,
			logs:   insHistory(insRun(0, 6, 6), insRun(7, 53, 5), insRun(54, 60, 4), insRun(61, 89, 9)),
			source: models.BaselineRangeStart, baseFrom: insDay(0), baseTo: insDay(6), base: fp(6), baseN: 7,
			last7From: insDay(54), last: fp(4), lastN: 7,
			points: fp(-2), percent: fp(100.0 / 3), byPoints: true, byPercent: true,
		},
		{
			// Only days 85 and 88 of the last 7 are logged: 2 < 3, no change.
			name: "last 7 days too thin", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 82, 5), insRun(85, 85, 3), insRun(88, 88, 3)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(5), baseN: 7,
			last7From: insDay(83), last: nil, lastN: 2,
			reason: "last 7 days",
		},
		{
			// Logs start on day 81: before the last 7 days there are only days
			// 81 and 82, 2 < 3, no baseline.
			name: "baseline too thin", planStart: -1, from: 0, to: 89,
			logs:   insRun(81, 89, 5),
			source: models.BaselineRangeStart, baseFrom: insDay(81), baseTo: insDay(82), base: nil, baseN: 2,
			last7From: insDay(83), last: fp(5), lastN: 7,
			reason: "No baseline yet",
		},
		{
			// No logs at all: neither window has a number.
			name: "no logs", planStart: 7, from: 0, to: 89,
			source:    models.BaselinePlanStart,
			last7From: insDay(83), lastN: 0,
			reason: "No baseline yet",
		},
		{
			// Baseline 0 → 2 is +2.0 points; no percentage can be taken of 0.
			name: "baseline of 0 has no percentage", planStart: 7, from: 0, to: 89,
			logs:   insHistory(insRun(0, 6, 0), insRun(7, 89, 2)),
			source: models.BaselinePreTreatment, baseFrom: insDay(0), baseTo: insDay(6), base: fp(0), baseN: 7,
			last7From: insDay(83), last: fp(2), lastN: 7,
			points: fp(2), percent: nil,
			reason:  "percentage",
			summary: "Over the last 7 days your pain averaged 2.0 (7 logged days), 2.0 points higher than your baseline of 0.0 (7 logged days).",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := models.InsightsInput{From: insDay(tt.from), To: insDay(tt.to), Today: insDay(89), Logs: tt.logs}
			if tt.planStart >= 0 {
				in.Plan = insPlan(t, tt.planStart)
			}
			c := insCompute(t, in).Change
			if c.Source != tt.source {
				t.Errorf("Source = %q, want %q", c.Source, tt.source)
			}
			if c.Baseline.From != tt.baseFrom || c.Baseline.To != tt.baseTo {
				t.Errorf("baseline days = %s..%s, want %s..%s", c.Baseline.From, c.Baseline.To, tt.baseFrom, tt.baseTo)
			}
			checkFigure(t, "baseline", c.Baseline.Mean, tt.base, tt.baseN)
			if c.Last7.From != tt.last7From {
				t.Errorf("Last7.From = %s, want %s", c.Last7.From, tt.last7From)
			}
			checkFigure(t, "last 7 days", c.Last7.Mean, tt.last, tt.lastN)
			checkOptional(t, "Points", c.Points, tt.points)
			checkOptional(t, "Percent", c.Percent, tt.percent)
			if c.ByPoints != tt.byPoints || c.ByPercent != tt.byPercent || c.Meaningful != (tt.byPoints || tt.byPercent) {
				t.Errorf("ByPoints, ByPercent, Meaningful = %v, %v, %v; want %v, %v, %v",
					c.ByPoints, c.ByPercent, c.Meaningful, tt.byPoints, tt.byPercent, tt.byPoints || tt.byPercent)
			}
			if (tt.reason == "") != (c.Reason == "") || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason = %q, want one containing %q", c.Reason, tt.reason)
			}
			if (c.Summary == "") != (c.Points == nil) {
				t.Errorf("Summary = %q with Points %s", c.Summary, optString(c.Points))
			}
			if tt.summary != "" && c.Summary != tt.summary {
				t.Errorf("Summary =\n%q, want\n%q", c.Summary, tt.summary)
			}
		})
	}
}

func TestInsightsDailyAndWeekly(t *testing.T) {
	// Two weeks, Monday 2026-01-05 (day 0) to Sunday 2026-01-18 (day 13).
	logs := insHistory(
		insRun(-1, -1, 9),  // before the range: not in the series
		insRun(0, 0, 4, 6), // mean (4 + 6) / 2 = 5, max 6, N 2
		insRun(1, 1, 3),    // 3
		insRun(2, 2, 2),    // 2; the deleted 8 below does not count
		insDeleted(insRun(2, 2, 8)),
		insDeleted(insRun(3, 3, 7)), // only a deleted log: no entry
		insRun(7, 7, 7),             // week 2: 7
		insRun(8, 8, 1),             // week 2: 1
		insRun(14, 14, 9),           // after the range
	)
	got := insCompute(t, models.InsightsInput{From: insDay(0), To: insDay(13), Today: insDay(89), Logs: logs})
	want := []models.DailyPain{
		{Date: insDay(0), Mean: 5, Max: 6, N: 2},
		{Date: insDay(1), Mean: 3, Max: 3, N: 1},
		{Date: insDay(2), Mean: 2, Max: 2, N: 1},
		{Date: insDay(7), Mean: 7, Max: 7, N: 1},
		{Date: insDay(8), Mean: 1, Max: 1, N: 1},
	}
	if !slices.Equal(got.Daily, want) {
		t.Errorf("Daily = %+v\nwant %+v", got.Daily, want)
	}
	if len(got.Weekly) != 2 {
		t.Fatalf("Weekly has %d weeks, want 2: %+v", len(got.Weekly), got.Weekly)
	}
	if got.Weekly[0].WeekStart != insDay(0) || got.Weekly[1].WeekStart != insDay(7) {
		t.Errorf("week starts = %s, %s; want %s, %s", got.Weekly[0].WeekStart, got.Weekly[1].WeekStart, insDay(0), insDay(7))
	}
	// Week 1: mean of the daily means (5 + 3 + 2) / 3 = 10/3 over 3 logged days.
	checkFigure(t, "week 1", got.Weekly[0].Mean, fp(10.0/3), 3)
	// Week 2: 2 logged days < 3.
	checkFigure(t, "week 2", got.Weekly[1].Mean, nil, 2)
}

func TestInsightsWeeksStartOnMonday(t *testing.T) {
	// Wednesday 2026-01-07 (day 2) to Tuesday 2026-01-13 (day 8): the first
	// week starts on Monday the 5th, before the range, and only its days in
	// the range count: days 2–4 at 3, (3 + 3 + 3) / 3 = 3. Day 1 is outside.
	logs := insHistory(insRun(1, 1, 10), insRun(2, 4, 3), insRun(7, 8, 6))
	got := insCompute(t, models.InsightsInput{From: insDay(2), To: insDay(8), Today: insDay(89), Logs: logs})
	var starts []string
	for _, w := range got.Weekly {
		starts = append(starts, w.WeekStart)
	}
	if want := []string{insDay(0), insDay(7)}; !slices.Equal(starts, want) {
		t.Fatalf("week starts = %v, want %v", starts, want)
	}
	checkFigure(t, "first week", got.Weekly[0].Mean, fp(3), 3)
	checkFigure(t, "second week", got.Weekly[1].Mean, nil, 2)
}

func TestInsightsSessions(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	// at is 18:00 in Los Angeles on day i: 02:00 UTC on day i+1, so a
	// session dated in UTC would land a day late.
	at := func(i int) time.Time {
		d, _ := time.ParseInLocation(time.DateOnly, insDay(i), la)
		return d.Add(18 * time.Hour)
	}
	session := func(id string, day int, status models.SessionStatus) models.Session {
		return models.Session{ID: id, PatientID: "p1", ScheduledAt: at(day), DurationMinutes: 60, Status: status}
	}
	sessions := []models.Session{
		session("late", 60, models.SessionCompleted), // listed first, sorted last
		session("flagged", 40, models.SessionCompleted),
		session("calm", 50, models.SessionCompleted),
		session("booked", 70, models.SessionScheduled),
		session("called-off", 72, models.SessionCancelled),
		session("before-range", 20, models.SessionCompleted),
	}
	logs := insHistory(
		// "flagged" on day 40: before days 37–39 all 5 → 5 (N 3); the
		// session day's 9 counts on neither side.
		insRun(37, 39, 5), insRun(40, 40, 9),
		// +24 h, day 41: 6 and 8 → 7 (N 2 logs); +48 h, day 42: 7 (N 1; the
		// deleted 0 does not count); day 43: 5.
		// After: daily means 7, 7, 5 → 19/3 (N 3); change 19/3 − 5 = 4/3.
		// Flag: 7 − 5 = 2.0, exactly the threshold → on.
		insRun(41, 41, 6, 8), insRun(42, 42, 7), insDeleted(insRun(42, 42, 0)), insRun(43, 43, 5),
		// "calm" on day 50: before day 47 at 4, day 48 at 5, day 49 none →
		// 4.5 (N 2, just enough). +24 h day 51: 6, +48 h day 52: 6, day 53
		// none → after 6 (N 2); change 1.5. Flag: 6 − 4.5 = 1.5 < 2 → off.
		insRun(47, 47, 4), insRun(48, 48, 5), insRun(51, 52, 6),
		// "late" on day 60: before only day 59 (N 1) and after only day 62
		// (N 1): no means, no change and no flag though +48 h is 9.
		insRun(59, 59, 3), insRun(62, 62, 9),
	)
	got := insCompute(t, models.InsightsInput{
		From: insDay(30), To: insDay(89), Today: insDay(89), Logs: logs, Sessions: sessions, Loc: la,
	})
	want := []struct {
		id, date              string
		before, after, change *float64
		beforeN, afterN       int
		sore24, sore48        *float64
		sore24N, sore48N      int
		flag                  bool
	}{
		{"flagged", insDay(40), fp(5), fp(19.0 / 3), fp(4.0 / 3), 3, 3, fp(7), fp(7), 2, 1, true},
		{"calm", insDay(50), fp(4.5), fp(6), fp(1.5), 2, 2, fp(6), fp(6), 1, 1, false},
		{"late", insDay(60), nil, nil, nil, 1, 1, nil, fp(9), 0, 1, false},
	}
	if len(got.Sessions) != len(want) {
		t.Fatalf("got %d sessions, want %d: %+v", len(got.Sessions), len(want), got.Sessions)
	}
	for i, w := range want {
		s := got.Sessions[i]
		if s.SessionID != w.id || s.Date != w.date {
			t.Errorf("session %d = %s on %s, want %s on %s", i, s.SessionID, s.Date, w.id, w.date)
			continue
		}
		checkFigure(t, w.id+" before", s.Before, w.before, w.beforeN)
		checkFigure(t, w.id+" after", s.After, w.after, w.afterN)
		checkOptional(t, w.id+" change", s.Change, w.change)
		checkFigure(t, w.id+" +24h", s.Soreness24h, w.sore24, w.sore24N)
		checkFigure(t, w.id+" +48h", s.Soreness48h, w.sore48, w.sore48N)
		wantAdvice := ""
		if w.flag {
			wantAdvice = models.SorenessAdvice
		}
		if s.Flag != w.flag || s.Advice != wantAdvice {
			t.Errorf("%s: Flag, Advice = %v, %q; want %v, %q", w.id, s.Flag, s.Advice, w.flag, wantAdvice)
		}
	}
	if !strings.Contains(models.SorenessAdvice, "within 48 hours") || !strings.Contains(models.SorenessAdvice, "therapist") {
		t.Errorf("SorenessAdvice = %q", models.SorenessAdvice)
	}

	t.Run("nil location is UTC", func(t *testing.T) {
		got := insCompute(t, models.InsightsInput{
			From: insDay(30), To: insDay(89), Today: insDay(89), Sessions: sessions[2:3],
		})
		// 18:00 in Los Angeles on day 50 is 02:00 UTC on day 51.
		if len(got.Sessions) != 1 || got.Sessions[0].Date != insDay(51) {
			t.Errorf("Sessions = %+v, want calm on %s", got.Sessions, insDay(51))
		}
	})

	t.Run("no sessions", func(t *testing.T) {
		got := insCompute(t, models.InsightsInput{From: insDay(30), To: insDay(89), Today: insDay(89), Logs: logs})
		if len(got.Sessions) != 0 {
			t.Errorf("Sessions = %+v, want none", got.Sessions)
		}
	})
}

// insReminder is a reminder of kind on day i; sent sets SentAt and status
// sent, acked sets AckedAt.
func insReminder(kind models.ReminderKind, i int, status models.ReminderStatus, sent, acked bool) models.Reminder {
	at := time.Date(2026, 1, 5+i, 18, 0, 0, 0, time.UTC)
	r := models.Reminder{PatientID: "p1", Kind: kind, LocalDate: insDay(i), DueAt: at, Status: status}
	if sent {
		r.SentAt = &at
	}
	if acked {
		r.AckedAt = &at
	}
	return r
}

func TestInsightsAdherence(t *testing.T) {
	var rs []models.Reminder
	// stretching: days 0–9 sent, days 0–6 acknowledged.
	for i := range 10 {
		rs = append(rs, insReminder(models.KindStretching, i, models.ReminderSent, true, i <= 6))
	}
	rs = append(rs,
		// Pending and not done: not asked yet.
		insReminder(models.KindStretching, 10, models.ReminderPending, false, false),
		// Acknowledged before it was pushed, so skipped and never sent: asked and done.
		insReminder(models.KindStretching, 11, models.ReminderSkipped, false, true),
		// After the range.
		insReminder(models.KindStretching, 95, models.ReminderSent, true, true),
		// heat_ice: 2 sent, both done.
		insReminder(models.KindHeatIce, 3, models.ReminderSent, true, true),
		insReminder(models.KindHeatIce, 4, models.ReminderSent, true, true),
		// hydration_after: 3 sent and not done; a failed one that never went
		// out does not count; an expired one the patient acknowledged anyway does.
		insReminder(models.KindHydrationAfter, 3, models.ReminderSent, true, false),
		insReminder(models.KindHydrationAfter, 3, models.ReminderSent, true, false),
		insReminder(models.KindHydrationAfter, 3, models.ReminderSent, true, false),
		insReminder(models.KindHydrationAfter, 5, models.ReminderFailed, false, false),
		insReminder(models.KindHydrationAfter, 6, models.ReminderExpired, false, true),
		// Not an adherence kind.
		insReminder(models.KindSessionUpcoming, 3, models.ReminderSent, true, true),
	)
	got := insCompute(t, models.InsightsInput{From: insDay(0), To: insDay(89), Today: insDay(89), Reminders: rs})
	var kinds []models.ReminderKind
	for _, a := range got.Adherence {
		kinds = append(kinds, a.Kind)
	}
	if !slices.Equal(kinds, models.AdherenceKinds) {
		t.Fatalf("Adherence kinds = %v, want %v", kinds, models.AdherenceKinds)
	}
	want := map[models.ReminderKind]struct {
		asked, done int
		rate        *float64
	}{
		models.KindStretching:      {11, 8, fp(8.0 / 11)}, // days 0–9 and 11; done 0–6 and 11
		models.KindHeatIce:         {2, 2, nil},           // 2 < 3: no rate
		models.KindHydrationAfter:  {4, 1, fp(0.25)},      // 1 / 4
		models.KindDailyCheckin:    {0, 0, nil},
		models.KindHydrationBefore: {0, 0, nil},
		models.KindTakeItEasy:      {0, 0, nil},
		models.KindSorenessCheckin: {0, 0, nil},
	}
	for _, a := range got.Adherence {
		w := want[a.Kind]
		if a.Asked != w.asked || a.Done != w.done {
			t.Errorf("%s: asked %d, done %d; want %d, %d", a.Kind, a.Asked, a.Done, w.asked, w.done)
		}
		checkFigure(t, string(a.Kind)+" rate", a.Rate, w.rate, w.asked)
	}
}

func TestInsightsHabits(t *testing.T) {
	var rs []models.Reminder
	add := func(kind models.ReminderKind, acked bool, days ...int) {
		for _, i := range days {
			rs = append(rs, insReminder(kind, i, models.ReminderSent, true, acked))
		}
	}
	// stretching done on days 10, 12, 14 (next days 11, 13, 15 at 3, 3, 4 →
	// 10/3) and on 30 (day 31 unlogged: left out); skipped on 20, 22, 24
	// (next days 21, 23, 25 at 5, 6, 5 → 16/3). Difference 10/3 − 16/3 = −2.
	add(models.KindStretching, true, 10, 12, 14, 30)
	add(models.KindStretching, false, 20, 22, 24)
	// take_it_easy the other way round: difference 16/3 − 10/3 = +2.
	add(models.KindTakeItEasy, true, 20, 22, 24)
	add(models.KindTakeItEasy, false, 10, 12, 14)
	// heat_ice done on 40–42 and skipped on 50–52; every next day is 5: difference 0.
	add(models.KindHeatIce, true, 40, 41, 42)
	add(models.KindHeatIce, false, 50, 51, 52)
	// hydration_after: day 10 has three reminders, only one done, so the
	// day counts as done; day 12 done; days 20, 22, 24 skipped. 2 done days < 3.
	rs = append(rs,
		insReminder(models.KindHydrationAfter, 10, models.ReminderSent, true, false),
		insReminder(models.KindHydrationAfter, 10, models.ReminderSent, true, true),
		insReminder(models.KindHydrationAfter, 10, models.ReminderSent, true, false))
	add(models.KindHydrationAfter, true, 12)
	add(models.KindHydrationAfter, false, 20, 22, 24)

	logs := insHistory(
		insRun(11, 11, 3), insRun(13, 13, 3), insRun(15, 15, 4),
		insRun(21, 21, 5), insRun(23, 23, 6), insRun(25, 25, 5),
		insRun(41, 43, 5), insRun(51, 53, 5),
	)
	got := insCompute(t, models.InsightsInput{From: insDay(0), To: insDay(89), Today: insDay(89), Logs: logs, Reminders: rs})
	var kinds []models.ReminderKind
	for _, h := range got.Habits {
		kinds = append(kinds, h.Kind)
	}
	if !slices.Equal(kinds, models.HabitKinds) {
		t.Fatalf("Habits kinds = %v, want %v", kinds, models.HabitKinds)
	}
	const caveat = " This is an association in your own data, not proof that one causes the other."
	want := map[models.ReminderKind]struct {
		done, skipped    *float64
		doneN, skippedN  int
		diff             *float64
		sentence, reason string
	}{
		models.KindStretching: {fp(10.0 / 3), fp(16.0 / 3), 3, 3, fp(-2),
			"On days after you did this, your pain was on average 2.0 points lower." + caveat, ""},
		models.KindTakeItEasy: {fp(16.0 / 3), fp(10.0 / 3), 3, 3, fp(2),
			"On days after you did this, your pain was on average 2.0 points higher." + caveat, ""},
		models.KindHeatIce: {fp(5), fp(5), 3, 3, fp(0),
			"On days after you did this, your pain was on average about the same as on days after you did not." + caveat, ""},
		models.KindHydrationAfter: {nil, fp(16.0 / 3), 2, 3, nil, "",
			"Not enough data: 2 days after doing it and 3 days after not doing it, each followed by a pain log; at least 3 of each needed."},
	}
	for _, h := range got.Habits {
		w := want[h.Kind]
		checkFigure(t, string(h.Kind)+" after done", h.AfterDone, w.done, w.doneN)
		checkFigure(t, string(h.Kind)+" after skipped", h.AfterSkipped, w.skipped, w.skippedN)
		checkOptional(t, string(h.Kind)+" difference", h.Difference, w.diff)
		if h.Sentence != w.sentence || h.Reason != w.reason {
			t.Errorf("%s: Sentence, Reason = %q, %q\nwant %q, %q", h.Kind, h.Sentence, h.Reason, w.sentence, w.reason)
		}
	}
}

func TestInsightsStreakAndDaysMissed(t *testing.T) {
	tests := []struct {
		name      string
		from, to  int // today is day 89
		logs      []models.PainLog
		streak    int
		streakEnd string
		elapsed   int
		missed    int
	}{
		// Days 0–89 elapsed (90); logged 80–89 → 80 missed. Streak 80–89 = 10.
		{"logged today", 0, 99, insRun(80, 89, 5), 10, insDay(89), 90, 80},
		// Today not logged yet: the streak ends yesterday, 80–88 = 9.
		{"today not logged yet", 0, 89, insRun(80, 88, 5), 9, insDay(88), 90, 81},
		// Neither today nor yesterday: no streak.
		{"streak broken", 0, 89, insRun(80, 87, 5), 0, "", 90, 82},
		// A deleted log today is no log: streak 80–88.
		{"deleted log today", 0, 89, insHistory(insRun(80, 88, 5), insDeleted(insRun(89, 89, 5))), 9, insDay(88), 90, 81},
		// A gap on day 79 stops the count: 80–89 = 10, though 70–78 are logged.
		{"gap", 0, 89, insHistory(insRun(70, 78, 5), insRun(80, 89, 5)), 10, insDay(89), 90, 71},
		// Range 85–99: days 85–89 have elapsed (5); 89 is unlogged → 1 missed.
		// The streak reaches before the range: 80–88.
		{"range reaching past today", 85, 99, insRun(80, 88, 5), 9, insDay(88), 5, 1},
		// A range wholly in the future has no elapsed days.
		{"future range", 95, 99, insRun(80, 89, 5), 10, insDay(89), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := insCompute(t, models.InsightsInput{From: insDay(tt.from), To: insDay(tt.to), Today: insDay(89), Logs: tt.logs})
			if got.StreakDays != tt.streak || got.StreakEnd != tt.streakEnd {
				t.Errorf("streak = %d ending %q, want %d ending %q", got.StreakDays, got.StreakEnd, tt.streak, tt.streakEnd)
			}
			if got.DaysElapsed != tt.elapsed || got.DaysMissed != tt.missed {
				t.Errorf("elapsed, missed = %d, %d; want %d, %d", got.DaysElapsed, got.DaysMissed, tt.elapsed, tt.missed)
			}
		})
	}
}

func TestInsightsRejectsBadRanges(t *testing.T) {
	tests := []struct {
		name            string
		from, to, today string
		fields          []string // nil: accepted
	}{
		{"a year of 365 days", "2026-01-01", "2026-12-31", "2026-12-31", nil},
		// 2026-01-01 to 2027-01-01 is 366 days, MaxInsightsDays.
		{"366 days", "2026-01-01", "2027-01-01", "2026-12-31", nil},
		{"367 days", "2026-01-01", "2027-01-02", "2026-12-31", []string{"to"}},
		{"one day", "2026-03-01", "2026-03-01", "2026-03-01", nil},
		{"to before from", "2026-03-02", "2026-03-01", "2026-03-05", []string{"to"}},
		{"malformed dates", "2026-02-30", "03/01/2026", "", []string{"from", "to", "today"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := models.ComputeInsights(models.InsightsInput{From: tt.from, To: tt.to, Today: tt.today})
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if models.ErrorCode(err) != models.ErrInvalid {
				t.Fatalf("err = %v, want an invalid error", err)
			}
			var fields []string
			for _, f := range models.FieldsOf(err) {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("fields = %v, want %v", fields, tt.fields)
			}
		})
	}
}
