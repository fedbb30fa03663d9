package models_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
)

func TestCleanMessageText(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"a question", "The soreness is still there on day three — is that normal?", true},
		{"line breaks and tabs", "Day 1: sore\nDay 2:\tbetter", true},
		{"a browser's line breaks", "Day 1: sore\r\nDay 2: better", true},
		{"the longest", strings.Repeat("é", models.MaxMessageLength), true},
		{"empty", "", false},
		{"only spaces", " \n\t ", false},
		{"one too long", strings.Repeat("a", models.MaxMessageLength+1), false},
		{"a control character", "sore\x07", false},
		{"not UTF-8", "sore \xff", false},
	} {
		clean, err := models.CleanMessageText(tc.text)
		if err == nil && strings.Contains(clean, "\r") {
			t.Errorf("%s: %q keeps a CR", tc.name, clean)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
		}
		if f := models.FieldsOf(err); err != nil && (len(f) != 1 || f[0].Field != "text") {
			t.Errorf("%s: the error does not name the field text: %v", tc.name, err)
		}
	}
}

func TestAnswersSymptomQuestion(t *testing.T) {
	end := time.Date(2026, 4, 1, 11, 0, 0, 0, time.UTC)
	done := models.Session{ID: "s", ScheduledAt: end.Add(-time.Hour), DurationMinutes: 60, Status: models.SessionCompleted}
	booked := done
	booked.Status = models.SessionScheduled
	flagged := models.PainLog{CreatedAt: end.Add(24 * time.Hour), RedFlags: []models.RedFlag{models.RedFlag("leg_weakness")}}
	deleted := flagged
	deleted.Deleted = true
	at := func(d time.Duration) models.Message {
		return models.Message{Author: models.SidePatient, CreatedAt: end.Add(d)}
	}
	for _, tc := range []struct {
		name     string
		m        models.Message
		sessions []models.Session
		logs     []models.PainLog
		want     bool
	}{
		{"a day after the session, the soreness check-in", at(24 * time.Hour), []models.Session{done}, nil, true},
		{"at the session's end", at(0), []models.Session{done}, nil, true},
		{"just inside the window", at(models.SymptomReplyWindow - time.Millisecond), []models.Session{done}, nil, true},
		{"at the window's end", at(models.SymptomReplyWindow), []models.Session{done}, nil, false},
		{"before the session ended", at(-time.Minute), []models.Session{done}, nil, false},
		{"after a session that was not completed", at(24 * time.Hour), []models.Session{booked}, nil, false},
		{"after a red flag", at(24*time.Hour + models.SymptomReplyWindow - time.Minute), nil, []models.PainLog{flagged}, true},
		{"after a deleted red flag", at(25 * time.Hour), nil, []models.PainLog{deleted}, false},
		{"after a log without a flag", at(25 * time.Hour), nil, []models.PainLog{{CreatedAt: end}}, false},
		{"the staff's own message", models.Message{Author: models.SideStaff, CreatedAt: end.Add(time.Hour)}, []models.Session{done}, nil, false},
	} {
		if got := models.AnswersSymptomQuestion(tc.m, tc.sessions, tc.logs); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMessageNotice(t *testing.T) {
	now := time.Date(2026, 4, 1, 22, 30, 0, 0, time.UTC)
	p := models.Patient{ID: "p1", Timezone: "UTC"}
	r := models.MessageNotice(p, "link-1", 0, now)
	if r == nil || r.Kind != models.KindMessage || r.Source != models.SourceClinic || r.SourceID != "link-1" || !r.DueAt.Equal(now) ||
		r.Status != models.ReminderPending {
		t.Fatalf("notice %+v", r)
	}
	// Quiet hours (22:00 to 08:00 at most a night) never outlast it.
	if r.ExpiresAt.Sub(now) < 7*24*time.Hour {
		t.Errorf("the notice expires at %s, too soon to outlast quiet hours", r.ExpiresAt)
	}
	again := models.MessageNotice(p, "link-1", 0, now.Add(time.Minute))
	if again.ID != r.ID {
		t.Errorf("two senders with no notice pending made two keys: %s, %s", r.ID, again.ID)
	}
	if next := models.MessageNotice(p, "link-1", 1, now); next.ID == r.ID {
		t.Errorf("the conversation's second notice has the first's id")
	}
	if other := models.MessageNotice(p, "link-2", 0, now); other.ID == r.ID || other.CollapseKey() == r.CollapseKey() {
		t.Errorf("two conversations share a notice or a collapse key")
	}
	if r.CollapseKey() != models.MessageNotice(p, "link-1", 7, now).CollapseKey() {
		t.Errorf("one conversation's notices collapse under different keys")
	}
	if k := r.CollapseKey(); strings.Contains(k, "link-1") || len(k) > 64 {
		t.Errorf("collapse key %q names the link or is too long for APNs", k)
	}
	if other := (models.Reminder{ID: "abc", Kind: models.KindCareUpdate}); other.CollapseKey() != "abc" {
		t.Errorf("a care_update collapses under %q, want its id", other.CollapseKey())
	}
	p.Preferences = map[models.ReminderKind]models.ReminderPreference{models.KindMessage: {Enabled: false}}
	if models.MessageNotice(p, "link-1", 0, now) != nil {
		t.Errorf("a patient who switched message pushes off gets one")
	}

	sent := models.Reminder{Kind: models.KindMessage, Status: models.ReminderSent}
	claimed := models.Reminder{Kind: models.KindMessage, Status: models.ReminderClaimed}
	if models.MessageNoticePending([]models.Reminder{sent}) || !models.MessageNoticePending([]models.Reminder{sent, claimed}) {
		t.Errorf("MessageNoticePending does not tell sent from claimed")
	}
}

func TestInbox(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	msg := func(pid, link string, author models.Side, minutes int, unread bool) models.Message {
		m := models.Message{PatientID: pid, LinkID: link, Author: author, CreatedAt: t0.Add(time.Duration(minutes) * time.Minute)}
		if unread {
			m.UnreadBy = author.Other()
		}
		return m
	}
	entries := []models.TriageEntry{{PatientID: "quiet", Name: "Quiet"}, {PatientID: "waits", Name: "Waits"}, {PatientID: "sore", Name: "Sore", SymptomMessage: true},
		{PatientID: "recent", Name: "Recent"}, {PatientID: "newer", Name: "Newer"}, {PatientID: "older", Name: "Older"}}
	links := map[string]string{"quiet": "lq", "waits": "lw", "sore": "ls", "recent": "lr", "newer": "ln", "older": "lo"}
	got := models.Inbox(entries, links, []models.Message{
		msg("recent", "lr", models.SidePatient, 50, false),
		msg("waits", "lw", models.SidePatient, 10, true),
		msg("waits", "lw", models.SidePatient, 20, true),
		msg("newer", "ln", models.SidePatient, 40, true),
		msg("sore", "ls", models.SidePatient, 45, true),
		msg("older", "lo", models.SideStaff, 30, false),
		// A revoked link's message, and a staff message the patient has
		// not read: neither is the clinic's to read.
		msg("quiet", "l-old", models.SidePatient, 5, true),
		msg("recent", "lr", models.SideStaff, 55, true),
	})
	var order []string
	for _, c := range got {
		order = append(order, c.Patient.PatientID)
	}
	if want := []string{"sore", "waits", "newer", "recent", "older"}; !slices.Equal(order, want) {
		t.Fatalf("inbox order %v, want %v", order, want)
	}
	if got[1].Unread != 2 || got[3].Unread != 0 || got[3].LastBy != models.SideStaff || !got[3].Last.Equal(t0.Add(55*time.Minute)) {
		t.Errorf("conversations %+v", got)
	}
}
