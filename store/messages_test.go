package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func TestMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	msg := func(link, client string, author models.Side, minute int, text string) models.Message {
		at := t0.Add(time.Duration(minute) * time.Minute)
		return models.Message{ID: models.MessageDocID(link, client), LinkID: link, PatientID: "p1", ClinicID: "c1", Author: author,
			Text: text, CreatedAt: at, UnreadBy: author.Other(), UpdatedAt: at}
	}
	// An offline phone's send, retried on four connections at once: one
	// message, created once.
	var wg sync.WaitGroup
	created := make(chan bool, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := s.PutMessage(ctx, msg("l1", "a", models.SidePatient, 0, "Sore on day three?"))
			if err != nil {
				t.Error(err)
			}
			created <- c
		}()
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sends created the message, want 1", n)
	}
	if _, _, err := s.PutMessage(ctx, msg("l1", "a", models.SidePatient, 1, "Another text")); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("other text under a used id: %v, want a conflict", err)
	}
	for i, m := range []models.Message{
		msg("l1", "b", models.SideStaff, 10, "Yes, that is normal."),
		msg("l1", "c", models.SideStaff, 11, "Keep up the heat."),
		msg("l2", "a", models.SideStaff, 12, "Another clinic's conversation."),
	} {
		if _, _, err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(i, err)
		}
	}

	page, next, err := s.ListMessages(ctx, "l1", nil, 2)
	if err != nil || len(page) != 2 || page[0].ClientID() != "c" || page[1].ClientID() != "b" || next == nil {
		t.Fatalf("first page %+v, %v, %v", page, next, err)
	}
	rest, next, err := s.ListMessages(ctx, "l1", next, 2)
	if err != nil || len(rest) != 1 || rest[0].ClientID() != "a" || next != nil {
		t.Fatalf("second page %+v, %v, %v", rest, next, err)
	}

	counts, err := s.UnreadCounts(ctx, "p1", models.SidePatient)
	if err != nil || counts["l1"] != 2 || counts["l2"] != 1 {
		t.Fatalf("unread by the patient: %v, %v", counts, err)
	}
	readAt := t0.Add(time.Hour)
	if n, err := s.MarkRead(ctx, "l1", models.SidePatient, page[1], readAt); err != nil || n != 1 {
		t.Fatalf("read up to b: marked %d, %v; want 1", n, err)
	}
	// The patient's read marks none of their own messages.
	own, err := s.Message(ctx, "l1", "a")
	if err != nil || own.UnreadBy != models.SideStaff || own.ReadAt != nil {
		t.Fatalf("the patient's own message: %+v, %v", own, err)
	}
	changes, _, err := s.MessageChanges(ctx, "l1", readAt, nil, 10)
	if err != nil || len(changes) != 1 || changes[0].ClientID() != "b" || changes[0].ReadAt == nil || !changes[0].ReadAt.Equal(readAt) {
		t.Fatalf("changes since the read: %+v, %v", changes, err)
	}
	counts, err = s.UnreadCounts(ctx, "p1", models.SidePatient)
	if err != nil || counts["l1"] != 1 || counts["l2"] != 1 {
		t.Fatalf("unread by the patient after reading: %v, %v", counts, err)
	}

	inbox, err := s.ClinicMessages(ctx, "c1", t0.Add(30*time.Minute))
	if err != nil || len(inbox) != 1 || inbox[0].ClientID() != "a" || inbox[0].Text != "" {
		t.Fatalf("the clinic's unread and recent messages, without text: %+v, %v", inbox, err)
	}

	if err := s.ErasePatient(ctx, models.Patient{ID: "p1", Email: "p1@example.com"}, t0); err != nil {
		t.Fatal(err)
	}
	if left, _, err := s.ListMessages(ctx, "l1", nil, 10); err != nil || len(left) != 0 {
		t.Fatalf("after erasure: %d messages, %v", len(left), err)
	}
}
