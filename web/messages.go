package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/backcare/backcare/models"
)

// conversationPage is how many of a conversation's latest messages the
// patient page shows; older ones stay in the app and the API.
const conversationPage = 50

// inboxDays is how far back the inbox lists conversations the clinic has
// read; ones with unread messages are listed whatever their age.
const inboxDays = 30

type messageView struct {
	ID, Text, Author, When, Read string
	FromPatient, Unread          bool
}

// conversationView is the patient page's conversation pane.
type conversationView struct {
	Messages []messageView
	// MessageID is the UUID the reply form sends under, made when the page
	// is shown: sending the form twice (a double click, a resend after a
	// dropped connection) makes one message.
	MessageID string
	Form      Form
}

// conversationOf reads the latest messages of the patient's conversation
// with the clinic, oldest first, and marks the patient's read through the
// clinic API (which audits the read) when some were unread.
func (w *dashboard) conversationOf(c *fiber.Ctx, in models.TriageInput, form *Form) (conversationView, error) {
	v := conversationView{MessageID: uuid.NewString(), Form: newForm()}
	if form != nil {
		v.Form = *form
		if id := form.Values["message_id"]; id != "" {
			v.MessageID = id
		}
	}
	ms, _, err := w.store.ListMessages(c.UserContext(), in.Link.ID, nil, conversationPage)
	if err != nil {
		return v, err
	}
	if len(ms) == 0 {
		return v, nil
	}
	if err := w.seen(c, "dashboard/messages", in.Patient.ID); err != nil {
		return v, err
	}
	loc := who(c).loc
	var newestUnread *models.Message
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		mv := messageView{ID: m.ClientID(), Text: m.Text, When: m.CreatedAt.In(loc).Format("Mon 2 Jan, 15:04"), FromPatient: m.Author == models.SidePatient,
			Unread: m.UnreadBy == models.SideStaff}
		mv.Author = in.Patient.Name
		if !mv.FromPatient {
			mv.Author = m.StaffName
			if m.ReadAt != nil {
				mv.Read = "Read " + m.ReadAt.In(loc).Format("Mon 2 Jan, 15:04")
			} else {
				mv.Read = "Not read yet"
			}
		}
		if mv.Unread && (newestUnread == nil || m.CreatedAt.After(newestUnread.CreatedAt)) {
			newestUnread = &ms[i]
		}
		v.Messages = append(v.Messages, mv)
	}
	if newestUnread != nil {
		reply, err := w.api.call(c, who(c).staff.ID, fiber.MethodPost, "/v1/clinic/patients/"+in.Patient.ID+"/messages/read",
			map[string]any{"up_to": newestUnread.ClientID()}, "")
		if err != nil {
			return v, err
		}
		if !reply.ok() {
			return v, models.Errorf(models.ErrUnavailable, "%s", reply.problem.Detail)
		}
	}
	return v, nil
}

var messageFields = []string{"text", "message_id"}

// message sends the therapist's reply through the clinic API, under the
// UUID the page made for it.
func (w *dashboard) message(c *fiber.Ctx) error {
	in, err := w.linkedPatient(c, models.ScopeCare)
	if err != nil {
		return err
	}
	vals, err := formOf(c, messageFields...)
	if err != nil {
		return err
	}
	r := newRequest(vals)
	r.text("text")
	id, err := models.NormalizeClientID(vals.Get("message_id"))
	if err != nil {
		// The page made the id; a form without one is not the page's.
		return errStaleForm
	}
	return w.send(c, r, fiber.MethodPut, apiPatient(c, "/messages/"+id), "", "message#messages",
		func(status int, f Form) error { return w.showPatient(c, status, in, &f) })
}

type inboxRow struct {
	Patient            patientRow
	Unread             int
	Symptom            bool
	Last, LastBy, Link string
}

type inboxView struct {
	Rows       []inboxRow
	UnreadText string
	Days       int
}

// inboxPage lists the conversations with the clinic's linked patients:
// unread first (an answer to a symptom question before the rest, then
// the one waiting longest), then the rest of the last 30 days. It shows
// no message's text: opening the patient reads the conversation.
func (w *dashboard) inboxPage(c *fiber.Ctx) error {
	if err := onlyQuery(c); err != nil {
		return err
	}
	inputs, entries, err := w.clinicPatients(c)
	if err != nil {
		return err
	}
	s := who(c)
	now := w.now()
	recent, err := w.store.ClinicMessages(c.UserContext(), s.staff.ClinicID, now.AddDate(0, 0, -inboxDays))
	if err != nil {
		return err
	}
	links := make(map[string]string, len(inputs))
	for _, in := range inputs {
		links[in.Patient.ID] = in.Link.ID
	}
	v := inboxView{Days: inboxDays}
	var ids []string
	unread := 0
	for _, conv := range models.Inbox(entries, links, recent) {
		row := inboxRow{Patient: rowOf(conv.Patient, s.loc), Unread: conv.Unread, Symptom: conv.Unread > 0 && conv.Patient.SymptomMessage,
			Last: conv.Last.In(s.loc).Format("Mon 2 Jan, 15:04"), LastBy: "the patient", Link: "/clinic/patients/" + conv.Patient.PatientID + "#messages"}
		if conv.LastBy == models.SideStaff {
			row.LastBy = "your clinic"
		}
		unread += conv.Unread
		v.Rows = append(v.Rows, row)
		ids = append(ids, conv.Patient.PatientID)
	}
	v.UnreadText = unreadText(unread)
	if err := w.seen(c, "dashboard/inbox", ids...); err != nil {
		return err
	}
	return w.show(c, fiber.StatusOK, "inbox", "Messages", "", v)
}

// unreadText says how many messages wait, for the inbox's heading.
func unreadText(n int) string {
	switch n {
	case 0:
		return "Nothing unread."
	case 1:
		return "1 unread message."
	}
	return fmt.Sprintf("%d unread messages.", n)
}
