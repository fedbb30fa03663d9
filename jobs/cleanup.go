package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CleanupStore is what the cleanup job deletes through.
type CleanupStore interface {
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error)
	DeleteExpiredLoginWindows(ctx context.Context, now time.Time) (int64, error)
	DeleteOldMarkers(ctx context.Context, now time.Time) (int64, error)
	DeleteStaleDevices(ctx context.Context, seenBefore time.Time, limit int) (int64, error)
	DeleteExpiredClinicTokens(ctx context.Context, now time.Time) (int64, error)
	DeleteOldMails(ctx context.Context, now time.Time) (int64, error)
	DeleteExpiredAccountTokens(ctx context.Context, now time.Time) (int64, error)
}

// StaleDeviceAge is how long a device may go without its app registering
// again before it is removed: Android expires an FCM token unused for 270
// days, and FCM already calls one unused for a month stale.
const StaleDeviceAge = 270 * 24 * time.Hour

// CleanupConfig configures a Cleanup job.
type CleanupConfig struct {
	Store   CleanupStore
	Logger  *slog.Logger
	Metrics *CleanupMetrics
	// StaleDeviceBatch is the most stale devices one delete removes (default
	// 500), so that a first run over years of devices does not hold the
	// database in one long command.
	StaleDeviceBatch int
}

// Cleanup deletes what has expired and protects nothing any more: spent or
// expired refresh tokens, finished sign-in failure windows, write markers
// a day old (whose writes are long done), devices not seen for
// StaleDeviceAge, the clinic side's expired link codes and staff
// invitations (hashes of codes nobody can redeem any more), expired
// password resets and verification links, and mails sent or given up a
// week ago (store.MailRetention). The engines we
// support do not all have TTL indexes, so this is a job.
type Cleanup struct {
	cfg CleanupConfig
}

// NewCleanup returns a cleanup job.
func NewCleanup(cfg CleanupConfig) *Cleanup {
	if cfg.StaleDeviceBatch <= 0 {
		cfg.StaleDeviceBatch = 500
	}
	return &Cleanup{cfg: cfg}
}

// Name names the job in logs.
func (j *Cleanup) Name() string { return "cleanup" }

// RunOnce deletes everything expired at now.
func (j *Cleanup) RunOnce(ctx context.Context, now time.Time) error {
	tokens, errTokens := j.cfg.Store.DeleteExpiredRefreshTokens(ctx, now)
	windows, errWindows := j.cfg.Store.DeleteExpiredLoginWindows(ctx, now)
	markers, errMarkers := j.cfg.Store.DeleteOldMarkers(ctx, now)
	devices, errDevices := j.deleteStaleDevices(ctx, now.Add(-StaleDeviceAge))
	clinicTokens, errClinicTokens := j.cfg.Store.DeleteExpiredClinicTokens(ctx, now)
	mails, errMails := j.cfg.Store.DeleteOldMails(ctx, now)
	accountTokens, errAccountTokens := j.cfg.Store.DeleteExpiredAccountTokens(ctx, now)
	j.cfg.Metrics.count("refresh_tokens", tokens)
	j.cfg.Metrics.count("login_windows", windows)
	j.cfg.Metrics.count("write_markers", markers)
	j.cfg.Metrics.count("stale_devices", devices)
	j.cfg.Metrics.count("clinic_tokens", clinicTokens)
	j.cfg.Metrics.count("mails", mails)
	j.cfg.Metrics.count("account_tokens", accountTokens)
	if tokens+windows+markers+devices+clinicTokens+mails+accountTokens > 0 {
		j.cfg.Logger.Info("cleanup", "refresh_tokens_deleted", tokens, "login_windows_deleted", windows,
			"write_markers_deleted", markers, "stale_devices_deleted", devices, "clinic_tokens_deleted", clinicTokens,
			"mails_deleted", mails, "account_tokens_deleted", accountTokens)
	}
	return errors.Join(errTokens, errWindows, errMarkers, errDevices, errClinicTokens, errMails, errAccountTokens)
}

// deleteStaleDevices removes stale devices a batch at a time until a batch
// comes back short.
func (j *Cleanup) deleteStaleDevices(ctx context.Context, seenBefore time.Time) (int64, error) {
	var total int64
	for {
		n, err := j.cfg.Store.DeleteStaleDevices(ctx, seenBefore, j.cfg.StaleDeviceBatch)
		total += n
		if err != nil || n < int64(j.cfg.StaleDeviceBatch) {
			return total, err
		}
	}
}

// CleanupMetrics count what the cleanup job removed, by what it was.
type CleanupMetrics struct {
	deleted *prometheus.CounterVec
}

// NewCleanupMetrics registers the cleanup job's metrics with reg.
func NewCleanupMetrics(reg prometheus.Registerer) *CleanupMetrics {
	m := &CleanupMetrics{deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backcare_cleanup_deleted_total",
		Help: "Documents the cleanup job removed, by what they were (refresh_tokens, login_windows, write_markers, stale_devices, clinic_tokens: expired link codes and staff invitations, mails: sent or given up a week ago).",
	}, []string{"what"})}
	reg.MustRegister(m.deleted)
	return m
}

func (m *CleanupMetrics) count(what string, n int64) {
	if m != nil {
		m.deleted.WithLabelValues(what).Add(float64(n))
	}
}
