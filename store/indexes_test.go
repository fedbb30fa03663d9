package store_test

import (
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	t.Parallel()
	db := storetest.NewDatabase(t)
	for i := 0; i < 2; i++ {
		if err := store.New(db).EnsureIndexes(context.Background()); err != nil {
			t.Fatalf("run %d: %v", i+2, err)
		}
	}
}

func TestARetiredCollectionIsDroppedAtStart(t *testing.T) {
	t.Parallel()
	db, ctx := storetest.NewDatabase(t), context.Background()
	if _, err := db.Collection("reminder_claims").InsertOne(ctx, bson.D{{Key: "_id", Value: "r|1|2"}}); err != nil {
		t.Fatal(err)
	}
	if err := store.New(db).EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: "reminder_claims"}})
	if err != nil || len(names) != 0 {
		t.Fatalf("reminder_claims after a start: %v, %v; want it dropped", names, err)
	}
	if err := store.New(db).EnsureIndexes(ctx); err != nil {
		t.Fatalf("a start with nothing to drop: %v", err)
	}
}
