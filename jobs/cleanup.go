package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// CleanupStore is what the cleanup job deletes through.
type CleanupStore interface {
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error)
	DeleteExpiredLoginWindows(ctx context.Context, now time.Time) (int64, error)
	DeleteExpiredClaims(ctx context.Context, before time.Time) (int64, error)
}

// CleanupConfig configures a Cleanup job.
type CleanupConfig struct {
	Store  CleanupStore
	Logger *slog.Logger
}

// Cleanup deletes what has expired and protects nothing any more: spent or
// expired refresh tokens, finished sign-in failure windows and dispatch
// claims whose lease ended an hour ago. The engines
// we support do not all have TTL indexes, so this is a job.
type Cleanup struct {
	cfg CleanupConfig
}

// NewCleanup returns a cleanup job.
func NewCleanup(cfg CleanupConfig) *Cleanup { return &Cleanup{cfg: cfg} }

// Name names the job in logs.
func (j *Cleanup) Name() string { return "cleanup" }

// RunOnce deletes everything expired at now.
func (j *Cleanup) RunOnce(ctx context.Context, now time.Time) error {
	tokens, errTokens := j.cfg.Store.DeleteExpiredRefreshTokens(ctx, now)
	windows, errWindows := j.cfg.Store.DeleteExpiredLoginWindows(ctx, now)
	claims, errClaims := j.cfg.Store.DeleteExpiredClaims(ctx, now.Add(-time.Hour))
	if tokens+windows+claims > 0 {
		j.cfg.Logger.Info("cleanup", "refresh_tokens_deleted", tokens, "login_windows_deleted", windows, "claims_deleted", claims)
	}
	return errors.Join(errTokens, errWindows, errClaims)
}
