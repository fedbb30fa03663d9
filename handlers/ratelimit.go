package handlers

import (
	"net/netip"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// RateLimit allows Requests per Window to one key.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// RouteLimits are a route's two limits: per client IP, counted before the
// body is read, and per account, counted once the account is known.
type RouteLimits struct {
	PerIP      RateLimit
	PerAccount RateLimit
}

// RateLimits are the limits on the routes an attacker would hammer: the
// password guesses, account creation, token refresh and device sign-up.
type RateLimits struct {
	Register RouteLimits
	Login    RouteLimits
	Refresh  RouteLimits
	Device   RouteLimits
	// LinkCode limits the tries at link codes, right or wrong, per address
	// and per account, beside each code's own limit of wrong tries.
	LinkCode RouteLimits
	// Mail limits the requests that send a mail (a password reset, a
	// verification sent again), per address and per recipient, so that
	// nobody's inbox can be flooded through BackCare.
	Mail RouteLimits
	// ResetConfirm limits the tries at a reset's link or code, beside each
	// reset's own limit of wrong codes.
	ResetConfirm RouteLimits
	// Message limits the messages one sender (a patient, or a staff
	// member) sends, retries included; only its per-account limit applies,
	// since many patients share a carrier's address.
	Message RouteLimits
}

// DefaultRateLimits leave a phone far below them: it signs in rarely,
// refreshes every 15 minutes and registers a device at start-up. The per-IP
// limits are a few times the per-account ones because a clinic's Wi-Fi or a
// mobile carrier puts many patients behind one address.
var DefaultRateLimits = RateLimits{
	Register:     RouteLimits{PerIP: RateLimit{30, time.Hour}, PerAccount: RateLimit{5, time.Hour}},
	Login:        RouteLimits{PerIP: RateLimit{100, 15 * time.Minute}, PerAccount: RateLimit{20, 15 * time.Minute}},
	Refresh:      RouteLimits{PerIP: RateLimit{300, 15 * time.Minute}, PerAccount: RateLimit{30, 15 * time.Minute}},
	Device:       RouteLimits{PerIP: RateLimit{120, 15 * time.Minute}, PerAccount: RateLimit{20, 15 * time.Minute}},
	LinkCode:     RouteLimits{PerIP: RateLimit{60, 15 * time.Minute}, PerAccount: RateLimit{20, 15 * time.Minute}},
	Mail:         RouteLimits{PerIP: RateLimit{30, time.Hour}, PerAccount: RateLimit{5, time.Hour}},
	ResetConfirm: RouteLimits{PerIP: RateLimit{60, 15 * time.Minute}, PerAccount: RateLimit{10, 15 * time.Minute}},
	// A conversation between sessions, or a phone's offline queue sent at
	// once, stays far below 60 in 15 minutes; a script does not.
	Message: RouteLimits{PerAccount: RateLimit{60, 15 * time.Minute}},
}

// maxLimiterKeys bounds the limiter's memory. A flood of distinct keys
// first sweeps out ended windows; past the bound new keys pass uncounted,
// because refusing them would lock out every newcomer. Sign-in failures
// stay limited per account by the database counter either way.
const maxLimiterKeys = 200_000

// limiter counts requests per key in fixed windows, in this process. Each
// instance counts on its own, so n instances allow n times the limit; the
// limits are set low enough for that.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	windows map[string]limiterWindow
}

type limiterWindow struct {
	count int
	end   time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, windows: map[string]limiterWindow{}}
}

// allow counts one request for key and reports whether it is within limit;
// if not, wait is how long until the window ends.
func (l *limiter) allow(key string, limit RateLimit) (ok bool, wait time.Duration) {
	if limit.Requests <= 0 {
		return true, 0
	}
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, found := l.windows[key]
	if !found || !t.Before(w.end) {
		if !found && len(l.windows) >= maxLimiterKeys && !l.sweep(t) {
			return true, 0
		}
		w = limiterWindow{end: t.Truncate(limit.Window).Add(limit.Window)}
	}
	if w.count >= limit.Requests {
		return false, w.end.Sub(t)
	}
	w.count++
	l.windows[key] = w
	return true, 0
}

// sweep forgets ended windows and reports whether room was made.
func (l *limiter) sweep(t time.Time) bool {
	for k, w := range l.windows {
		if !t.Before(w.end) {
			delete(l.windows, k)
		}
	}
	return len(l.windows) < maxLimiterKeys
}

// routeLimiter applies one route's limits; every limited route has its
// own, sharing one table of counts.
type routeLimiter struct {
	route    string
	limits   RouteLimits
	counts   *limiter
	clientIP func(c *fiber.Ctx) string
}

// routeLimiters are the limited routes' limiters, over one table of counts.
type routeLimiters struct {
	register, login, refresh, device, codes, mail, resetConfirm, message *routeLimiter
}

func newRouteLimiters(l RateLimits, trusted []netip.Prefix, now func() time.Time) routeLimiters {
	counts, clientIP := newLimiter(now), clientIPFunc(trusted)
	limiterOf := func(route string, rl RouteLimits) *routeLimiter {
		return &routeLimiter{route: route, limits: rl, counts: counts, clientIP: clientIP}
	}
	return routeLimiters{
		register: limiterOf("register", l.Register), login: limiterOf("login", l.Login), refresh: limiterOf("refresh", l.Refresh),
		device: limiterOf("device", l.Device), codes: limiterOf("link_code", l.LinkCode),
		mail: limiterOf("mail", l.Mail), resetConfirm: limiterOf("reset_confirm", l.ResetConfirm),
		message: limiterOf("message", l.Message),
	}
}

// byAccount counts a request against the account's limit on the route.
// account is an email or a patient id.
func (r *routeLimiter) byAccount(account string) error {
	return r.check("account|"+r.route+"|"+account, r.limits.PerAccount, "too many requests for this account; wait and try again")
}

func (r *routeLimiter) check(key string, limit RateLimit, message string) error {
	ok, wait := r.counts.allow(key, limit)
	if ok {
		return nil
	}
	return &models.Error{Code: models.ErrRateLimited, RetryAfter: max(wait, time.Second), Message: message}
}

// byIP runs next only if the client IP is within the route's limit, so
// that a flood is refused before any body is decoded or password hashed.
func (r *routeLimiter) byIP(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := r.check("ip|"+r.route+"|"+r.clientIP(c), r.limits.PerIP, "too many requests from this network; wait and try again")
		if err != nil {
			return err
		}
		return next(c)
	}
}
