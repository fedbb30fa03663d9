package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// Collections of the clinic side (DESIGN.md, "Clinic side").
const (
	colClinics     = "clinics"
	colStaff       = "staff"
	colInvitations = "staff_invitations"
	colCareLinks   = "care_links"
	colLinkCodes   = "link_codes"
	colNotes       = "session_notes"
)

// CreateClinic stores a new clinic and its owner. The owner goes first, so
// that an email already in use leaves no clinic without staff behind; a
// failure storing the clinic removes the owner again.
func (s *Store) CreateClinic(ctx context.Context, c models.Clinic, owner models.Staff) error {
	if err := s.CreateStaff(ctx, owner); err != nil {
		return err
	}
	if _, err := s.db.Collection(colClinics).InsertOne(ctx, c); err != nil {
		_, _ = s.db.Collection(colStaff).DeleteOne(ctx, bson.D{{Key: "_id", Value: owner.ID}})
		return mapErr(err, "clinic")
	}
	return nil
}

// Clinic returns the clinic with id.
func (s *Store) Clinic(ctx context.Context, id string) (models.Clinic, error) {
	var c models.Clinic
	err := s.db.Collection(colClinics).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	return c, mapErr(err, "clinic")
}

// ClinicsByID returns the clinics with the ids, by id.
func (s *Store) ClinicsByID(ctx context.Context, ids []string) (map[string]models.Clinic, error) {
	return byID(ctx, s, colClinics, ids, func(c models.Clinic) string { return c.ID })
}

// byID reads the documents of col with the ids, by id (id tells a
// document's).
func byID[T any](ctx context.Context, s *Store, col string, ids []string, id func(T) string) (map[string]T, error) {
	var list []T
	if err := s.findIn(ctx, col, "_id", ids, &list); err != nil {
		return nil, err
	}
	out := make(map[string]T, len(list))
	for _, d := range list {
		out[id(d)] = d
	}
	return out, nil
}

// SaveClinic replaces a clinic if it is still at c.Version (see change).
func (s *Store) SaveClinic(ctx context.Context, c models.Clinic) (models.Clinic, error) {
	from := c.Version
	c.Version++
	err := s.replaceAt(ctx, colClinics, c.ID, from, bson.E{Key: "_id", Value: c.ID}, c, "the clinic changed meanwhile; fetch it and try again")
	return c, err
}

// CreateStaff stores a staff account; an email in use is a conflict.
func (s *Store) CreateStaff(ctx context.Context, st models.Staff) error {
	_, err := s.db.Collection(colStaff).InsertOne(ctx, st)
	if models.ErrorCode(mapErr(err, "")) == models.ErrConflict {
		return models.Errorf(models.ErrConflict, "a staff account with this email already exists")
	}
	return mapErr(err, "staff member")
}

// StaffByID returns the staff member with id.
func (s *Store) StaffByID(ctx context.Context, id string) (models.Staff, error) {
	var st models.Staff
	err := s.db.Collection(colStaff).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&st)
	return st, mapErr(err, "staff member")
}

// StaffByEmail returns the staff member with the (normalized) email.
func (s *Store) StaffByEmail(ctx context.Context, email string) (models.Staff, error) {
	var st models.Staff
	err := s.db.Collection(colStaff).FindOne(ctx, bson.D{{Key: "email", Value: models.NormalizeEmail(email)}}).Decode(&st)
	return st, mapErr(err, "staff member")
}

// StaffOf returns a clinic's staff, by name.
func (s *Store) StaffOf(ctx context.Context, clinicID string) ([]models.Staff, error) {
	cur, err := s.db.Collection(colStaff).Find(ctx, bson.D{{Key: "clinic_id", Value: clinicID}},
		options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(1000))
	if err != nil {
		return nil, mapErr(err, "staff")
	}
	list := []models.Staff{}
	return list, mapErr(cur.All(ctx, &list), "staff")
}

