package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// colMessages holds the messages of every conversation (one per care link).
const colMessages = "messages"

// PutMessage stores m under its id, once: a sender's retry (the same
// author and text) finds it stored and answers it as it is, created false;
// another message under the same id is a conflict. The unique _id decides
// between racing sends on both engines, and a stored message is never
// rewritten, so no write marker is needed.
func (s *Store) PutMessage(ctx context.Context, m models.Message) (stored models.Message, created bool, err error) {
	col := s.db.Collection(colMessages)
	_, err = col.InsertOne(ctx, m)
	if err == nil {
		return m, true, nil
	}
	if models.ErrorCode(mapErr(err, "")) != models.ErrConflict {
		return m, false, mapErr(err, "message")
	}
	if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}).Decode(&stored); err != nil {
		return m, false, mapErr(err, "message")
	}
	if !stored.SameSend(m) {
		return m, false, models.Errorf(models.ErrConflict, "another message was sent under this id; send this one under a new UUID")
	}
	return stored, false, nil
}

// Message returns the message with the client id in the conversation of link linkID.
func (s *Store) Message(ctx context.Context, linkID, clientID string) (models.Message, error) {
	var m models.Message
	err := s.db.Collection(colMessages).FindOne(ctx, bson.D{{Key: "_id", Value: models.MessageDocID(linkID, clientID)}}).Decode(&m)
	return m, mapErr(err, "message")
}

// ListMessages returns a conversation's messages newest first, a page at a
// time: the page after the cursor holds older ones.
func (s *Store) ListMessages(ctx context.Context, linkID string, after *models.PainLogCursor, limit int) ([]models.Message, *models.PainLogCursor, error) {
	filter := diaryFilter(bson.D{{Key: "link_id", Value: linkID}}, "", "", "created_at", after)
	sort := bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	return pageOf(ctx, s.db.Collection(colMessages), filter, sort, limit,
		func(m models.Message) (time.Time, string) { return m.CreatedAt, m.ID })
}

// MessageChanges returns a conversation's messages written or read at or
// after since, oldest change first, for a phone's sync.
func (s *Store) MessageChanges(ctx context.Context, linkID string, since time.Time, after *models.PainLogCursor, limit int) ([]models.Message, *models.PainLogCursor, error) {
	filter := bson.D{{Key: "link_id", Value: linkID}, {Key: "updated_at", Value: bson.D{{Key: "$gte", Value: since}}}}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "updated_at", Value: bson.D{{Key: "$gt", Value: after.At}}}},
			bson.D{{Key: "updated_at", Value: after.At}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: after.ID}}}},
		}})
	}
	sort := bson.D{{Key: "updated_at", Value: 1}, {Key: "_id", Value: 1}}
	return pageOf(ctx, s.db.Collection(colMessages), filter, sort, limit,
		func(m models.Message) (time.Time, string) { return m.UpdatedAt, m.ID })
}

// MarkRead marks read, at now, the messages that reader has not read in
// the conversation of link linkID, up to and including upTo (by when they
// were written), and returns how many it marked. Reading is idempotent: two
// readers at once mark the same messages, and either's time stands.
func (s *Store) MarkRead(ctx context.Context, linkID string, reader models.Side, upTo models.Message, now time.Time) (int64, error) {
	res, err := s.db.Collection(colMessages).UpdateMany(ctx, bson.D{
		{Key: "link_id", Value: linkID}, {Key: "unread_by", Value: reader},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: upTo.CreatedAt}}}},
			bson.D{{Key: "created_at", Value: upTo.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lte", Value: upTo.ID}}}},
		}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "unread_by", Value: ""}, {Key: "read_at", Value: now}, {Key: "updated_at", Value: now}}}})
	if err != nil {
		return 0, mapErr(err, "messages")
	}
	return res.ModifiedCount, nil
}

// UnreadCounts returns how many messages reader has not read, by care
// link, among the patient's conversations: one query for all of them.
func (s *Store) UnreadCounts(ctx context.Context, patientID string, reader models.Side) (map[string]int, error) {
	cur, err := s.db.Collection(colMessages).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}, {Key: "unread_by", Value: reader}},
		options.Find().SetProjection(bson.D{{Key: "link_id", Value: 1}}))
	if err != nil {
		return nil, mapErr(err, "messages")
	}
	var found []models.Message
	if err := cur.All(ctx, &found); err != nil {
		return nil, mapErr(err, "messages")
	}
	counts := map[string]int{}
	for _, m := range found {
		counts[m.LinkID]++
	}
	return counts, nil
}

// ClinicMessages returns, without their text, the messages of a clinic's
// conversations that its staff have not read, of any age, and every one
// written since since: what the inbox is ordered by, in one query.
func (s *Store) ClinicMessages(ctx context.Context, clinicID string, since time.Time) ([]models.Message, error) {
	cur, err := s.db.Collection(colMessages).Find(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "clinic_id", Value: clinicID}, {Key: "unread_by", Value: models.SideStaff}},
		bson.D{{Key: "clinic_id", Value: clinicID}, {Key: "created_at", Value: bson.D{{Key: "$gte", Value: since}}}},
	}}}, options.Find().SetBatchSize(clinicBatch).SetProjection(bson.D{{Key: "text", Value: 0}}))
	if err != nil {
		return nil, mapErr(err, "messages")
	}
	found := []models.Message{}
	return found, mapErr(cur.All(ctx, &found), "messages")
}

// MessageNotices returns the pushes that the conversation of link linkID
// has had, any status: how many there were, and whether one is pending.
func (s *Store) MessageNotices(ctx context.Context, patientID, linkID string) ([]models.Reminder, error) {
	cur, err := s.db.Collection(colReminders).Find(ctx, bson.D{{Key: "patient_id", Value: patientID}, {Key: "source_id", Value: linkID}},
		options.Find().SetProjection(bson.D{{Key: "kind", Value: 1}, {Key: "status", Value: 1}}))
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	found := []models.Reminder{}
	return found, mapErr(cur.All(ctx, &found), "reminders")
}
