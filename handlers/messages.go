package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

// messageStore is what the conversations between a patient and their
// clinics need.
type messageStore interface {
	PatientByID(ctx context.Context, id string) (models.Patient, error)
	LinksOfPatient(ctx context.Context, patientID string) ([]models.CareLink, error)
	PutMessage(ctx context.Context, m models.Message) (models.Message, bool, error)
	Message(ctx context.Context, linkID, clientID string) (models.Message, error)
	ListMessages(ctx context.Context, linkID string, after *models.PainLogCursor, limit int) ([]models.Message, *models.PainLogCursor, error)
	MessageChanges(ctx context.Context, linkID string, since time.Time, after *models.PainLogCursor, limit int) ([]models.Message, *models.PainLogCursor, error)
	MarkRead(ctx context.Context, linkID string, reader models.Side, upTo models.Message, now time.Time) (int64, error)
	UnreadCounts(ctx context.Context, patientID string, reader models.Side) (map[string]int, error)
	MessageNotices(ctx context.Context, patientID, linkID string) ([]models.Reminder, error)
	UpsertReminders(ctx context.Context, rs []models.Reminder) (int64, error)
	CancelSourceReminders(ctx context.Context, patientID, sourceID string, now time.Time) error
}

type messageRequest struct {
	Text string `json:"text"`
}

type readRequest struct {
	UpTo string `json:"up_to"`
}

// messageID is the id of the newest message read, or the field at fault.
func (r readRequest) messageID() (string, error) {
	if r.UpTo == "" {
		return "", invalid("up_to", "is required: the id of the newest message read")
	}
	id, err := models.NormalizeClientID(r.UpTo)
	if err != nil {
		return "", invalid("up_to", "must be a UUID")
	}
	return id, nil
}

