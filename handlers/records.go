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
// pain logs), questionnaires-csv (the questionnaire responses), care-csv
// (the clinic side: care links, shared session notes and clearances) or
// fhir (a FHIR R4 Bundle): the format given, or without
// one the one asked for with ?format=. Each format has a route of its own,
// so that the spec gives each operation one media type and a client
// generated from it types each answer right; ?format= stays for the apps
// that send it, with the formats it had.
func handleExport(s recordStore, baseURL string, now func() time.Time, only string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		format := only
		if only == "" {
			if err := onlyQueryParams(c, "format"); err != nil {
				return err
			}
			format = c.Query("format", "json")
			if format != "json" && format != "csv" && format != "fhir" {
				return invalid("format", "must be json, csv or fhir")
			}
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
		case "questionnaires-csv":
			var buf bytes.Buffer
			if err := export.QuestionnaireResponsesCSV(&buf, recs.Responses); err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			return c.Send(buf.Bytes())
		case "care-csv":
			var buf bytes.Buffer
			if err := export.CareRecordCSV(&buf, recs); err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			return c.Send(buf.Bytes())
		case "fhir":
			b, err := export.FHIRBundle(export.BundleInput{
				Patient: recs.Patient, Logs: recs.PainLogs, Responses: recs.Responses, Sessions: recs.Sessions, Plan: plan,
				CareLinks: recs.CareLinks, Notes: recs.Notes, Screenings: recs.Screenings, Clinics: recs.Clinics, Staff: recs.Staff,
				Messages: recs.Messages, Generated: t, BaseURL: baseURL,
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

var extension = map[string]string{"json": "json", "csv": "csv", "questionnaires-csv": "questionnaires.csv", "care-csv": "care.csv", "fhir": "fhir.json"}

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
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// ActorKind and ClinicID say who a staff actor is with; entries from
	// before clinics have neither.
	ActorKind string `json:"actor_kind,omitempty"`
	ClinicID  string `json:"clinic_id,omitempty"`
	Action    string `json:"action"`
	Outcome   string `json:"outcome"`
	Detail    string `json:"detail,omitempty"`
}

// careLinkExportJSON is a care link as the care team lists it, and how it
// ended.
type careLinkExportJSON struct {
	careTeamJSON
	// RevokedBy is patient, or erasure for a link the account's erasure ended.
	RevokedBy string `json:"revoked_by,omitempty"`
}

// sharedNoteExportJSON is what a clinic shared with the patient about a
// session: the summary, never the clinic's own notes.
type sharedNoteExportJSON struct {
	SessionID string    `json:"session_id"`
	Clinic    namedJSON `json:"clinic"`
	Author    namedJSON `json:"author"`
	Summary   string    `json:"summary"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// screeningExportJSON is a screening as GET /v1/screening shows it, with
// the clinic of a clearance its staff recorded named as well as its id.
type screeningExportJSON struct {
	screeningJSON
	// Clearance shadows screeningJSON's (encoding/json takes the shallower).
	Clearance *clearanceExportJSON `json:"clearance,omitempty"`
}

type clearanceExportJSON struct {
	clearanceJSON
	Clinic *namedJSON `json:"clinic,omitempty"`
}

// exportJSON is everything held about a patient, in the API's own shapes.
// Push tokens are secrets even to their owner's export: only their end is
// shown. Staff appear by id and name only: their email and password hash
// are the clinic's, not the patient's.
type exportJSON struct {
	ExportedAt time.Time         `json:"exported_at"`
	Profile    profileResponse   `json:"profile"`
	PainLogs   []painLogResponse `json:"pain_logs"`
	// QuestionnaireResponses are the live ones: a deleted response is
	// answers the patient took back, and its tombstone is only there for
	// the phones' sync.
	QuestionnaireResponses []responseJSON         `json:"questionnaire_responses"`
	Screenings             []screeningExportJSON  `json:"screenings"`
	Plans                  []planResponse         `json:"plans"`
	Sessions               []sessionResponse      `json:"sessions"`
	Reminders              []reminderResponse     `json:"reminders"`
	Devices                []deviceResponse       `json:"devices"`
	Reports                []reportMetaJSON       `json:"reports"`
	CareLinks              []careLinkExportJSON   `json:"care_links"`
	SharedNotes            []sharedNoteExportJSON `json:"shared_notes"`
	// Messages are every conversation's, oldest first, each with its care link.
	Messages []messageExportJSON `json:"messages"`
	Audit    []auditJSON         `json:"audit"`
}

type messageExportJSON struct {
	messageJSON
	CareLinkID string `json:"care_link_id"`
}

func toExportJSON(r models.PatientRecords, now time.Time) exportJSON {
	loc := r.Patient.Location()
	out := exportJSON{
		ExportedAt: now, Profile: toProfile(r.Patient),
		PainLogs: []painLogResponse{}, QuestionnaireResponses: []responseJSON{}, Screenings: []screeningExportJSON{}, Plans: []planResponse{}, Sessions: []sessionResponse{},
		Reminders: []reminderResponse{}, Devices: []deviceResponse{}, Reports: []reportMetaJSON{},
		CareLinks: []careLinkExportJSON{}, SharedNotes: []sharedNoteExportJSON{}, Messages: []messageExportJSON{}, Audit: []auditJSON{},
	}
	clinics := make(map[string]models.Clinic, len(r.Clinics))
	for _, cl := range r.Clinics {
		clinics[cl.ID] = cl
	}
	staff := make(map[string]models.Staff, len(r.Staff))
	for _, st := range r.Staff {
		staff[st.ID] = st
	}
	for _, l := range r.PainLogs {
		out.PainLogs = append(out.PainLogs, toPainLog(l))
	}
	for _, resp := range r.Responses {
		if !resp.Deleted {
			out.QuestionnaireResponses = append(out.QuestionnaireResponses, toResponse(resp))
		}
	}
	for _, sc := range r.Screenings {
		latest := *toScreening(sc, nil, now).Latest
		s := screeningExportJSON{screeningJSON: latest}
		if cl := latest.Clearance; cl != nil {
			s.Clearance = &clearanceExportJSON{clearanceJSON: *cl}
			if cl.ClinicID != "" {
				s.Clearance.Clinic = &namedJSON{ID: cl.ClinicID, Name: clinics[cl.ClinicID].Name}
			}
		}
		out.Screenings = append(out.Screenings, s)
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
	for _, l := range r.CareLinks {
		out.CareLinks = append(out.CareLinks, careLinkExportJSON{careTeamJSON: toCareTeam(l, clinics, staff), RevokedBy: l.RevokedBy})
	}
	for _, n := range r.Notes {
		// The store hands over shared notes only; this holds the line
		// should it ever hand over more.
		if !n.Shared {
			continue
		}
		out.SharedNotes = append(out.SharedNotes, sharedNoteExportJSON{SessionID: n.ID,
			Clinic: namedJSON{ID: n.ClinicID, Name: clinics[n.ClinicID].Name}, Author: namedJSON{ID: n.AuthorID, Name: n.AuthorName},
			Summary: n.Summary, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt})
	}
	for _, m := range r.Messages {
		out.Messages = append(out.Messages, messageExportJSON{messageJSON: toMessage(m), CareLinkID: m.LinkID})
	}
	for _, a := range r.Audit {
		out.Audit = append(out.Audit, auditJSON{At: a.At, Actor: a.Actor, ActorKind: a.ActorKind, ClinicID: a.ClinicID,
			Action: a.Action, Outcome: a.Outcome, Detail: a.Detail})
	}
	return out
}
