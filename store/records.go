package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// AppendAudit adds an entry to the audit trail. The trail is insert-only:
// nothing in the store updates or deletes an entry, erasure included.
func (s *Store) AppendAudit(ctx context.Context, e models.AuditEntry) error {
	_, err := s.db.Collection(colAudit).InsertOne(ctx, e)
	return mapErr(err, "audit entry")
}

// AppendAudits adds entries to the audit trail in one command: a clinic's
// triage list shows many patients at once, and each is an access.
func (s *Store) AppendAudits(ctx context.Context, entries []models.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	docs := make([]any, len(entries))
	for i, e := range entries {
		docs[i] = e
	}
	_, err := s.db.Collection(colAudit).InsertMany(ctx, docs)
	return mapErr(err, "audit entries")
}

// StaffAccessOf returns up to limit of the clinic staff's accesses to a
// patient's data, newest first, from before the entry after names (its
// time and id), or from the newest.
func (s *Store) StaffAccessOf(ctx context.Context, subject string, after *models.AuditCursor, limit int) ([]models.AuditEntry, error) {
	filter := bson.D{{Key: "subject", Value: subject}, {Key: "actor_kind", Value: models.ActorStaff}}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: after.At}}}},
			bson.D{{Key: "at", Value: after.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	cur, err := s.db.Collection(colAudit).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "audit")
	}
	entries := []models.AuditEntry{}
	return entries, mapErr(cur.All(ctx, &entries), "audit")
}

// AuditOf returns the audit entries about a subject, oldest first.
func (s *Store) AuditOf(ctx context.Context, subject string) ([]models.AuditEntry, error) {
	cur, err := s.db.Collection(colAudit).Find(ctx, bson.D{{Key: "subject", Value: subject}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(10_000))
	if err != nil {
		return nil, mapErr(err, "audit")
	}
	entries := []models.AuditEntry{}
	return entries, mapErr(cur.All(ctx, &entries), "audit")
}

// CreateReport stores a share link (only its token's hash).
func (s *Store) CreateReport(ctx context.Context, r models.Report) error {
	_, err := s.db.Collection(colReports).InsertOne(ctx, r)
	return mapErr(err, "report")
}

// ReportByTokenHash returns the share link with the token hash.
func (s *Store) ReportByTokenHash(ctx context.Context, hash string) (models.Report, error) {
	var r models.Report
	err := s.db.Collection(colReports).FindOne(ctx, bson.D{{Key: "token_hash", Value: hash}}).Decode(&r)
	return r, mapErr(err, "report")
}

// RevokeReport ends one of a patient's share links now, once: it reports
// whether this call revoked it, and false for a link already revoked, so
// that requests racing to revoke one link leave one audit entry.
func (s *Store) RevokeReport(ctx context.Context, patientID, id string, now time.Time) (bool, error) {
	col := s.db.Collection(colReports)
	for attempt := 0; ; attempt++ {
		var r models.Report
		if err := s.findOwned(ctx, colReports, patientID, id, &r, "report"); err != nil {
			return false, err
		}
		if r.RevokedAt != nil {
			return false, nil
		}
		err := s.change(ctx, colReports, id, r.Version, "the share link is being changed right now; try again",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return col.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
					{Key: "revoked_at", Value: now}, {Key: "version", Value: r.Version + 1},
				}}})
			})
		if !models.IsStale(err) || attempt == retries-1 {
			return err == nil, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// ProgressOf reads what a patient's progress is computed from: the
// patient, pain logs, questionnaire responses, sessions, plans and reminders. Insights and the
// clinician report need no more, so they do not read the rest.
func (s *Store) ProgressOf(ctx context.Context, patientID string) (models.PatientRecords, error) {
	var r models.PatientRecords
	p, err := s.PatientByID(ctx, patientID)
	if err != nil {
		return r, err
	}
	r.Patient = p
	if err := s.readByPatient(ctx, patientID, colPainLogs, &r.PainLogs); err != nil {
		return r, err
	}
	if err := s.readByPatient(ctx, patientID, colResponses, &r.Responses); err != nil {
		return r, err
	}
	if err := s.readByPatient(ctx, patientID, colSessions, &r.Sessions); err != nil {
		return r, err
	}
	if err := s.readByPatient(ctx, patientID, colReminders, &r.Reminders); err != nil {
		return r, err
	}
	var plans []planDoc
	if err := s.readByPatient(ctx, patientID, colPlans, &plans); err != nil {
		return r, err
	}
	for _, d := range plans {
		r.Plans = append(r.Plans, d.Plan)
	}
	return r, nil
}

// RecordsOf reads everything the store holds about a patient, for an
// export: every collection that has the patient's id, and the audit trail.
func (s *Store) RecordsOf(ctx context.Context, patientID string) (models.PatientRecords, error) {
	r, err := s.ProgressOf(ctx, patientID)
	if err != nil {
		return r, err
	}
	for col, dst := range map[string]any{colScreenings: &r.Screenings, colDevices: &r.Devices, colReports: &r.Reports} {
		if err := s.readByPatient(ctx, patientID, col, dst); err != nil {
			return r, err
		}
	}
	if r.CareLinks, err = s.LinksOfPatient(ctx, patientID); err != nil {
		return r, err
	}
	var notes []models.SessionNote
	if err := s.readByPatient(ctx, patientID, colNotes, &notes); err != nil {
		return r, err
	}
	staffIDs := []string{}
	for _, n := range notes {
		// The patient's record holds what was shared with them: the
		// summary, not the clinic's working notes.
		if n.Shared {
			r.Notes = append(r.Notes, models.SessionNote{ID: n.ID, PatientID: n.PatientID, ClinicID: n.ClinicID,
				NoteContent: models.NoteContent{Shared: true, Summary: n.Summary}, AuthorID: n.AuthorID, AuthorName: n.AuthorName,
				CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt})
			staffIDs = append(staffIDs, n.AuthorID)
		}
	}
	cur, err := s.db.Collection(colMessages).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return r, mapErr(err, colMessages)
	}
	if err := cur.All(ctx, &r.Messages); err != nil {
		return r, mapErr(err, colMessages)
	}
	for _, m := range r.Messages {
		if m.StaffID != "" {
			staffIDs = append(staffIDs, m.StaffID)
		}
	}
	clinicIDs := []string{}
	for _, l := range r.CareLinks {
		clinicIDs = append(clinicIDs, l.ClinicID)
		staffIDs = append(staffIDs, l.LinkedBy)
	}
	for _, sc := range r.Screenings {
		if sc.Clearance != nil && sc.Clearance.StaffID != "" {
			staffIDs = append(staffIDs, sc.Clearance.StaffID)
			clinicIDs = append(clinicIDs, sc.Clearance.ClinicID)
		}
	}
	clinics, err := s.ClinicsByID(ctx, clinicIDs)
	if err != nil {
		return r, err
	}
	for _, c := range clinics {
		r.Clinics = append(r.Clinics, c)
	}
	staff, err := s.StaffByIDs(ctx, staffIDs)
	if err != nil {
		return r, err
	}
	for _, st := range staff {
		st.PasswordHash = ""
		r.Staff = append(r.Staff, st)
	}
	r.Audit, err = s.AuditOf(ctx, patientID)
	return r, err
}

