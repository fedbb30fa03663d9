package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
)

// DispatchStore is what the dispatcher reads and writes.
type DispatchStore interface {
	ClaimDue(ctx context.Context, now time.Time, lease string, leaseUntil time.Time, limit int) ([]models.Reminder, error)
	RecordOutcomes(ctx context.Context, lease string, outcomes []models.ReminderOutcome, now time.Time) (int64, error)
	ReleaseClaims(ctx context.Context, lease string, ids []string, now time.Time) (int64, error)
	PatientsByID(ctx context.Context, ids []string) (map[string]models.Patient, error)
	DevicesOf(ctx context.Context, patientIDs []string) (map[string][]models.Device, error)
	OpenPlansOf(ctx context.Context, patientIDs []string) (map[string]models.Plan, error)
	LoggedDays(ctx context.Context, patientIDs, dates []string) (map[string]bool, error)
	DeleteDeviceTokens(ctx context.Context, tokens []string) error
	FCMPausedUntil(ctx context.Context) (time.Time, error)
	PauseFCM(ctx context.Context, until time.Time) error
}

// DispatchConfig configures a Dispatcher.
type DispatchConfig struct {
	Store   DispatchStore
	Sender  notifications.Sender
	Logger  *slog.Logger
	Metrics *DispatchMetrics
	// Now is the clock read between batches of one run.
	Now func() time.Time
	// BatchSize is how many reminders one claim takes (default 500, one
	// SendEach call's worth when each patient has one device).
	BatchSize int
	// MaxBatches bounds one run, so a backlog is worked off over several
	// ticks and the run never outlives its scheduler timeout (default 20).
	MaxBatches int
	// Lease is how long claimed reminders stay this dispatcher's before
	// another may take them over (default 2 minutes: well above a batch's
	// send timeout, so only a dead or stuck dispatcher loses its claim).
	Lease time.Duration
	// RetryBase is the first retry's backoff; it doubles per attempt, with
	// jitter (default 30 s).
	RetryBase time.Duration
}

// Dispatcher sends due reminders. Every instance runs one: claims are
// leased, so each reminder goes to one dispatcher at a time, and every
// write after the claim is conditional on the lease.
type Dispatcher struct {
	cfg DispatchConfig
}

// NewDispatcher returns a dispatcher with cfg's defaults filled in.
func NewDispatcher(cfg DispatchConfig) *Dispatcher {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxBatches == 0 {
		cfg.MaxBatches = 20
	}
	if cfg.Lease == 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 30 * time.Second
	}
	return &Dispatcher{cfg: cfg}
}

// Name names the job in logs.
func (d *Dispatcher) Name() string { return "dispatch" }

// quotaPause is the least wait after FCM answers QUOTA_EXCEEDED.
const quotaPause = 60 * time.Second

// giveBackTimeout bounds the writes that hand a stopped batch back: they run
// after the run's context has ended, so they get their own short one.
const giveBackTimeout = 5 * time.Second

// RunOnce claims and sends due reminders, a batch at a time, until none
// are due or MaxBatches have gone.
func (d *Dispatcher) RunOnce(ctx context.Context, now time.Time) error {
	for range d.cfg.MaxBatches {
		paused, err := d.cfg.Store.FCMPausedUntil(ctx)
		if err != nil {
			return err
		}
		if now.Before(paused) {
			return nil
		}
		n, err := d.dispatchBatch(ctx, now)
		if err != nil || n < d.cfg.BatchSize {
			return err
		}
		now = d.cfg.Now()
	}
	return nil
}

// pending is one claimed reminder on its way through a batch.
type pending struct {
	r       models.Reminder
	outcome models.ReminderOutcome
	// msgs are the indexes of its messages in the batch's send.
	msgs []int
}

