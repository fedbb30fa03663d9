package models_test

import (
	"slices"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func mustPlan(start string, c models.Cadence) models.Plan {
	p, err := models.NewPlan("plan-1", "patient-1", start, c, false, mustTime("2026-01-01T00:00:00Z"))
	if err != nil {
		panic(err)
	}
	return p
}

func TestDefaultCadence(t *testing.T) {
	want := models.Cadence{
		InitialSessions: 6, MaintenanceWeeks: 4, PreferredWeekday: time.Thursday, PreferredTime: "10:00",
		SessionMinutes: 60, Aftercare: models.AftercareEither, StretchingTime: "18:00",
	}
	c := models.DefaultCadence(time.Thursday)
	if c != want {
		t.Errorf("DefaultCadence = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the default cadence is invalid: %v", err)
	}
}

func TestCadenceValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*models.Cadence)
		want   string
	}{
		{"defaults", func(*models.Cadence) {}, ""},
		{"the shortest plan: 4 sessions, every 2 weeks, 90 minutes", func(c *models.Cadence) {
			c.InitialSessions, c.MaintenanceWeeks, c.SessionMinutes = 4, 2, 90
		}, ""},
		{"maintenance every 6 weeks", func(c *models.Cadence) { c.MaintenanceWeeks = 6 }, ""},
		{"monthly maintenance without weeks", func(c *models.Cadence) { c.MaintenanceMonthly, c.MaintenanceWeeks = true, 0 }, ""},
		{"monthly maintenance with weeks too", func(c *models.Cadence) { c.MaintenanceMonthly = true }, "invalid maintenance_weeks"},
		{"3 initial sessions", func(c *models.Cadence) { c.InitialSessions = 3 }, "invalid initial_sessions"},
		{"7 initial sessions", func(c *models.Cadence) { c.InitialSessions = 7 }, "invalid initial_sessions"},
		{"maintenance every week", func(c *models.Cadence) { c.MaintenanceWeeks = 1 }, "invalid maintenance_weeks"},
		{"maintenance every 7 weeks", func(c *models.Cadence) { c.MaintenanceWeeks = 7 }, "invalid maintenance_weeks"},
		{"no weekday", func(c *models.Cadence) { c.PreferredWeekday = 7 }, "invalid preferred_weekday"},
		{"a 75-minute session", func(c *models.Cadence) { c.SessionMinutes = 75 }, "invalid session_minutes"},
		{"an unknown aftercare", func(c *models.Cadence) { c.Aftercare = "cold" }, "invalid aftercare"},
		{"every field wrong at once", func(c *models.Cadence) {
			*c = models.Cadence{PreferredWeekday: -1, PreferredTime: "24:00", StretchingTime: "6pm"}
		}, "invalid initial_sessions maintenance_weeks preferred_weekday preferred_time session_minutes aftercare stretching_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := models.DefaultCadence(time.Monday)
			tt.change(&c)
			if got := codeAndFields(c.Validate()); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewPlan(t *testing.T) {
	now := mustTime("2026-03-02T15:00:00Z")
	t.Run("a screening that needs clearance holds the plan", func(t *testing.T) {
		p, err := models.NewPlan("plan-1", "patient-1", "2026-03-02", models.DefaultCadence(time.Monday), true, now)
		if err != nil {
			t.Fatal(err)
		}
		wantHistory := []models.PlanChange{{At: now, What: models.PlanChangeStatus, To: "needs_clearance"}}
		if p.Status != models.PlanNeedsClearance || p.Phase != models.PhaseInitial || p.StartDate() != "2026-03-02" ||
			!slices.Equal(p.History, wantHistory) || !p.CreatedAt.Equal(now) || !p.UpdatedAt.Equal(now) {
			t.Errorf("NewPlan = %+v", p)
		}
	})
	t.Run("a clear screening starts it active", func(t *testing.T) {
		p, err := models.NewPlan("plan-1", "patient-1", "2026-03-02", models.DefaultCadence(time.Monday), false, now)
		if err != nil || p.Status != models.PlanActive {
			t.Errorf("NewPlan = %v, %v; want an active plan", p.Status, err)
		}
	})
	t.Run("a bad start date and cadence are reported together", func(t *testing.T) {
		c := models.DefaultCadence(time.Monday)
		c.SessionMinutes = 45
		_, err := models.NewPlan("plan-1", "patient-1", "2026-3-2", c, false, now)
		if got, want := codeAndFields(err), "invalid start_date session_minutes"; got != want {
			t.Errorf("NewPlan() = %q, want %q", got, want)
		}
	})
}

func TestPlanCadenceOn(t *testing.T) {
	first, second := models.DefaultCadence(time.Monday), models.DefaultCadence(time.Friday)
	p := mustPlan("2026-01-05", first)
	p.Cadences = append(p.Cadences, models.CadenceVersion{From: "2026-02-01", Cadence: second})
	tests := []struct {
		date string
		want models.Cadence
	}{
		{"2025-12-31", first}, // before the start, the plan's first cadence
		{"2026-01-05", first},
		{"2026-01-31", first},
		{"2026-02-01", second},
		{"2027-06-01", second},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			if got := p.CadenceOn(tt.date); got != tt.want {
				t.Errorf("CadenceOn(%s).PreferredWeekday = %v, want %v", tt.date, got.PreferredWeekday, tt.want.PreferredWeekday)
			}
		})
	}
}

