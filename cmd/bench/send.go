package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
)

func init() { register("send", benchSend) }

// sendTarget is pushes per second the send stage must reach: FCM's
// per-project quota is 600,000 messages a minute (10,000 a second), and the
// sender must not be what holds a clinic below it.
const sendTarget = 10_000

// benchSend pushes a prepared in-memory batch through the real Firebase SDK
// (notifications.FCMSender) into the FCM fake, at several levels of
// concurrency: the number of Send calls in flight at once, each with its
// share of the batch.
func benchSend(ctx context.Context, env benchEnv) ([]row, error) {
	total := 40_000
	if env.Quick {
		total = 6_000
	}
	fake, err := startFakeFCM(ctx)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	sender, err := notifications.NewFCMSender(ctx, notifications.FCMConfig{ProjectID: "bench", Endpoint: fake.URL, Now: time.Now})
	if err != nil {
		return nil, err
	}
	msgs := make([]notifications.Message, total)
	for i := range msgs {
		id := strconv.Itoa(i)
		msgs[i] = notifications.Message{
			ReminderID: "r" + id, Kind: models.KindHydrationAfter, Token: "token-" + id,
			Title: "Keep drinking water", Body: "Sipping water through the rest of today helps after your massage.", TTL: 4 * time.Hour,
		}
	}
	// A short warm-up opens the connections, so the first level is not
	// charged for them.
	if _, err := sender.Send(ctx, msgs[:500]); err != nil {
		return nil, err
	}
	var rows []row
	best, bestAt := 0.0, 0
	var cpu time.Duration
	for _, conc := range []int{1, 2, 4, 8} {
		if err := fake.reset(ctx); err != nil {
			return nil, err
		}
		cpu0 := cpuTime()
		elapsed, err := sendConcurrently(ctx, sender, msgs, conc)
		if err != nil {
			return nil, err
		}
		cpu += cpuTime() - cpu0
		st, err := fake.stats(ctx, false)
		if err != nil {
			return nil, err
		}
		if st.Received != total {
			return nil, fmt.Errorf("concurrency %d: the fake received %d of %d pushes", conc, st.Received, total)
		}
		rate := float64(total) / elapsed.Seconds()
		rows = append(rows, row{Metric: fmt.Sprintf("pushes/s, %d Send calls at once", conc), Value: round(rate, 0), Unit: "/s"})
		if rate > best {
			best, bestAt = rate, conc
		}
	}
	// The fake shares the machine's cores with the sender; FCM would not.
	// The sender's own CPU per push tells what the cores could carry if
	// they only sent.
	perPush := cpu.Seconds() / float64(4*total)
	rows = append(rows,
		row{Metric: "best pushes/s", Value: round(best, 0), Unit: "/s"}.check(">=", sendTarget),
		row{Metric: "Send calls at once for the best", Value: float64(bestAt), Unit: "calls"},
		row{Metric: "sender CPU per 1,000 pushes (without the fake)", Value: round(perPush*1000, 3), Unit: "s"},
		row{Metric: "pushes/s all cores could send, from that CPU cost", Value: round(float64(runtime.NumCPU())/perPush, 0), Unit: "/s"},
	)
	return rows, nil
}

// sendConcurrently sends msgs as conc Send calls at once, each with its
// share in turns of 500, and returns how long all took.
func sendConcurrently(ctx context.Context, sender notifications.Sender, msgs []notifications.Message, conc int) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	share := (len(msgs) + conc - 1) / conc
	for w := range conc {
		part := msgs[min(w*share, len(msgs)):min((w+1)*share, len(msgs))]
		wg.Go(func() {
			results, err := sender.Send(ctx, part)
			if err == nil {
				err = firstFailure(results)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func firstFailure(results []notifications.Result) error {
	for i, r := range results {
		if r.Outcome != notifications.Delivered {
			return fmt.Errorf("push %d: %s: %v", i, r.Outcome, r.Err)
		}
	}
	return nil
}
