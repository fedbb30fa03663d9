package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

// clinicCareStore is what the therapist's API reads and writes about
// linked patients, beside what the patient's own routes use.
type clinicCareStore interface {
	ActiveLink(ctx context.Context, patientID, clinicID string) (models.CareLink, error)
	ClinicPatients(ctx context.Context, clinicID string, since time.Time) ([]models.TriageInput, error)
	LinkedPatient(ctx context.Context, link models.CareLink, since time.Time) (models.TriageInput, error)
	Clinic(ctx context.Context, id string) (models.Clinic, error)
	SessionNote(ctx context.Context, patientID, sessionID string) (models.SessionNote, error)
	SaveSessionNote(ctx context.Context, n models.SessionNote) (models.SessionNote, error)
	NotesOf(ctx context.Context, patientID string, sessionIDs []string) (map[string]models.SessionNote, error)
	UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error)
	AppendAudits(ctx context.Context, entries []models.AuditEntry) error
	StaffAccessOf(ctx context.Context, subject string, after *models.AuditCursor, limit int) ([]models.AuditEntry, error)
	auditStore
}

// authorizePatient lets a staff route about the patient in the {id} path
// on only when models.MayAct allows it for need. Any refusal — another
// clinic's patient, a revoked link, a view link asked for care, a
// malformed id — is the same 404: the patient is not one of yours. After
// the handler has answered, the access is written to the audit trail,
// which the patient reads as their access log; if that write fails the
// request fails, so no access goes unrecorded.
func authorizePatient(s clinicCareStore, need models.Scope, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, _ := staffOf(c)
		pid := c.Params("id")
		notYours := models.Errorf(models.ErrNotFound, "patient not found: they are not one of your clinic's patients")
		if _, err := uuid.Parse(pid); err != nil {
			return notYours
		}
		link, err := s.ActiveLink(c.UserContext(), pid, st.ClinicID)
		switch {
		case models.ErrorCode(err) == models.ErrNotFound:
			return notYours
		case err != nil:
			return err
		case !models.MayAct(st, &link, pid, need):
			return notYours
		}
		c.Locals(localPatientID, pid)
		c.Locals(localCareLink, link)
		if err := c.Next(); err != nil {
			return err
		}
		if c.Response().StatusCode() >= fiber.StatusBadRequest {
			return nil
		}
		action := "staff_view"
		// Marking messages read is a post that only records a view.
		if c.Method() != fiber.MethodGet && !strings.HasSuffix(c.Route().Path, "/read") {
			action = "staff_change"
		}
		return appendAudit(c, s, models.AuditEntry{At: stamp(now), Subject: pid, Actor: "staff:" + st.ID, ActorKind: models.ActorStaff,
			ClinicID: st.ClinicID, Action: action, Outcome: "ok", Detail: accessDetail(c.Route().Path)})
	}
}

const localCareLink = "care_link"

// careLinkOf returns the link authorizePatient let the request in by.
func careLinkOf(c *fiber.Ctx) models.CareLink {
	link, _ := c.Locals(localCareLink).(models.CareLink)
	return link
}

// accessDetail names what a clinic route touched, from its path: "patient"
// for the patient's summary, else the part after the patient's id, without
// the ids in it ("pain-logs", "sessions/note", "messages").
func accessDetail(route string) string {
	_, rest, _ := strings.Cut(route, "/patients/:id")
	rest = strings.Trim(strings.NewReplacer("/:sid", "", "/:uuid", "").Replace(rest), "/")
	if rest == "" {
		return "patient"
	}
	return rest
}

// careNotice pushes the patient a notice of a clinic's change, with no
// detail. It does not fail the request: the change is saved, and the app
// shows it either way.
func careNotice(c *fiber.Ctx, s clinicCareStore, p models.Patient, variant, sourceID string, now time.Time, rp replanner) {
	if _, ok := staffOf(c); !ok {
		return
	}
	r := models.CareNotice(p, variant, sourceID, now)
	if r == nil {
		return
	}
	r.CreatedAt, r.UpdatedAt = now, now
	if _, err := s.UpsertReminders(c.UserContext(), []models.Reminder{*r}); err != nil {
		rp.logger.ErrorContext(c.UserContext(), "the notice of a clinic's change was not stored", "request_id", requestID(c), "patient_id", p.ID, "error", err)
	}
}

