package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// AppendAudit adds an entry to the audit trail. The trail is insert-only:
// nothing in the store updates or deletes an entry, erasure included.
func (s *Store) AppendAudit(ctx context.Context, e models.AuditEntry) error {
	_, err := s.db.Collection(colAudit).InsertOne(ctx, e)
	return mapErr(err, "audit entry")
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

// RevokeReport ends one of a patient's share links now.
func (s *Store) RevokeReport(ctx context.Context, patientID, id string, now time.Time) error {
	res, err := s.db.Collection(colReports).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "patient_id", Value: patientID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}})
	if err != nil {
		return mapErr(err, "report")
	}
	if res.MatchedCount == 0 {
		return models.Errorf(models.ErrNotFound, "report not found")
	}
	return nil
}

// RecordsOf reads everything the store holds about a patient, for an
// export: every collection that has the patient's id.
func (s *Store) RecordsOf(ctx context.Context, patientID string) (models.PatientRecords, error) {
	var r models.PatientRecords
	p, err := s.PatientByID(ctx, patientID)
	if err != nil {
		return r, err
	}
	r.Patient = p
	byPatient := bson.D{{Key: "patient_id", Value: patientID}}
	for _, q := range []struct {
		col string
		dst any
	}{
		{colPainLogs, &r.PainLogs}, {colScreenings, &r.Screenings}, {colSessions, &r.Sessions},
		{colReminders, &r.Reminders}, {colDevices, &r.Devices}, {colReports, &r.Reports},
	} {
		cur, err := s.db.Collection(q.col).Find(ctx, byPatient)
		if err != nil {
			return r, mapErr(err, q.col)
		}
		if err := cur.All(ctx, q.dst); err != nil {
			return r, mapErr(err, q.col)
		}
	}
	cur, err := s.db.Collection(colPlans).Find(ctx, byPatient)
	if err != nil {
		return r, mapErr(err, colPlans)
	}
	var plans []planDoc
	if err := cur.All(ctx, &plans); err != nil {
		return r, mapErr(err, colPlans)
	}
	for _, d := range plans {
		r.Plans = append(r.Plans, d.Plan)
	}
	r.Audit, err = s.AuditOf(ctx, patientID)
	return r, err
}

// ErasePatient deletes everything held about a patient except the audit
// trail, whose entries carry no health data. The patient document goes
// last, so that an interrupted erasure can be run again with the same
// password; every step is idempotent.
func (s *Store) ErasePatient(ctx context.Context, p models.Patient) error {
	byPatient := bson.D{{Key: "patient_id", Value: p.ID}}
	for _, col := range []string{colRefreshTokens, colDevices, colReminders, colPainLogs, colScreenings, colPlans, colSessions, colReports} {
		if _, err := s.db.Collection(col).DeleteMany(ctx, byPatient); err != nil {
			return mapErr(err, col)
		}
	}
	if _, err := s.db.Collection(colLoginAttempts).DeleteMany(ctx, bson.D{{Key: "email", Value: p.Email}}); err != nil {
		return mapErr(err, colLoginAttempts)
	}
	_, err := s.db.Collection(colPatients).DeleteOne(ctx, bson.D{{Key: "_id", Value: p.ID}})
	return mapErr(err, "patient")
}
