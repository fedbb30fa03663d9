package mail_test

import (
	"bytes"
	"context"
	"html"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/mail"
	"github.com/backcare/backcare/mail/smtptest"
	"github.com/backcare/backcare/models"
)

func compose(t *testing.T, kind models.MailKind, to, name string, data mail.Data) models.Mail {
	t.Helper()
	m, err := mail.Compose(kind, "en", to, name, data)
	if err != nil {
		t.Fatal(err)
	}
	m.ID = "m1"
	return m
}

func resetMail(t *testing.T, to string) models.Mail {
	return compose(t, models.MailPasswordReset, to, "Jane Doe", mail.Data{
		Name: "Jane", Link: "https://app.backcare.example/reset?token=abc123", Code: "482913", ValidFor: 30 * time.Minute,
	})
}

func mailer(t *testing.T, srv *smtptest.Server) *mail.SMTP {
	t.Helper()
	server, err := mail.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	from, err := mail.ParseFrom("BackCare <no-reply@backcare.example>")
	if err != nil {
		t.Fatal(err)
	}
	return mail.NewSMTP(mail.SMTPConfig{Server: server, From: from, Timeout: 5 * time.Second, TLSConfig: srv.ClientTLS()})
}

func TestSMTPDeliversMultipartTextAndHTMLOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	if err := mailer(t, srv).Send(context.Background(), resetMail(t, "jane@example.com")); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d mails arrived, want 1", len(got))
	}
	m := got[0]
	if !m.TLS || m.User != smtptest.Username {
		t.Fatalf("mail came with TLS %v as %q, want TLS as %q", m.TLS, m.User, smtptest.Username)
	}
	if m.From != "no-reply@backcare.example" || len(m.To) != 1 || m.To[0] != "jane@example.com" {
		t.Fatalf("envelope from %q to %v", m.From, m.To)
	}
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Reset your BackCare password" {
		t.Fatalf("subject %q", p.Subject)
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Fatalf("content type %q, want multipart/alternative", ct)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, "Jane Doe") || !strings.Contains(to, "<jane@example.com>") {
		t.Fatalf("To header %q", to)
	}
	if id := p.Header.Get("Message-Id"); id != "<m1@backcare.example>" {
		t.Fatalf("Message-ID %q, want the mail's id", id)
	}
	if links := p.Links(); len(links) != 1 || links[0] != "https://app.backcare.example/reset?token=abc123" {
		t.Fatalf("links %v", links)
	}
	if p.Code() != "482913" {
		t.Fatalf("code %q", p.Code())
	}
	if !strings.Contains(p.HTML, `href="https://app.backcare.example/reset?token=abc123"`) || !strings.Contains(p.HTML, "482913") {
		t.Fatalf("HTML part lacks the link or the code:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, "30 minutes") {
		t.Fatalf("text does not say how long the link works:\n%s", p.Text)
	}
}

func TestSMTPRefusesAServerWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{NoSTARTTLS: true})
	err := mailer(t, srv).Send(context.Background(), resetMail(t, "jane@example.com"))
	if err == nil {
		t.Fatal("sent over a connection without TLS")
	}
	if mail.IsPermanent(err) {
		t.Fatalf("a server without STARTTLS counts as refusing the mail for good: %v", err)
	}
	if n, auths := len(srv.Messages()), srv.Auths(); n != 0 || auths != 0 {
		t.Fatalf("%d mails and %d sign-ins reached the server without TLS", n, auths)
	}
}

func TestSMTPSImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	if !strings.HasPrefix(srv.URL(), "smtps://") {
		t.Fatalf("URL %q", srv.URL())
	}
	if err := mailer(t, srv).Send(context.Background(), resetMail(t, "jane@example.com")); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || !got[0].TLS || got[0].User != smtptest.Username {
		t.Fatalf("received %+v", got)
	}
}

func TestSMTPFailuresAreTemporaryOrPermanent(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	m := mailer(t, srv)
	ctx := context.Background()

	srv.RefuseTemporarily()
	if err := m.Send(ctx, resetMail(t, "jane@example.com")); err == nil || mail.IsPermanent(err) {
		t.Fatalf("451: %v, want a temporary error", err)
	}
	srv.RefusePermanently()
	if err := m.Send(ctx, resetMail(t, "jane@example.com")); !mail.IsPermanent(err) {
		t.Fatalf("550: %v, want a permanent error", err)
	}
	srv.Accept()
	srv.Down()
	if err := m.Send(ctx, resetMail(t, "jane@example.com")); err == nil || mail.IsPermanent(err) {
		t.Fatalf("server down: %v, want a temporary error", err)
	}
	srv.Up(t)
	if err := m.Send(ctx, resetMail(t, "jane@example.com")); err != nil {
		t.Fatalf("server back: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails arrived, want the one sent after the refusals", n)
	}
}

