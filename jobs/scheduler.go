// Package jobs holds the periodic work of the server and the cron wiring
// that runs it. robfig/cron is only a ticker here: it keeps no state, so
// every instance can run every job, and each job is safe to run anywhere.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
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

// Scheduler runs jobs on cron specs (with a seconds field).
type Scheduler struct {
	cron    *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
	logger  *slog.Logger
	now     func() time.Time
	timeout time.Duration
}

// NewScheduler returns a stopped scheduler. Each run of a job gets timeout;
// a job still running at its next tick is skipped rather than stacked, and
// a panic in one job is logged and does not stop the others.
func NewScheduler(logger *slog.Logger, now func() time.Time, timeout time.Duration) *Scheduler {
	cl := cronLogger{logger}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		cron: cron.New(
			cron.WithSeconds(),
			cron.WithLogger(cl),
			cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)),
		),
		ctx: ctx, cancel: cancel, logger: logger, now: now, timeout: timeout,
	}
}

// Add schedules job on spec. A bad spec is an error here, at start.
func (s *Scheduler) Add(spec string, job Job) error {
	_, err := s.cron.AddFunc(spec, func() {
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
	})
	if err != nil {
		return fmt.Errorf("schedule %s on %q: %w", job.Name(), spec, err)
	}
	return nil
}

// Start begins ticking.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops ticking and waits for running jobs until ctx ends; then it
// cancels them and waits for them to return, which they do promptly: a job
// honours its context, and the dispatcher hands back what it had claimed
// but not sent before it returns.
func (s *Scheduler) Stop(ctx context.Context) {
	done := s.cron.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
	}
	s.cancel()
	<-done.Done()
}

// cronLogger sends cron's own messages to slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
