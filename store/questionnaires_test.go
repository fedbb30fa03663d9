package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func TestQuestionnaireResponses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.New(storetest.NewDatabase(t))
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	resp := func(client string, day, pain int) models.QuestionnaireResponse {
		at := t0.AddDate(0, 0, day)
		r := models.QuestionnaireResponse{ID: models.PainLogDocID("p1", client), PatientID: "p1", Questionnaire: "peg3", AnsweredAt: at,
			Answers: map[string]int{"pain": pain, "enjoyment": 5, "activity": 5}, CreatedAt: at, UpdatedAt: at}
		r.Finish(time.UTC)
		return r
	}
	// A phone retrying one response at once from several connections:
	// one document, created once.
	var wg sync.WaitGroup
	created := make(chan bool, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := s.PutQuestionnaireResponse(ctx, resp("a", 0, 5))
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
		t.Fatalf("%d of 8 retries created the response, want 1", n)
	}
	if _, _, err := s.PutQuestionnaireResponse(ctx, resp("b", 1, 8)); err != nil {
		t.Fatal(err)
	}
	got, err := s.QuestionnaireResponse(ctx, "p1", "b")
	if err != nil || got.Score != 6 || got.Answers["pain"] != 8 {
		t.Fatalf("response b: %+v (%v)", got, err)
	}
	if _, err := s.QuestionnaireResponse(ctx, "p2", "b"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("another patient's id: %v", err)
	}
	list, next, err := s.ListQuestionnaireResponses(ctx, models.PainLogQuery{PatientID: "p1", Limit: 1})
	if err != nil || len(list) != 1 || list[0].ClientID() != "b" || next == nil {
		t.Fatalf("the first page: %v, %v (%v)", list, next, err)
	}
	if list, next, _ = s.ListQuestionnaireResponses(ctx, models.PainLogQuery{PatientID: "p1", Limit: 1, After: next}); len(list) != 1 || list[0].ClientID() != "a" || next != nil {
		t.Fatalf("the second page: %v, %v", list, next)
	}
	// Deleted: a tombstone without answers, which a late retry does not revive.
	deletedAt := t0.AddDate(0, 0, 2)
	if err := s.DeleteQuestionnaireResponse(ctx, "p1", "b", deletedAt); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutQuestionnaireResponse(ctx, resp("b", 1, 8)); models.ErrorCode(err) != models.ErrConflict {
		t.Fatalf("a retry after deletion: %v", err)
	}
	changes, _, err := s.QuestionnaireResponseChanges(ctx, models.SyncQuery{PatientID: "p1", Since: deletedAt, Limit: 10})
	if err != nil || len(changes) != 1 || !changes[0].Deleted || changes[0].Answers != nil || changes[0].Score != 0 {
		t.Fatalf("the changes since the deletion: %+v (%v)", changes, err)
	}
	if list, _, _ := s.ListQuestionnaireResponses(ctx, models.PainLogQuery{PatientID: "p1", Limit: 10}); len(list) != 1 {
		t.Fatalf("the live list after deletion: %v", list)
	}
}