func TestPlanChangeCadence(t *testing.T) {
	edmonton := mustZone("America/Edmonton")
	// 03:00 UTC on 1 March is 28 February, 20:00 in Edmonton: "today" is the 28th.
	now := mustTime("2026-03-01T03:00:00Z")
	original := models.DefaultCadence(time.Monday)
	every2 := models.DefaultCadence(time.Monday)
	every2.MaintenanceWeeks = 2
	bad := every2
	bad.InitialSessions = 9
	tests := []struct {
		name    string
		status  models.PlanStatus
		pending bool // a version from 2026-03-10 is already planned
		from    string
		c       models.Cadence
		want    string
		// wantFroms are the versions' dates afterwards, when accepted.
		wantFroms []string
	}{
		{"from today in the patient's zone", models.PlanActive, false, "2026-02-28", every2, "", []string{"2026-01-05", "2026-02-28"}},
		{"on a paused plan, from a later date", models.PlanPaused, true, "2026-03-20", every2, "", []string{"2026-01-05", "2026-03-10", "2026-03-20"}},
		{"from the pending version's own date replaces it", models.PlanActive, true, "2026-03-10", every2, "", []string{"2026-01-05", "2026-03-10"}},
		{"yesterday in the patient's zone", models.PlanActive, false, "2026-02-27", every2, "invalid effective_from", nil},
		{"today, but before the pending version's date", models.PlanActive, true, "2026-02-28", every2, "invalid effective_from", nil},
		{"not a date", models.PlanActive, false, "next week", every2, "invalid effective_from", nil},
		{"an invalid cadence", models.PlanActive, false, "2026-03-20", bad, "invalid initial_sessions", nil},
		{"a completed plan", models.PlanCompleted, false, "2026-03-20", every2, "conflict", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan("2026-01-05", original)
			p.Status = tt.status
			if tt.pending {
				p.Cadences = append(p.Cadences, models.CadenceVersion{From: "2026-03-10", Cadence: models.DefaultCadence(time.Friday)})
			}
			before := p.Cadences[len(p.Cadences)-1].From
			err := p.ChangeCadence(tt.from, tt.c, now, edmonton)
			if got := codeAndFields(err); got != tt.want {
				t.Fatalf("ChangeCadence(%s) = %q, want %q", tt.from, got, tt.want)
			}
			if err != nil {
				if len(p.History) != 1 {
					t.Errorf("a refused change was recorded: %+v", p.History)
				}
				return
			}
			var froms []string
			for _, v := range p.Cadences {
				froms = append(froms, v.From)
			}
			if !slices.Equal(froms, tt.wantFroms) {
				t.Errorf("versions from %v, want %v", froms, tt.wantFroms)
			}
			if got := p.CadenceOn(tt.from); got != tt.c {
				t.Errorf("CadenceOn(%s) = %+v, want the new cadence", tt.from, got)
			}
			if got := p.CadenceOn("2026-02-27"); got != original {
				t.Errorf("the past was rewritten: CadenceOn(2026-02-27) = %+v", got)
			}
			wantLast := models.PlanChange{At: now, What: models.PlanChangeCadence, From: before, To: tt.from}
			if last := p.History[len(p.History)-1]; last != wantLast {
				t.Errorf("history ends with %+v, want %+v", last, wantLast)
			}
		})
	}
}

