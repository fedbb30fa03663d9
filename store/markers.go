package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/models"
)

// Write markers: how a change that must happen once is decided.
//
// Every write that depends on what was read — an edit of the version a
// request read, a refresh token spent, a reminder claimed by a dispatcher
// or acknowledged by its patient, a share link revoked — is a move of one
// document from one version to the next, and exactly one writer may make
// each move. A conditional update cannot decide that on both engines: it is
// atomic per document on MongoDB, but the embedded engine (FerretDB 1.24)
// evaluates an update's filter on a snapshot and then writes the whole
// document back, so two writers can both "match" and one's change is lost
// (tried: two PATCHes of one pain log lost one in 11 of 15 tries, and two
// refreshes with one token both got a live child). A unique insert is
// atomic on both. So a writer first inserts the marker
// "<collection>/<id>/<version being left>/<generation>" into write_markers;
// the one whose insert succeeds makes the write, under a deadline, with a
// filter that pins the version, and writes version+1. Everyone else gets a
// duplicate key: a stale conflict (models.Error.Stale), which an edit
// answers 409 or retries from a fresh read, and a token spend treats as
// reuse. One path serves both engines (MongoDB's atomic conditional update
// would do there alone), so that the same tests hold both to it.
//
// Crash safety: a writer can die between its marker and its write. The
// document then still has the version the marker names, and the marker
// would block it for ever. So a writer that finds a marker older than
// markerLease — well above any request's deadline, and far above
// markedWriteTimeout, within which the marker's owner either wrote or gave
// up — and the document still at that version, takes over by inserting the
// next generation's marker; the unique insert again decides between
// concurrent takers. Markers are never deleted on the hot path, which would
// open a window for a second writer; the cleanup job deletes those older
// than a day, long after every write they guarded. A marker's age is its
// time stamp on the writer's clock read on the taker's, so the instances'
// clocks must agree to well within the lease (NTP keeps them to
// milliseconds); instances minutes apart could take over a live writer's
// marker.
//
// Every writer of a versioned collection goes through here — the embedded
// engine's whole-document writes would otherwise undo a marked write — with
// three exceptions: inserts of new documents and the deletion of a
// patient's data on erasure, which leave no version to race, and the
// revocation of refresh tokens, which only ever sets revoked_at: racing a
// spend, one of the two may be undone, and either leaves the token unusable
// (a token made into a family being revoked is revoked too; see
// CreateRefreshToken).

// colMarkers holds the write markers.
const colMarkers = "write_markers"

const (
	// markerLease is how old a marker must be before another writer may
	// take over its document (see above): the dispatcher's own lease.
	markerLease = 2 * time.Minute
	// markedWriteTimeout bounds the write a marker was taken for, counted
	// from when taking the marker began (see forWrite). A dispatcher's
	// batch write of 500 reminders on the embedded engine, with other
	// writers beside it, was measured taking over 10 s; a quarter of the
	// lease leaves it room and the lease a wide margin.
	markedWriteTimeout = 30 * time.Second
	// markerRetention is how long a marker is kept; the cleanup job deletes
	// older ones.
	markerRetention = 24 * time.Hour
	// maxGenerations bounds the take-overs of one version: each needs a
	// marker a lease old, so this many means something else is wrong.
	maxGenerations = 20
)

// marker is one write marker as stored.
type marker struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
}

// move names one document's move away from a version.
type move struct {
	col, key string // the document's collection and _id
	from     int64
	// stillAt reports whether the document is still at version from. It
	// is asked only of a marker past its lease.
	stillAt func(ctx context.Context) (bool, error)
}

func (m move) markerID(gen int) string {
	return m.col + "/" + m.key + "/" + strconv.FormatInt(m.from, 10) + "/" + strconv.Itoa(gen)
}

// lostRace is the error of a writer that another beat to a move.
func lostRace(message string) error {
	return &models.Error{Code: models.ErrConflict, Message: message, Stale: true}
}

// errRaceLost is lostRace's error for callers that say their own message.
var errRaceLost = lostRace("changed meanwhile")

