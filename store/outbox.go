package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/backcare/backcare/models"
)

// The outbox: a request that must send a mail composes it (mail.Compose)
// and inserts it here, and returns; the outbox job (jobs.Outbox) sends it
// later. A request never waits on a mail server, and a mail whose send
// fails, or whose sender dies mid-send, is still here to be sent again.
//
// Sending follows the dispatcher's claims (see ClaimDue and markers.go): a
// job claims due mails under a lease by the write-marker move of each from
// the version it read, so that of three instances racing for a mail exactly
// one sends it; every later write is a move from the claimed version under
// the same lease. A job that dies leaves its mails claimed until the lease
// runs out, and the next claim takes them over.

// MailRetention is how long a sent or failed mail is kept (without its
// body) before the cleanup job deletes it: long enough to answer "did the
// reset mail go out?".
const MailRetention = 7 * 24 * time.Hour

// EnqueueMail queues m, composed and valid, to be sent from now on. It
// assigns an id when m has none; a mail with an id already queued is a
// conflict.
func (s *Store) EnqueueMail(ctx context.Context, m models.Mail, now time.Time) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	m.Status, m.NextAttemptAt, m.Attempts, m.Version = models.MailPending, now, 0, 0
	m.LeaseToken, m.LeaseUntil, m.SentAt, m.FinishedAt, m.LastError = "", nil, nil, nil, ""
	_, err := s.db.Collection(colMail).InsertOne(ctx, m)
	return mapErr(err, "mail")
}

// Mail returns one mail of the outbox.
func (s *Store) Mail(ctx context.Context, id string) (models.Mail, error) {
	var m models.Mail
	err := s.db.Collection(colMail).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m)
	return m, mapErr(err, "mail")
}

func (s *Store) mailMove(m models.Mail) move {
	return move{col: colMail, key: m.ID, from: m.Version, stillAt: s.atVersion(colMail, m.ID, m.Version)}
}

// ClaimDueMails leases up to limit due mails to one outbox job and returns
// exactly those it won, at their claimed version. Due means pending with its
// next attempt reached, or claimed by a job whose lease ran out (it died or
// hung). Three commands: find, insert markers, mark.
func (s *Store) ClaimDueMails(ctx context.Context, now time.Time, lease string, leaseUntil time.Time, limit int) ([]models.Mail, error) {
	col := s.db.Collection(colMail)
	cur, err := col.Find(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: models.MailPending}, {Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "status", Value: models.MailSending}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}},
	}}}, wholeBatch().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(err, "mail")
	}
	var candidates []models.Mail
	if err := cur.All(ctx, &candidates); err != nil {
		return nil, mapErr(err, "mail")
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	moves := make([]move, len(candidates))
	for i, m := range candidates {
		moves[i] = s.mailMove(m)
	}
	won, began, err := s.takeMany(ctx, moves)
	if err != nil {
		return nil, err
	}
	var claimed []models.Mail
	ids := bson.A{}
	for i, m := range candidates {
		if won[i] {
			m.Status, m.LeaseToken, m.LeaseUntil, m.Version = models.MailSending, lease, &leaseUntil, m.Version+1
			claimed = append(claimed, m)
			ids = append(ids, m.ID)
		}
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	wctx, cancel := forWrite(ctx, began)
	defer cancel()
	_, err = col.UpdateMany(wctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "status", Value: models.MailSending}, {Key: "lease_token", Value: lease}, {Key: "lease_until", Value: leaseUntil},
		}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if err != nil {
		return nil, mapErr(err, "mail")
	}
	return claimed, nil
}

// RecordMailOutcomes writes what sends under lease did, each mail moving
// from the version it was claimed at, and returns how many it wrote. A
// mail another job has taken over since (this job's lease ran out) is left
// to that job. A mail that is sent or failed loses its text and HTML: they
// hold reset links and codes, which have no business staying in a database
// once delivered.
func (s *Store) RecordMailOutcomes(ctx context.Context, lease string, outcomes []models.MailOutcome, now time.Time) (int64, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	moves := make([]move, len(outcomes))
	for i, o := range outcomes {
		moves[i] = s.mailMove(models.Mail{ID: o.ID, Version: o.Version})
	}
	won, began, err := s.takeMany(ctx, moves)
	if err != nil {
		return 0, err
	}
	var writes []mongo.WriteModel
	for i, o := range outcomes {
		if won[i] {
			writes = append(writes, mongo.NewUpdateOneModel().
				SetFilter(bson.D{{Key: "_id", Value: o.ID}, {Key: "lease_token", Value: lease}}).
				SetUpdate(mailOutcomeUpdate(o, now)))
		}
	}
	if len(writes) == 0 {
		return 0, nil
	}
	wctx, cancel := forWrite(ctx, began)
	defer cancel()
	_, modified, err := s.bulkWrite(wctx, colMail, writes)
	return modified, err
}

func mailOutcomeUpdate(o models.MailOutcome, now time.Time) bson.D {
	set := bson.D{{Key: "status", Value: o.Status}}
	unset := bson.D{{Key: "lease_token", Value: ""}, {Key: "lease_until", Value: ""}}
	switch o.Status {
	case models.MailSent, models.MailFailed:
		set = append(set, bson.E{Key: "finished_at", Value: now}, bson.E{Key: "text", Value: ""}, bson.E{Key: "html", Value: ""})
		if o.Status == models.MailSent {
			set = append(set, bson.E{Key: "sent_at", Value: now})
		}
	default:
		set = append(set, bson.E{Key: "next_attempt_at", Value: o.NextAttemptAt})
	}
	switch {
	case o.LastError != "":
		set = append(set, bson.E{Key: "last_error", Value: o.LastError})
	case o.Status == models.MailSent:
		unset = append(unset, bson.E{Key: "last_error", Value: ""})
	}
	inc := bson.D{{Key: "version", Value: 1}}
	if o.Attempted {
		inc = append(inc, bson.E{Key: "attempts", Value: 1})
	}
	return bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: unset}, {Key: "$inc", Value: inc}}
}

// DeleteOldMails removes the mails sent or given up more than
// MailRetention before now.
func (s *Store) DeleteOldMails(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colMail).DeleteMany(ctx, bson.D{{Key: "finished_at", Value: bson.D{{Key: "$lt", Value: now.Add(-MailRetention)}}}})
	if err != nil {
		return 0, mapErr(err, "mail")
	}
	return res.DeletedCount, nil
}