func TestPlanStatusTransitions(t *testing.T) {
	cleared := models.Screening{
		Answers:   answers(models.RecentSurgery),
		Clearance: &models.Clearance{Date: "2026-02-20"},
	}
	uncleared := models.Screening{Answers: answers(models.RecentSurgery)}
	actions := map[string]func(*models.Plan, time.Time) error{
		"pause":             (*models.Plan).Pause,
		"resume":            (*models.Plan).Resume,
		"complete":          (*models.Plan).Complete,
		"clear":             func(p *models.Plan, at time.Time) error { return p.Clear(cleared, at) },
		"clear without one": func(p *models.Plan, at time.Time) error { return p.Clear(uncleared, at) },
	}
	tests := []struct {
		from   models.PlanStatus
		action string
		want   models.PlanStatus // "" when refused with a conflict
	}{
		{models.PlanActive, "pause", models.PlanPaused},
		{models.PlanPaused, "pause", ""},
		{models.PlanNeedsClearance, "pause", ""},
		{models.PlanCompleted, "pause", ""},
		{models.PlanPaused, "resume", models.PlanActive},
		{models.PlanActive, "resume", ""},
		{models.PlanNeedsClearance, "resume", ""},
		{models.PlanCompleted, "resume", ""},
		{models.PlanActive, "complete", models.PlanCompleted},
		{models.PlanPaused, "complete", models.PlanCompleted},
		{models.PlanNeedsClearance, "complete", models.PlanCompleted},
		{models.PlanCompleted, "complete", ""},
		{models.PlanNeedsClearance, "clear", models.PlanActive},
		{models.PlanNeedsClearance, "clear without one", ""},
		{models.PlanActive, "clear", ""},
		{models.PlanPaused, "clear", ""},
	}
	at := mustTime("2026-03-02T15:00:00Z")
	for _, tt := range tests {
		t.Run(string(tt.from)+" "+tt.action, func(t *testing.T) {
			p := mustPlan("2026-03-02", models.DefaultCadence(time.Monday))
			p.Status = tt.from
			err := actions[tt.action](&p, at)
			if tt.want == "" {
				if models.ErrorCode(err) != models.ErrConflict || p.Status != tt.from || len(p.History) != 1 {
					t.Errorf("got %v, status %s, history %+v; want a conflict and no change", err, p.Status, p.History)
				}
				return
			}
			wantLast := models.PlanChange{At: at, What: models.PlanChangeStatus, From: string(tt.from), To: string(tt.want)}
			if err != nil || p.Status != tt.want || p.History[len(p.History)-1] != wantLast || !p.UpdatedAt.Equal(at) {
				t.Errorf("got %v, status %s, history %+v; want %s recorded", err, p.Status, p.History, tt.want)
			}
		})
	}
}

func TestPlanApplyCompletion(t *testing.T) {
	edmonton := mustZone("America/Edmonton")
	// Six initial sessions until 31 January, four from 1 February.
	four := models.DefaultCadence(time.Monday)
	four.InitialSessions = 4
	tests := []struct {
		name      string
		phase     models.PlanPhase
		status    models.PlanStatus
		completed int
		at        string
		want      bool
	}{
		{"the fifth of six", models.PhaseInitial, models.PlanActive, 5, "2026-01-20T17:00:00Z", false},
		{"the sixth of six", models.PhaseInitial, models.PlanActive, 6, "2026-01-27T17:00:00Z", true},
		{"the fourth, on the patient's 31 January though 1 February in UTC", models.PhaseInitial, models.PlanActive, 4, "2026-02-01T05:00:00Z", false},
		{"the fourth, once four are enough", models.PhaseInitial, models.PlanActive, 4, "2026-02-01T17:00:00Z", true},
		{"the fifth, after the change made four enough", models.PhaseInitial, models.PlanActive, 5, "2026-02-03T17:00:00Z", true},
		{"on a paused plan", models.PhaseInitial, models.PlanPaused, 6, "2026-01-27T17:00:00Z", true},
		{"already in maintenance", models.PhaseMaintenance, models.PlanActive, 7, "2026-02-24T17:00:00Z", false},
		{"on a completed plan", models.PhaseInitial, models.PlanCompleted, 6, "2026-01-27T17:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan("2025-12-22", models.DefaultCadence(time.Monday))
			p.Cadences = append(p.Cadences, models.CadenceVersion{From: "2026-02-01", Cadence: four})
			p.Phase, p.Status = tt.phase, tt.status
			at := mustTime(tt.at)
			if got := p.ApplyCompletion(tt.completed, at, edmonton); got != tt.want {
				t.Fatalf("ApplyCompletion(%d, %s) = %v, want %v", tt.completed, tt.at, got, tt.want)
			}
			if !tt.want {
				if p.Phase != tt.phase || len(p.History) != 1 {
					t.Errorf("unchanged plan changed: phase %s, history %+v", p.Phase, p.History)
				}
				return
			}
			wantLast := models.PlanChange{At: at, What: models.PlanChangePhase, From: "initial", To: "maintenance"}
			if p.Phase != models.PhaseMaintenance || p.InitialCompleted != tt.completed || p.History[len(p.History)-1] != wantLast {
				t.Errorf("phase %s, initial completed %d, history %+v", p.Phase, p.InitialCompleted, p.History)
			}
		})
	}
}
