package jobs

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// SizeWatchStore is what the size watch reads.
type SizeWatchStore interface {
	CollectionSizes(ctx context.Context) (map[string]int64, error)
}

// EmbeddedComfortSize is the most documents a collection of the embedded
// engine held when its reads were measured and found already slow for a
// phone (make bench -quick: with 3,000 pain logs stored, a hundred
// patients' month, one phone waited 475 ms for its last 30 days; with 16
// phones at once the list took 4.4 s at the median and insights 6.3 s).
// Every list on that engine scans its collection, so past this size it
// only gets slower.
const EmbeddedComfortSize = 3000

// SizeWatchConfig configures a SizeWatch.
type SizeWatchConfig struct {
	Store  SizeWatchStore
	Logger *slog.Logger
	// Limit is the collection size past which it warns (default
	// EmbeddedComfortSize).
	Limit int64
}

// SizeWatch warns, on the embedded engine, once any collection holds more
// than the engine was measured to serve comfortably: the engine is for
// development, tests and demos, and a clinic's data belongs on MongoDB.
// The server runs it at start and once a day.
type SizeWatch struct {
	cfg SizeWatchConfig
}

// NewSizeWatch returns a size watch.
func NewSizeWatch(cfg SizeWatchConfig) *SizeWatch {
	if cfg.Limit <= 0 {
		cfg.Limit = EmbeddedComfortSize
	}
	return &SizeWatch{cfg: cfg}
}

// Name names the job in logs.
func (j *SizeWatch) Name() string { return "embedded size watch" }

// RunOnce counts the collections and warns if one is past the limit.
func (j *SizeWatch) RunOnce(ctx context.Context, _ time.Time) error {
	sizes, err := j.cfg.Store.CollectionSizes(ctx)
	if err != nil {
		return err
	}
	var over []string
	for _, name := range slices.Sorted(maps.Keys(sizes)) {
		if sizes[name] > j.cfg.Limit {
			over = append(over, name)
		}
	}
	if len(over) == 0 {
		return nil
	}
	j.cfg.Logger.Warn("the embedded database is for development, tests and demos: its lists scan whole collections "+
		"and are already slow at this size; run a clinic on MongoDB (MONGODB_URI, see docker-compose.yml)",
		"over_limit", over, "limit", j.cfg.Limit, "collection_sizes", sizes)
	return nil
}
