package handlers

import (
	"time"

	"github.com/backcare/backcare/models"
)

// figureJSON is one figure and what it rests on; with too few data points
// value is null and reason says why.
type figureJSON struct {
	Value  *float64 `json:"value"`
	N      int      `json:"n"`
	Need   int      `json:"needs"`
	Reason string   `json:"reason,omitempty"`
}

type dailyJSON struct {
	Date string  `json:"date"`
	Mean float64 `json:"mean"`
	Max  int     `json:"max"`
	N    int     `json:"n"`
}

type weeklyJSON struct {
	WeekStart string     `json:"week_start"`
	Mean      figureJSON `json:"mean"`
}

type windowJSON struct {
	From string     `json:"from,omitempty"`
	To   string     `json:"to,omitempty"`
	Mean figureJSON `json:"mean"`
}

type changeJSON struct {
	BaselineSource string     `json:"baseline_source"`
	Baseline       windowJSON `json:"baseline"`
	Last7Days      windowJSON `json:"last_7_days"`
	Points         *float64   `json:"points"`
	Percent        *float64   `json:"percent_improvement"`
	ByPoints       bool       `json:"meaningful_by_points"`
	ByPercent      bool       `json:"meaningful_by_percent"`
	Meaningful     bool       `json:"clinically_meaningful"`
	Reason         string     `json:"reason,omitempty"`
	Summary        string     `json:"summary,omitempty"`
}

type sessionPainJSON struct {
	SessionID   string     `json:"session_id"`
	Date        string     `json:"date"`
	Before      figureJSON `json:"before"`
	After       figureJSON `json:"after"`
	Change      *float64   `json:"change"`
	Soreness24h figureJSON `json:"soreness_24h"`
	Soreness48h figureJSON `json:"soreness_48h"`
	Flag        bool       `json:"flag"`
	Advice      string     `json:"advice,omitempty"`
}

type adherenceJSON struct {
	Kind  string     `json:"kind"`
	Asked int        `json:"asked"`
	Done  int        `json:"done"`
	Rate  figureJSON `json:"rate"`
}

type habitJSON struct {
	Kind         string     `json:"kind"`
	AfterDone    figureJSON `json:"next_day_pain_after_done"`
	AfterSkipped figureJSON `json:"next_day_pain_after_not_done"`
	Difference   *float64   `json:"difference"`
	Sentence     string     `json:"sentence,omitempty"`
	Reason       string     `json:"reason,omitempty"`
}

type insightsJSON struct {
	From        string            `json:"from"`
	To          string            `json:"to"`
	Daily       []dailyJSON       `json:"daily"`
	Weekly      []weeklyJSON      `json:"weekly"`
	Change      changeJSON        `json:"change"`
	Sessions    []sessionPainJSON `json:"sessions"`
	Adherence   []adherenceJSON   `json:"adherence"`
	Habits      []habitJSON       `json:"habits"`
	StreakDays  int               `json:"streak_days"`
	StreakEnd   string            `json:"streak_end,omitempty"`
	DaysElapsed int               `json:"days_elapsed"`
	DaysMissed  int               `json:"days_missed"`
	// Questionnaires: each instrument's baseline against its latest answer.
	Questionnaires []questionnaireChangeJSON `json:"questionnaires"`
}

// scoredJSON is one answer a comparison rests on.
type scoredJSON struct {
	ID        string    `json:"id"`
	Score     float64   `json:"score"`
	LocalDate string    `json:"local_date"`
	At        time.Time `json:"answered_at"`
}

type questionnaireChangeJSON struct {
	Questionnaire string      `json:"questionnaire"`
	Baseline      *scoredJSON `json:"baseline"`
	Latest        *scoredJSON `json:"latest"`
	N             int         `json:"n"`
	Points        *float64    `json:"points"`
	Percent       *float64    `json:"percent_improvement"`
	Meaningful    bool        `json:"meaningful"`
	Threshold     float64     `json:"meaningful_percent"`
	Reason        string      `json:"reason,omitempty"`
}

func toScored(r *models.QuestionnaireResponse) *scoredJSON {
	if r == nil {
		return nil
	}
	return &scoredJSON{ID: r.ClientID(), Score: r.Score, LocalDate: r.LocalDate, At: r.AnsweredAt}
}

func toQuestionnaireChange(ch models.QuestionnaireChange) questionnaireChangeJSON {
	q, _ := models.LookupQuestionnaire(ch.Questionnaire)
	return questionnaireChangeJSON{Questionnaire: ch.Questionnaire, Baseline: toScored(ch.Baseline), Latest: toScored(ch.Latest), N: ch.N,
		Points: ch.Points, Percent: ch.Percent, Meaningful: ch.Meaningful, Threshold: q.Meaningful.Percent, Reason: ch.Reason}
}

func toFigure(f models.Figure) figureJSON {
	return figureJSON{Value: f.Value, N: f.N, Need: f.Need, Reason: f.Reason}
}

func toWindow(w models.PainWindow) windowJSON {
	return windowJSON{From: w.From, To: w.To, Mean: toFigure(w.Mean)}
}

func toChange(c models.PainChange) changeJSON {
	return changeJSON{
		BaselineSource: string(c.Source), Baseline: toWindow(c.Baseline), Last7Days: toWindow(c.Last7),
		Points: c.Points, Percent: c.Percent, ByPoints: c.ByPoints, ByPercent: c.ByPercent,
		Meaningful: c.Meaningful, Reason: c.Reason, Summary: c.Summary,
	}
}

func toInsightsJSON(in models.Insights) insightsJSON {
	out := insightsJSON{
		From: in.From, To: in.To,
		Daily: []dailyJSON{}, Weekly: []weeklyJSON{}, Sessions: []sessionPainJSON{}, Adherence: []adherenceJSON{}, Habits: []habitJSON{},
		Questionnaires: []questionnaireChangeJSON{},
		Change:         toChange(in.Change),
		StreakDays:     in.StreakDays, StreakEnd: in.StreakEnd, DaysElapsed: in.DaysElapsed, DaysMissed: in.DaysMissed,
	}
	for _, d := range in.Daily {
		out.Daily = append(out.Daily, dailyJSON{Date: d.Date, Mean: d.Mean, Max: d.Max, N: d.N})
	}
	for _, q := range in.Questionnaires {
		out.Questionnaires = append(out.Questionnaires, toQuestionnaireChange(q))
	}
	for _, w := range in.Weekly {
		out.Weekly = append(out.Weekly, weeklyJSON{WeekStart: w.WeekStart, Mean: toFigure(w.Mean)})
	}
	for _, s := range in.Sessions {
		out.Sessions = append(out.Sessions, sessionPainJSON{
			SessionID: s.SessionID, Date: s.Date, Before: toFigure(s.Before), After: toFigure(s.After), Change: s.Change,
			Soreness24h: toFigure(s.Soreness24h), Soreness48h: toFigure(s.Soreness48h), Flag: s.Flag, Advice: s.Advice,
		})
	}
	for _, a := range in.Adherence {
		out.Adherence = append(out.Adherence, adherenceJSON{Kind: string(a.Kind), Asked: a.Asked, Done: a.Done, Rate: toFigure(a.Rate)})
	}
	for _, h := range in.Habits {
		out.Habits = append(out.Habits, habitJSON{
			Kind: string(h.Kind), AfterDone: toFigure(h.AfterDone), AfterSkipped: toFigure(h.AfterSkipped),
			Difference: h.Difference, Sentence: h.Sentence, Reason: h.Reason,
		})
	}
	return out
}