func (d *Dispatcher) dispatchBatch(ctx context.Context, now time.Time) (int, error) {
	lease := uuid.NewString()
	claimed, err := d.cfg.Store.ClaimDue(ctx, now, lease, now.Add(d.cfg.Lease), d.cfg.BatchSize)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	ids, dates := patientsAndDates(claimed)
	patients, err := d.cfg.Store.PatientsByID(ctx, ids)
	if err != nil {
		return 0, d.giveBack(ctx, lease, claimed, err)
	}
	devices, err := d.cfg.Store.DevicesOf(ctx, ids)
	if err != nil {
		return 0, d.giveBack(ctx, lease, claimed, err)
	}
	plans, err := d.cfg.Store.OpenPlansOf(ctx, ids)
	if err != nil {
		return 0, d.giveBack(ctx, lease, claimed, err)
	}
	logged, err := d.cfg.Store.LoggedDays(ctx, ids, dates)
	if err != nil {
		return 0, d.giveBack(ctx, lease, claimed, err)
	}

	batch := make([]pending, len(claimed))
	var msgs []notifications.Message
	for i, r := range claimed {
		p := &batch[i]
		p.r = r
		p.outcome = models.ReminderOutcome{ID: r.ID, Version: r.Version, AckedAt: r.AckedAt}
		patient, ok := patients[r.PatientID]
		if !ok {
			p.outcome.Status, p.outcome.LastError = models.ReminderCancelled, "patient no longer exists"
			continue
		}
		if d.recheck(p, patient, plans, logged, now) {
			continue
		}
		for _, dev := range devices[r.PatientID] {
			title, body, _ := notifications.Text(patient.Locale, r.Kind, r.Variant)
			p.msgs = append(p.msgs, len(msgs))
			msgs = append(msgs, notifications.Message{
				ReminderID: r.ID, CollapseKey: r.CollapseKey(), Kind: r.Kind, Token: dev.Token, Title: title, Body: body, TTL: r.ExpiresAt.Sub(now),
			})
		}
		if len(p.msgs) == 0 {
			p.outcome.Status, p.outcome.LastError = models.ReminderSkipped, "no device registered"
		}
	}

	var results []notifications.Result
	if len(msgs) > 0 {
		start := d.cfg.Now()
		results, err = d.cfg.Sender.Send(ctx, msgs)
		d.cfg.Metrics.sendSeconds.Observe(d.cfg.Now().Sub(start).Seconds())
		if err != nil && ctx.Err() != nil {
			return 0, d.stopMidSend(ctx, lease, batch, results, err)
		}
	}
	sentAt := d.cfg.Now()
	var deadTokens []string
	var pauseUntil time.Time
	outcomes := make([]models.ReminderOutcome, len(batch))
	for i := range batch {
		p := &batch[i]
		if len(p.msgs) > 0 {
			dead, pause := d.settle(p, msgs, results, sentAt)
			deadTokens = append(deadTokens, dead...)
			if pause.After(pauseUntil) {
				pauseUntil = pause
			}
		}
		outcomes[i] = p.outcome
		d.cfg.Metrics.observe(p.r, p.outcome, sentAt)
	}
	if !pauseUntil.IsZero() {
		d.cfg.Logger.Warn("FCM quota exceeded: every dispatcher pauses", "until", pauseUntil)
		if err := d.cfg.Store.PauseFCM(ctx, pauseUntil); err != nil {
			return 0, err
		}
	}
	if _, err := d.cfg.Store.RecordOutcomes(ctx, lease, outcomes, sentAt); err != nil {
		return 0, err
	}
	if err := d.cfg.Store.DeleteDeviceTokens(ctx, deadTokens); err != nil {
		return 0, err
	}
	return len(claimed), nil
}