func TestSMTPSendHonoursItsContext(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mailer(t, srv).Send(ctx, resetMail(t, "jane@example.com")); err == nil || mail.IsPermanent(err) {
		t.Fatalf("send with an ended context: %v, want a temporary error", err)
	}
}

func TestDevMailerLogsMaskedRecipientSubjectAndLinks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	dev := mail.NewDev(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := dev.Send(context.Background(), resetMail(t, "jane.doe@example.com")); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	for _, want := range []string{`"to":"j@…"`, `"subject":"Reset your BackCare password"`, "https://app.backcare.example/reset?token=abc123"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, never := range []string{"jane.doe", "example.com", "Jane"} {
		if strings.Contains(log, never) {
			t.Errorf("log shows %q:\n%s", never, log)
		}
	}
}

func TestComposeEveryKind(t *testing.T) {
	t.Parallel()
	link := "https://app.backcare.example/x?token=t0k"
	tests := []struct {
		kind    models.MailKind
		data    mail.Data
		subject string
		says    []string
	}{
		{models.MailPasswordReset, mail.Data{Name: "Jane", Link: link, Code: "123456", ValidFor: 30 * time.Minute},
			"Reset your BackCare password", []string{"Hello Jane,", link, "123456", "30 minutes", "ignore this email"}},
		{models.MailPasswordChanged, mail.Data{Name: "Jane"},
			"Your BackCare password was changed", []string{"was just changed", "If it wasn't you, reset your password"}},
		{models.MailPasswordChanged, mail.Data{Name: "Jane", Link: link},
			"Your BackCare password was changed", []string{link}},
		{models.MailVerifyEmail, mail.Data{Name: "Jane", Link: link, ValidFor: 48 * time.Hour},
			"Confirm your email address for BackCare", []string{link, "2 days"}},
		{models.MailEmailChange, mail.Data{Name: "Jane", Link: link, ValidFor: time.Hour},
			"Confirm your new email address for BackCare", []string{link, "1 hour", "keeps its current address"}},
		{models.MailEmailChanged, mail.Data{Name: "Jane", NewAddress: mail.MaskAddress("jane.new@example.org")},
			"The email address of your BackCare account is changing", []string{"j…@example.org", "If it wasn't you"}},
		{models.MailStaffInvitation, mail.Data{Link: link, Clinic: "Northside Massage", Inviter: "Sam Lee", ValidFor: 7 * 24 * time.Hour},
			"You're invited to join Northside Massage on BackCare", []string{"Hello,", "Sam Lee invited you", "Northside Massage", link, "7 days"}},
	}
	for _, tt := range tests {
		m, err := mail.Compose(tt.kind, "en", "jane@example.com", "Jane Doe", tt.data)
		if err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		if m.Kind != tt.kind || m.Subject != tt.subject {
			t.Errorf("%s: kind %s, subject %q", tt.kind, m.Kind, m.Subject)
		}
		for _, s := range tt.says {
			if !strings.Contains(m.Text, s) {
				t.Errorf("%s: text lacks %q:\n%s", tt.kind, s, m.Text)
			}
			if !strings.Contains(visible(m.HTML), s) {
				t.Errorf("%s: HTML lacks %q:\n%s", tt.kind, s, m.HTML)
			}
		}
		if !strings.Contains(m.HTML, "<title>"+html.EscapeString(tt.subject)+"</title>") {
			t.Errorf("%s: HTML title is not the subject", tt.kind)
		}
	}
}

// visible is the text an HTML mail shows, its tags dropped.
func visible(page string) string {
	return html.UnescapeString(tags.ReplaceAllString(page, ""))
}

var tags = regexp.MustCompile(`<[^>]*>`)

func TestComposeEscapesNamesInHTML(t *testing.T) {
	t.Parallel()
	m, err := mail.Compose(models.MailStaffInvitation, "en", "new@example.com", "", mail.Data{
		Link: "https://app.backcare.example/i?t=1", Clinic: "<b>Evil</b> & Co", Inviter: `<script>alert(1)</script>`, ValidFor: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<b>Evil") {
		t.Fatalf("names reached the HTML unescaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;b&gt;Evil&lt;/b&gt; &amp; Co") {
		t.Fatalf("clinic name not escaped as expected:\n%s", m.HTML)
	}
}

func TestComposeFallsBackToEnglish(t *testing.T) {
	t.Parallel()
	data := mail.Data{Link: "https://app.backcare.example/v", ValidFor: time.Hour}
	want, err := mail.Compose(models.MailVerifyEmail, "en", "jane@example.com", "", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, locale := range []string{"de-DE", "fr", "", "not a tag!"} {
		got, err := mail.Compose(models.MailVerifyEmail, locale, "jane@example.com", "", data)
		if err != nil {
			t.Fatalf("%q: %v", locale, err)
		}
		if got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("%q: not the English mail", locale)
		}
	}
}

func TestComposeRefuses(t *testing.T) {
	t.Parallel()
	ok := mail.Data{Link: "https://app.backcare.example/v", Code: "123456", ValidFor: time.Hour}
	tests := []struct {
		name         string
		kind         models.MailKind
		to, toName   string
		data         mail.Data
		problemField string
	}{
		{"a line break in the address", models.MailPasswordReset, "jane@example.com\r\nBcc: all@example.com", "", ok, "to"},
		{"a line break in the name", models.MailPasswordReset, "jane@example.com", "Jane\nBcc: all@example.com", ok, "to_name"},
		{"a carriage return in the name", models.MailPasswordReset, "jane@example.com", "Jane\rX", ok, "to_name"},
		{"an over-long name", models.MailPasswordReset, "jane@example.com", strings.Repeat("n", models.MaxMailNameLength+1), ok, "to_name"},
		{"not an address", models.MailPasswordReset, "jane", "", ok, "to"},
		{"a line break in the clinic (the subject)", models.MailStaffInvitation, "jane@example.com", "",
			mail.Data{Link: ok.Link, ValidFor: time.Hour, Clinic: "A\r\nBcc: x@example.com"}, "subject"},
		{"a relative link", models.MailVerifyEmail, "jane@example.com", "", mail.Data{Link: "/verify?t=1"}, "link"},
		{"a javascript link", models.MailVerifyEmail, "jane@example.com", "", mail.Data{Link: "javascript:alert(1)"}, "link"},
		{"a reset without its code", models.MailPasswordReset, "jane@example.com", "", mail.Data{Link: ok.Link, ValidFor: time.Hour}, "code"},
		{"a reset without its validity", models.MailPasswordReset, "jane@example.com", "", mail.Data{Link: ok.Link, Code: "123456"}, "valid_for"},
		{"an invitation without its clinic", models.MailStaffInvitation, "jane@example.com", "", mail.Data{Link: ok.Link, ValidFor: time.Hour}, "clinic"},
		{"a change notice without the new address", models.MailEmailChanged, "jane@example.com", "", mail.Data{}, "new_address"},
		{"an unknown kind", "newsletter", "jane@example.com", "", ok, ""},
	}
	for _, tt := range tests {
		_, err := mail.Compose(tt.kind, "en", tt.to, tt.toName, tt.data)
		if models.ErrorCode(err) != models.ErrInvalid {
			t.Errorf("%s: %v, want invalid", tt.name, err)
			continue
		}
		if tt.problemField != "" && !strings.Contains(err.Error(), tt.problemField) {
			t.Errorf("%s: %v does not name %s", tt.name, err, tt.problemField)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	good := []struct {
		url  string
		want mail.Server
	}{
		{"smtp://user:pass@mail.example.com:587", mail.Server{Host: "mail.example.com", Port: 587, Username: "user", Password: "pass"}},
		{"smtp://mail.example.com", mail.Server{Host: "mail.example.com", Port: 587}},
		{"smtps://u:p%40ss@mail.example.com", mail.Server{Host: "mail.example.com", Port: 465, ImplicitTLS: true, Username: "u", Password: "p@ss"}},
		{"smtp://u:p@[::1]:2525", mail.Server{Host: "::1", Port: 2525, Username: "u", Password: "p"}},
	}
	for _, tt := range good {
		got, err := mail.ParseSMTPURL(tt.url)
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "mail.example.com:587", "http://mail.example.com", "smtp://", "smtp://mail.example.com:0",
		"smtp://mail.example.com:99999", "smtp://mail.example.com/path", "smtp://mail.example.com?tls=off", "smtp://:secret@mail.example.com", "smtp://u:p@host:%zz"} {
		_, err := mail.ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error repeats the password: %v", bad, err)
		}
	}
}

func TestParseFrom(t *testing.T) {
	t.Parallel()
	a, err := mail.ParseFrom("BackCare <no-reply@backcare.example>")
	if err != nil || a.Name != "BackCare" || a.Address != "no-reply@backcare.example" {
		t.Fatalf("%+v, %v", a, err)
	}
	for _, bad := range []string{"", "not an address", "BackCare <no-reply@backcare.example>\r\nBcc: x@example.com", "a@example.com\n"} {
		if _, err := mail.ParseFrom(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"jane@example.com": "j…@example.com", "émile@example.fr": "é…@example.fr", "@x": "…", "nope": "…"} {
		if got := mail.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestComposeLowerCasesTheAddress(t *testing.T) {
	t.Parallel()
	m, err := mail.Compose(models.MailVerifyEmail, "en", "Jane.Doe@Example.COM", "", mail.Data{Link: "https://app.backcare.example/v"})
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "jane.doe@example.com" {
		t.Fatalf("To %q, want it lower-cased as accounts keep it", m.To)
	}
}
