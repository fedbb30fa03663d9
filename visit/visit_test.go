package visit_test

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
)

func TestDrawPainPlacesDatesAndDays(t *testing.T) {
	base := 6.0
	ins := models.Insights{Daily: []models.DailyPain{{Date: "2026-09-01", Mean: 10, N: 1}, {Date: "2026-11-29", Mean: 0, N: 2}}}
	ins.Change.Baseline.Mean.Value = &base
	c := visit.DrawPain("2026-09-01", "2026-11-29", ins, []string{"2026-10-15"})
	// 89 days: 7 ticks, the first day, the last and evenly between.
	if len(c.Dates) != 7 || c.Dates[0].Label != "1 Sep" || c.Dates[3].Label != "16 Oct" || c.Dates[6].Label != "29 Nov" {
		t.Fatalf("date ticks %+v", c.Dates)
	}
	if c.Dates[0].X != c.Left || c.Dates[6].X != c.Right {
		t.Errorf("the first and last ticks at %v and %v, want the chart's edges %v and %v", c.Dates[0].X, c.Dates[6].X, c.Left, c.Right)
	}
	if p := c.Points; len(p) != 2 || p[0].X != c.Left || p[0].Y != c.Top || p[1].X != c.Right || p[1].Y != c.Bottom || p[1].Label != "2026-11-29: 0.0 (2 logs)" {
		t.Errorf("points %+v: score 10 at the top, 0 at the bottom", p)
	}
	if c.Baseline == nil || c.Baseline.Label != "6.0" || len(c.Sessions) != 1 {
		t.Errorf("baseline %+v, sessions %+v", c.Baseline, c.Sessions)
	}
	var buf bytes.Buffer
	tmpl := template.Must(template.New("t").Funcs(visit.ChartFuncs).Parse(visit.ChartTemplate))
	if err := tmpl.ExecuteTemplate(&buf, "pain-chart", c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`class="date-tick"`, ">16 Oct<", "Massage 2026-10-15", `class="session-day"`, `class="baseline"`, `class="day"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the SVG lacks %s", want)
		}
	}
	if strings.Contains(buf.String(), "style") {
		t.Error("the chart uses style, which a strict page policy refuses")
	}
}

func TestDrawPainOfOneDay(t *testing.T) {
	c := visit.DrawPain("2026-11-29", "2026-11-29", models.Insights{}, nil)
	if len(c.Dates) != 1 || c.Dates[0].Label != "29 Nov" || c.Baseline != nil || c.Line != "" {
		t.Errorf("a one-day chart: %+v", c)
	}
}
