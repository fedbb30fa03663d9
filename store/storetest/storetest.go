// Package storetest gives each test a fresh database: on the embedded engine
// by default, or on the MongoDB named by MONGODB_URI.
//
// The embedded engine runs in a process of its own (command
// store/storetest/engine), one per test package, built without the race
// detector: under `go test -race` an engine inside the test process is
// instrumented too, which makes every query several times slower and checks
// none of our code. The engine is the same one the server embeds, reached
// through the real driver as before. BACKCARE_TEST_ENGINE names a prebuilt
// engine binary (`make test` builds it once for all packages); without it
// the package builds one.
package storetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/store"
)

// enginePackage is the command that runs the engine for tests.
const enginePackage = "github.com/backcare/backcare/store/storetest/engine"

var (
	mu sync.Mutex
	// uri is the engine's or MONGODB_URI's connection string, once known.
	uri string
	// engine is the engine's process on the embedded default, with its
	// standard input and output; dir holds its binary and files.
	engine    *exec.Cmd
	engineIn  io.WriteCloser
	engineOut *bufio.Reader
	dir       string
)

// Main runs a package's tests and then stops the engine started for them.
// Use it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if engine != nil {
		// The engine stops when its standard input closes.
		_ = engineIn.Close()
		_ = engine.Wait()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// Embedded reports whether the tests run on the embedded engine rather
// than on the MongoDB named by MONGODB_URI.
func Embedded() bool { return os.Getenv("MONGODB_URI") == "" }

// URI returns the connection string of the package's database server,
// starting the embedded engine on first use unless MONGODB_URI is set.
func URI(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if uri != "" {
		return uri
	}
	if !Embedded() {
		uri = os.Getenv("MONGODB_URI")
		return uri
	}
	var err error
	if dir, err = os.MkdirTemp("", "backcare-test-*"); err != nil {
		t.Fatal(err)
	}
	bin, err := engineBinary(dir)
	if err == nil {
		uri, err = startEngine(bin, filepath.Join(dir, "data"))
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		dir = ""
		t.Fatal(err)
	}
	return uri
}

// engineBinary returns the prebuilt engine named by BACKCARE_TEST_ENGINE,
// or builds one into dir.
func engineBinary(dir string) (string, error) {
	if bin := os.Getenv("BACKCARE_TEST_ENGINE"); bin != "" {
		return bin, nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "engine")
	if out, err := exec.Command(goCmd, "build", "-o", bin, enginePackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test engine: %v\n%s", err, out)
	}
	return bin, nil
}

// startEngine starts the engine process on dataDir and reads its
// connection string.
func startEngine(bin, dataDir string) (string, error) {
	cmd := exec.Command(bin, dataDir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting the test engine: %w", err)
	}
	out := bufio.NewReader(pipe)
	line := make(chan string, 1)
	go func() {
		s, _ := out.ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case u := <-line:
		if u == "" {
			_ = in.Close()
			return "", errors.Join(errors.New("the test engine stopped before it listened"), cmd.Wait())
		}
		engine, engineIn, engineOut = cmd, in, out
		return u, nil
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = in.Close()
		_ = cmd.Wait()
		return "", errors.New("the test engine did not listen within a minute")
	}
}

// indexIDs asks the engine process to index _id lookups in database name
// (see embedded.Engine.IndexIDs) and waits for its answer.
func indexIDs(name string) error {
	mu.Lock()
	defer mu.Unlock()
	if _, err := fmt.Fprintln(engineIn, name); err != nil {
		return fmt.Errorf("asking the test engine to index %s: %w", name, err)
	}
	answer, err := engineOut.ReadString('\n')
	if err != nil {
		return fmt.Errorf("the test engine's answer for %s: %w", name, err)
	}
	if answer = strings.TrimSpace(answer); answer != "ok" {
		return fmt.Errorf("the test engine indexing %s: %s", name, answer)
	}
	return nil
}

// Connect returns a client of its own for one test, disconnected when the
// test ends. On the embedded engine its pool is capped as the server caps
// its own (store.EmbeddedMaxPoolSize): the engine gives each database a hundred
// connections, so tests on databases of their own can run in parallel.
func Connect(t testing.TB) *mongo.Client {
	t.Helper()
	opts := options.Client().ApplyURI(URI(t))
	if Embedded() {
		opts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// NewDatabase returns an empty database with the store's indexes, on a
// client of the test's own, dropped when the test ends.
func NewDatabase(t testing.TB) *mongo.Database {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := Connect(t).Database(fmt.Sprintf("test_%s", hex.EncodeToString(b)))
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	if err := store.New(db).EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if Embedded() {
		if err := indexIDs(db.Name()); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// NewStore returns a store over a fresh database.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	return New(NewDatabase(t))
}

// New returns a store over db with the limits the test engine needs.
func New(db *mongo.Database) *store.Store {
	if Embedded() {
		return store.New(db, store.WithWriteBatch(store.EmbeddedWriteBatch))
	}
	return store.New(db)
}

// Long reports whether the long mode is on (BACKCARE_TEST_LONG=1, set by
// `make test-long`). Tests of a property at scale — each of thousands of
// reminders sent once by racing dispatchers — run at the smallest size that
// still shows the property by default, and at full size in the long mode.
func Long() bool { return os.Getenv("BACKCARE_TEST_LONG") == "1" }

// Size returns short by default and long in the long mode.
func Size(short, long int) int {
	if Long() {
		return long
	}
	return short
}
