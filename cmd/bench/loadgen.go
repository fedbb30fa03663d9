package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// loadCall is one kind of request a phone makes. next builds the n-th
// request of a worker, so that workers spread over patients and ids.
type loadCall struct {
	name string
	next func(worker, n int) (method, path, token string, body []byte)
}

// loadResult is what driving one call measured.
type loadResult struct {
	name       string
	requests   int
	errors     int
	firstError string
	elapsed    time.Duration
	latencies  []time.Duration
}

// newLoadClient is an HTTP client that keeps one connection per worker
// open, as a phone app's client library would.
func newLoadClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: time.Minute,
			DisableCompression: true,
		},
	}
}

// drive sends call's requests to baseURL from concurrency workers for d: a
// closed loop, each worker sending its next request when the last one is
// answered, so the figures are the server's throughput at that concurrency.
// Requests in flight at the end are waited for and counted, so a call
// slower than d still gives figures. A request counts as an error unless
// it is answered 2xx.
func drive(ctx context.Context, client *http.Client, baseURL string, call loadCall, concurrency int, d time.Duration) loadResult {
	var (
		mu  sync.Mutex
		res = loadResult{name: call.name}
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Go(func() {
			var latencies []time.Duration
			errs, firstErr := 0, ""
			// Every worker sends at least one request, so a window of zero is one request each.
			for n := 0; n == 0 || time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				method, path, token, body := call.next(w, n)
				t := time.Now()
				err := exchange(ctx, client, method, baseURL+path, token, body, nil)
				latencies = append(latencies, time.Since(t))
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, latencies...)
			res.errors += errs
			if res.firstError == "" {
				res.firstError = firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = len(res.latencies)
	sortedDurations(res.latencies)
	return res
}

// exchange makes one request and reads the whole answer; anything but 2xx
// is an error. A 2xx answer is decoded into out unless out is nil.
func exchange(ctx context.Context, client *http.Client, method, url, token string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(answer[:min(len(answer), 300)]))
	}
	if readErr != nil || out == nil {
		return readErr
	}
	return json.Unmarshal(answer, out)
}

// throughput is the result's requests per second.
func (r loadResult) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// rows are the result's lines in the bench table.
func (r loadResult) rows() []row {
	return []row{
		{Metric: r.name + " throughput", Value: round(r.throughput(), 0), Unit: "req/s"},
		{Metric: r.name + " latency p50", Value: ms(percentile(r.latencies, 50)), Unit: "ms"},
		{Metric: r.name + " latency p99", Value: ms(percentile(r.latencies, 99)), Unit: "ms"},
		row{Metric: r.name + " errors", Value: float64(r.errors), Unit: "requests"}.check("<=", 0),
	}
}
