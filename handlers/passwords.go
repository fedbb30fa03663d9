package handlers

import (
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backcare/backcare/auth"
)

// passwords hashes and checks passwords (and reset codes) with the costs of
// new accounts' hashes. Each is one argon2id computation, the most a
// request here spends, and each is counted: the count is how the routes
// that must not tell a known address from an unknown one are held to doing
// the same work for both, and on /metrics it shows what the CPU goes on.
type passwords struct {
	params auth.Params
	// work counts computations; nil in the route lists tests read.
	work prometheus.Counter
}

func newPasswordWork(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backcare_password_hashes_total",
		Help: "argon2id computations: passwords and reset codes hashed or checked.",
	})
	reg.MustRegister(c)
	return c
}

func (p passwords) count() {
	if p.work != nil {
		p.work.Inc()
	}
}

func (p passwords) hash(password string) (string, error) {
	p.count()
	return auth.HashPassword(password, p.params)
}

func (p passwords) check(password, hash string) (bool, error) {
	p.count()
	return auth.CheckPassword(password, hash)
}

// dummy returns a hash of a random password, made once at start-up: an
// unknown address is checked against it, so that it costs what a known one
// does.
func (p passwords) dummy() string {
	h, _ := auth.HashPassword(uuid.NewString(), p.params)
	return h
}
