package jobs

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

type funcJob struct {
	name string
	run  func(ctx context.Context, now time.Time) error
}

func (j funcJob) Name() string                                     { return j.name }
func (j funcJob) RunOnce(ctx context.Context, now time.Time) error { return j.run(ctx, now) }

func TestSchedulerSurvivesAPanickingJob(t *testing.T) {
	s := NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, time.Second)
	var ran atomic.Int32
	if err := s.Add("* * * * * *", funcJob{"panics", func(context.Context, time.Time) error { panic("boom") }}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("* * * * * *", funcJob{"counts", func(context.Context, time.Time) error { ran.Add(1); return nil }}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for ran.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the healthy job ran %d times in 10 s next to a panicking one", ran.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSchedulerRefusesABadSpec(t *testing.T) {
	s := NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, time.Second)
	if err := s.Add("every minute", funcJob{"x", nil}); err == nil {
		t.Fatal("a bad spec was accepted")
	}
}

func TestSchedulerSkipsARunStillInProgress(t *testing.T) {
	s := NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, time.Minute)
	var running, maxRunning, runs atomic.Int32
	release := make(chan struct{})
	err := s.Add("* * * * * *", funcJob{"slow", func(ctx context.Context, _ time.Time) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	// Let at least three ticks pass while the first run is still going.
	deadline := time.Now().Add(10 * time.Second)
	for runs.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	// Read before the release: once released, the next tick may rightly
	// start a second run before Stop takes effect.
	gotRuns, gotMax := runs.Load(), maxRunning.Load()
	close(release)
	s.Stop(context.Background())
	if gotMax != 1 || gotRuns != 1 {
		t.Fatalf("runs %d, at most %d at once; want 1 run while it was still in progress", gotRuns, gotMax)
	}
}

// TestSchedulerTrigger runs a job out of turn once started, never beside a
// run already going, and Stop waits for a triggered run.
func TestSchedulerTrigger(t *testing.T) {
	s := NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, time.Minute)
	var runs atomic.Int32
	release := make(chan struct{})
	if err := s.Add("@every 1h", funcJob{"outbox", func(ctx context.Context, _ time.Time) error {
		runs.Add(1)
		<-release
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	s.Trigger("outbox")
	if n := runs.Load(); n != 0 {
		t.Fatalf("%d runs triggered before the start", n)
	}
	s.Start()
	s.Trigger("outbox")
	s.Trigger("no such job")
	deadline := time.Now().Add(10 * time.Second)
	for runs.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the triggered run did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Trigger("outbox")
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs: a trigger during a run must not start another", n)
	}
	stopped := make(chan struct{})
	go func() {
		s.Stop(context.Background())
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a triggered run was going")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-stopped
}
