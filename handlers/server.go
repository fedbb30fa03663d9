// Package handlers is the HTTP API of BackCare: the Fiber app, its routes,
// request and response shapes, authentication and error mapping.
package handlers

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/models"
)

// Store is every store method the handlers call.
type Store interface {
	accountStore
	profileStore
	deviceStore
	painLogStore
	responseStore
	careStore
	reminderStore
	recordStore
	clinicStore
	linkStore
	clinicCareStore
	tokenStore
	messageStore
	Ping(ctx context.Context) error
}

// Deps are what the HTTP API needs from the rest of the program.
type Deps struct {
	Store    Store
	Signer   *auth.Signer
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Now is the clock; every rule asks it rather than time.Now.
	Now func() time.Time
	// PasswordParams are the argon2id costs of new password hashes.
	PasswordParams auth.Params
	// Planner re-plans a patient's reminders after a change.
	Planner Planner
	// BaseURL is the API's public address; it scopes the ids in exports.
	BaseURL string
	// RequestTimeout bounds each request, database calls included.
	RequestTimeout time.Duration
	// TrustedProxies may name the client in X-Forwarded-For; see clientIPFunc.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the web origins that may call the API from a browser.
	// None by default: the phone app is not a browser, and the report page
	// is served from this origin.
	CORSOrigins []string
	// RateLimits default to DefaultRateLimits.
	RateLimits RateLimits
	// MailQueued, when set, is told that a request queued a mail, so that
	// the outbox can send it now rather than at its next tick.
	MailQueued func()

	// passwordWork counts argon2id computations (see passwords).
	passwordWork prometheus.Counter
}

// BodyLimit is the largest request body accepted; the largest real one, a
// pain log with a full note, is a few kilobytes.
const BodyLimit = 64 * 1024

// NewServer returns the Fiber app serving every route.
func NewServer(d Deps) *fiber.App {
	if d.RequestTimeout == 0 {
		d.RequestTimeout = 10 * time.Second
	}
	if d.RateLimits == (RateLimits{}) {
		d.RateLimits = DefaultRateLimits
	}
	d.passwordWork = newPasswordWork(d.Registry)
	onError := errorHandler(d.Logger)
	app := fiber.New(fiber.Config{
		AppName:               "backcare",
		BodyLimit:             BodyLimit,
		ErrorHandler:          onError,
		DisableStartupMessage: true,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          15 * time.Second,
		IdleTimeout:           60 * time.Second,
	})
	app.Use(withRequestLog(d.Logger, newHTTPMetrics(d.Registry), onError), withRecover(d.Logger), withDeadline(d.RequestTimeout))
	if len(d.CORSOrigins) > 0 {
		// Bearer tokens travel in a header, not in cookies, so credentials
		// are never allowed, and origins are listed, never "*".
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(d.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE",
			AllowHeaders:  "Authorization,Content-Type,If-Match,X-Request-Id",
			ExposeHeaders: "ETag,Retry-After,X-Request-Id",
			MaxAge:        600,
		}))
	}
	for _, r := range routes(d) {
		handlers := []fiber.Handler{}
		switch r.policy {
		case policyPatient:
			handlers = append(handlers, noStore, requirePatient(d.Signer, d.Now))
		case policyPublicNoStore:
			handlers = append(handlers, noStore)
		case policyStaff, policyOwner:
			handlers = append(handlers, noStore, requireStaff(d.Store, d.Signer, d.Now, r.policy == policyOwner))
		case policyStaffView:
			handlers = append(handlers, noStore, requireStaff(d.Store, d.Signer, d.Now, false), authorizePatient(d.Store, models.ScopeView, d.Now))
		case policyStaffCare:
			handlers = append(handlers, noStore, requireStaff(d.Store, d.Signer, d.Now, false), authorizePatient(d.Store, models.ScopeCare, d.Now))
		}
		app.Add(r.method, r.path, append(handlers, r.handler)...)
	}
	return app
}
