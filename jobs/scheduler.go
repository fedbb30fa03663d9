// Package jobs holds the periodic work of the server and the cron wiring
// that runs it. robfig/cron is only a ticker here: it keeps no state, so
// every instance can run every job, and each job is safe to run anywhere.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/backcare/backcare/models"
)

// Job is one periodic task. RunOnce does one pass at the given time; cron
// only decides when.
type Job interface {
	Name() string
	RunOnce(ctx context.Context, now time.Time) error
}

// Scheduler runs jobs on cron specs (with a seconds field), and on
// Trigger.
type Scheduler struct {
	cron    *cron.Cron
	chain   cron.Chain
	ctx     context.Context
	cancel  context.CancelFunc
	logger  *slog.Logger
	now     func() time.Time
	timeout time.Duration

	mu sync.Mutex
	// runs are the jobs as cron runs them, by name, for Trigger.
	runs              map[string]cron.Job
	started, stopping bool
	// triggered counts the runs Trigger started, which Stop waits for.
	triggered sync.WaitGroup
}

// specParser reads the specs: a seconds field first, or a descriptor.
var specParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// NewScheduler returns a stopped scheduler. Each run of a job gets timeout;
// a job still running at its next tick is skipped rather than stacked, and
// a panic in one job is logged and does not stop the others.
func NewScheduler(logger *slog.Logger, now func() time.Time, timeout time.Duration) *Scheduler {
	cl := cronLogger{logger}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		cron:  cron.New(cron.WithParser(specParser), cron.WithLogger(cl)),
		chain: cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)),
		ctx:   ctx, cancel: cancel, logger: logger, now: now, timeout: timeout,
		runs: map[string]cron.Job{},
	}
}

// Add schedules job on spec. A bad spec is an error here, at start.
func (s *Scheduler) Add(spec string, job Job) error {
	schedule, err := specParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("schedule %s on %q: %w", job.Name(), spec, err)
	}
	run := s.chain.Then(cron.FuncJob(func() {
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
		defer cancel()
		start := s.now()
		if err := job.RunOnce(ctx, start); err != nil {
			switch {
			case s.ctx.Err() != nil:
				s.logger.Info("job stopped for shutdown", "job", job.Name(), "error", err)
			case models.ErrorCode(err) == models.ErrUnavailable:
				// An outage is reported by /readyz and the store's
				// callers; each tick need not shout about it.
				s.logger.Warn("job skipped: database unavailable", "job", job.Name(), "error", err)
			default:
				s.logger.Error("job failed", "job", job.Name(), "error", err)
			}
			return
		}
		s.logger.Debug("job done", "job", job.Name(), "duration_ms", s.now().Sub(start).Milliseconds())
	}))
	s.cron.Schedule(schedule, run)
	s.mu.Lock()
	s.runs[job.Name()] = run
	s.mu.Unlock()
	return nil
}

// Start begins ticking.
func (s *Scheduler) Start() {
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	s.cron.Start()
}

// Trigger runs the job named name now, out of turn — the outbox when a
// request has queued a mail, so that a reset mail leaves at once rather
// than at the next tick. A run already going makes it a no-op (as at a
// tick), and so does a scheduler not started or stopping: the next tick
// comes soon enough.
func (s *Scheduler) Trigger(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.runs[name]
	if !ok || !s.started || s.stopping {
		return
	}
	s.triggered.Add(1)
	go func() {
		defer s.triggered.Done()
		run.Run()
	}()
}

// Stop stops ticking and waits for running jobs until ctx ends; then it
// cancels them and waits for them to return, which they do promptly: a job
// honours its context, and the dispatcher hands back what it had claimed
// but not sent before it returns.
func (s *Scheduler) Stop(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	done := s.cron.Stop()
	triggered := make(chan struct{})
	go func() {
		s.triggered.Wait()
		close(triggered)
	}()
	select {
	case <-done.Done():
	case <-ctx.Done():
	}
	select {
	case <-triggered:
	case <-ctx.Done():
	}
	s.cancel()
	<-done.Done()
	<-triggered
}

// cronLogger sends cron's own messages to slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