type adherenceSummaryJSON struct {
	Rate   *float64 `json:"rate"`
	Asked  int      `json:"asked"`
	Reason string   `json:"reason,omitempty"`
}

type triageJSON struct {
	ID               string                  `json:"id"`
	Name             string                  `json:"name"`
	Scope            string                  `json:"scope"`
	Attention        []string                `json:"attention"`
	LastLogDate      *string                 `json:"last_log_date"`
	DaysSinceLog     *int                    `json:"days_since_log"`
	LastScore        *int                    `json:"last_score"`
	Pain             changeJSON              `json:"pain"`
	PEG              questionnaireChangeJSON `json:"peg"`
	RedFlags14d      int                     `json:"red_flags_14d"`
	SorenessFlag     bool                    `json:"soreness_flag"`
	UnreadMessages   int                     `json:"unread_messages"`
	SymptomMessage   bool                    `json:"symptom_message"`
	ClearanceWaiting bool                    `json:"clearance_waiting"`
	SelfAttested     bool                    `json:"clearance_self_attested"`
	MissedSessions   int                     `json:"missed_sessions_30d"`
	Adherence        adherenceSummaryJSON    `json:"aftercare_adherence_30d"`
	NextSessionAt    *time.Time              `json:"next_session_at"`
	PlanStatus       *string                 `json:"plan_status"`
}

func toTriage(e models.TriageEntry) triageJSON {
	r := triageJSON{
		ID: e.PatientID, Name: e.Name, Scope: string(e.Scope), Attention: strs(e.Attention), DaysSinceLog: e.DaysSinceLog, LastScore: e.LastScore,
		Pain: toChange(e.Change), PEG: toQuestionnaireChange(e.PEG), RedFlags14d: e.RedFlags, SorenessFlag: e.SorenessFlag, ClearanceWaiting: e.ClearanceWaiting,
		UnreadMessages: e.UnreadMessages, SymptomMessage: e.SymptomMessage,
		SelfAttested: e.SelfAttested, MissedSessions: e.MissedSessions, NextSessionAt: e.NextSession,
		Adherence: adherenceSummaryJSON{Rate: e.Adherence.Value, Asked: e.Adherence.N, Reason: e.Adherence.Reason},
	}
	if r.Attention == nil {
		r.Attention = []string{}
	}
	if e.LastLogDate != "" {
		r.LastLogDate = &e.LastLogDate
	}
	if e.PlanStatus != "" {
		status := string(e.PlanStatus)
		r.PlanStatus = &status
	}
	return r
}

// triageOf computes the triage of every patient linked to the clinic,
// needs attention first.
func triageOf(ctx context.Context, s clinicCareStore, clinicID string, now time.Time) ([]models.TriageEntry, error) {
	inputs, err := s.ClinicPatients(ctx, clinicID, now.AddDate(0, 0, -models.TriageRangeDays-1))
	if err != nil {
		return nil, err
	}
	entries := make([]models.TriageEntry, len(inputs))
	for i, in := range inputs {
		entries[i] = models.Triage(in, now)
	}
	models.SortTriage(entries)
	return entries, nil
}

