package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/handlers"
	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
	"github.com/backcare/backcare/notifications/fcmfake"
	"github.com/backcare/backcare/store"
	"github.com/backcare/backcare/store/embedded"
	"github.com/backcare/backcare/web"
)

// maxPrepareWait caps the wait between attempts to prepare a database
// that answers but fails to (see prepareDatabase).
const maxPrepareWait = 15 * time.Second

// run is the whole program: it returns when ctx is cancelled and everything
// it started has stopped. Tests call it too, with PORT=0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	flags := flag.NewFlagSet("backcare", flag.ContinueOnError)
	flags.SetOutput(stdout)
	healthcheck := flags.Bool("healthcheck", false, "check that a server on PORT answers /healthz, and exit (for container health checks)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if *healthcheck {
		return checkHealth(ctx, cfg.Port)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	logger.Info("starting", "config", cfg)
	now := time.Now

	uri := cfg.MongoURI
	var engine *embedded.Engine
	clientOpts := options.Client().SetServerSelectionTimeout(10 * time.Second).SetTimeout(30 * time.Second)
	storeOpts := []store.Option{store.WithClock(now)}
	if uri == "" {
		clientOpts.SetMaxPoolSize(store.EmbeddedMaxPoolSize)
		storeOpts = append(storeOpts, store.WithWriteBatch(store.EmbeddedWriteBatch))
		// The engine logs every connection at info; only its errors matter here.
		engineLog := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelError)})).
			With("component", "embedded-db")
		engine, err = embedded.Start(ctx, filepath.Join(cfg.DataDir, "db"), engineLog)
		if err != nil {
			return err
		}
		defer func() {
			err = errors.Join(err, engine.Close())
			logger.Info("embedded database closed")
		}()
		uri = engine.URI()
	}
	client, err := mongo.Connect(clientOpts.ApplyURI(uri))
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, client.Disconnect(dctx))
	}()
	st := &readiness{Store: store.New(client.Database(cfg.Database), storeOpts...)}
	prepare := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := st.EnsureIndexes(ctx); err != nil {
			return err
		}
		if engine != nil {
			return engine.IndexIDs(ctx, cfg.Database)
		}
		return nil
	}
	if engine != nil {
		// The embedded engine runs in this process: it is there, or the
		// start fails.
		if err := prepare(ctx); err != nil {
			return err
		}
		st.ready.Store(true)
	}

	key, err := cfg.signingKey()
	if err != nil {
		return err
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	sender, stopPush, err := pushSender(ctx, cfg, logger, now)
	if err != nil {
		return err
	}
	defer stopPush()
	materializer := jobs.NewMaterializer(jobs.MaterializeConfig{Store: st, Logger: logger})
	dispatcher := jobs.NewDispatcher(jobs.DispatchConfig{
		Store: st, Sender: sender, Logger: logger, Metrics: jobs.NewDispatchMetrics(registry), Now: now,
	})
	// Requests only queue mails (store.EnqueueMail); this job sends them.
	outbox := jobs.NewOutbox(jobs.OutboxConfig{
		Store: st, Mailer: mailer(cfg, logger), Logger: logger, Metrics: jobs.NewOutboxMetrics(registry), Now: now,
		RetryBase: cfg.MailRetryBase,
	})
	scheduler := jobs.NewScheduler(logger, now, time.Minute)
	// A list, not a map by spec: two jobs may share one (MAIL_INTERVAL and
	// DISPATCH_INTERVAL both 10s).
	type scheduled struct {
		spec string
		job  jobs.Job
	}
	specs := []scheduled{
		{"0 */10 * * * *", jobs.NewCleanup(jobs.CleanupConfig{Store: st, Logger: logger, Metrics: jobs.NewCleanupMetrics(registry)})},
		{"0 */30 * * * *", materializer},
		{"@every " + cfg.DispatchInterval.String(), dispatcher},
		{"@every " + cfg.MailInterval.String(), outbox},
	}
	// On the embedded engine, a warning at start and every day once the
	// data outgrows what that engine serves well.
	var sizeWatch *jobs.SizeWatch
	if engine != nil {
		sizeWatch = jobs.NewSizeWatch(jobs.SizeWatchConfig{Store: st, Logger: logger})
		specs = append(specs, scheduled{"0 0 4 * * *", sizeWatch})
	}
	for _, s := range specs {
		if err := scheduler.Add(s.spec, s.job); err != nil {
			return err
		}
	}

	app := handlers.NewServer(handlers.Deps{
		Store: st, Signer: signer, Logger: logger, Registry: registry, Now: now, PasswordParams: auth.DefaultParams,
		Planner: materializer, BaseURL: cfg.BaseURL, TrustedProxies: cfg.TrustedProxies, CORSOrigins: cfg.CORSOrigins,
		MailQueued: func() { scheduler.Trigger(outbox.Name()) },
	})
	web.Mount(app, web.Deps{Store: st, Signer: signer, Logger: logger, Now: now, BaseURL: cfg.BaseURL})
	serveErr := make(chan error, 2)
	metrics, err := serveMetrics(cfg.MetricsAddr, registry, serveErr, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		_ = metrics.Close()
		return fmt.Errorf("listen: %w", err)
	}
	go func() { serveErr <- app.Listener(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	// An external database may be down at start: the server answers at
	// once (/readyz and the API say 503) and prepares the database when it
	// can be reached. The jobs start only then.
	started := make(chan struct{})
	go func() {
		defer close(started)
		if !st.ready.Load() {
			if !prepareDatabase(ctx, prepare, logger) {
				return
			}
			st.ready.Store(true)
			logger.Info("database ready")
		}
		scheduler.Start()
		// Plan everyone's horizon now rather than at the first half hour.
		if err := materializer.RunOnce(ctx, now()); err != nil && ctx.Err() == nil {
			logger.Error("materialize at start", "error", err)
		}
		if sizeWatch != nil {
			if err := sizeWatch.RunOnce(ctx, now()); err != nil && ctx.Err() == nil {
				logger.Error("embedded size watch at start", "error", err)
			}
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shutting down: finishing in-flight requests and jobs")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	// After this the scheduler has started or never will: Stop cannot race Start.
	<-started
	jobsStopped := make(chan struct{})
	go func() {
		defer close(jobsStopped)
		scheduler.Stop(sctx)
	}()
	if err := app.ShutdownWithContext(sctx); err != nil {
		logger.Error("http shutdown", "error", err)
	}
	if err := metrics.Shutdown(sctx); err != nil {
		logger.Error("metrics shutdown", "error", err)
	}
	<-jobsStopped
	logger.Info("stopped")
	return nil
}

// serveMetrics serves /metrics on addr, a listener of its own: the API's
// port may be public, and the metrics name every route with its traffic and
// error rates, which only the monitoring system should see. With addr empty
// (METRICS_ADDR=off) nothing listens and the returned server is idle.
func serveMetrics(addr string, registry *prometheus.Registry, serveErr chan<- error, logger *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	if addr == "" {
		logger.Info("metrics off")
		return srv, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("metrics: %w", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

// readiness is the store as the HTTP API sees it: /readyz pings through
// it, and it is not ready until the database has been prepared.
type readiness struct {
	*store.Store
	ready atomic.Bool
}

// Ping reports the database unavailable until it has its indexes, and then
// whether it answers.
func (r *readiness) Ping(ctx context.Context) error {
	if !r.ready.Load() {
		return models.Errorf(models.ErrUnavailable, "the database is not prepared yet")
	}
	return r.Store.Ping(ctx)
}

// prepareDatabase runs prepare until it succeeds; it reports false if ctx
// ended first. An attempt that finds no database has already waited for
// one (the driver's server selection), and would have gone on the moment
// one answered; so the next follows at once, at most one a second, and the
// API never serves a returned database without its indexes for long.
// Other failures back off exponentially, 1 s to maxPrepareWait.
func prepareDatabase(ctx context.Context, prepare func(context.Context) error, logger *slog.Logger) bool {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		started := time.Now()
		err := prepare(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		pause := backoff
		// The driver's text names the whole topology; "unreachable" says it.
		reason := err.Error()
		if models.ErrorCode(err) == models.ErrUnavailable {
			reason = "database unreachable"
			pause = max(0, time.Second-time.Since(started))
		} else {
			backoff = min(2*backoff, maxPrepareWait)
		}
		logger.Warn("database not ready; retrying", "attempt", attempt, "retry_in", pause.String(), "reason", reason)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
	}
}

// checkHealth asks a running server for /healthz. The container image has
// no shell or curl, so the binary checks itself.
func checkHealth(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: status %d", resp.StatusCode)
	}
	return nil
}

// mailer returns the SMTP mailer with SMTP_URL, or else the development
// mailer, which logs each mail (its links included) instead of sending it.
func mailer(cfg config, logger *slog.Logger) mail.Mailer {
	if cfg.SMTPURL == "" {
		return mail.NewDev(logger)
	}
	var tc *tls.Config
	if cfg.SMTPRoots != nil {
		tc = &tls.Config{RootCAs: cfg.SMTPRoots, MinVersion: tls.VersionTLS12}
	}
	return mail.NewSMTP(mail.SMTPConfig{Server: cfg.SMTP, From: cfg.MailFrom, TLSConfig: tc})
}

// pushSender returns the FCM sender: real FCM with credentials, the given
// endpoint without, or else an in-process FCM fake that logs each push, so
// that a developer sees reminders arrive. stop shuts the fake down.
func pushSender(ctx context.Context, cfg config, logger *slog.Logger, now func() time.Time) (notifications.Sender, func(), error) {
	fcm := notifications.FCMConfig{
		ProjectID: cfg.FCMProjectID, CredentialsFile: cfg.FCMCredentials, Endpoint: cfg.FCMEndpoint,
		SendTimeout: cfg.FCMSendTimeout, Now: now,
	}
	stop := func() {}
	if cfg.FCMCredentials == "" && cfg.FCMEndpoint == "" {
		fake := fcmfake.New()
		fake.OnReceive(func(r fcmfake.Received) {
			logger.Info("push (FCM fake)", "token", models.MaskToken(r.Token), "title", r.Title, "body", r.Body,
				"reminder_id", r.Data["reminder_id"], "kind", r.Data["kind"])
		})
		fcm.Endpoint, stop = fake.URL(), fake.Close
	}
	if fcm.ProjectID == "" && cfg.FCMCredentials == "" {
		fcm.ProjectID = "backcare-dev"
	}
	sender, err := notifications.NewFCMSender(ctx, fcm)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return sender, stop, nil
}
