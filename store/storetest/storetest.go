// Package storetest gives each test a fresh database: on the embedded engine
// by default, or on the MongoDB named by MONGODB_URI.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
)

var (
	mu     sync.Mutex
	client *mongo.Client
	engine *embedded.Engine
	tmpDir string
)

// Main runs a package's tests and then stops the engine started for them.
// Use it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if client != nil {
		_ = client.Disconnect(context.Background())
	}
	if engine != nil {
		_ = engine.Close()
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	return code
}

// Client returns the client shared by a package's tests, starting the
// embedded engine on first use unless MONGODB_URI is set.
func Client(t testing.TB) *mongo.Client {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if client != nil {
		return client
	}
	uri := os.Getenv("MONGODB_URI")
	opts := options.Client()
	if uri == "" {
		opts.SetMaxPoolSize(embedded.MaxPoolSize)
		dir, err := os.MkdirTemp("", "backcare-test-*")
		if err != nil {
			t.Fatal(err)
		}
		tmpDir = dir
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		engine, err = embedded.Start(context.Background(), dir, logger)
		if err != nil {
			t.Fatal(err)
		}
		uri = engine.URI()
	}
	c, err := mongo.Connect(opts.ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	client = c
	return client
}

// NewDatabase returns an empty database with the store's indexes, dropped
// when the test ends.
func NewDatabase(t testing.TB) *mongo.Database {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := Client(t).Database(fmt.Sprintf("test_%s", hex.EncodeToString(b)))
	if err := store.New(db).EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	e := engine
	mu.Unlock()
	if e != nil {
		if err := e.IndexIDs(context.Background(), db.Name()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// NewStore returns a store over a fresh database.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	return New(NewDatabase(t))
}

// New returns a store over db with the limits the test engine needs.
func New(db *mongo.Database) *store.Store {
	if os.Getenv("MONGODB_URI") == "" {
		return store.New(db, store.WithWriteBatch(embedded.WriteBatch))
	}
	return store.New(db)
}
