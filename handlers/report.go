package handlers

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

type reportRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	ValidDays *int   `json:"valid_days"`
}

type reportResponse struct {
	ID string `json:"id"`
	// URL is the share link's path; the token in it is shown only here.
	URL       string    `json:"url"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleCreateReport makes a share link to a clinician report over
// from–to (local dates; by default the last 90 days), valid for 1–30 days
// (default 7). The token is 256 random bits; only its hash is stored.
func handleCreateReport(s recordStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req reportRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		t := stamp(now)
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		validity := models.DefaultReportValidity
		if req.ValidDays != nil {
			validity = time.Duration(*req.ValidDays) * 24 * time.Hour
			if validity < 24*time.Hour || validity > models.MaxReportValidity {
				return invalid("valid_days", "must be from 1 to 30")
			}
		}
		to := req.To
		if to == "" {
			to = models.LocalDateOf(t, p.Location())
		}
		from := req.From
		if from == "" {
			if end, err := time.Parse(time.DateOnly, to); err == nil {
				from = end.AddDate(0, 0, -89).Format(time.DateOnly)
			}
		}
		var probs models.Problems
		from, to = dateRange(&probs, from, to)
		if f, err := time.Parse(time.DateOnly, from); err == nil && len(probs) == 0 {
			// The report's figures are insights over the period, which
			// span at most MaxInsightsDays days, both ends included.
			if last, _ := time.Parse(time.DateOnly, to); last.Sub(f) >= models.MaxInsightsDays*24*time.Hour {
				probs.Add("to", "must be less than %d days after from", models.MaxInsightsDays)
			}
		}
		if err := probs.Err(); err != nil {
			return err
		}
		token, hash, err := auth.NewOpaqueToken()
		if err != nil {
			return err
		}
		r := models.Report{ID: uuid.NewString(), PatientID: p.ID, TokenHash: hash, From: from, To: to, CreatedAt: t, ExpiresAt: t.Add(validity)}
		if err := s.CreateReport(c.UserContext(), r); err != nil {
			return err
		}
		if err := audit(c, s, t, p.ID, "patient", models.AuditReportCreate, r.ID); err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		return c.JSON(reportResponse{ID: r.ID, URL: "/r/" + token, From: from, To: to, ExpiresAt: r.ExpiresAt})
	}
}

func handleRevokeReport(s recordStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return models.Errorf(models.ErrNotFound, "report not found")
		}
		t := stamp(now)
		revoked, err := s.RevokeReport(c.UserContext(), patientID(c), c.Params("id"), t)
		if err != nil {
			return err
		}
		// A link already revoked changes nothing, and leaves no entry.
		if revoked {
			if err := audit(c, s, t, patientID(c), "patient", models.AuditReportRevoke, c.Params("id")); err != nil {
				return err
			}
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

var validReportToken = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

const notFoundPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Not found</title></head>` +
	`<body><h1>Not found</h1><p>This link does not exist, has expired or was withdrawn.</p></body></html>`

// reportStore is what the report page reads: the progress, and the
// latest screening with the clinic of a clearance its staff recorded.
type reportStore interface {
	recordStore
	LatestScreening(ctx context.Context, patientID string) (models.Screening, error)
	ClinicsByID(ctx context.Context, ids []string) (map[string]models.Clinic, error)
}

// handleReportPage serves the clinician report behind a share link. An
// unknown, expired or revoked link gets the same plain 404 page. Every
// read leaves an audit entry.
func handleReportPage(s reportStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		c.Set("X-Robots-Tag", "noindex")
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		t := stamp(now)
		token := c.Params("token")
		if !validReportToken.MatchString(token) {
			return c.Status(fiber.StatusNotFound).SendString(notFoundPage)
		}
		rep, err := s.ReportByTokenHash(c.UserContext(), auth.HashOpaqueToken(token))
		if models.ErrorCode(err) == models.ErrNotFound || (err == nil && !rep.Live(t)) {
			return c.Status(fiber.StatusNotFound).SendString(notFoundPage)
		}
		if err != nil {
			return err
		}
		recs, err := s.ProgressOf(c.UserContext(), rep.PatientID)
		if models.ErrorCode(err) == models.ErrNotFound {
			return c.Status(fiber.StatusNotFound).SendString(notFoundPage)
		}
		if err != nil {
			return err
		}
		plan := openPlan(recs)
		in, err := insightsOf(recs, plan, rep.From, rep.To, t)
		if err != nil {
			return err
		}
		screening, clinic, err := latestScreening(c.UserContext(), s, rep.PatientID)
		if err != nil {
			return err
		}
		if err := audit(c, s, t, rep.PatientID, "report:"+rep.ID, models.AuditReportRead, ""); err != nil {
			return err
		}
		v := reportView(rep, recs, plan, in, t)
		v.Screening = screeningSummary(screening, clinic, recs.Patient.Location(), t)
		var buf bytes.Buffer
		if err := reportTemplate.Execute(&buf, v); err != nil {
			return err
		}
		return c.Send(buf.Bytes())
	}
}

