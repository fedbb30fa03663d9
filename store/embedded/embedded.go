// Package embedded runs a MongoDB-compatible server (FerretDB v1 on SQLite)
// inside the process, so that the server and the tests need no database
// installed. Production uses MongoDB through MONGODB_URI instead.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
	// The SQLite driver FerretDB uses, for IndexIDs.
	_ "modernc.org/sqlite"
)

// newMu serializes ferretdb.New; see StartAt.
var newMu sync.Mutex

// Engine is a running embedded database.
type Engine struct {
	uri    string
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// Start runs the engine on a free loopback port with its files under dir,
// which is created if needed and keeps the data across restarts. logger
// receives the engine's own logs; they are many, so pass one at warn level
// or above.
func Start(ctx context.Context, dir string, logger *slog.Logger) (*Engine, error) {
	return StartAt(ctx, dir, "127.0.0.1:0", logger)
}

// StartAt is Start listening on addr (host:port): a fixed address lets a
// client reconnect to an engine that is stopped and started again, as
// fault tests do.
func StartAt(ctx context.Context, dir, addr string, logger *slog.Logger) (*Engine, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded engine dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded engine dir: %w", err)
	}
	// ferretdb.New sets a package variable of FerretDB's (the version's
	// package name): engines started at once in one process, as parallel
	// tests do, would race on it.
	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Logger:   logger,
		Handler:  "sqlite",
		// The SQLite handler wants a directory URI that ends in a slash.
		SQLiteURL: "file:" + abs + "/",
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("embedded engine: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Engine{dir: abs, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- f.Run(runCtx) }()
	// MongoDBURI waits for the listener, which Run starts; calling it before
	// Run would deadlock.
	e.uri = f.MongoDBURI()
	return e, nil
}

// IndexIDs makes _id lookups in database dbName use an index.
//
// FerretDB 1.24 keeps each collection in a SQLite table with one JSON
// column. It indexes _id as the expression `_ferretdb_sjson->"_id"` but
// looks documents up by `_ferretdb_sjson->'$._id'`, which SQLite does not
// match to that index; so every fetch, update and upsert by _id reads the
// whole table, and 5,000 updates on a 5,000-document collection take
// minutes. This adds an index on the expression the lookups use, to every
// collection that exists. FerretDB does not know of it and needs not: SQLite
// maintains it and drops it with its table. Call it after the collections
// are created (EnsureIndexes creates them).
func (e *Engine) IndexIDs(ctx context.Context, dbName string) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, dbName+".sqlite")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", dbName, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list collections of %s: %w", dbName, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_id_lookup", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
	}
	return nil
}

// URI is the connection string of the running engine.
func (e *Engine) URI() string { return e.uri }

// Close stops the engine and waits until its files are closed.
func (e *Engine) Close() error {
	e.cancel()
	err := <-e.done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
