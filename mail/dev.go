package mail

import (
	"context"
	"log/slog"
	"regexp"

	"github.com/backcare/backcare/models"
)

// Dev is the mailer of a server without SMTP_URL: it sends nothing and
// logs each mail — the recipient masked, the subject and the links it
// carries — so that a developer can follow a password reset or an
// invitation from the log.
type Dev struct {
	logger *slog.Logger
}

// NewDev returns a development mailer that logs to logger.
func NewDev(logger *slog.Logger) *Dev { return &Dev{logger: logger} }

// Send logs m.
func (d *Dev) Send(_ context.Context, m models.Mail) error {
	d.logger.Info("mail (not sent: no SMTP_URL)", "id", m.ID, "kind", string(m.Kind), "to", maskForLog(m.To),
		"subject", m.Subject, "links", Links(m.Text))
	return nil
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the http(s) links in a mail's text, in order.
func Links(text string) []string {
	return linkPattern.FindAllString(text, -1)
}