// readByPatient decodes every document of col that belongs to patientID into dst.
func (s *Store) readByPatient(ctx context.Context, patientID, col string, dst any) error {
	cur, err := s.db.Collection(col).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}})
	if err != nil {
		return mapErr(err, col)
	}
	return mapErr(cur.All(ctx, dst), col)
}

// ErasePatient deletes everything held about a patient except the audit
// trail, whose entries carry no health data. The patient document goes
// last, so that an interrupted erasure can be run again with the same
// password; every step is idempotent.
func (s *Store) ErasePatient(ctx context.Context, p models.Patient, now time.Time) error {
	// Every clinic loses sight of the patient first, before any of the
	// data goes: a staff request during the erasure finds no link.
	links, err := s.LinksOfPatient(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.Status == models.LinkActive {
			if _, err := s.RevokeLink(ctx, p.ID, l.ID, "erasure", now); err != nil {
				return err
			}
		}
	}
	byPatient := bson.D{{Key: "patient_id", Value: p.ID}}
	for _, col := range []string{colRefreshTokens, colDevices, colReminders, colPainLogs, colResponses, colScreenings, colPlans, colSessions, colReports, colNotes, colMessages, colLinkCodes, colCareLinks} {
		if _, err := s.db.Collection(col).DeleteMany(ctx, byPatient); err != nil {
			return mapErr(err, col)
		}
	}
	if _, err := s.db.Collection(colLoginAttempts).DeleteMany(ctx, bson.D{{Key: "email", Value: p.Email}}); err != nil {
		return mapErr(err, colLoginAttempts)
	}
	if err := s.DeleteAccountTokens(ctx, models.AudiencePatient, p.ID); err != nil {
		return err
	}
	// Mails not yet sent to the patient go too: they carry the name.
	if _, err := s.db.Collection(colMail).DeleteMany(ctx, bson.D{{Key: "to", Value: p.Email}}); err != nil {
		return mapErr(err, colMail)
	}
	// The write markers of the patient's pain logs, profile and mailed
	// tokens carry the patient's id in theirs ("pain_logs/<patient
	// id>:<uuid>/…"): a range of _id each, so that they go now rather than
	// with the day's cleanup.
	prefixes := []string{colPainLogs + "/" + p.ID + ":", colResponses + "/" + p.ID + ":", colPatients + "/" + p.ID + "/"}
	for _, purpose := range []models.TokenPurpose{models.PurposePasswordReset, models.PurposeVerifyEmail} {
		prefixes = append(prefixes, colAccountTokens+"/"+models.AccountTokenID(purpose, models.AudiencePatient, p.ID)+"/")
	}
	for _, prefix := range prefixes {
		if _, err := s.db.Collection(colMarkers).DeleteMany(ctx, idPrefix(prefix)); err != nil {
			return mapErr(err, colMarkers)
		}
	}
	_, err = s.db.Collection(colPatients).DeleteOne(ctx, bson.D{{Key: "_id", Value: p.ID}})
	return mapErr(err, "patient")
}

// idPrefix selects the documents whose _id starts with prefix, as a range
// of _id that an index serves: from the prefix up to, not including, the
// prefix with its last byte raised by one.
func idPrefix(prefix string) bson.D {
	end := []byte(prefix)
	end[len(end)-1]++
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: prefix}, {Key: "$lt", Value: string(end)}}}}
}