// StaffByIDs returns the staff members with the ids, by id.
func (s *Store) StaffByIDs(ctx context.Context, ids []string) (map[string]models.Staff, error) {
	return byID(ctx, s, colStaff, ids, func(st models.Staff) string { return st.ID })
}

// SaveStaff replaces a staff account if it is still at st.Version.
func (s *Store) SaveStaff(ctx context.Context, st models.Staff) (models.Staff, error) {
	from := st.Version
	st.Version++
	err := s.replaceAt(ctx, colStaff, st.ID, from, bson.E{Key: "clinic_id", Value: st.ClinicID}, st, "the staff member changed meanwhile; try again")
	return st, err
}

// CreateInvitation stores an invitation (its token's hash only).
func (s *Store) CreateInvitation(ctx context.Context, inv models.Invitation) error {
	_, err := s.db.Collection(colInvitations).InsertOne(ctx, inv)
	return mapErr(err, "invitation")
}

// InvitationsOf returns a clinic's invitations, newest first.
func (s *Store) InvitationsOf(ctx context.Context, clinicID string) ([]models.Invitation, error) {
	cur, err := s.db.Collection(colInvitations).Find(ctx, bson.D{{Key: "clinic_id", Value: clinicID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(1000))
	if err != nil {
		return nil, mapErr(err, "invitations")
	}
	list := []models.Invitation{}
	return list, mapErr(cur.All(ctx, &list), "invitations")
}

// RevokeInvitation ends a clinic's pending invitation once; it reports
// false for one no longer pending.
func (s *Store) RevokeInvitation(ctx context.Context, clinicID, id string, now time.Time) (bool, error) {
	var inv models.Invitation
	err := s.db.Collection(colInvitations).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "clinic_id", Value: clinicID}}).Decode(&inv)
	if err != nil {
		return false, mapErr(err, "invitation")
	}
	if inv.Version > 0 {
		return false, nil
	}
	err = s.change(ctx, colInvitations, id, 0, "the invitation was used or revoked meanwhile",
		func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
			return s.db.Collection(colInvitations).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
				{Key: "revoked_at", Value: now}, {Key: "version", Value: 1},
			}}})
		})
	if models.IsStale(err) {
		return false, nil
	}
	return err == nil, err
}

// AcceptInvitation turns the invitation with token hash into the staff
// account st (whose email and role the caller took from the invitation,
// which it read with InvitationByTokenHash), exactly once. The account is
// stored first, so an email already in use refuses the acceptance and
// leaves the invitation usable; then the invitation is spent, and of
// requests racing with one token, one spends it and the others' accounts
// are removed again.
func (s *Store) AcceptInvitation(ctx context.Context, inv models.Invitation, st models.Staff, now time.Time) error {
	if err := s.CreateStaff(ctx, st); err != nil {
		return err
	}
	err := s.change(ctx, colInvitations, inv.ID, 0, "the invitation was used or revoked meanwhile",
		func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
			return s.db.Collection(colInvitations).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
				{Key: "accepted_at", Value: now}, {Key: "staff_id", Value: st.ID}, {Key: "version", Value: 1},
			}}})
		})
	if err != nil {
		_, _ = s.db.Collection(colStaff).DeleteOne(ctx, bson.D{{Key: "_id", Value: st.ID}})
		if models.IsStale(err) {
			return models.Errorf(models.ErrNotFound, "the invitation is not valid: it was used, revoked or has expired")
		}
		return err
	}
	return nil
}

// Invitation returns the clinic's invitation with id.
func (s *Store) Invitation(ctx context.Context, clinicID, id string) (models.Invitation, error) {
	var inv models.Invitation
	err := s.db.Collection(colInvitations).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "clinic_id", Value: clinicID}}).Decode(&inv)
	return inv, mapErr(err, "invitation")
}

// InvitationByTokenHash returns the invitation with token hash.
func (s *Store) InvitationByTokenHash(ctx context.Context, hash string) (models.Invitation, error) {
	var inv models.Invitation
	err := s.db.Collection(colInvitations).FindOne(ctx, bson.D{{Key: "token_hash", Value: hash}}).Decode(&inv)
	return inv, mapErr(err, "invitation")
}

