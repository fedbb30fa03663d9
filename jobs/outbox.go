package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
)

// OutboxStore is what the outbox job reads and writes.
type OutboxStore interface {
	ClaimDueMails(ctx context.Context, now time.Time, lease string, leaseUntil time.Time, limit int) ([]models.Mail, error)
	RecordMailOutcomes(ctx context.Context, lease string, outcomes []models.MailOutcome, now time.Time) (int64, error)
}

// OutboxConfig configures an Outbox.
type OutboxConfig struct {
	Store   OutboxStore
	Mailer  mail.Mailer
	Logger  *slog.Logger
	Metrics *OutboxMetrics
	// Now is the clock read between sends of one run.
	Now func() time.Time
	// BatchSize is how many mails one claim takes (default 20).
	BatchSize int
	// MaxBatches bounds one run (default 5); a backlog is worked off over
	// several ticks.
	MaxBatches int
	// Lease is how long claimed mails stay this job's before another may
	// take them over (default 2 minutes).
	Lease time.Duration
	// SendTimeout bounds one mail's send (default 30 s).
	SendTimeout time.Duration
	// RetryBase is the first retry's wait; it doubles per attempt up to
	// MaxRetryWait, with up to 50 % jitter (defaults 30 s and 30 minutes).
	RetryBase, MaxRetryWait time.Duration
	// MaxAttempts and MaxAge bound the retries of a mail the server keeps
	// answering "try again later", or never answers: it is given up as
	// failed at its MaxAttempts-th temporary failure, or at the first one
	// MaxAge after it was queued (defaults 10 and 24 hours). With the
	// default waits the ten attempts span about two to three hours; a day
	// covers a mail server away for a night, and a reset link or code
	// arriving later than that would long have stopped working.
	MaxAttempts int
	MaxAge      time.Duration
}

// Outbox sends the queued mails. Every instance runs one: a mail is claimed
// under a lease, so one job at a time sends it, and every write after the
// claim is a move from the claimed version. Each send's outcome is written
// as soon as it is known, so a job that dies mid-batch has sent at most the
// mail in flight without recording it; that one goes again once its lease
// has run out. Normal operation sends each mail once.
type Outbox struct {
	cfg OutboxConfig
}

// NewOutbox returns an outbox job with cfg's defaults filled in.
func NewOutbox(cfg OutboxConfig) *Outbox {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 20
	}
	if cfg.MaxBatches == 0 {
		cfg.MaxBatches = 5
	}
	if cfg.Lease == 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = 30 * time.Minute
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	return &Outbox{cfg: cfg}
}

// Name names the job in logs.
func (o *Outbox) Name() string { return "outbox" }

// RunOnce claims and sends due mails, a batch at a time, until none are due
// or MaxBatches have gone.
func (o *Outbox) RunOnce(ctx context.Context, now time.Time) error {
	for range o.cfg.MaxBatches {
		n, err := o.sendBatch(ctx, now)
		if err != nil || n < o.cfg.BatchSize {
			return err
		}
		now = o.cfg.Now()
	}
	return nil
}

func (o *Outbox) sendBatch(ctx context.Context, now time.Time) (int, error) {
	lease := uuid.NewString()
	leaseUntil := now.Add(o.cfg.Lease)
	claimed, err := o.cfg.Store.ClaimDueMails(ctx, now, lease, leaseUntil, o.cfg.BatchSize)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	for i, m := range claimed {
		at := o.cfg.Now()
		if ctx.Err() != nil {
			o.giveBack(ctx, lease, claimed[i:], at)
			return len(claimed), ctx.Err()
		}
		// A send must end, and its outcome be written, well inside the
		// lease: past it another job may claim and send the mail again.
		if at.Add(2 * o.cfg.SendTimeout).After(leaseUntil) {
			o.giveBack(ctx, lease, claimed[i:], at)
			return len(claimed), nil
		}
		outcome := o.send(ctx, m, at)
		if ctx.Err() != nil && outcome.Status != models.MailSent {
			// Cut short by a shutdown: not the mail's fault.
			o.giveBack(ctx, lease, claimed[i:], at)
			return len(claimed), ctx.Err()
		}
		if err := o.record(ctx, lease, outcome); err != nil {
			// The mail's lease runs out and it is tried again; if it was
			// sent and only this write failed, it arrives twice.
			o.giveBack(ctx, lease, claimed[i+1:], at)
			return len(claimed), err
		}
	}
	return len(claimed), nil
}

