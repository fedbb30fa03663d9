package main

import (
	"cmp"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/backcare/backcare/auth"
	"github.com/backcare/backcare/handlers"
	"github.com/backcare/backcare/mail"
)

// config is everything read from the environment, validated at start.
type config struct {
	Port      int
	MongoURI  string
	Database  string
	DataDir   string
	JWTSecret string
	LogLevel  slog.Level
	// FCMCredentials is a Firebase service account file; without it pushes
	// go to an in-process FCM fake that logs them.
	FCMCredentials string
	FCMProjectID   string
	FCMEndpoint    string
	// DispatchInterval is how often due reminders are claimed and sent.
	DispatchInterval time.Duration
	// FCMSendTimeout bounds one send to FCM; the SDK sets no deadline.
	FCMSendTimeout time.Duration
	// ShutdownGrace is how long in-flight requests and jobs get to finish
	// after SIGTERM.
	ShutdownGrace time.Duration
	// BaseURL is the server's public address, which scopes the ids in exports.
	BaseURL string
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// MetricsAddr is where /metrics is served, apart from the API so that
	// the public port never shows it; empty when METRICS_ADDR=off.
	MetricsAddr string
	// SMTPURL names the mail server (its password included); without it
	// mails go to the log (mail.Dev). SMTP is SMTPURL read.
	SMTPURL string
	SMTP    mail.Server
	// MailFrom is the sender of every mail; required with SMTP_URL.
	MailFrom *netmail.Address
	// MailInterval is how often the outbox sends queued mails.
	MailInterval time.Duration
	// MailRetryBase is the wait before a mail the server did not take is
	// tried again; it doubles per try (jobs.OutboxConfig.RetryBase).
	MailRetryBase time.Duration
	// SMTPRoots, from SMTP_CA_FILE, are the certificate authorities the
	// mail server's certificate is checked against instead of the
	// system's: for a relay inside a network with its own CA.
	SMTPRoots *x509.CertPool
}

// loadConfig reads the environment; see the README's configuration table.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		MongoURI:       getenv("MONGODB_URI"),
		Database:       orDefault(getenv("MONGODB_DATABASE"), "backcare"),
		DataDir:        orDefault(getenv("DATA_DIR"), "./data"),
		JWTSecret:      getenv("JWT_SECRET"),
		FCMCredentials: orDefault(getenv("FCM_CREDENTIALS_FILE"), getenv("GOOGLE_APPLICATION_CREDENTIALS")),
		FCMProjectID:   getenv("FCM_PROJECT_ID"),
		FCMEndpoint:    getenv("FCM_ENDPOINT"),
	}
	var errs []error
	port, err := strconv.Atoi(orDefault(getenv("PORT"), "8080"))
	if err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a port number, got %q", getenv("PORT")))
	}
	cfg.Port = port
	if err := cfg.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", getenv("LOG_LEVEL")))
	}
	if cfg.MongoURI != "" {
		if _, err := url.Parse(cfg.MongoURI); err != nil || !strings.HasPrefix(cfg.MongoURI, "mongodb") {
			errs = append(errs, errors.New("MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string"))
		}
		if cfg.JWTSecret == "" {
			errs = append(errs, errors.New("JWT_SECRET is required with MONGODB_URI: every instance must sign with the same key"))
		}
	}
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < auth.MinSecretLength {
		errs = append(errs, fmt.Errorf("JWT_SECRET must be at least %d bytes", auth.MinSecretLength))
	}
	interval, err := time.ParseDuration(orDefault(getenv("DISPATCH_INTERVAL"), "10s"))
	if err != nil || interval < time.Second || interval > time.Hour {
		errs = append(errs, fmt.Errorf("DISPATCH_INTERVAL must be a duration from 1s to 1h, got %q", getenv("DISPATCH_INTERVAL")))
	}
	cfg.DispatchInterval = interval
	cfg.FCMSendTimeout, err = time.ParseDuration(orDefault(getenv("FCM_SEND_TIMEOUT"), "30s"))
	if err != nil || cfg.FCMSendTimeout < 100*time.Millisecond || cfg.FCMSendTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("FCM_SEND_TIMEOUT must be a duration from 100ms to 5m, got %q", getenv("FCM_SEND_TIMEOUT")))
	}
	cfg.ShutdownGrace, err = time.ParseDuration(orDefault(getenv("SHUTDOWN_GRACE"), "20s"))
	if err != nil || cfg.ShutdownGrace < time.Second || cfg.ShutdownGrace > 10*time.Minute {
		errs = append(errs, fmt.Errorf("SHUTDOWN_GRACE must be a duration from 1s to 10m, got %q", getenv("SHUTDOWN_GRACE")))
	}
	cfg.BaseURL = orDefault(getenv("BASE_URL"), fmt.Sprintf("http://localhost:%d", cfg.Port))
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BASE_URL must be an absolute http(s) URL, got %q", cfg.BaseURL))
	}
	if cfg.FCMEndpoint != "" {
		if u, err := url.Parse(cfg.FCMEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("FCM_ENDPOINT must be an http(s) URL, got %q", cfg.FCMEndpoint))
		}
	}
	cfg.TrustedProxies, err = handlers.ParseTrustedProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXIES must be comma-separated addresses or CIDR prefixes: %w", err))
	}
	cfg.CORSOrigins, err = parseOrigins(getenv("CORS_ALLOWED_ORIGINS"))
	if err != nil {
		errs = append(errs, err)
	}
	cfg.MetricsAddr, err = parseMetricsAddr(getenv("METRICS_ADDR"), cfg.Port)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, cfg.loadMail(getenv)...)
	if cfg.Database == "" || strings.ContainsAny(cfg.Database, `/\. "$`) {
		errs = append(errs, fmt.Errorf("MONGODB_DATABASE %q is not a valid database name", cfg.Database))
	}
	return cfg, errors.Join(errs...)
}

