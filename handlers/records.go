package handlers

import (
	"bytes"
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/export"
	"github.com/backcare/backcare/models"
)

type eraseRequest struct {
	Password string `json:"password"`
}

type auditStore interface {
	AppendAudit(ctx context.Context, e models.AuditEntry) error
	AuditOf(ctx context.Context, subject string) ([]models.AuditEntry, error)
}

// audit appends a successful action to the trail. A failed write fails the
// request: an export or erasure that leaves no trace must not happen.
func audit(c *fiber.Ctx, s auditStore, now time.Time, subject, actor, action, detail string) error {
	return appendAudit(c, s, models.AuditEntry{At: now, Subject: subject, Actor: actor, Action: action, Outcome: "ok", Detail: detail})
}

// appendAudit gives e its id and the request's id and appends it.
func appendAudit(c *fiber.Ctx, s auditStore, e models.AuditEntry) error {
	e.ID, e.RequestID = uuid.NewString(), requestID(c)
	return s.AppendAudit(c.UserContext(), e)
}

// handleExport answers json (everything held about the patient), csv (the
// pain logs) or fhir (a FHIR R4 Bundle): the format given, or without one
// the one asked for with ?format=. Each format has a route of its own, so
// that the spec gives each operation one media type and a client generated
// from it types each answer right; ?format= stays for the apps that send it.
func handleExport(s recordStore, baseURL string, now func() time.Time, only string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		format := only
		if only == "" {
			if err := onlyQueryParams(c, "format"); err != nil {
				return err
			}
			format = c.Query("format", "json")
		}
		if format != "json" && format != "csv" && format != "fhir" {
			return invalid("format", "must be json, csv or fhir")
		}
		t := stamp(now)
		recs, err := s.RecordsOf(c.UserContext(), patientID(c))
		if err != nil {
			return err
		}
		plan := openPlan(recs)
		if err := audit(c, s, t, recs.Patient.ID, "patient", models.AuditExport, format); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="backcare-export-`+models.LocalDateOf(t, recs.Patient.Location())+"."+extension[format]+`"`)
		switch format {
		case "csv":
			var buf bytes.Buffer
			if err := export.PainLogsCSV(&buf, recs.PainLogs, recs.Patient.Location()); err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			return c.Send(buf.Bytes())
		case "fhir":
			b, err := export.FHIRBundle(export.BundleInput{
				Patient: recs.Patient, Logs: recs.PainLogs, Sessions: recs.Sessions, Plan: plan, Generated: t, BaseURL: baseURL,
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "application/fhir+json")
			return c.Send(b)
		}
		return c.JSON(toExportJSON(recs, t))
	}
}

var extension = map[string]string{"json": "json", "csv": "csv", "fhir": "fhir.json"}

// handleErase deletes everything held about the patient after they enter
// their password again. It is idempotent: once erased the patient is gone,
// and asking again answers the same 204. The audit trail keeps that it
// happened, with no health data.
func handleErase(s recordStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req eraseRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if req.Password == "" {
			return invalid("password", "is required: enter your password to confirm")
		}
		t := stamp(now)
		p, err := s.PatientByID(c.UserContext(), patientID(c))
		if models.ErrorCode(err) == models.ErrNotFound {
			return c.SendStatus(fiber.StatusNoContent)
		}
		if err != nil {
			return err
		}
		ok, err := auth.CheckPassword(req.Password, p.PasswordHash)
		if err != nil {
			return err
		}
		if !ok {
			return models.Errorf(models.ErrUnauthorized, "the password is wrong; nothing was erased")
		}
		if err := audit(c, s, t, p.ID, "patient", models.AuditErasure, "started"); err != nil {
			return err
		}
		if err := s.ErasePatient(c.UserContext(), p, t); err != nil {
			return err
		}
		if err := audit(c, s, t, p.ID, "patient", models.AuditErasure, "completed"); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

type reportMetaJSON struct {
	ID        string     `json:"id"`
	From      string     `json:"from"`
	To        string     `json:"to"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type auditJSON struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

// exportJSON is everything held about a patient, in the API's own shapes.
// Push tokens are secrets even to their owner's export: only their end is shown.
type exportJSON struct {
	ExportedAt time.Time          `json:"exported_at"`
	Profile    profileResponse    `json:"profile"`
	PainLogs   []painLogResponse  `json:"pain_logs"`
	Screenings []screeningJSON    `json:"screenings"`
	Plans      []planResponse     `json:"plans"`
	Sessions   []sessionResponse  `json:"sessions"`
	Reminders  []reminderResponse `json:"reminders"`
	Devices    []deviceResponse   `json:"devices"`
	Reports    []reportMetaJSON   `json:"reports"`
	Audit      []auditJSON        `json:"audit"`
}

func toExportJSON(r models.PatientRecords, now time.Time) exportJSON {
	loc := r.Patient.Location()
	out := exportJSON{
		ExportedAt: now, Profile: toProfile(r.Patient),
		PainLogs: []painLogResponse{}, Screenings: []screeningJSON{}, Plans: []planResponse{}, Sessions: []sessionResponse{},
		Reminders: []reminderResponse{}, Devices: []deviceResponse{}, Reports: []reportMetaJSON{}, Audit: []auditJSON{},
	}
	for _, l := range r.PainLogs {
		out.PainLogs = append(out.PainLogs, toPainLog(l))
	}
	for _, sc := range r.Screenings {
		out.Screenings = append(out.Screenings, *toScreening(sc, nil, now).Latest)
	}
	for _, p := range r.Plans {
		out.Plans = append(out.Plans, toPlan(p, r.Sessions, now, loc))
	}
	for _, s := range r.Sessions {
		out.Sessions = append(out.Sessions, toSession(s))
	}
	for _, rem := range r.Reminders {
		out.Reminders = append(out.Reminders, toReminder(rem, r.Patient.Locale))
	}
	for _, d := range r.Devices {
		out.Devices = append(out.Devices, toDevice(d))
	}
	for _, rep := range r.Reports {
		out.Reports = append(out.Reports, reportMetaJSON{ID: rep.ID, From: rep.From, To: rep.To, CreatedAt: rep.CreatedAt, ExpiresAt: rep.ExpiresAt, RevokedAt: rep.RevokedAt})
	}
	for _, a := range r.Audit {
		out.Audit = append(out.Audit, auditJSON{At: a.At, Actor: a.Actor, Action: a.Action, Outcome: a.Outcome, Detail: a.Detail})
	}
	return out
}
