package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/mail/smtptest"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/storetest"
)

// outboxRig is one database, one test SMTP server and a clock the test moves.
type outboxRig struct {
	t     *testing.T
	store *store.Store
	smtp  *smtptest.Server
	reg   *prometheus.Registry
	log   bytes.Buffer
	mu    sync.Mutex
	now   time.Time
}

func newOutboxRig(t *testing.T) *outboxRig {
	t.Helper()
	return &outboxRig{t: t, store: storetest.NewStore(t), smtp: smtptest.Start(t, smtptest.Options{}), reg: prometheus.NewRegistry(), now: noon}
}

func (r *outboxRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *outboxRig) setClock(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = t
}

func (r *outboxRig) mailer() *mail.SMTP {
	r.t.Helper()
	server, err := mail.ParseSMTPURL(r.smtp.URL())
	if err != nil {
		r.t.Fatal(err)
	}
	from, err := mail.ParseFrom("BackCare <no-reply@backcare.example>")
	if err != nil {
		r.t.Fatal(err)
	}
	return mail.NewSMTP(mail.SMTPConfig{Server: server, From: from, Timeout: 5 * time.Second, TLSConfig: r.smtp.ClientTLS()})
}

// outbox returns a job over s (the rig's store when nil) with cfg's
// settings, its metrics registered once.
func (r *outboxRig) outbox(s jobs.OutboxStore, metrics *jobs.OutboxMetrics, cfg jobs.OutboxConfig) *jobs.Outbox {
	if s == nil {
		s = r.store
	}
	cfg.Store, cfg.Metrics, cfg.Now = s, metrics, r.clock
	if cfg.Mailer == nil {
		cfg.Mailer = r.mailer()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &r.log, mu: &r.mu}, nil))
	return jobs.NewOutbox(cfg)
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *outboxRig) enqueue(id, to string) {
	r.t.Helper()
	m, err := mail.Compose(models.MailPasswordReset, "en", to, "Jane", mail.Data{
		Link: "https://app.backcare.example/reset?token=" + id, Code: "123456", ValidFor: 30 * time.Minute,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	m.ID = id
	if err := r.store.EnqueueMail(context.Background(), m, r.clock()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *outboxRig) run(o *jobs.Outbox) {
	r.t.Helper()
	if err := o.RunOnce(context.Background(), r.clock()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *outboxRig) mail(id string) models.Mail {
	r.t.Helper()
	m, err := r.store.Mail(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// mailsCounted reads backcare_mails_total{outcome} summed over kinds.
func (r *outboxRig) mailsCounted(outcome string) float64 {
	r.t.Helper()
	families, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "backcare_mails_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// deliveries counts the mails the SMTP server accepted, by Message-ID.
func (r *outboxRig) deliveries() map[string]int {
	r.t.Helper()
	counts := map[string]int{}
	for _, m := range r.smtp.Messages() {
		p, err := m.Parse()
		if err != nil {
			r.t.Fatal(err)
		}
		counts[p.Header.Get("Message-Id")]++
	}
	return counts
}

func TestOutboxRetriesWhileTheServerIsDownAndDeliversOnceItIsBack(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	job := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{})
	r.smtp.Down()
	start := time.Now()
	r.enqueue("m1", "jane@example.com")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("queueing a mail took %v with the mail server down", took)
	}

	r.run(job)
	m := r.mail("m1")
	if m.Status != models.MailPending || m.Attempts != 1 || m.LastError == "" {
		t.Fatalf("after the first try: %s, %d attempts, error %q", m.Status, m.Attempts, m.LastError)
	}
	if wait := m.NextAttemptAt.Sub(noon); wait < 30*time.Second || wait > 45*time.Second {
		t.Fatalf("first retry in %v, want 30 s plus up to 50 %% jitter", wait)
	}
	r.setClock(m.NextAttemptAt.Add(-time.Second))
	r.run(job)
	if got := r.mail("m1"); got.Attempts != 1 {
		t.Fatalf("tried again before its retry time: %d attempts", got.Attempts)
	}
	r.setClock(m.NextAttemptAt)
	r.run(job)
	second := r.mail("m1")
	if wait := second.NextAttemptAt.Sub(m.NextAttemptAt); second.Attempts != 2 || wait < time.Minute || wait > 90*time.Second {
		t.Fatalf("after the second try: %d attempts, next in %v; want 2 and 1 min plus jitter", second.Attempts, wait)
	}

	r.smtp.Up(t)
	r.setClock(second.NextAttemptAt)
	r.run(job)
	r.setClock(second.NextAttemptAt.Add(time.Hour))
	r.run(job)
	if d := r.deliveries(); len(d) != 1 || d["<m1@backcare.example>"] != 1 {
		t.Fatalf("deliveries %v, want m1 once", d)
	}
	sent := r.mail("m1")
	if sent.Status != models.MailSent || sent.SentAt == nil || sent.Attempts != 3 {
		t.Fatalf("after the server came back: %s, %d attempts", sent.Status, sent.Attempts)
	}
	if sent.Text != "" || sent.HTML != "" {
		t.Fatal("a sent mail keeps its body, reset link and code")
	}
	if got := [2]float64{r.mailsCounted("retried"), r.mailsCounted("sent")}; got != [2]float64{2, 1} {
		t.Fatalf("retried, sent counted %v, want 2, 1", got)
	}
}

func TestOutboxARefusalForGoodFailsTheMailAtOnce(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	job := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{})
	r.smtp.RefusePermanently()
	r.enqueue("m1", "jane.doe@example.com")
	r.run(job)
	m := r.mail("m1")
	if m.Status != models.MailFailed || m.Attempts != 1 || !strings.Contains(m.LastError, "550") || m.Text != "" {
		t.Fatalf("after a 550: %s, %d attempts, error %q, body kept %v", m.Status, m.Attempts, m.LastError, m.Text != "")
	}
	r.smtp.Accept()
	r.setClock(noon.Add(24 * time.Hour))
	r.run(job)
	if n := len(r.smtp.Messages()); n != 0 {
		t.Fatalf("a failed mail was sent %d times later", n)
	}
	if r.mailsCounted("failed") != 1 || r.mailsCounted("retried") != 0 {
		t.Fatalf("failed %v, retried %v; want 1, 0", r.mailsCounted("failed"), r.mailsCounted("retried"))
	}
	r.mu.Lock()
	log := r.log.String()
	r.mu.Unlock()
	if !strings.Contains(log, "refused for good") || strings.Contains(log, "jane.doe@") {
		t.Fatalf("the log misses the refusal or shows the address:\n%s", log)
	}
}

func TestOutboxGivesUpAfterItsAttemptsOrItsAge(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	job := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{MaxAttempts: 3})
	r.smtp.RefuseTemporarily()
	r.enqueue("m1", "jane@example.com")
	for i := range 3 {
		r.run(job)
		r.setClock(r.clock().Add(time.Hour))
		if got := r.mail("m1"); got.Attempts != i+1 {
			t.Fatalf("try %d: %d attempts", i+1, got.Attempts)
		}
	}
	if m := r.mail("m1"); m.Status != models.MailFailed || !strings.Contains(m.LastError, "gave up after 3 attempts") {
		t.Fatalf("after 3 temporary refusals: %s (%q)", m.Status, m.LastError)
	}

	r.enqueue("m2", "jane@example.com")
	r.setClock(r.clock().Add(24 * time.Hour))
	r.run(job)
	if m := r.mail("m2"); m.Status != models.MailFailed || m.Attempts != 1 {
		t.Fatalf("a day old at its first temporary refusal: %s after %d attempts, want failed", m.Status, m.Attempts)
	}
	if r.mailsCounted("retried") != 2 || r.mailsCounted("failed") != 2 {
		t.Fatalf("retried %v, failed %v; want 2, 2", r.mailsCounted("retried"), r.mailsCounted("failed"))
	}
}

// Three instances — three stores on one database, each with its outbox
// job — race for 30 mails in batches of 5; the SMTP server must see each
// mail exactly once.
func TestThreeOutboxesSendEachMailExactlyOnce(t *testing.T) {
	// At the long size it runs on its own, before the parallel tests: its
	// 300 mails beside the three dispatchers' 5,000 reminders made the
	// engine miss the dispatchers' deadlines.
	if !storetest.Long() {
		t.Parallel()
	}
	r := newOutboxRig(t)
	db := storetest.NewDatabase(t)
	r.store = storetest.New(db)
	n := storetest.Size(30, 300)
	for i := range n {
		r.enqueue(fmt.Sprintf("m%03d", i), fmt.Sprintf("user%03d@example.com", i))
	}
	metrics := jobs.NewOutboxMetrics(r.reg)
	start := make(chan struct{})
	var wg sync.WaitGroup
	mailers := make([]*countingMailer, 3)
	for i := range mailers {
		mailers[i] = &countingMailer{inner: r.mailer()}
		job := r.outbox(storetest.New(storetest.Connect(t).Database(db.Name())), metrics,
			jobs.OutboxConfig{Mailer: mailers[i], BatchSize: 5, MaxBatches: 2})
		wg.Go(func() {
			<-start
			for range n/5 + 2 {
				if err := job.RunOnce(context.Background(), r.clock()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	d := r.deliveries()
	if len(d) != n {
		t.Fatalf("%d of %d mails reached the server", len(d), n)
	}
	for id, c := range d {
		if c != 1 {
			t.Fatalf("mail %s arrived %d times", id, c)
		}
	}
	if got := r.mailsCounted("sent"); got != float64(n) {
		t.Fatalf("sent counted %v, want %d", got, n)
	}
	if left, err := r.store.ClaimDueMails(context.Background(), noon.Add(time.Hour), "probe", noon.Add(2*time.Hour), 10); err != nil || len(left) != 0 {
		t.Fatalf("%d mails left to send (%v)", len(left), err)
	}
	var shares []int64
	busy := 0
	for _, m := range mailers {
		shares = append(shares, m.sent.Load())
		if m.sent.Load() > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Fatalf("mails by job %v: the jobs did not race", shares)
	}
	t.Logf("%d mails, mails by job %v: each delivered once", n, shares)
}

// countingMailer counts the mails a job handed to its mailer.
type countingMailer struct {
	inner mail.Mailer
	sent  atomic.Int64
}

func (c *countingMailer) Send(ctx context.Context, m models.Mail) error {
	c.sent.Add(1)
	return c.inner.Send(ctx, m)
}

func TestOutboxTakesOverADeadJobsClaimAfterItsLease(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	r.enqueue("m1", "jane@example.com")
	// A job claims the mail and dies before it sends.
	if claimed, err := r.store.ClaimDueMails(context.Background(), noon, "dead", noon.Add(2*time.Minute), 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d (%v)", len(claimed), err)
	}
	live := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{})
	r.setClock(noon.Add(time.Minute))
	r.run(live)
	if n := len(r.smtp.Messages()); n != 0 {
		t.Fatalf("%d sends under the dead job's live lease", n)
	}
	r.setClock(noon.Add(3 * time.Minute))
	r.run(live)
	if d := r.deliveries(); d["<m1@backcare.example>"] != 1 || r.mail("m1").Status != models.MailSent {
		t.Fatalf("after the lease: deliveries %v, status %s", d, r.mail("m1").Status)
	}
}

// slowMailer sends, and the clock moves on by took per mail.
type slowMailer struct {
	inner mail.Mailer
	r     *outboxRig
	took  time.Duration
}

func (s slowMailer) Send(ctx context.Context, m models.Mail) error {
	s.r.setClock(s.r.clock().Add(s.took))
	return s.inner.Send(ctx, m)
}

func TestOutboxHandsBackWhatItCannotSendWithinItsLease(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	for i := range 4 {
		r.enqueue(fmt.Sprintf("m%d", i), "jane@example.com")
	}
	// 2 min lease, 30 s send timeout: a send may begin until a minute
	// before the lease ends, so at 50 s a send the third is not begun.
	job := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{Mailer: slowMailer{inner: r.mailer(), r: r, took: 50 * time.Second}})
	r.run(job)
	if n := len(r.smtp.Messages()); n != 2 {
		t.Fatalf("%d sent in the first lease, want 2", n)
	}
	for _, id := range []string{"m2", "m3"} {
		if m := r.mail(id); m.Status != models.MailPending || m.Attempts != 0 || m.NextAttemptAt.After(r.clock()) {
			t.Fatalf("%s handed back as %s, %d attempts, due %v", id, m.Status, m.Attempts, m.NextAttemptAt)
		}
	}
	r.run(job)
	if d := r.deliveries(); len(d) != 4 {
		t.Fatalf("deliveries %v, want all four once", d)
	}
}

func TestCleanupDeletesMailsAWeekAfterTheyWereSent(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	r.enqueue("m1", "jane@example.com")
	r.run(r.outbox(nil, nil, jobs.OutboxConfig{}))
	cleanup := jobs.NewCleanup(jobs.CleanupConfig{Store: r.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := cleanup.RunOnce(context.Background(), noon.Add(store.MailRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.mail("m1")
	if err := cleanup.RunOnce(context.Background(), noon.Add(store.MailRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Mail(context.Background(), "m1"); models.ErrorCode(err) != models.ErrNotFound {
		t.Fatalf("a mail sent over a week ago: %v, want not found", err)
	}
}

// stoppingMailer is a send cut short by a shutdown: the run's context ends
// while the server has not answered.
type stoppingMailer struct{ cancel context.CancelFunc }

func (s stoppingMailer) Send(ctx context.Context, _ models.Mail) error {
	s.cancel()
	<-ctx.Done()
	return ctx.Err()
}

func TestOutboxStoppedMidSendHandsTheMailsBack(t *testing.T) {
	t.Parallel()
	r := newOutboxRig(t)
	r.enqueue("m1", "jane@example.com")
	r.enqueue("m2", "jane@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	job := r.outbox(nil, jobs.NewOutboxMetrics(r.reg), jobs.OutboxConfig{Mailer: stoppingMailer{cancel: cancel}})
	if err := job.RunOnce(ctx, r.clock()); err == nil {
		t.Fatal("a run stopped mid-send reported success")
	}
	for _, id := range []string{"m1", "m2"} {
		if m := r.mail(id); m.Status != models.MailPending || m.Attempts != 0 || m.LeaseToken != "" {
			t.Fatalf("%s after the stop: %s, %d attempts, lease %q; want handed back untried", id, m.Status, m.Attempts, m.LeaseToken)
		}
	}
	if n := r.mailsCounted("retried") + r.mailsCounted("failed"); n != 0 {
		t.Fatalf("a stop counted %v retries or failures", n)
	}
	r.run(r.outbox(nil, nil, jobs.OutboxConfig{}))
	if d := r.deliveries(); len(d) != 2 {
		t.Fatalf("after the restart: deliveries %v, want both at once", d)
	}
}
