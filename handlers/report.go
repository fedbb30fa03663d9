package handlers

import (
	"bytes"
	"context"
	_ "embed"
	"html/template"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/visit"
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
		v.Screening = visit.ScreeningOf(screening, clinic, recs.Patient.Location(), t)
		var buf bytes.Buffer
		if err := reportTemplate.Execute(&buf, v); err != nil {
			return err
		}
		return c.Send(buf.Bytes())
	}
}

//go:embed report.html
var reportHTML string

var reportTemplate = template.Must(template.Must(template.New("report").Funcs(visit.ChartFuncs).Parse(visit.ChartTemplate)).Parse(reportHTML))

type reportPage struct {
	FirstName, Generated, Expires string
	visit.Summary
	Screening *visit.Screening
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

func reportView(rep models.Report, recs models.PatientRecords, plan *models.Plan, in models.Insights, now time.Time) reportPage {
	loc := recs.Patient.Location()
	return reportPage{
		FirstName: firstName(recs.Patient.Name), Generated: now.In(loc).Format("2 January 2006"),
		Expires: rep.ExpiresAt.In(loc).Format("2 January 2006, 15:04 MST"),
		Summary: visit.Summarize(visit.Input{Patient: recs.Patient, Logs: recs.PainLogs, Sessions: recs.Sessions, Plan: plan}, in, rep.From, rep.To, now),
	}
}

// firstName is all the report shows of the patient's name.
func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return "the patient"
}