// stopMidSend records the reminders of a batch whose send was cut short
// (the server is shutting down) that FCM accepted, and gives back the rest,
// so that a restarted or another instance sends them at once rather than
// after the lease. FCM may have delivered some of those given back before
// the cut: they go again, under the same collapse key, so the phone replaces
// the notification rather than showing two.
func (d *Dispatcher) stopMidSend(ctx context.Context, lease string, batch []pending, results []notifications.Result, cause error) error {
	var done []models.ReminderOutcome
	var unsent []models.Reminder
	sentAt := d.cfg.Now()
	for i := range batch {
		p := &batch[i]
		delivered := false
		for _, m := range p.msgs {
			delivered = delivered || results[m].Outcome == notifications.Delivered
		}
		switch {
		case delivered:
			p.outcome.Status, p.outcome.SentAt, p.outcome.Attempted, p.outcome.LastError = models.ReminderSent, &sentAt, true, ""
		case len(p.msgs) > 0:
			unsent = append(unsent, p.r)
			continue
		}
		done = append(done, p.outcome)
		d.cfg.Metrics.observe(p.r, p.outcome, sentAt)
	}
	if len(done) > 0 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveBackTimeout)
		defer cancel()
		if _, err := d.cfg.Store.RecordOutcomes(wctx, lease, done, sentAt); err != nil {
			// Their lease runs out and they are sent again, replacing
			// the notification shown.
			d.cfg.Logger.Warn("dispatch stopped mid-send: could not record what was sent", "reminders", len(done), "error", err)
		}
	}
	return d.giveBack(ctx, lease, unsent, cause)
}

// giveBack releases the claims of reminders a batch will not send because
// it stopped with cause, and returns cause. When the release fails too (the
// database is away), the lease runs out instead and they are sent late.
func (d *Dispatcher) giveBack(ctx context.Context, lease string, rs []models.Reminder, cause error) error {
	if len(rs) == 0 {
		return cause
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveBackTimeout)
	defer cancel()
	n, err := d.cfg.Store.ReleaseClaims(wctx, lease, ids, d.cfg.Now())
	if err != nil {
		d.cfg.Logger.Warn("dispatch stopped: claims left to run out", "reminders", len(ids), "lease", d.cfg.Lease, "error", err)
		return cause
	}
	d.cfg.Logger.Info("dispatch stopped: unsent reminders given back", "reminders", n, "cause", cause)
	return cause
}

// recheck decides, just before sending, whether a claimed reminder should
// still go out now; it reports true when it settled the reminder otherwise.
// The state it checks may have changed since the reminder was planned.
func (d *Dispatcher) recheck(p *pending, patient models.Patient, plans map[string]models.Plan, logged map[string]bool, now time.Time) bool {
	r, o := p.r, &p.outcome
	loc := patient.Location()
	plan, hasPlan := plans[r.PatientID]
	settle := func(status models.ReminderStatus, why string) bool {
		o.Status, o.LastError = status, why
		return true
	}
	switch {
	case !now.Before(r.ExpiresAt):
		return settle(models.ReminderExpired, "past its useful life")
	case r.AckedAt != nil:
		return settle(models.ReminderSkipped, "already done")
	case !patient.Wants(r.Kind):
		return settle(models.ReminderSkipped, "kind turned off")
	case r.Source == models.SourceSession && beforeSession(r.Kind) && hasPlan &&
		(plan.Status == models.PlanNeedsClearance || plan.Status == models.PlanPaused):
		return settle(models.ReminderCancelled, "plan is "+string(plan.Status))
	case r.Source == models.SourcePlan && (!hasPlan || plan.ID != r.SourceID || plan.Status != models.PlanActive):
		return settle(models.ReminderCancelled, "plan is no longer active")
	case r.Kind == models.KindDailyCheckin && logged[r.PatientID+"|"+r.LocalDate]:
		return settle(models.ReminderSkipped, "already logged that day")
	}
	if patient.QuietHours.Contains(now, loc) {
		at, ok := models.ApplyQuietHours(now, r.ExpiresAt, patient.QuietHours, loc)
		if !ok {
			return settle(models.ReminderExpired, "quiet hours last past its useful life")
		}
		o.Status, o.DueAt = models.ReminderPending, at
		return true
	}
	return false
}

func beforeSession(kind models.ReminderKind) bool {
	return kind == models.KindHydrationBefore || kind == models.KindSessionUpcoming
}