// record writes one send's outcome; a mail sent as the run was being
// stopped is still recorded, under a short deadline of its own, so that it
// does not go again.
func (o *Outbox) record(ctx context.Context, lease string, outcome models.MailOutcome) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), giveBackTimeout)
		defer cancel()
	}
	_, err := o.cfg.Store.RecordMailOutcomes(ctx, lease, []models.MailOutcome{outcome}, o.cfg.Now())
	return err
}

// send sends m and decides what comes of it; a send cut short by the end
// of ctx decides nothing (no status).
func (o *Outbox) send(ctx context.Context, m models.Mail, at time.Time) models.MailOutcome {
	sctx, cancel := context.WithTimeout(ctx, o.cfg.SendTimeout)
	err := o.cfg.Mailer.Send(sctx, m)
	cancel()
	out := models.MailOutcome{ID: m.ID, Version: m.Version, Attempted: true}
	if err == nil {
		out.Status = models.MailSent
		o.cfg.Metrics.count(m.Kind, "sent")
		return out
	}
	if ctx.Err() != nil {
		// The run is stopping: its caller hands the mail back, untried.
		return out
	}
	out.LastError = err.Error()
	// A refusal names the recipient; the log keeps no address.
	logged := strings.ReplaceAll(out.LastError, m.To, mail.MaskAddress(m.To))
	attempts := m.Attempts + 1
	switch {
	case mail.IsPermanent(err):
		out.Status = models.MailFailed
		o.cfg.Logger.Warn("mail refused for good: not sent", "mail_id", m.ID, "kind", string(m.Kind), "error", logged)
		o.cfg.Metrics.count(m.Kind, "failed")
	case attempts >= o.cfg.MaxAttempts || at.Sub(m.CreatedAt) >= o.cfg.MaxAge:
		out.Status = models.MailFailed
		out.LastError = "gave up after " + strconv.Itoa(attempts) + " attempts: " + out.LastError
		o.cfg.Logger.Warn("mail given up: not sent", "mail_id", m.ID, "kind", string(m.Kind), "attempts", attempts,
			"queued_at", m.CreatedAt, "error", logged)
		o.cfg.Metrics.count(m.Kind, "failed")
	default:
		out.Status, out.NextAttemptAt = models.MailPending, at.Add(o.backoff(attempts))
		o.cfg.Logger.Info("mail not sent: will retry", "mail_id", m.ID, "kind", string(m.Kind), "attempts", attempts,
			"retry_at", out.NextAttemptAt, "error", logged)
		o.cfg.Metrics.count(m.Kind, "retried")
	}
	return out
}

// giveBack hands claimed mails this run will not send back to pending, due
// at once and with no attempt counted, so that any job — this one after a
// restart included — sends them without waiting for the lease. When the
// hand-back fails too, the lease runs out instead.
func (o *Outbox) giveBack(ctx context.Context, lease string, ms []models.Mail, at time.Time) {
	if len(ms) == 0 {
		return
	}
	outcomes := make([]models.MailOutcome, len(ms))
	for i, m := range ms {
		outcomes[i] = models.MailOutcome{ID: m.ID, Version: m.Version, Status: models.MailPending, NextAttemptAt: at}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveBackTimeout)
	defer cancel()
	if _, err := o.cfg.Store.RecordMailOutcomes(wctx, lease, outcomes, at); err != nil {
		o.cfg.Logger.Warn("outbox: unsent mails left to their lease", "mails", len(ms), "lease", o.cfg.Lease, "error", err)
	}
}

// backoff is RetryBase doubled per earlier attempt, at most MaxRetryWait,
// with up to 50 % jitter so that the retries of one outage spread out.
func (o *Outbox) backoff(attempt int) time.Duration {
	b := o.cfg.MaxRetryWait
	if attempt-1 < 32 {
		b = min(o.cfg.RetryBase<<(attempt-1), o.cfg.MaxRetryWait)
	}
	return b + time.Duration(rand.Int64N(int64(b)/2+1))
}

// OutboxMetrics count the outbox's sends by kind and outcome: sent,
// retried (a temporary failure, tried again later) and failed (refused for
// good, or given up).
type OutboxMetrics struct {
	mails *prometheus.CounterVec
}

// NewOutboxMetrics registers the outbox's metrics with reg.
func NewOutboxMetrics(reg prometheus.Registerer) *OutboxMetrics {
	m := &OutboxMetrics{mails: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backcare_mails_total", Help: "Mail sends by the outbox, by kind and outcome (sent, retried, failed).",
	}, []string{"kind", "outcome"})}
	reg.MustRegister(m.mails)
	return m
}

func (m *OutboxMetrics) count(kind models.MailKind, outcome string) {
	if m != nil {
		m.mails.WithLabelValues(string(kind), outcome).Inc()
	}
}
