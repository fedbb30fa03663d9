package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/backcare/backcare/mail"
)

func TestMailConfigIsValidatedAndItsPasswordMasked(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"SMTP_URL not a URL":             {"SMTP_URL": "::not a url", "MAIL_FROM": "a@example.com"},
		"SMTP_URL of another scheme":     {"SMTP_URL": "http://user:pw@mail.example.com", "MAIL_FROM": "a@example.com"},
		"SMTP_URL without a host":        {"SMTP_URL": "smtp://user:pw@:587", "MAIL_FROM": "a@example.com"},
		"SMTP_URL with a bad port":       {"SMTP_URL": "smtp://mail.example.com:70000", "MAIL_FROM": "a@example.com"},
		"SMTP_URL without MAIL_FROM":     {"SMTP_URL": "smtp://user:pw@mail.example.com:587"},
		"MAIL_FROM with a line break":    {"SMTP_URL": "smtp://mail.example.com", "MAIL_FROM": "a@example.com\r\nBcc: x@example.com"},
		"MAIL_FROM not an address":       {"MAIL_FROM": "BackCare"},
		"MAIL_INTERVAL not a duration":   {"MAIL_INTERVAL": "often"},
		"MAIL_INTERVAL under one second": {"MAIL_INTERVAL": "100ms"},
	} {
		_, err := loadConfig(func(k string) string { return env[k] })
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}

	cfg, err := loadConfig(func(k string) string {
		return map[string]string{
			"SMTP_URL":  "smtp://mailer:hunter2hunter2@smtp.clinic.example:587",
			"MAIL_FROM": "BackCare <no-reply@clinic.example>",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTP.Host != "smtp.clinic.example" || cfg.SMTP.Port != 587 || cfg.SMTP.ImplicitTLS || cfg.MailFrom.Address != "no-reply@clinic.example" {
		t.Fatalf("read %+v from %v", cfg.SMTP, cfg.MailFrom)
	}
	logged := fmt.Sprint(cfg.LogValue())
	if strings.Contains(logged, "hunter2") || !strings.Contains(logged, "smtp://mailer:xxxxx@smtp.clinic.example:587") ||
		!strings.Contains(logged, "no-reply@clinic.example") {
		t.Fatalf("start-up log shows the password or hides the server: %s", logged)
	}

	dev, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if logged := fmt.Sprint(dev.LogValue()); !strings.Contains(logged, "development mailer") || !strings.Contains(logged, "mail_interval=5s") {
		t.Fatalf("without SMTP_URL the log says %s", logged)
	}
	if _, ok := mailer(dev, slog.Default()).(*mail.Dev); !ok {
		t.Fatal("without SMTP_URL the mailer is not the development one")
	}
	if _, ok := mailer(cfg, slog.Default()).(*mail.SMTP); !ok {
		t.Fatal("with SMTP_URL the mailer is not SMTP")
	}
}
