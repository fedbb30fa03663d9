package store_test

import (
	"context"
	"os"
	"testing"

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
