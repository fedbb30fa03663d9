// Package embedded runs a MongoDB-compatible server (FerretDB v1 on SQLite)
// inside the process, so that the server and the tests need no database
// installed. Production uses MongoDB through MONGODB_URI instead.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Engine is a running embedded database.
type Engine struct {
	uri    string
	cancel context.CancelFunc
	done   chan error
}

// Start runs the engine on a loopback port with its files under dir, which
// is created if needed and keeps the data across restarts. logger receives
// the engine's own logs; they are many, so pass one at warn level or above.
func Start(ctx context.Context, dir string, logger *slog.Logger) (*Engine, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded engine dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded engine dir: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:   logger,
		Handler:  "sqlite",
		// The SQLite handler wants a directory URI that ends in a slash.
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("embedded engine: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Engine{cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- f.Run(runCtx) }()
	// MongoDBURI waits for the listener, which Run starts; calling it before
	// Run would deadlock.
	e.uri = f.MongoDBURI()
	return e, nil
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