//go:embed report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}).Parse(reportHTML))

type reportPage struct {
	FirstName, From, To, Generated, Expires string
	Change, ChangeReason                    string
	DaysLogged, DaysElapsed                 int
	Chart                                   chart
	Plan                                    string
	Screening                               *screeningView
	Sessions                                []sessionRow
	Adherence                               []adherenceRow
	RedFlags                                []redFlagRow
}

type sessionRow struct{ Date, Status, Therapist, Pressure, Soreness, Around, Flag string }

// screeningView is the latest safety screening, nil when there is none.
type screeningView struct {
	Date           string
	Stale          bool
	Positive       string
	NeedsClearance bool
	Clearance      *clearanceView
}

// clearanceView says who stands behind a clearance: the patient alone
// (self-attested, which nobody verified) or a named clinic staff member.
type clearanceView struct {
	Date, RecordedOn, Note string
	SelfAttested           bool
	StaffName, ClinicName  string
}

// latestScreening reads the patient's latest screening, nil when there is
// none, and the clinic whose staff recorded its clearance, if one did.
func latestScreening(ctx context.Context, s reportStore, patientID string) (*models.Screening, models.Clinic, error) {
	sc, err := s.LatestScreening(ctx, patientID)
	switch {
	case models.ErrorCode(err) == models.ErrNotFound:
		return nil, models.Clinic{}, nil
	case err != nil:
		return nil, models.Clinic{}, err
	}
	cl := sc.Clearance
	if cl == nil || cl.SelfAttested() || cl.ClinicID == "" {
		return &sc, models.Clinic{}, nil
	}
	clinics, err := s.ClinicsByID(ctx, []string{cl.ClinicID})
	return &sc, clinics[cl.ClinicID], err
}

func screeningSummary(sc *models.Screening, clinic models.Clinic, loc *time.Location, now time.Time) *screeningView {
	if sc == nil {
		return nil
	}
	v := &screeningView{
		Date: models.LocalDateOf(sc.TakenAt, loc), Stale: sc.IsStale(now), NeedsClearance: sc.NeedsClearance(),
		Positive: strings.ReplaceAll(strings.Join(strs(sc.Positive()), ", "), "_", " "),
	}
	if cl := sc.Clearance; cl != nil {
		v.Clearance = &clearanceView{Date: cl.Date, RecordedOn: models.LocalDateOf(cl.RecordedAt, loc), Note: cl.Note, SelfAttested: cl.SelfAttested()}
		if !cl.SelfAttested() {
			v.Clearance.StaffName = cmp.Or(cl.StaffName, "a staff member")
			v.Clearance.ClinicName = clinic.Name
		}
	}
	return v
}

type adherenceRow struct {
	Kind        string
	Asked, Done int
	Rate        string
}

type redFlagRow struct {
	Date  string
	Score int
	Flags string
}