// loadMail reads SMTP_URL, MAIL_FROM and MAIL_INTERVAL. Its errors never
// repeat SMTP_URL, which holds the mail server's password.
func (c *config) loadMail(getenv func(string) string) []error {
	var errs []error
	c.SMTPURL = getenv("SMTP_URL")
	if c.SMTPURL != "" {
		var err error
		if c.SMTP, err = mail.ParseSMTPURL(c.SMTPURL); err != nil {
			errs = append(errs, err)
		}
	}
	if from := getenv("MAIL_FROM"); from != "" {
		var err error
		if c.MailFrom, err = mail.ParseFrom(from); err != nil {
			errs = append(errs, err)
		}
	} else if c.SMTPURL != "" {
		errs = append(errs, errors.New(`MAIL_FROM is required with SMTP_URL: the sender of every mail, such as "BackCare <no-reply@clinic.example>"`))
	}
	interval, err := time.ParseDuration(orDefault(getenv("MAIL_INTERVAL"), "5s"))
	if err != nil || interval < time.Second || interval > time.Hour {
		errs = append(errs, fmt.Errorf("MAIL_INTERVAL must be a duration from 1s to 1h, got %q", getenv("MAIL_INTERVAL")))
	}
	c.MailInterval = interval
	c.MailRetryBase, err = time.ParseDuration(orDefault(getenv("MAIL_RETRY_BASE"), "30s"))
	if err != nil || c.MailRetryBase < time.Second || c.MailRetryBase > time.Hour {
		errs = append(errs, fmt.Errorf("MAIL_RETRY_BASE must be a duration from 1s to 1h, got %q", getenv("MAIL_RETRY_BASE")))
	}
	if file := getenv("SMTP_CA_FILE"); file != "" {
		pem, err := os.ReadFile(file)
		c.SMTPRoots = x509.NewCertPool()
		if err != nil || !c.SMTPRoots.AppendCertsFromPEM(pem) {
			errs = append(errs, fmt.Errorf("SMTP_CA_FILE must be a PEM file of certificates, got %q", file))
		}
	}
	return errs
}

