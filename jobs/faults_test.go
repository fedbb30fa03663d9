package jobs_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/jobs"
	"github.com/backcare/backcare/models"
	"github.com/backcare/backcare/notifications"
	"github.com/backcare/backcare/notifications/fcmfake"
)

// sendDeadline is the FCM send timeout under test: short, so that simulated
// minutes of a hanging FCM take seconds.
const sendDeadline = 250 * time.Millisecond

// retryBase is the dispatcher's default first backoff.
const retryBase = 30 * time.Second

// TestFCMDownForMinutes runs the dispatcher on a simulated clock through
// five minutes of FCM failing (503 and 500 answers, or no answer at all),
// one tick every 10 s, and then through its recovery. Every send is cut
// at the deadline, goroutines do not pile up, a failing reminder is retried
// with exponential backoff, one that cannot make it before its expiry is
// expired no later than that, and after the recovery the other is sent
// exactly once.
func TestFCMDownForMinutes(t *testing.T) {
	const shortToken, longToken = "short-lived-token-aaaaaaaaaaaaaaaaaaaa", "long-lived-token-bbbbbbbbbbbbbbbbbbbbb"
	for _, tc := range []struct {
		name string
		fail func(*fcmfake.Server)
		// hangs: FCM never answers, so the deadline is what ends a send.
		hangs bool
	}{
		{name: "503 and 500", fail: func(f *fcmfake.Server) {
			f.FailToken(shortToken, fcmfake.Unavailable)
			f.FailToken(longToken, fcmfake.Internal)
		}},
		{name: "no answer", hangs: true, fail: func(f *fcmfake.Server) { f.SetDelay(time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			short := r.due(r.patient("p-short", "UTC", shortToken), models.KindStretching, "", noon, 4*time.Minute)
			long := r.due(r.patient("p-long", "UTC", longToken), models.KindStretching, "", noon, 2*time.Hour)
			sender, err := notifications.NewFCMSender(context.Background(), notifications.FCMConfig{
				ProjectID: "test", Endpoint: r.fake.URL(), Now: r.clock, SendTimeout: sendDeadline,
			})
			if err != nil {
				t.Fatal(err)
			}
			d := r.dispatcher(sender)
			tc.fail(r.fake)

			attempts := map[string]int{}
			baseline := 0
			outageEnd := noon.Add(5 * time.Minute)
			for now := noon; now.Before(outageEnd); now = now.Add(10 * time.Second) {
				r.setClock(now)
				tick(t, r, d)
				if now.Equal(noon) {
					// The first tick sends, so the connections and pools a
					// send needs exist before the goroutines are counted.
					baseline = settledGoroutines()
				}
				for _, want := range []models.Reminder{short, long} {
					got := r.reminder(models.Patient{ID: want.PatientID}, want.ID)
					checkRetry(t, got, now, attempts[got.ID])
					attempts[got.ID] = got.Attempts
					// An expired reminder's last word is its expiry, whichever
					// tick found it past its life.
					if tc.hangs && got.Attempts > 0 && got.Status != models.ReminderExpired && !strings.Contains(got.LastError, "deadline exceeded") {
						t.Fatalf("last error %q: want the send deadline to have cut the send", got.LastError)
					}
				}
			}
			if attempts[long.ID] < 3 {
				t.Fatalf("%d attempts in five minutes down, want the backoff to have retried at least 3 times", attempts[long.ID])
			}
			gone := r.reminder(models.Patient{ID: short.PatientID}, short.ID)
			if gone.Status != models.ReminderExpired || gone.Attempts < 2 || gone.UpdatedAt.After(short.ExpiresAt) {
				t.Fatalf("short-lived reminder: %s after %d attempts at %s, want expired after retries by %s",
					gone.Status, gone.Attempts, gone.UpdatedAt, short.ExpiresAt)
			}
			if !tc.hangs && r.sentCount()[short.ID] != 0 {
				t.Fatal("FCM accepted the short-lived reminder while failing every send")
			}
			eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= baseline+goroutineSlack },
				func() string { return "goroutines grew across the outage" })

			r.fake.Reset()
			for now := outageEnd; now.Before(outageEnd.Add(10 * time.Minute)); now = now.Add(30 * time.Second) {
				r.setClock(now)
				tick(t, r, d)
			}
			sent := r.reminder(models.Patient{ID: long.PatientID}, long.ID)
			if sent.Status != models.ReminderSent {
				t.Fatalf("long-lived reminder %s after recovery (%d attempts, %q), want sent", sent.Status, sent.Attempts, sent.LastError)
			}
			if got := r.sentCount(); got[long.ID] != 1 || got[short.ID] != 0 {
				t.Fatalf("pushes after recovery %v, want the long-lived reminder once and the expired one never", got)
			}
		})
	}
}