func reportView(rep models.Report, recs models.PatientRecords, plan *models.Plan, in models.Insights, now time.Time) reportPage {
	loc := recs.Patient.Location()
	v := reportPage{
		FirstName: firstName(recs.Patient.Name), From: rep.From, To: rep.To,
		Generated: now.In(loc).Format("2 January 2006"), Expires: rep.ExpiresAt.In(loc).Format("2 January 2006, 15:04 MST"),
		Change: in.Change.Summary, ChangeReason: in.Change.Reason,
		DaysLogged: in.DaysElapsed - in.DaysMissed, DaysElapsed: in.DaysElapsed,
	}
	var sessionDays []string
	around := map[string]models.SessionPain{}
	for _, sp := range in.Sessions {
		around[sp.SessionID] = sp
	}
	for _, s := range recs.Sessions {
		date := models.LocalDateOf(s.ScheduledAt, loc)
		if date < rep.From || date > rep.To {
			continue
		}
		row := sessionRow{Date: date, Status: string(s.Status), Therapist: s.Therapist, Pressure: "–", Soreness: "–", Around: "–"}
		if s.Feedback != nil {
			row.Pressure, row.Soreness = fmt.Sprint(s.Feedback.PressureFelt), fmt.Sprint(s.Feedback.SorenessAfter)
		}
		if sp, ok := around[s.ID]; ok {
			row.Around = fmt.Sprintf("%s → %s", figureText(sp.Before), figureText(sp.After))
			if sp.Flag {
				row.Flag = "pain still higher 48 h after"
			}
		}
		if s.Status == models.SessionCompleted {
			sessionDays = append(sessionDays, date)
		}
		v.Sessions = append(v.Sessions, row)
	}
	if plan != nil {
		c := plan.CadenceOn(models.LocalDateOf(now, loc))
		maintenance := fmt.Sprintf("every %d weeks", c.MaintenanceWeeks)
		if c.MaintenanceMonthly {
			maintenance = "monthly"
		}
		v.Plan = fmt.Sprintf("Deep tissue massage since %s: weekly for %d sessions, then %s; %d-minute sessions. Status: %s, %s phase.",
			plan.StartDate(), c.InitialSessions, maintenance, c.SessionMinutes, strings.ReplaceAll(string(plan.Status), "_", " "), plan.Phase)
	}
	for _, a := range in.Adherence {
		v.Adherence = append(v.Adherence, adherenceRow{Kind: strings.ReplaceAll(string(a.Kind), "_", " "), Asked: a.Asked, Done: a.Done, Rate: percentText(a.Rate)})
	}
	for _, l := range recs.PainLogs {
		if l.Deleted || !l.HasRedFlags() || l.LocalDate < rep.From || l.LocalDate > rep.To {
			continue
		}
		v.RedFlags = append(v.RedFlags, redFlagRow{Date: l.LocalDate, Score: l.Score, Flags: strings.ReplaceAll(strings.Join(strs(l.RedFlags), ", "), "_", " ")})
	}
	v.Chart = drawChart(rep.From, rep.To, in, sessionDays)
	return v
}

// firstName is all the report shows of the patient's name.
func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return "the patient"
}

func figureText(f models.Figure) string {
	if f.Value == nil {
		return "too few logs"
	}
	return fmt.Sprintf("%.1f", *f.Value)
}

func percentText(f models.Figure) string {
	if f.Value == nil {
		return "too few reminders"
	}
	return fmt.Sprintf("%.0f %%", *f.Value*100)
}

// chart is the pain chart's geometry, computed here so that the template
// only places what it is given.
type chart struct {
	Width, Height, Left, Right, Top, Bottom float64
	GridLines                               []chartMark
	Points                                  []chartMark
	Line                                    string
	Sessions                                []chartMark
	Baseline                                *chartMark
}

type chartMark struct {
	X, Y  float64
	Label string
}

func drawChart(from, to string, in models.Insights, sessionDays []string) chart {
	c := chart{Width: 720, Height: 260, Left: 36, Right: 708, Top: 12, Bottom: 236}
	start, _ := time.Parse(time.DateOnly, from)
	end, _ := time.Parse(time.DateOnly, to)
	days := math.Max(1, end.Sub(start).Hours()/24)
	x := func(date string) float64 {
		d, _ := time.Parse(time.DateOnly, date)
		return round1(c.Left + (c.Right-c.Left)*d.Sub(start).Hours()/24/days)
	}
	y := func(score float64) float64 { return round1(c.Bottom - (c.Bottom-c.Top)*score/10) }
	for s := 0; s <= 10; s += 2 {
		c.GridLines = append(c.GridLines, chartMark{Y: y(float64(s)), Label: fmt.Sprint(s)})
	}
	var line []string
	for _, d := range in.Daily {
		p := chartMark{X: x(d.Date), Y: y(d.Mean), Label: fmt.Sprintf("%s: %.1f (%d log%s)", d.Date, d.Mean, d.N, plural(d.N))}
		c.Points = append(c.Points, p)
		line = append(line, fmt.Sprintf("%g,%g", p.X, p.Y))
	}
	c.Line = strings.Join(line, " ")
	for _, d := range sessionDays {
		c.Sessions = append(c.Sessions, chartMark{X: x(d), Label: d})
	}
	if b := in.Change.Baseline.Mean.Value; b != nil {
		c.Baseline = &chartMark{Y: y(*b), Label: fmt.Sprintf("%.1f", *b)}
	}
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
