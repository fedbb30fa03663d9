// Command engine runs the embedded engine in a process of its own for a
// package's tests: tests run under the race detector, and the engine (a
// pure-Go SQL database) run inside them would be instrumented too, which
// makes every query several times slower without checking any of our code.
// It prints the engine's connection string on one line and serves until its
// standard input closes (the test process ended, however it ended); then
// it stops the engine. Each line it reads meanwhile names a database whose
// _id lookups it indexes (embedded.Engine.IndexIDs), answering "ok" or the
// error on a line: so the test process needs no SQLite of its own.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/backcare/backcare/store/embedded"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: engine <data dir>")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	e, err := embedded.Start(context.Background(), os.Args[1], logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(e.URI())
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if err := e.IndexIDs(context.Background(), lines.Text()); err != nil {
			fmt.Println(strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok")
	}
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
