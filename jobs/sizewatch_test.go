package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/store/storetest"
)

func TestSizeWatchWarnsOnceACollectionOutgrowsTheEngine(t *testing.T) {
	t.Parallel()
	s, ctx := storetest.NewStore(t), context.Background()
	var logs bytes.Buffer
	watch := jobs.NewSizeWatch(jobs.SizeWatchConfig{Store: s, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Limit: 3})
	addDevices := func(n int) {
		for range n {
			d := models.Device{PatientID: "p", Token: fmt.Sprintf("token-%d-xxxxxxxxxxxxxxxxxxxx", time.Now().UnixNano()), Platform: "ios", AppVersion: "1", LastSeen: noon}
			if _, _, err := s.UpsertDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	addDevices(3)
	if err := watch.RunOnce(ctx, noon); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Fatalf("warned at the limit: %s", logs.String())
	}
	addDevices(1)
	if err := watch.RunOnce(ctx, noon); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Level string           `json:"level"`
		Msg   string           `json:"msg"`
		Over  []string         `json:"over_limit"`
		Sizes map[string]int64 `json:"collection_sizes"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("want one warning line: %v: %s", err, logs.String())
	}
	if line.Level != "WARN" || len(line.Over) != 1 || line.Over[0] != "devices" || line.Sizes["devices"] != 4 {
		t.Fatalf("warning %+v, want devices over the limit with its size", line)
	}
	if _, ok := line.Sizes["patients"]; !ok {
		t.Fatalf("sizes %v, want every collection named", line.Sizes)
	}
}
