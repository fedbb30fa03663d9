package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

const (
	localRequestID = "request_id"
	localPatientID = "patient_id"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID returns the request's id, set by withRequestLog.
func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// patientID returns the id of the authenticated patient. Only routes behind
// requirePatient call it, so it is never empty there.
func patientID(c *fiber.Ctx) string {
	id, _ := c.Locals(localPatientID).(string)
	return id
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backcare_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "backcare_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// withRequestLog gives each request an id (the caller's X-Request-Id if it
// is sane), answers errors through the error handler so that the status is
// known, and logs and counts one line per request.
func withRequestLog(logger *slog.Logger, metrics *httpMetrics, onError fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := c.Get(fiber.HeaderXRequestID)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Locals(localRequestID, id)
		c.Set(fiber.HeaderXRequestID, id)
		// No answer is meant to be sniffed into another type by a browser.
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		if err := c.Next(); err != nil {
			if herr := onError(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		// Fiber's strings point into buffers reused by the next request;
		// metric labels outlive this one, so they get copies.
		route, method := strings.Clone(c.Route().Path), strings.Clone(c.Method())
		elapsed := time.Since(start)
		metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		switch {
		case status == fiber.StatusServiceUnavailable:
			// The database is away or slow: expected during an outage,
			// and every such request would otherwise page someone.
			level = slog.LevelWarn
		case status >= 500:
			level = slog.LevelError
		}
		attrs := []any{"request_id", id, "method", method, "route", route, "status", status, "duration_ms", elapsed.Milliseconds()}
		if pid := patientID(c); pid != "" {
			attrs = append(attrs, "patient_id", pid)
		}
		logger.Log(c.UserContext(), level, "request", attrs...)
		return nil
	}
}

// withRecover turns a handler's panic into a plain 500: the stack goes to
// the log, never to the client, and the server keeps serving.
func withRecover(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.ErrorContext(c.UserContext(), "handler panic", "request_id", requestID(c),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = models.Errorf(models.ErrInternal, "internal error")
			}
		}()
		return c.Next()
	}
}

// withDeadline bounds every request's work, database calls included.
func withDeadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// noStore keeps health data out of shared and browser caches.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// requirePatient accepts a valid access token and records whose it is.
func requirePatient(signer *auth.Signer, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		header := c.Get(fiber.HeaderAuthorization)
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || token == "" {
			return models.Errorf(models.ErrUnauthorized, "sign in: send Authorization: Bearer <access token>")
		}
		id, err := signer.Verify(token, models.AudiencePatient, now())
		if err != nil {
			return models.Errorf(models.ErrUnauthorized, "the access token is invalid or expired; refresh it or sign in again")
		}
		c.Locals(localPatientID, id)
		return c.Next()
	}
}