// linkDoc is a care link as stored. ActiveKey is "<patient>|<clinic>"
// while the link is active and the link's own id once revoked: a unique
// index on it allows one active link per patient and clinic.
type linkDoc struct {
	models.CareLink `bson:",inline"`
	ActiveKey       string `bson:"active_key"`
}

func toLinkDoc(l models.CareLink) linkDoc {
	key := l.PatientID + "|" + l.ClinicID
	if l.Status != models.LinkActive {
		key = l.ID
	}
	return linkDoc{CareLink: l, ActiveKey: key}
}

// LinkPatient stores l, an active link. When the patient already has an
// active link to that clinic, that link takes l's scope instead: the patient
// consented to it just now. It returns the link as stored.
func (s *Store) LinkPatient(ctx context.Context, l models.CareLink) (models.CareLink, error) {
	_, err := s.db.Collection(colCareLinks).InsertOne(ctx, toLinkDoc(l))
	if models.ErrorCode(mapErr(err, "")) != models.ErrConflict {
		return l, mapErr(err, "care link")
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.ActiveLink(ctx, l.PatientID, l.ClinicID)
		if models.ErrorCode(err) == models.ErrNotFound {
			// Revoked in between: link afresh.
			return s.LinkPatient(ctx, l)
		}
		if err != nil {
			return l, err
		}
		if cur.Scope == l.Scope {
			return cur, nil
		}
		cur.Scope, cur.UpdatedAt = l.Scope, l.UpdatedAt
		saved, err := s.saveLink(ctx, cur)
		if !models.IsStale(err) || attempt == retries-1 {
			return saved, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return l, err
		}
	}
}

func (s *Store) saveLink(ctx context.Context, l models.CareLink) (models.CareLink, error) {
	from := l.Version
	l.Version++
	err := s.replaceAt(ctx, colCareLinks, l.ID, from, bson.E{Key: "patient_id", Value: l.PatientID}, toLinkDoc(l),
		"the care link changed meanwhile; try again")
	return l, err
}

// ActiveLink returns the active link between a patient and a clinic.
func (s *Store) ActiveLink(ctx context.Context, patientID, clinicID string) (models.CareLink, error) {
	var d linkDoc
	err := s.db.Collection(colCareLinks).FindOne(ctx, bson.D{{Key: "active_key", Value: patientID + "|" + clinicID}}).Decode(&d)
	return d.CareLink, mapErr(err, "care link")
}

// LinksOfPatient returns every link of a patient, active or revoked, oldest first.
func (s *Store) LinksOfPatient(ctx context.Context, patientID string) ([]models.CareLink, error) {
	var docs []linkDoc
	if err := s.readByPatient(ctx, patientID, colCareLinks, &docs); err != nil {
		return nil, err
	}
	links := make([]models.CareLink, len(docs))
	for i, d := range docs {
		links[i] = d.CareLink
	}
	return links, nil
}

// ActiveLinksOf returns a clinic's active links.
func (s *Store) ActiveLinksOf(ctx context.Context, clinicID string) ([]models.CareLink, error) {
	cur, err := s.db.Collection(colCareLinks).Find(ctx, bson.D{{Key: "clinic_id", Value: clinicID}, {Key: "status", Value: models.LinkActive}}, wholeBatch())
	if err != nil {
		return nil, mapErr(err, "care links")
	}
	var docs []linkDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapErr(err, "care links")
	}
	links := make([]models.CareLink, len(docs))
	for i, d := range docs {
		links[i] = d.CareLink
	}
	return links, nil
}

