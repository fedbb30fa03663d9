package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

func init() { register("idle", benchIdle) }

// idleTarget is the most resident memory an idle server may hold, in MB.
const idleTarget = 60

// benchIdle starts the real server binary on an empty database, lets it sit
// idle (its dispatcher ticking) and reads its peak resident memory.
func benchIdle(ctx context.Context, env benchEnv) ([]row, error) {
	idleFor := 10 * time.Second
	if env.Quick {
		idleFor = 3 * time.Second
	}
	bin, err := buildServer(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	fake, err := startFakeFCM(ctx)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	vars := []string{"DATA_DIR=" + filepath.Join(env.Dir, "data"), "FCM_ENDPOINT=" + fake.URL, "FCM_PROJECT_ID=bench"}
	if env.MongoURI != "" {
		name := "bench_idle_" + randomHex(6)
		vars = append(vars, "MONGODB_URI="+env.MongoURI, "MONGODB_DATABASE="+name, "JWT_SECRET="+randomHex(32))
		defer dropDatabase(env.MongoURI, name)
	}
	srv, err := startServer(ctx, bin, nil, vars, false)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	select {
	case <-time.After(idleFor):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rss, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	return []row{
		row{Metric: fmt.Sprintf("server peak RSS, idle %s after start", idleFor), Value: rss, Unit: "MB"}.check("<=", idleTarget),
	}, nil
}