// handleTriage lists the clinic's linked patients, needs attention first,
// ?q filtering by name, a page at a time (?limit, ?cursor).
func handleTriage(s clinicCareStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c, "q", "limit", "cursor"); err != nil {
			return err
		}
		var probs models.Problems
		limit := pageSize(&probs, c.Query("limit"))
		offset := 0
		if cur := c.Query("cursor"); cur != "" {
			raw, err := base64.RawURLEncoding.DecodeString(cur)
			n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
			if err != nil || convErr != nil || !strings.HasPrefix(string(raw), "o:") || n < 0 {
				probs.Add("cursor", "is not a cursor this list gave")
			}
			offset = n
		}
		q := strings.TrimSpace(c.Query("q"))
		switch {
		case utf8.RuneCountInString(q) > models.MaxNameLength:
			probs.Add("q", "must be at most %d characters", models.MaxNameLength)
		case strings.ContainsAny(q, "${}"):
			// A name search is matched in the program, never sent to the
			// database, but an operator here is a probe, not a name.
			probs.Add("q", "must be part of a name, without $, { or }")
		}
		if err := probs.Err(); err != nil {
			return err
		}
		st, _ := staffOf(c)
		entries, err := triageOf(c.UserContext(), s, st.ClinicID, stamp(now))
		if err != nil {
			return err
		}
		if q != "" {
			entries = slices.DeleteFunc(entries, func(e models.TriageEntry) bool {
				return !strings.Contains(strings.ToLower(e.Name), strings.ToLower(q))
			})
		}
		total := len(entries)
		page := entries[min(offset, total):min(offset+limit, total)]
		items := make([]triageJSON, len(page))
		seen := make([]models.AuditEntry, len(page))
		for i, e := range page {
			items[i] = toTriage(e)
			// Each patient listed had their summary seen: an access of
			// theirs, in one write for the page.
			seen[i] = models.AuditEntry{ID: uuid.NewString(), At: stamp(now), Subject: e.PatientID, Actor: "staff:" + st.ID,
				ActorKind: models.ActorStaff, ClinicID: st.ClinicID, Action: "staff_view", Outcome: "ok", Detail: "triage", RequestID: requestID(c)}
		}
		if err := s.AppendAudits(c.UserContext(), seen); err != nil {
			return err
		}
		var next *string
		if offset+limit < total {
			n := base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset+limit)))
			next = &n
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": next, "total": total})
	}
}

type clinicPatientJSON struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Timezone string     `json:"timezone"`
	Locale   string     `json:"locale"`
	Triage   triageJSON `json:"triage"`
}

// handleClinicPatient answers one linked patient: who they are and their triage.
func handleClinicPatient(s clinicCareStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := stamp(now)
		in, err := s.LinkedPatient(c.UserContext(), careLinkOf(c), t.AddDate(0, 0, -models.TriageRangeDays-1))
		if err != nil {
			return err
		}
		e := models.Triage(in, t)
		return c.JSON(clinicPatientJSON{ID: e.PatientID, Name: e.Name, Timezone: in.Patient.Timezone, Locale: in.Patient.Locale, Triage: toTriage(e)})
	}
}

// noteRequest is a note as written: the fields a note answers with.
type noteRequest noteFieldsJSON

// content is the note the request writes, or the fields at fault.
func (r noteRequest) content() (models.NoteContent, error) {
	n := models.NoteContent{Subjective: r.Subjective, Objective: r.Objective, Assessment: r.Assessment, Plan: r.Plan,
		AreasTreated: typed[models.BodyArea](r.AreasTreated), Techniques: r.Techniques, Pressure: models.Pressure(r.Pressure),
		Shared: r.Shared, Summary: r.Summary}
	return n, n.Validate()
}

type noteRevisionJSON struct {
	noteFieldsJSON
	Author    namedJSON `json:"author"`
	WrittenAt time.Time `json:"written_at"`
}

type noteFieldsJSON struct {
	Subjective   string   `json:"subjective"`
	Objective    string   `json:"objective"`
	Assessment   string   `json:"assessment"`
	Plan         string   `json:"plan"`
	AreasTreated []string `json:"areas_treated"`
	Techniques   []string `json:"techniques"`
	Pressure     string   `json:"pressure,omitempty"`
	Shared       bool     `json:"shared"`
	Summary      string   `json:"summary,omitempty"`
}