// RevokeLink ends one of a patient's links once: it reports false for a
// link already revoked. by is who ended it ("patient", "erasure").
func (s *Store) RevokeLink(ctx context.Context, patientID, id, by string, now time.Time) (bool, error) {
	for attempt := 0; ; attempt++ {
		var d linkDoc
		if err := s.findOwned(ctx, colCareLinks, patientID, id, &d, "care link"); err != nil {
			return false, err
		}
		if d.Status != models.LinkActive {
			return false, nil
		}
		l := d.CareLink
		l.Status, l.RevokedAt, l.RevokedBy, l.UpdatedAt = models.LinkRevoked, &now, by, now
		_, err := s.saveLink(ctx, l)
		if !models.IsStale(err) || attempt == retries-1 {
			return err == nil, err
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// HasCareLink reports whether the patient has an active link of care scope:
// their clinic, not they, then records clearances.
func (s *Store) HasCareLink(ctx context.Context, patientID string) (bool, error) {
	n, err := s.db.Collection(colCareLinks).CountDocuments(ctx, bson.D{
		{Key: "patient_id", Value: patientID}, {Key: "status", Value: models.LinkActive}, {Key: "scope", Value: models.ScopeCare},
	})
	return n > 0, mapErr(err, "care links")
}

// CreateLinkCode stores a code; a clash of its first group with a live
// code's is a conflict, and the caller makes another.
func (s *Store) CreateLinkCode(ctx context.Context, c models.LinkCode) error {
	_, err := s.db.Collection(colLinkCodes).InsertOne(ctx, c)
	return mapErr(err, "link code")
}

// errBadCode is the one answer for a code that does not work, whatever the
// reason: unknown, wrong, expired, used or burnt. Telling them apart would
// tell a guesser which first groups exist.
var errBadCode = models.Errorf(models.ErrNotFound, "the code is not valid: check it, or ask for a new one")

// CheckLinkCode looks up the code whose hashes a typed code gave, made by
// the side from, and compares its secret in constant time. A wrong secret
// counts as a try against the code (tries are versioned changes, so racing
// guesses each count); after models.LinkCodeMaxTries the code is burnt and
// fails even when right. With spend, a right code is used up, exactly once:
// of requests racing with one code, one gets it.
func (s *Store) CheckLinkCode(ctx context.Context, locatorHash, secretHash string, from models.LinkCodeDirection, spend bool, now time.Time) (models.LinkCode, error) {
	col := s.db.Collection(colLinkCodes)
	for attempt := 0; ; attempt++ {
		var c models.LinkCode
		err := col.FindOne(ctx, bson.D{{Key: "_id", Value: locatorHash}}).Decode(&c)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return c, errBadCode
		case err != nil:
			return c, mapErr(err, "link code")
		case c.Direction != from || !c.Usable(now):
			return c, errBadCode
		}
		right := c.SecretMatches(secretHash)
		if right && !spend {
			return c, nil
		}
		set := bson.D{{Key: "version", Value: c.Version + 1}}
		if right {
			set = append(set, bson.E{Key: "used_at", Value: now})
		} else {
			set = append(set, bson.E{Key: "tries", Value: c.Tries + 1})
		}
		err = s.change(ctx, colLinkCodes, c.ID, c.Version, "the code changed meanwhile",
			func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
				return col.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
			})
		switch {
		case err == nil && right:
			c.UsedAt, c.Version = &now, c.Version+1
			return c, nil
		case err == nil:
			return c, errBadCode
		case !models.IsStale(err):
			return c, err
		case attempt == retries-1:
			return c, errBadCode
		}
		if err := pauseBeforeRetry(ctx, attempt); err != nil {
			return c, err
		}
	}
}

// DeleteExpiredClinicTokens removes link codes, invitations and dashboard
// sessions past their expiry: they can no longer be used. An accepted
// invitation goes too; the staff account it became stays.
func (s *Store) DeleteExpiredClinicTokens(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, col := range []string{colLinkCodes, colInvitations, colWebSessions} {
		res, err := s.db.Collection(col).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}})
		if err != nil {
			return n, mapErr(err, col)
		}
		n += res.DeletedCount
	}
	return n, nil
}