// settle turns the send results of one reminder's messages into its
// outcome, and returns the tokens to delete and until when FCM asked every
// sender to wait (zero if it did not).
func (d *Dispatcher) settle(p *pending, msgs []notifications.Message, results []notifications.Result, now time.Time) ([]string, time.Time) {
	var dead []string
	var wait time.Duration
	var delivered, retry, quota bool
	var lastErr error
	for _, i := range p.msgs {
		res := results[i]
		switch res.Outcome {
		case notifications.Delivered:
			delivered = true
		case notifications.BadToken:
			dead = append(dead, msgs[i].Token)
		case notifications.QuotaExceeded:
			quota = true
			wait = max(wait, res.RetryAfter, quotaPause)
		case notifications.Retryable:
			retry = true
			wait = max(wait, res.RetryAfter)
		}
		if res.Err != nil {
			lastErr = res.Err
		}
	}
	o := &p.outcome
	if lastErr != nil {
		o.LastError = lastErr.Error()
	}
	var pause time.Time
	attempts := p.r.Attempts + 1
	switch {
	case delivered:
		// One device is enough; a device that failed gets the next reminder.
		o.Status, o.SentAt, o.Attempted, o.LastError = models.ReminderSent, &now, true, ""
	case quota:
		// Not the reminder's fault: no attempt is counted.
		pause = now.Add(wait)
		d.retryAt(o, p.r, pause)
	case retry:
		o.Attempted = true
		if attempts >= models.MaxAttempts {
			o.Status = models.ReminderFailed
			break
		}
		d.retryAt(o, p.r, now.Add(max(wait, d.backoff(attempts))))
	default:
		o.Attempted = true
		o.Status = models.ReminderFailed
	}
	return dead, pause
}

// retryAt puts the reminder back to pending at `at`, or expires it when
// that is too late to be of use.
func (d *Dispatcher) retryAt(o *models.ReminderOutcome, r models.Reminder, at time.Time) {
	if !at.Before(r.ExpiresAt) {
		o.Status = models.ReminderExpired
		return
	}
	o.Status, o.DueAt = models.ReminderPending, at
}

// backoff is RetryBase doubled per earlier attempt, with up to 50 % jitter
// so that retries of one outage do not arrive together.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.cfg.RetryBase << (attempt - 1)
	return b + time.Duration(rand.Int64N(int64(b)/2+1))
}

func patientsAndDates(rs []models.Reminder) (ids, dates []string) {
	seenID, seenDate := map[string]bool{}, map[string]bool{}
	for _, r := range rs {
		if !seenID[r.PatientID] {
			seenID[r.PatientID] = true
			ids = append(ids, r.PatientID)
		}
		if r.Kind == models.KindDailyCheckin && !seenDate[r.LocalDate] {
			seenDate[r.LocalDate] = true
			dates = append(dates, r.LocalDate)
		}
	}
	return ids, dates
}

// DispatchMetrics are what a clinic watches: outcomes by kind, how long
// sends take, and how late reminders arrive.
type DispatchMetrics struct {
	outcomes    *prometheus.CounterVec
	sendSeconds prometheus.Histogram
	lateness    prometheus.Histogram
}

// NewDispatchMetrics registers the dispatcher's metrics with reg.
func NewDispatchMetrics(reg prometheus.Registerer) *DispatchMetrics {
	m := &DispatchMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backcare_reminders_total", Help: "Reminders settled by the dispatcher, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "backcare_push_send_seconds", Help: "Time to send one batch of pushes to FCM.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "backcare_reminder_lateness_seconds", Help: "Sent time minus due time of each sent reminder.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
	}
	reg.MustRegister(m.outcomes, m.sendSeconds, m.lateness)
	return m
}

func (m *DispatchMetrics) observe(r models.Reminder, o models.ReminderOutcome, now time.Time) {
	m.outcomes.WithLabelValues(string(r.Kind), string(o.Status)).Inc()
	if o.Status == models.ReminderSent {
		m.lateness.Observe(max(0, now.Sub(r.DueAt).Seconds()))
	}
}