// goroutineSlack allows for the database driver's and HTTP client's own
// pools, which grow and shrink on their own.
const goroutineSlack = 10

// tick runs the dispatcher once at the rig's time. A send that ignored its
// deadline would hang on the silent fake for an hour; the test fails
// instead.
func tick(t *testing.T, r *rig, d *jobs.Dispatcher) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- d.RunOnce(context.Background(), r.clock()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(100 * sendDeadline):
		t.Fatalf("a dispatch tick outlived 100 send deadlines")
	}
}

// checkRetry checks a reminder after a tick at now, given its attempts
// before: each new failed attempt puts it back to pending after at least
// retryBase doubled per earlier attempt, plus at most 50 % jitter, or
// expires it when that would be past its expiry.
func checkRetry(t *testing.T, got models.Reminder, now time.Time, before int) {
	t.Helper()
	if got.Attempts > models.MaxAttempts || got.Attempts < before || got.Attempts > before+1 {
		t.Fatalf("attempts went from %d to %d in one tick", before, got.Attempts)
	}
	if got.Status == models.ReminderSent {
		t.Fatalf("reminder %s sent while FCM is down", got.ID)
	}
	if got.Attempts == before || got.Status != models.ReminderPending {
		return
	}
	backoff := retryBase << (got.Attempts - 1)
	if wait := got.DueAt.Sub(now); wait < backoff || wait > backoff+backoff/2 {
		t.Fatalf("attempt %d: next try in %s, want %s plus up to half again", got.Attempts, wait, backoff)
	}
	if !got.DueAt.Before(got.ExpiresAt) {
		t.Fatalf("retry at %s is past the expiry %s", got.DueAt, got.ExpiresAt)
	}
}

// settledGoroutines returns the goroutine count once it stops changing, or
// after a second.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cutSender stands for a send cut short by a shutdown: FCM accepted the
// first message, and the context ended before the others were answered.
type cutSender struct{ cancel context.CancelFunc }

func (c cutSender) Send(ctx context.Context, msgs []notifications.Message) ([]notifications.Result, error) {
	c.cancel()
	results := make([]notifications.Result, len(msgs))
	for i := range results {
		results[i] = notifications.Result{Outcome: notifications.Retryable, Err: ctx.Err()}
	}
	results[0] = notifications.Result{Outcome: notifications.Delivered, MessageID: "accepted-before-the-cut"}
	return results, ctx.Err()
}

// TestASendCutShortRecordsWhatWentAndHandsBackTheRest: a dispatcher stopped
// mid-send records the reminder FCM accepted and releases the other, which
// the next dispatcher sends at the same moment, without waiting out the
// stopped one's lease, while the accepted one is not sent again.
func TestASendCutShortRecordsWhatWentAndHandsBackTheRest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a := r.patient("p-a", "UTC", "token-cut-aaaaaaaaaaaaaaaaaaaa")
	b := r.patient("p-b", "UTC", "token-cut-bbbbbbbbbbbbbbbbbbbb")
	went := r.due(a, models.KindStretching, "", noon.Add(-2*time.Minute), time.Hour)
	cut := r.due(b, models.KindStretching, "", noon.Add(-time.Minute), time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	if err := r.dispatcher(cutSender{cancel: cancel}).RunOnce(ctx, noon); err == nil {
		t.Fatal("the stopped dispatcher reported success")
	}
	if got := r.reminder(a, went.ID); got.Status != models.ReminderSent || got.LeaseToken != "" {
		t.Fatalf("the accepted reminder is %s (lease %q), want sent", got.Status, got.LeaseToken)
	}
	if got := r.reminder(b, cut.ID); got.Status != models.ReminderPending || got.LeaseToken != "" || got.Attempts != 0 {
		t.Fatalf("the cut reminder is %s (lease %q, %d attempts), want pending, free, no attempt counted", got.Status, got.LeaseToken, got.Attempts)
	}

	r.run(r.dispatcher(r.sender()))
	if got := r.sentCount(); got[cut.ID] != 1 || got[went.ID] != 0 {
		t.Fatalf("pushes by the next dispatcher %v, want only the cut reminder, once", got)
	}
	if got := r.reminder(b, cut.ID); got.Status != models.ReminderSent {
		t.Fatalf("the cut reminder is %s after the next dispatcher, want sent", got.Status)
	}
}