// SessionNote returns the note on one of a patient's sessions.
func (s *Store) SessionNote(ctx context.Context, patientID, sessionID string) (models.SessionNote, error) {
	var n models.SessionNote
	err := s.findOwned(ctx, colNotes, patientID, sessionID, &n, "session note")
	return n, err
}

// SaveSessionNote stores a new note (n.Version 0, none stored yet) or
// replaces the stored one if it is still at n.Version.
func (s *Store) SaveSessionNote(ctx context.Context, n models.SessionNote) (models.SessionNote, error) {
	from := n.Version
	n.Version++
	if from == 0 {
		_, err := s.db.Collection(colNotes).InsertOne(ctx, n)
		if models.ErrorCode(mapErr(err, "")) == models.ErrConflict {
			return n, lostRace("the note was written meanwhile; fetch it and try again")
		}
		return n, mapErr(err, "session note")
	}
	err := s.replaceAt(ctx, colNotes, n.ID, from, bson.E{Key: "patient_id", Value: n.PatientID}, n,
		"the note changed meanwhile; fetch it and try again")
	return n, err
}

// NotesOf returns a patient's notes on the sessions with the ids.
func (s *Store) NotesOf(ctx context.Context, patientID string, sessionIDs []string) (map[string]models.SessionNote, error) {
	out := map[string]models.SessionNote{}
	if len(sessionIDs) == 0 {
		return out, nil
	}
	cur, err := s.db.Collection(colNotes).Find(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: sessionIDs}}}, {Key: "patient_id", Value: patientID},
	})
	if err != nil {
		return nil, mapErr(err, "session notes")
	}
	var list []models.SessionNote
	if err := cur.All(ctx, &list); err != nil {
		return nil, mapErr(err, "session notes")
	}
	for _, n := range list {
		out[n.ID] = n
	}
	return out, nil
}

// ClinicPatients reads what a clinic's triage list is computed from: its
// active links and, for all of the linked patients at once, one read per
// collection — the patients, their pain logs and reminders since since,
// their sessions, open plans, screenings, questionnaire responses and the
// messages the clinic has not read.
// Never a query per patient.
func (s *Store) ClinicPatients(ctx context.Context, clinicID string, since time.Time) ([]models.TriageInput, error) {
	links, err := s.ActiveLinksOf(ctx, clinicID)
	if err != nil || len(links) == 0 {
		return nil, err
	}
	return s.triageInputs(ctx, links, since)
}

// LinkedPatient reads what one linked patient's triage is computed from,
// as ClinicPatients does for the whole clinic.
func (s *Store) LinkedPatient(ctx context.Context, link models.CareLink, since time.Time) (models.TriageInput, error) {
	in, err := s.triageInputs(ctx, []models.CareLink{link}, since)
	if err != nil {
		return models.TriageInput{}, err
	}
	if len(in) == 0 {
		return models.TriageInput{}, models.Errorf(models.ErrNotFound, "patient not found")
	}
	return in[0], nil
}