// mailTarget says where mails go, without the password.
func (c config) mailTarget() string {
	if c.SMTPURL == "" {
		return "development mailer (mails are logged, not sent)"
	}
	return maskURI(c.SMTPURL) + " from " + c.MailFrom.String()
}

// defaultMetricsAddr is loopback: the metrics tell anyone who reads them
// which routes are used and how often, so they stay on the host unless the
// operators choose otherwise.
const defaultMetricsAddr = "127.0.0.1:9090"

// parseMetricsAddr reads METRICS_ADDR: host:port (an empty host is every
// interface), "off" for no metrics listener, unset for the default.
func parseMetricsAddr(v string, apiPort int) (string, error) {
	switch v {
	case "":
		return defaultMetricsAddr, nil
	case "off":
		return "", nil
	}
	_, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("METRICS_ADDR must be host:port such as 127.0.0.1:9090, or off, got %q", v)
	}
	if n != 0 && n == apiPort {
		return "", fmt.Errorf("METRICS_ADDR must not use the API's port %d: metrics are kept off the public port", apiPort)
	}
	return v, nil
}

// parseOrigins reads a comma-separated list of exact web origins such as
// https://clinic.example. "*" is refused: health data is not for any site.
func parseOrigins(list string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS must list origins such as https://clinic.example (never *), got %q", o)
		}
		origins = append(origins, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	return origins, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// LogValue is what the start-up log shows: secrets are masked.
func (c config) LogValue() slog.Value {
	secret := "generated in DATA_DIR"
	if c.JWTSecret != "" {
		secret = "set (masked)"
	}
	db := "embedded (FerretDB on SQLite in DATA_DIR)"
	if c.MongoURI != "" {
		db = maskURI(c.MongoURI)
	}
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("mongodb", db),
		slog.String("database", c.Database),
		slog.String("data_dir", c.DataDir),
		slog.String("base_url", c.BaseURL),
		slog.String("jwt_secret", secret),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("push", c.pushTarget()),
		slog.String("dispatch_interval", c.DispatchInterval.String()),
		slog.String("fcm_send_timeout", c.FCMSendTimeout.String()),
		slog.String("shutdown_grace", c.ShutdownGrace.String()),
		slog.String("trusted_proxies", listOrNone(c.TrustedProxies)),
		slog.String("cors_allowed_origins", listOrNone(c.CORSOrigins)),
		slog.String("metrics_addr", cmp.Or(c.MetricsAddr, "off")),
		slog.String("mail", c.mailTarget()),
		slog.String("mail_interval", c.MailInterval.String()),
	)
}

// listOrNone shows a list setting as one comma-separated string.
func listOrNone[T any](items []T) string {
	if len(items) == 0 {
		return "none"
	}
	parts := make([]string, len(items))
	for i, item := range items {
		parts[i] = fmt.Sprint(item)
	}
	return strings.Join(parts, ",")
}

// pushTarget says where pushes go, without secrets.
func (c config) pushTarget() string {
	switch {
	case c.FCMCredentials != "" && c.FCMEndpoint != "":
		return "FCM at " + c.FCMEndpoint + " (credentials from file)"
	case c.FCMCredentials != "":
		return "FCM (credentials from file)"
	case c.FCMEndpoint != "":
		return "FCM-compatible endpoint " + c.FCMEndpoint + " (no credentials)"
	default:
		return "in-process FCM fake (pushes are logged, not delivered)"
	}
}

// maskURI hides the password of a connection string.
func maskURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparseable, masked)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// signingKey returns JWT_SECRET, or on the embedded default the key kept in
// DATA_DIR, made on first start, so that sessions survive a restart.
func (c config) signingKey() ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.DataDir, "jwt.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < auth.MinSecretLength {
			return nil, fmt.Errorf("%s is not a valid key; delete it to make a new one", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	return key, nil
}
