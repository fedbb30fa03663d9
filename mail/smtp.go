package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/backcare/backcare/models"
)

// Server is an SMTP server as SMTP_URL names it.
type Server struct {
	Host string
	Port int
	// ImplicitTLS is smtps://: TLS from the first byte (port 465). Without
	// it the connection must be upgraded with STARTTLS, or nothing is sent.
	ImplicitTLS        bool
	Username, Password string
}

// ParseSMTPURL reads smtp://user:pass@host:587 (STARTTLS required; port 587
// by default) or smtps://user:pass@host:465 (implicit TLS; port 465 by
// default). The user is optional; a password needs one. Its errors never
// repeat the URL, which holds the password.
func ParseSMTPURL(raw string) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Server{}, errors.New("SMTP_URL is not a URL")
	}
	var s Server
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.ImplicitTLS = 465, true
	default:
		return Server{}, errors.New("SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return Server{}, errors.New("SMTP_URL must name a host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Server{}, errors.New("SMTP_URL has a bad port")
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Server{}, errors.New("SMTP_URL must be only scheme://user:password@host:port")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" && s.Password != "" {
			return Server{}, errors.New("SMTP_URL has a password but no user")
		}
	}
	return s, nil
}

// ParseFrom reads MAIL_FROM: an address, or a name and an address
// ("BackCare <no-reply@clinic.example>"), on one line.
func ParseFrom(from string) (*netmail.Address, error) {
	if strings.ContainsAny(from, "\r\n") {
		return nil, errors.New("MAIL_FROM must be one line")
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM must be an address such as \"BackCare <no-reply@clinic.example>\", got %q", from)
	}
	return addr, nil
}

// SMTPConfig configures an SMTP mailer.
type SMTPConfig struct {
	Server Server
	From   *netmail.Address
	// Timeout bounds one send, from dialling to the server's last reply
	// (default 30 s).
	Timeout time.Duration
	// TLSConfig verifies the server (nil: the system's roots for Host);
	// tests give their own certificate authority.
	TLSConfig *tls.Config
}

// SMTP sends mail through one SMTP server, a connection per mail: mails
// are few, and a connection of its own keeps one mail's failure from
// touching the next.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP returns an SMTP mailer.
func NewSMTP(cfg SMTPConfig) *SMTP {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Server.Host
	}
	cfg.TLSConfig = tc
	return &SMTP{cfg: cfg}
}

// Send delivers m as a multipart/alternative mail (text and HTML). The
// connection is TLS from the start (smtps) or upgraded with STARTTLS before
// anything else is said; a server that offers no STARTTLS gets nothing,
// not even the password. A 5xx reply to the mail is a PermanentError; a
// failure to reach, upgrade or sign in to the server is not, since it says
// nothing about the mail and may pass.
func (s *SMTP) Send(ctx context.Context, m models.Mail) error {
	if err := m.Validate(); err != nil {
		return &PermanentError{Err: err}
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.FromFormat(s.cfg.From.Name, s.cfg.From.Address); err != nil {
		return &PermanentError{Err: err}
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return &PermanentError{Err: err}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@" + domainOf(s.cfg.From.Address))
	// Replies and out-of-office answers to an automatic mail help no one.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	client, err := gomail.NewClient(s.cfg.Server.Host, s.options(ctx)...)
	if err != nil {
		return &PermanentError{Err: err}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp send: %w (%w)", ctx.Err(), err)
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return &PermanentError{Err: err}
	}
	return fmt.Errorf("smtp send: %w", err)
}

// options configures go-mail for one send under ctx.
func (s *SMTP) options(ctx context.Context) []gomail.Option {
	srv := s.cfg.Server
	opts := []gomail.Option{
		gomail.WithPort(srv.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.cfg.TLSConfig),
		gomail.WithDialContextFunc(s.dialer(ctx)),
	}
	if srv.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if srv.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(srv.Username), gomail.WithPassword(srv.Password))
	}
	return opts
}

// dialer connects (in TLS for smtps) and ties the connection to ctx:
// go-mail bounds each read and write by its timeout but lets the send's
// context end only the dial, so a server that answers slowly, line after
// line, could otherwise hold a send far past its timeout or a shutdown.
func (s *SMTP) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.cfg.Server.ImplicitTLS {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: s.cfg.TLSConfig}).DialContext(dctx, network, addr)
		} else {
			conn, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