// withMessage gives a lost race the caller's message; other errors pass.
func withMessage(err error, message string) error {
	if models.IsStale(err) {
		return lostRace(message)
	}
	return err
}

// take makes this caller the one writer of move m, or returns errRaceLost.
func (s *Store) take(ctx context.Context, m move) error {
	gen, err := s.takeFrom(ctx, m, 0)
	if err != nil {
		return err
	}
	return s.marked([]string{m.markerID(gen)})
}

// takeFrom tries m's markers from generation gen on, and returns the
// generation it took.
func (s *Store) takeFrom(ctx context.Context, m move, gen int) (int, error) {
	for gen < maxGenerations {
		_, err := s.db.Collection(colMarkers).InsertOne(ctx, marker{ID: m.markerID(gen), At: s.now()})
		if err == nil {
			return gen, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, mapErr(err, "write marker")
		}
		next, err := s.nextGeneration(ctx, m, gen)
		if err != nil {
			return 0, err
		}
		gen = next
	}
	return 0, errRaceLost
}

// forWrite bounds the write that markers were taken for, taking them
// having begun at `began`: it is over by markedWriteTimeout after that,
// well before markerLease lets another writer take over, however long
// taking the markers took. It is a deadline on the process's own clock,
// as every context deadline is, not on the store's.
func forWrite(ctx context.Context, began time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, began.Add(markedWriteTimeout))
}

// nextGeneration decides what a writer that found m's marker of
// generation gen taken tries next: the same generation again when the
// marker has gone meanwhile (the cleanup job removed an abandoned one), the
// next when the marker is past its lease and its document is still at
// m.from, and nothing (errRaceLost) when its owner may still be writing or
// has written.
func (s *Store) nextGeneration(ctx context.Context, m move, gen int) (int, error) {
	var mk marker
	err := s.db.Collection(colMarkers).FindOne(ctx, bson.D{{Key: "_id", Value: m.markerID(gen)}}).Decode(&mk)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return gen, nil
	case err != nil:
		return 0, mapErr(err, "write marker")
	case s.now().Sub(mk.At) < markerLease:
		return 0, errRaceLost
	}
	still, err := m.stillAt(ctx)
	if err != nil {
		return 0, err
	}
	if !still {
		return 0, errRaceLost
	}
	return gen + 1, nil
}

// markerTakenAt returns when the newest marker of move m was taken, or the
// zero time if there is none.
func (s *Store) markerTakenAt(ctx context.Context, m move) (time.Time, error) {
	var at time.Time
	for gen := range maxGenerations {
		var mk marker
		err := s.db.Collection(colMarkers).FindOne(ctx, bson.D{{Key: "_id", Value: m.markerID(gen)}}).Decode(&mk)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return time.Time{}, mapErr(err, "write marker")
		}
		at = mk.At
	}
	return at, nil
}

// takeMany is take for many moves with one insert; won[i] tells whether
// moves[i] is this caller's; began is when taking them began, for
// forWrite. The markers that another holds are read back in one find, and
// only those past their lease are considered for a take-over, so a
// dispatcher that lost most of a batch to a live one pays one command, not
// one per lost move. At most staleTakeovers are taken over per call (each
// costs a read of its document); callers order moves oldest first, so the
// documents whose writer died longest ago come first.
func (s *Store) takeMany(ctx context.Context, moves []move) (won []bool, began time.Time, err error) {
	began = time.Now()
	docs := make([]any, len(moves))
	for i, m := range moves {
		docs[i] = marker{ID: m.markerID(0), At: s.now()}
	}
	taken, err := s.insertUnique(ctx, colMarkers, docs)
	if err != nil {
		return nil, began, err
	}
	won = make([]bool, len(moves))
	var ids []string
	held := bson.A{}
	for i, m := range moves {
		if taken[i] {
			held = append(held, m.markerID(0))
			continue
		}
		won[i] = true
		ids = append(ids, m.markerID(0))
	}
	stale, err := s.staleMarkers(ctx, held)
	if err != nil {
		return nil, began, err
	}
	tried := 0
	for i, m := range moves {
		if !taken[i] || !stale[m.markerID(0)] || tried == staleTakeovers {
			continue
		}
		tried++
		next, err := s.nextGeneration(ctx, m, 0)
		if err == nil {
			next, err = s.takeFrom(ctx, m, next)
		}
		switch {
		case err == nil:
			won[i] = true
			ids = append(ids, m.markerID(next))
		case !models.IsStale(err):
			return nil, began, err
		}
	}
	return won, began, s.marked(ids)
}