// triageInputs reads the data of the links' patients, one read per collection.
func (s *Store) triageInputs(ctx context.Context, links []models.CareLink, since time.Time) ([]models.TriageInput, error) {
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.PatientID
	}
	patients, err := s.PatientsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var (
		logs       []models.PainLog
		sessions   []models.Session
		reminders  []models.Reminder
		screenings []models.Screening
		responses  []models.QuestionnaireResponse
		messages   []models.Message
	)
	byPatient := func(extra ...bson.E) bson.D {
		return append(bson.D{{Key: "patient_id", Value: bson.D{{Key: "$in", Value: ids}}}}, extra...)
	}
	plans, err := s.OpenPlansOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	// A plan's baseline is the week before it started, which may be
	// before since.
	logsSince := since
	for _, pl := range plans {
		if d, err := time.Parse(time.DateOnly, pl.StartDate()); err == nil && d.AddDate(0, 0, -8).Before(logsSince) {
			logsSince = d.AddDate(0, 0, -8)
		}
	}
	project := func(fields ...string) bson.D {
		d := bson.D{}
		for _, f := range fields {
			d = append(d, bson.E{Key: f, Value: 1})
		}
		return d
	}
	reads := []struct {
		col        string
		filter     bson.D
		projection bson.D
		dst        any
	}{
		{colPainLogs, byPatient(bson.E{Key: "logged_at", Value: bson.D{{Key: "$gte", Value: logsSince}}}),
			project("patient_id", "logged_at", "local_date", "score", "red_flags", "deleted"), &logs},
		{colSessions, byPatient(bson.E{Key: "scheduled_at", Value: bson.D{{Key: "$gte", Value: since}}}), nil, &sessions},
		{colReminders, byPatient(bson.E{Key: "due_at", Value: bson.D{{Key: "$gte", Value: since}}}),
			project("patient_id", "kind", "local_date", "status", "sent_at", "acked_at"), &reminders},
		{colScreenings, byPatient(), nil, &screenings},
		// Few (weekly at most), and the baseline may be before since.
		{colResponses, byPatient(bson.E{Key: "deleted", Value: false}), nil, &responses},
		// What the staff have not read yet, of any age; never the text.
		{colMessages, byPatient(bson.E{Key: "unread_by", Value: models.SideStaff}),
			project("link_id", "patient_id", "author", "created_at", "unread_by"), &messages},
	}
	for _, r := range reads {
		opts := options.Find().SetBatchSize(clinicBatch)
		if r.projection != nil {
			opts.SetProjection(r.projection)
		}
		cur, err := s.db.Collection(r.col).Find(ctx, r.filter, opts)
		if err != nil {
			return nil, mapErr(err, r.col)
		}
		if err := cur.All(ctx, r.dst); err != nil {
			return nil, mapErr(err, r.col)
		}
	}
	in := make(map[string]*models.TriageInput, len(links))
	out := make([]models.TriageInput, 0, len(links))
	for _, l := range links {
		p, ok := patients[l.PatientID]
		if !ok {
			continue
		}
		out = append(out, models.TriageInput{Patient: p, Link: l})
	}
	for i := range out {
		in[out[i].Patient.ID] = &out[i]
		if pl, ok := plans[out[i].Patient.ID]; ok {
			out[i].Plan = &pl
		}
	}
	for _, l := range logs {
		if t := in[l.PatientID]; t != nil {
			t.Logs = append(t.Logs, l)
		}
	}
	for _, ss := range sessions {
		if t := in[ss.PatientID]; t != nil {
			t.Sessions = append(t.Sessions, ss)
		}
	}
	for _, r := range reminders {
		if t := in[r.PatientID]; t != nil {
			t.Reminders = append(t.Reminders, r)
		}
	}
	for _, r := range responses {
		if t := in[r.PatientID]; t != nil {
			t.Responses = append(t.Responses, r)
		}
	}
	for _, m := range messages {
		// An earlier, revoked link's conversation is not this clinic's to see.
		if t := in[m.PatientID]; t != nil && m.LinkID == t.Link.ID {
			t.Messages = append(t.Messages, m)
		}
	}
	for _, sc := range screenings {
		if t := in[sc.PatientID]; t != nil && (t.Screening == nil || sc.TakenAt.After(t.Screening.TakenAt)) {
			sc := sc
			t.Screening = &sc
		}
	}
	return out, nil
}

// clinicBatch is the first reply's size for a clinic's reads: a clinic of
// 300 patients has some 27,000 pain logs in 90 days, and each further batch
// would be one more command (the server still caps a reply at 16 MiB,
// which the projections keep these well under).
const clinicBatch = 100_000

// findIn decodes into dst the documents of col whose field is one of values.
func (s *Store) findIn(ctx context.Context, col, field string, values []string, dst any) error {
	if len(values) == 0 {
		return nil
	}
	cur, err := s.db.Collection(col).Find(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: values}}}})
	if err != nil {
		return mapErr(err, col)
	}
	return mapErr(cur.All(ctx, dst), col)
}
