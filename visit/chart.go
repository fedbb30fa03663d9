package visit

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/backcare/backcare/models"
)

// Chart is the pain chart's geometry, computed here so that the template
// (ChartTemplate) only places what it is given.
type Chart struct {
	From, To                                string
	Width, Height, Left, Right, Top, Bottom float64
	GridLines                               []Mark
	// Dates are the ticks of the time axis: the first and last day and
	// evenly between, at most chartDateTicks in all.
	Dates    []Mark
	Points   []Mark
	Line     string
	Sessions []Mark
	Baseline *Mark
}

// Mark is one placed thing on the chart, with its label.
type Mark struct {
	X, Y  float64
	Label string
}

// chartDateTicks is how many dates the time axis names at most: enough
// to read a day off it, few enough not to crowd at a tablet's width.
const chartDateTicks = 7

// DrawPain places the daily means of ins over [from, to], the days with a
// massage and the baseline.
func DrawPain(from, to string, ins models.Insights, sessionDays []string) Chart {
	c := Chart{From: from, To: to, Width: 720, Height: 262, Left: 36, Right: 690, Top: 12, Bottom: 236}
	start, _ := time.Parse(time.DateOnly, from)
	end, _ := time.Parse(time.DateOnly, to)
	days := math.Max(1, end.Sub(start).Hours()/24)
	x := func(d time.Time) float64 { return round1(c.Left + (c.Right-c.Left)*d.Sub(start).Hours()/24/days) }
	xOf := func(date string) float64 {
		d, _ := time.Parse(time.DateOnly, date)
		return x(d)
	}
	y := func(score float64) float64 { return round1(c.Bottom - (c.Bottom-c.Top)*score/10) }
	for s := 0; s <= 10; s += 2 {
		c.GridLines = append(c.GridLines, Mark{Y: y(float64(s)), Label: fmt.Sprint(s)})
	}
	// Ticks spread evenly from the first day to the last, on whole days.
	ticks := math.Min(chartDateTicks-1, days)
	for i := 0.0; i <= ticks; i++ {
		d := start.AddDate(0, 0, int(math.Round(i*days/ticks)))
		if d.After(end) {
			break
		}
		c.Dates = append(c.Dates, Mark{X: x(d), Y: c.Bottom + 18, Label: d.Format("2 Jan")})
	}
	var line []string
	for _, d := range ins.Daily {
		p := Mark{X: xOf(d.Date), Y: y(d.Mean), Label: fmt.Sprintf("%s: %.1f (%d log%s)", d.Date, d.Mean, d.N, Plural(d.N))}
		c.Points = append(c.Points, p)
		line = append(line, fmt.Sprintf("%g,%g", p.X, p.Y))
	}
	c.Line = strings.Join(line, " ")
	for _, d := range sessionDays {
		c.Sessions = append(c.Sessions, Mark{X: xOf(d), Label: d})
	}
	if b := ins.Change.Baseline.Mean.Value; b != nil {
		c.Baseline = &Mark{Y: y(*b), Label: fmt.Sprintf("%.1f", *b)}
	}
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// ChartFuncs are the functions ChartTemplate calls.
var ChartFuncs = template.FuncMap{
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}

// ChartTemplate defines "pain-chart", the SVG of a Chart given as its dot.
// It draws with attributes only, no style element, so that a page's
// Content-Security-Policy need not allow inline styles for it.
const ChartTemplate = `{{define "pain-chart"}}<svg id="pain-chart" class="pain-chart" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="chart-title">
<title id="chart-title">Mean daily pain score, {{.From}} to {{.To}}; massage days marked; dashed line is the baseline</title>
{{range .GridLines}}<line x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#e3e7ee"/><text x="{{sub $.Left 6}}" y="{{add .Y 4}}" font-size="11" text-anchor="end" fill="#4f5a6d">{{.Label}}</text>
{{end}}{{range .Dates}}<line x1="{{.X}}" x2="{{.X}}" y1="{{$.Bottom}}" y2="{{add $.Bottom 5}}" stroke="#8a94a6"/><text class="date-tick" x="{{.X}}" y="{{.Y}}" font-size="11" text-anchor="middle" fill="#4f5a6d">{{.Label}}</text>
{{end}}{{range .Sessions}}<line class="session-day" x1="{{.X}}" x2="{{.X}}" y1="{{$.Top}}" y2="{{$.Bottom}}" stroke="#7b61ff" stroke-width="2" opacity=".5"><title>Massage {{.Label}}</title></line>
{{end}}{{with .Baseline}}<line class="baseline" x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#2e7d32" stroke-dasharray="6 4"/><text x="{{$.Right}}" y="{{sub .Y 5}}" font-size="11" text-anchor="end" fill="#2e7d32">baseline {{.Label}}</text>
{{end}}{{if .Line}}<polyline points="{{.Line}}" fill="none" stroke="#1565c0" stroke-width="2"/>{{end}}
{{range .Points}}<circle class="day" cx="{{.X}}" cy="{{.Y}}" r="3.5" fill="#1565c0"><title>{{.Label}}</title></circle>
{{end}}</svg>{{end}}`