// staleTakeovers is how many markers past their lease one takeMany takes over.
const staleTakeovers = 20

// staleMarkers returns which of the markers with ids are past their lease.
func (s *Store) staleMarkers(ctx context.Context, ids bson.A) (map[string]bool, error) {
	stale := map[string]bool{}
	if len(ids) == 0 {
		return stale, nil
	}
	cur, err := s.db.Collection(colMarkers).Find(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "at", Value: bson.D{{Key: "$lte", Value: s.now().Add(-markerLease)}}},
	}, wholeBatch().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mapErr(err, "write markers")
	}
	var found []marker
	if err := cur.All(ctx, &found); err != nil {
		return nil, mapErr(err, "write markers")
	}
	for _, mk := range found {
		stale[mk.ID] = true
	}
	return stale, nil
}

// marked runs the test hook between taking markers and writing.
func (s *Store) marked(ids []string) error {
	if s.afterMarkers == nil || len(ids) == 0 {
		return nil
	}
	return s.afterMarkers(ids)
}

// atVersion returns a move's stillAt for the document of col with id: it
// exists at version v.
func (s *Store) atVersion(col, id string, v int64) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var doc struct {
			Version int64 `bson:"version"`
		}
		err := s.db.Collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
			options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, mapErr(err, col)
		}
		return doc.Version == v, nil
	}
}

// versionFilter pins a document's _id and version. A document is written
// without a version until its first change (the field is omitted when 0),
// which is also how documents from before versions existed look.
func versionFilter(id string, v int64) bson.D {
	if v == 0 {
		return bson.D{{Key: "_id", Value: id}, {Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}}
	}
	return bson.D{{Key: "_id", Value: id}, {Key: "version", Value: v}}
}

// change moves the document of col with id from version from to from+1:
// it takes the move, then runs write, within markedWriteTimeout of the
// marker, with the filter that pins the version (callers add to it). A lost
// race, or a write that matched nothing, is a stale conflict saying
// conflict.
func (s *Store) change(ctx context.Context, col, id string, from int64, conflict string,
	write func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error)) error {
	began := time.Now()
	if err := s.take(ctx, move{col: col, key: id, from: from, stillAt: s.atVersion(col, id, from)}); err != nil {
		return withMessage(err, conflict)
	}
	wctx, cancel := forWrite(ctx, began)
	defer cancel()
	res, err := write(wctx, versionFilter(id, from))
	if err != nil {
		return mapErr(err, col)
	}
	if res.MatchedCount == 0 {
		return lostRace(conflict)
	}
	return nil
}

// replaceAt replaces the document of col with id by doc if it is still at
// version from and matches also (its owner, say): the versioned
// read-change-write of one whole document (see change).
func (s *Store) replaceAt(ctx context.Context, col, id string, from int64, also bson.E, doc any, conflict string) error {
	return s.change(ctx, col, id, from, conflict, func(ctx context.Context, filter bson.D) (*mongo.UpdateResult, error) {
		return s.db.Collection(col).ReplaceOne(ctx, append(filter, also), doc)
	})
}

// retries is how often a store method that reads, decides and writes on
// its own tries in all when it loses races.
const retries = models.StaleRetries

// pauseBeforeRetry waits models.RetryPause before the next try.
func pauseBeforeRetry(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return mapErr(ctx.Err(), "retry")
	case <-time.After(models.RetryPause(attempt)):
		return nil
	}
}

// DeleteOldMarkers removes the write markers taken more than a day before
// now: every write they guarded is long done or abandoned.
func (s *Store) DeleteOldMarkers(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Collection(colMarkers).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-markerRetention)}}}})
	if err != nil {
		return 0, mapErr(err, "write markers")
	}
	return res.DeletedCount, nil
}
