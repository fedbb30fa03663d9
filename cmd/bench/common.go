package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
)

// database is a running engine (embedded, or the MongoDB of MONGODB_URI)
// and the name of a fresh database on it; scenarios that need several
// clients on one database (several dispatcher instances) connect to it more
// than once.
type database struct {
	uri      string
	name     string
	embedded *embedded.Engine
}

// startDatabase starts the embedded engine in env.Dir, or uses MongoURI, and
// picks a fresh database name.
func startDatabase(ctx context.Context, env benchEnv) (*database, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	d := &database{uri: env.MongoURI, name: "bench_" + hex.EncodeToString(b)}
	if d.uri == "" {
		// The engine logs every connection at info; only its errors matter.
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		e, err := embedded.Start(ctx, filepath.Join(env.Dir, "db"), logger)
		if err != nil {
			return nil, err
		}
		d.embedded, d.uri = e, e.URI()
	}
	return d, nil
}

// connect opens a client on d with the limits cmd/server/run.go uses and
// returns a store over the database; monitor may be nil.
func (d *database) connect(monitor *event.CommandMonitor) (*store.Store, *mongo.Client, error) {
	opts := options.Client().ApplyURI(d.uri).SetServerSelectionTimeout(10 * time.Second).SetTimeout(2 * time.Minute)
	var storeOpts []store.Option
	if d.embedded != nil {
		opts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
		storeOpts = append(storeOpts, store.WithWriteBatch(store.EmbeddedWriteBatch))
	}
	if monitor != nil {
		opts.SetMonitor(monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	return store.New(client.Database(d.name), storeOpts...), client, nil
}

// prepare creates the store's indexes (and, on the embedded engine, the
// index its _id lookups need), as the server does at start.
func (d *database) prepare(ctx context.Context, st *store.Store) error {
	if err := st.EnsureIndexes(ctx); err != nil {
		return err
	}
	if d.embedded != nil {
		return d.embedded.IndexIDs(ctx, d.name)
	}
	return nil
}

// close drops the database and stops the engine.
func (d *database) close(client *mongo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := client.Database(d.name).Drop(ctx)
	err = errors.Join(err, client.Disconnect(ctx))
	if d.embedded != nil {
		err = errors.Join(err, d.embedded.Close())
	}
	return err
}

// openStore starts embedded (pool/batch caps as cmd/server/run.go does) or
// connects to MongoURI, on a fresh database with the store's indexes
// (+ IndexIDs on embedded). monitor may be nil. The close func drops the
// database and stops everything.
func openStore(ctx context.Context, env benchEnv, monitor *event.CommandMonitor) (*store.Store, *mongo.Database, func(), error) {
	_, st, db, closeAll, err := openDatabase(ctx, env, monitor)
	return st, db, closeAll, err
}

// openDatabase is openStore that also returns the database, for scenarios
// that connect to it again (one client per dispatcher instance).
func openDatabase(ctx context.Context, env benchEnv, monitor *event.CommandMonitor) (*database, *store.Store, *mongo.Database, func(), error) {
	d, err := startDatabase(ctx, env)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	st, client, err := d.connect(monitor)
	if err != nil {
		if d.embedded != nil {
			_ = d.embedded.Close()
		}
		return nil, nil, nil, nil, err
	}
	closeAll := func() {
		if err := d.close(client); err != nil {
			fmt.Fprintln(os.Stderr, "bench: close database:", err)
		}
	}
	if err := d.prepare(ctx, st); err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	return d, st, client.Database(d.name), closeAll, nil
}

// commandCounter counts the database commands a client sends, by name,
// while it is on. It is off until start, so seeding is not counted.
type commandCounter struct {
	on     atomic.Bool
	total  atomic.Int64
	byName sync.Map // command name -> *atomic.Int64
}

// monitor is the driver hook that feeds the counter.
func (c *commandCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if !c.on.Load() {
			return
		}
		c.total.Add(1)
		n, _ := c.byName.LoadOrStore(e.CommandName, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}}
}

// start zeroes the counts and starts counting.
func (c *commandCounter) start() {
	c.total.Store(0)
	c.byName.Clear()
	c.on.Store(true)
}

// stop stops counting; the counts stay readable.
func (c *commandCounter) stop() { c.on.Store(false) }

// count is the number of commands counted since start.
func (c *commandCounter) count() int64 { return c.total.Load() }

// counts is the number of commands counted since start, by command name.
func (c *commandCounter) counts() map[string]int64 {
	out := map[string]int64{}
	c.byName.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// percentile is the nearest-rank p-th percentile (p in 0..100) of sorted
// durations; zero for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// sortedDurations sorts d in place and returns it.
func sortedDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// check sets r's target and whether r's value meets it; op is ">=" or "<=".
func (r row) check(op string, limit float64) row {
	met := r.Value >= limit
	if op == "<=" {
		met = r.Value <= limit
	}
	r.Target = op + " " + strconv.FormatFloat(limit, 'f', -1, 64)
	r.Met = &met
	return r
}

// round rounds v to the given number of decimals, for readable tables.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

// resetPeakRSS forgets this process's peak resident memory so far (Linux:
// writing 5 to /proc/self/clear_refs), after returning freed memory to the
// OS, so that a later peakRSS covers only what follows, not the seeding.
func resetPeakRSS() error {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is a process's peak resident memory in MB (VmHWM), pid 0 meaning this process.
func peakRSS(pid int) (float64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseFloat(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM in %s: %w", path, err)
			}
			return round(kb/1024, 1), nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in %s", path)
}

// cpuTime is the CPU time (user + system) this process has used so far.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