type authorJSON struct {
	Kind string `json:"kind"`
	// ID and Name are the staff member's, for a staff message.
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type messageJSON struct {
	ID        string     `json:"id"`
	Text      string     `json:"text"`
	Author    authorJSON `json:"author"`
	CreatedAt time.Time  `json:"created_at"`
	// ReadAt is when the other side read it; null until then.
	ReadAt    *time.Time `json:"read_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func toMessage(m models.Message) messageJSON {
	a := authorJSON{Kind: string(m.Author)}
	if m.Author == models.SideStaff {
		a.ID, a.Name = m.StaffID, m.StaffName
	}
	return messageJSON{ID: m.ClientID(), Text: m.Text, Author: a, CreatedAt: m.CreatedAt, ReadAt: m.ReadAt, UpdatedAt: m.UpdatedAt}
}

// conversation is the care link whose messages a request is about, and
// which side is asking.
type conversation struct {
	link models.CareLink
	side models.Side
	// staff is the staff member asking, for the clinic's routes.
	staff models.Staff
}

// conversationOf finds the conversation of the request: for a patient,
// the care link in {id}, which must be theirs (revoked ones too: the
// patient keeps what was said); for staff, the active link authorizePatient
// let the request in by. Another patient's link, or none, is not found.
func conversationOf(c *fiber.Ctx, s messageStore) (conversation, error) {
	if st, ok := staffOf(c); ok {
		return conversation{link: careLinkOf(c), side: models.SideStaff, staff: st}, nil
	}
	notFound := models.Errorf(models.ErrNotFound, "care link not found")
	if _, err := uuid.Parse(c.Params("id")); err != nil {
		return conversation{}, notFound
	}
	links, err := s.LinksOfPatient(c.UserContext(), patientID(c))
	if err != nil {
		return conversation{}, err
	}
	for _, l := range links {
		if l.ID == c.Params("id") {
			return conversation{link: l, side: models.SidePatient}, nil
		}
	}
	return conversation{}, notFound
}

// handleListMessages lists a conversation newest first, a page at a time
// (?limit, ?cursor for older ones), or, with ?updated_since, every message
// written or read since then, oldest change first, for a phone's sync.
func handleListMessages(s messageStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c, "updated_since", "cursor", "limit"); err != nil {
			return err
		}
		var probs models.Problems
		limit := pageSize(&probs, c.Query("limit"))
		after := decodeCursor(&probs, c.Query("cursor"))
		var since time.Time
		if raw := c.Query("updated_since"); raw != "" {
			since = parseInstant(&probs, "updated_since", raw)
		}
		if err := probs.Err(); err != nil {
			return err
		}
		conv, err := conversationOf(c, s)
		if err != nil {
			return err
		}
		var (
			ms   []models.Message
			next *models.PainLogCursor
		)
		if c.Query("updated_since") != "" {
			ms, next, err = s.MessageChanges(c.UserContext(), conv.link.ID, since, after, limit)
		} else {
			ms, next, err = s.ListMessages(c.UserContext(), conv.link.ID, after, limit)
		}
		if err != nil {
			return err
		}
		items := make([]messageJSON, len(ms))
		for i, m := range ms {
			items[i] = toMessage(m)
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": cursorOf(next), "closed": conv.link.Closed()})
	}
}

// handlePutMessage sends a message under the sender's UUID: a retry of the
// same text makes one message (200 with it, 201 the first time); other text
// under the same UUID is a conflict. A closed conversation (the patient
// revoked the link) takes no new message. A staff message pushes the
// patient one notice with no content, collapsed per conversation.
func handlePutMessage(s messageStore, limit *routeLimiter, rp replanner, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := models.NormalizeClientID(c.Params("uuid"))
		if err != nil {
			return invalid("uuid", "must be a UUID")
		}
		var req messageRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		text, err := models.CleanMessageText(req.Text)
		if err != nil {
			return err
		}
		conv, err := conversationOf(c, s)
		if err != nil {
			return err
		}
		sender := patientID(c)
		if conv.side == models.SideStaff {
			sender = "staff:" + conv.staff.ID
		}
		if err := limit.byAccount(sender); err != nil {
			return err
		}
		if conv.link.Closed() {
			return models.Errorf(models.ErrConflict, "the conversation is closed: the care link was revoked, so it takes no new messages")
		}
		t := stamp(now)
		m := models.Message{ID: models.MessageDocID(conv.link.ID, id), LinkID: conv.link.ID, PatientID: conv.link.PatientID,
			ClinicID: conv.link.ClinicID, Author: conv.side, Text: text, CreatedAt: t, UnreadBy: conv.side.Other(), UpdatedAt: t}
		if conv.side == models.SideStaff {
			m.StaffID, m.StaffName = conv.staff.ID, conv.staff.Name
		}
		stored, created, err := s.PutMessage(c.UserContext(), m)
		if err != nil {
			return err
		}
		if created && conv.side == models.SideStaff {
			messageNotice(c, s, conv.link, t, rp)
		}
		if created {
			c.Status(fiber.StatusCreated)
		}
		return c.JSON(toMessage(stored))
	}
}

// messageNotice plans the patient's push about a staff message, unless one
// of the conversation's is still to be sent: that one says all a push may
// say. Senders racing while none is pending compute the same dedupe key
// and make one between them. It does not fail the request: the message is
// stored, and the app shows it either way.
func messageNotice(c *fiber.Ctx, s messageStore, link models.CareLink, now time.Time, rp replanner) {
	ctx := c.UserContext()
	err := func() error {
		notices, err := s.MessageNotices(ctx, link.PatientID, link.ID)
		if err != nil || models.MessageNoticePending(notices) {
			return err
		}
		p, err := s.PatientByID(ctx, link.PatientID)
		if err != nil {
			return err
		}
		r := models.MessageNotice(p, link.ID, len(notices), now)
		if r == nil {
			return nil
		}
		r.CreatedAt, r.UpdatedAt = now, now
		_, err = s.UpsertReminders(ctx, []models.Reminder{*r})
		return err
	}()
	if err != nil {
		rp.logger.ErrorContext(ctx, "the push about a clinic's message was not planned", "request_id", requestID(c), "patient_id", link.PatientID, "error", err)
	}
}

// handleReadMessages marks the other side's messages read up to the one in
// up_to (the newest the reader has seen), and answers how many remain
// unread. When the patient has read everything, a push still waiting
// (quiet hours) is cancelled: it would only announce what they have read.
func handleReadMessages(s messageStore, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req readRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		upTo, err := req.messageID()
		if err != nil {
			return err
		}
		conv, err := conversationOf(c, s)
		if err != nil {
			return err
		}
		m, err := s.Message(c.UserContext(), conv.link.ID, upTo)
		if models.ErrorCode(err) == models.ErrNotFound {
			return invalid("up_to", "is not a message of this conversation")
		}
		if err != nil {
			return err
		}
		t := stamp(now)
		if _, err := s.MarkRead(c.UserContext(), conv.link.ID, conv.side, m, t); err != nil {
			return err
		}
		unread, err := s.UnreadCounts(c.UserContext(), conv.link.PatientID, conv.side)
		if err != nil {
			return err
		}
		left := unread[conv.link.ID]
		if conv.side == models.SidePatient && left == 0 {
			if err := s.CancelSourceReminders(c.UserContext(), conv.link.PatientID, conv.link.ID, t); err != nil {
				return err
			}
		}
		return c.JSON(fiber.Map{"unread_count": left})
	}
}