type noteJSON struct {
	SessionID string `json:"session_id"`
	noteFieldsJSON
	Author    namedJSON          `json:"author"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
	Revisions []noteRevisionJSON `json:"revisions"`
}

func toNoteFields(n models.NoteContent) noteFieldsJSON {
	r := noteFieldsJSON{Subjective: n.Subjective, Objective: n.Objective, Assessment: n.Assessment, Plan: n.Plan,
		AreasTreated: strs(n.AreasTreated), Techniques: n.Techniques, Pressure: string(n.Pressure), Shared: n.Shared, Summary: n.Summary}
	if r.AreasTreated == nil {
		r.AreasTreated = []string{}
	}
	if r.Techniques == nil {
		r.Techniques = []string{}
	}
	return r
}

func toNote(n models.SessionNote) noteJSON {
	r := noteJSON{SessionID: n.ID, noteFieldsJSON: toNoteFields(n.NoteContent), Author: namedJSON{ID: n.AuthorID, Name: n.AuthorName},
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Revisions: []noteRevisionJSON{}}
	for _, rev := range n.Revisions {
		r.Revisions = append(r.Revisions, noteRevisionJSON{noteFieldsJSON: toNoteFields(rev.NoteContent),
			Author: namedJSON{ID: rev.AuthorID, Name: rev.AuthorName}, WrittenAt: rev.WrittenAt})
	}
	return r
}

// handlePutNote writes the clinic's note on a session; an edit keeps the
// earlier version among the revisions. If-Match names the version edited.
func handlePutNote(s clinicCareStore, care careStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req noteRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		content, err := req.content()
		if err != nil {
			return err
		}
		st, _ := staffOf(c)
		ctx := c.UserContext()
		var note models.SessionNote
		created := false
		err = edit(c, pre, func() error {
			t := stamp(now)
			ss, err := changeableSession(c, care)
			if err != nil {
				return err
			}
			note, err = s.SessionNote(ctx, ss.PatientID, ss.ID)
			if err == nil && note.ClinicID != st.ClinicID {
				return models.Errorf(models.ErrNotFound, "session not found among the ones your clinic keeps")
			}
			switch {
			case models.ErrorCode(err) == models.ErrNotFound:
				created = true
				note = models.SessionNote{ID: ss.ID, PatientID: ss.PatientID, ClinicID: st.ClinicID, NoteContent: content,
					AuthorID: st.ID, AuthorName: st.Name, CreatedAt: t, UpdatedAt: t}
			case err != nil:
				return err
			default:
				created = false
				if err := pre.check(note.Version); err != nil {
					return err
				}
				if !note.Revise(content, st, t) {
					return nil
				}
			}
			if created {
				if err := pre.absent(); err != nil {
					return err
				}
			}
			note, err = s.SaveSessionNote(ctx, note)
			return err
		})
		if err != nil {
			return err
		}
		setETag(c, note.Version)
		if created {
			c.Status(fiber.StatusCreated)
		}
		return c.JSON(toNote(note))
	}
}

// handleClinicClearance records a clearance of the patient's screening by
// the signed-in staff member: a clearance the clinic stands behind.
func handleClinicClearance(s careStore, notices clinicCareStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req clearanceRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		st, _ := staffOf(c)
		return recordClearance(c, s, notices, rp, req, models.Clearance{By: models.ClearedByStaff, StaffID: st.ID, StaffName: st.Name, ClinicID: st.ClinicID}, stamp(now))
	}
}

type putPlanRequest struct {
	StartDate     *string `json:"start_date"`
	EffectiveFrom *string `json:"effective_from"`
	Action        *string `json:"action"`
	HomeCare      *string `json:"home_care"`
	cadenceFields
}

// handlePutPlan writes the patient's plan for the clinic: a new one when
// there is none open, else the change asked (the cadence from
// effective_from, by default today; the home-care instructions; pause,
// resume or complete). The patient's reminders are re-planned at once, and
// the patient gets a notice with no detail.
func handlePutPlan(s careStore, notices clinicCareStore, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		pre, err := ifMatch(c)
		if err != nil {
			return err
		}
		var req putPlanRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		st, _ := staffOf(c)
		ctx := c.UserContext()
		p, err := s.PatientByID(ctx, patientID(c))
		if err != nil {
			return err
		}
		loc := p.Location()
		var (
			plan    models.Plan
			created bool
			t       time.Time
		)
		err = edit(c, pre, func() error {
			t = stamp(now)
			open, err := currentPlan(ctx, s, p.ID)
			if err != nil {
				return err
			}
			if open == nil {
				created = true
				if err := pre.absent(); err != nil {
					return err
				}
				start := ""
				if req.StartDate != nil {
					start = *req.StartDate
				}
				if req.Action != nil || req.EffectiveFrom != nil {
					return invalid("action", "the patient has no plan yet: give the new plan's start_date and cadence")
				}
				if plan, err = newPlanFor(ctx, s, p, start, req.cadenceFields, t); err != nil {
					return err
				}
				if req.HomeCare != nil {
					if err := plan.SetHomeCare(*req.HomeCare); err != nil {
						return err
					}
				}
				plan.ClinicID = st.ClinicID
				return s.CreatePlan(ctx, plan)
			}
			created = false
			plan = *open
			if err := pre.check(plan.Version); err != nil {
				return err
			}
			if req.StartDate != nil {
				return invalid("start_date", "the plan has started; change it from a date with effective_from")
			}
			patch := patchPlanRequest{Action: req.Action, EffectiveFrom: req.EffectiveFrom, cadenceFields: req.cadenceFields}
			if patch.EffectiveFrom == nil && !req.cadenceFields.empty() {
				today := models.LocalDateOf(t, loc)
				patch.EffectiveFrom = &today
			}
			if req.HomeCare == nil || patch.Action != nil || patch.EffectiveFrom != nil {
				if err := patch.apply(&plan, t, loc); err != nil {
					return err
				}
			}
			if req.HomeCare != nil {
				if err := plan.SetHomeCare(*req.HomeCare); err != nil {
					return err
				}
			}
			plan.ClinicID, plan.UpdatedAt = st.ClinicID, t
			plan, err = s.SavePlan(ctx, plan)
			return err
		})
		if err != nil {
			return err
		}
		rp.after(c, p.ID, t)
		careNotice(c, notices, p, models.VariantCarePlan, plan.ID, t, rp)
		sessions, err := planSessions(ctx, s, plan)
		if err != nil {
			return err
		}
		setETag(c, plan.Version)
		if created {
			c.Status(fiber.StatusCreated)
		}
		return c.JSON(toPlan(plan, sessions, t, loc))
	}
}

type accessEntryJSON struct {
	At        time.Time `json:"at"`
	Clinic    namedJSON `json:"clinic"`
	Staff     namedJSON `json:"staff"`
	Action    string    `json:"action"`
	What      string    `json:"what"`
	RequestID string    `json:"request_id,omitempty"`
}

type accessCursorJSON struct {
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// handleAccessLog answers the patient's access log: who at which clinic
// saw or changed what of theirs, and when, newest first, a page at a time
// (?limit, ?cursor).
func handleAccessLog(s clinicCareStore, names linkStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c, "limit", "cursor"); err != nil {
			return err
		}
		var probs models.Problems
		limit := pageSize(&probs, c.Query("limit"))
		var after *models.AuditCursor
		if raw := c.Query("cursor"); raw != "" {
			var cur accessCursorJSON
			b, err := base64.RawURLEncoding.DecodeString(raw)
			if err != nil || json.Unmarshal(b, &cur) != nil || cur.ID == "" {
				probs.Add("cursor", "is not a cursor this list gave")
			}
			after = &models.AuditCursor{At: cur.At, ID: cur.ID}
		}
		if err := probs.Err(); err != nil {
			return err
		}
		entries, err := s.StaffAccessOf(c.UserContext(), patientID(c), after, limit+1)
		if err != nil {
			return err
		}
		var next *string
		if len(entries) > limit {
			entries = entries[:limit]
			last := entries[limit-1]
			b, _ := json.Marshal(accessCursorJSON{At: last.At, ID: last.ID})
			n := base64.RawURLEncoding.EncodeToString(b)
			next = &n
		}
		var staffIDs, clinicIDs []string
		for _, e := range entries {
			staffIDs = append(staffIDs, strings.TrimPrefix(e.Actor, "staff:"))
			clinicIDs = append(clinicIDs, e.ClinicID)
		}
		clinics, err := names.ClinicsByID(c.UserContext(), clinicIDs)
		if err != nil {
			return err
		}
		staff, err := names.StaffByIDs(c.UserContext(), staffIDs)
		if err != nil {
			return err
		}
		items := make([]accessEntryJSON, len(entries))
		for i, e := range entries {
			sid := strings.TrimPrefix(e.Actor, "staff:")
			action := "viewed"
			if e.Action == "staff_change" {
				action = "changed"
			}
			items[i] = accessEntryJSON{At: e.At, Clinic: namedJSON{ID: e.ClinicID, Name: clinics[e.ClinicID].Name},
				Staff: namedJSON{ID: sid, Name: staff[sid].Name}, Action: action, What: e.Detail, RequestID: e.RequestID}
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": next})
	}
}
