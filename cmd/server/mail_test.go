package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backcare/backcare/mail/smtptest"
)

// startMail starts an SMTP server (STARTTLS and AUTH required) for the
// program that env configures, and points env at it: every test through
// run sends its mail for real, and reads it where a person would.
func startMail(t *testing.T, env map[string]string) *smtptest.Server {
	t.Helper()
	m := smtptest.Start(t, smtptest.Options{})
	env["SMTP_URL"] = m.URL()
	env["SMTP_CA_FILE"] = m.CAFile(t)
	env["MAIL_FROM"] = "BackCare <no-reply@backcare.test>"
	if _, set := env["MAIL_INTERVAL"]; !set {
		env["MAIL_INTERVAL"] = "1s"
	}
	if _, set := env["MAIL_RETRY_BASE"]; !set {
		env["MAIL_RETRY_BASE"] = "1s"
	}
	return m
}

// mailed waits for the newest mail to address whose text holds a link
// with part, and returns it taken apart with that link; seen is how many
// such mails earlier calls took, so that a second reset waits for the
// second mail.
func (s *server) mailed(address, part string, seen int) (smtptest.Parsed, string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var found []smtptest.Parsed
		var links []string
		for _, m := range s.mail.Messages() {
			if len(m.To) != 1 || m.To[0] != address {
				continue
			}
			p, err := m.Parse()
			if err != nil {
				s.t.Fatalf("a mail to %s does not parse: %v", address, err)
			}
			for _, l := range p.Links() {
				if strings.Contains(l, part) {
					found, links = append(found, p), append(links, l)
				}
			}
		}
		if len(found) > seen {
			return found[len(found)-1], links[len(links)-1]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no mail to %s with a %s link within 30 s (%d before)", address, part, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verify opens the verification link mailed to address.
func (s *server) verify(address string) {
	s.t.Helper()
	_, link := s.mailed(address, "/verify-email#", 0)
	_, token, _ := strings.Cut(link, "#")
	s.must(s.call("POST", "/v1/auth/verify-email", "", map[string]any{"token": token}), http.StatusOK)
}

// TestPasswordResetByMail resets a password the way a patient does: the
// mail arrives over STARTTLS with AUTH, its link and code work, once.
func TestPasswordResetByMail(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
	defer s.stop()
	const email = "mara@example.com"
	pair := s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "a long passphrase", "name": "Mara", "timezone": "Europe/Lisbon",
	}), http.StatusCreated)
	s.verify(email)

	s.must(s.call("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}), http.StatusAccepted)
	reset, link := s.mailed(email, "/reset#", 0)
	if !strings.HasPrefix(link, "http://localhost:") || reset.Code() == "" || !strings.Contains(reset.HTML, link) {
		t.Fatalf("reset mail: link %q, code %q\n%s", link, reset.Code(), reset.Text)
	}
	for _, m := range s.mail.Messages() {
		if !m.TLS || m.User != smtptest.Username {
			t.Fatalf("a mail came without TLS or sign-in: TLS %v, user %q", m.TLS, m.User)
		}
	}
	_, token, _ := strings.Cut(link, "#")
	s.must(s.call("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a new long passphrase"}), http.StatusNoContent)
	s.must(s.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": pair.body["refresh_token"]}), http.StatusUnauthorized)
	s.must(s.call("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "a long passphrase"}), http.StatusUnauthorized)
	s.must(s.call("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "a new long passphrase"}), http.StatusOK)
	s.must(s.call("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": token, "password": "a third passphrase"}), http.StatusBadRequest)
	changed, _ := s.mailed(email, "/reset", 1)
	if !strings.Contains(strings.ToLower(changed.Subject), "password") || changed.Code() != "" {
		t.Fatalf("the password-changed mail: %q\n%s", changed.Subject, changed.Text)
	}

	// Five wrong codes burn the next reset; its right code then fails.
	s.must(s.call("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}), http.StatusAccepted)
	second, _ := s.mailed(email, "/reset#", 1)
	wrong := "000000"
	if second.Code() == wrong {
		wrong = "999999"
	}
	for range 5 {
		s.must(s.call("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": email, "code": wrong, "password": "a fourth passphrase"}), http.StatusBadRequest)
	}
	s.must(s.call("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"email": email, "code": second.Code(), "password": "a fourth passphrase"}), http.StatusBadRequest)
	s.must(s.call("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": "a new long passphrase"}), http.StatusOK)
}

// TestMailWaitsForTheServer: with the mail server away, then refusing for
// now, requests still answer, and the mail goes out once it takes mail.
func TestMailWaitsForTheServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir()})
	defer s.stop()
	const email = "noor@example.com"
	s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "a long passphrase", "name": "Noor", "timezone": "UTC",
	}), http.StatusCreated)
	s.verify(email)

	s.mail.Down()
	s.must(s.call("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}), http.StatusAccepted)
	retried := func() int { return logged(s, "mail not sent: will retry") }
	waitUntil(t, 20*time.Second, "the outbox tried the absent server", func() bool { return retried() >= 1 })
	s.mail.RefuseTemporarily()
	s.mail.Up(t)
	waitUntil(t, 20*time.Second, "the outbox was refused for now", func() bool { return retried() >= 2 })
	s.mail.Accept()
	s.mailed(email, "/reset#", 0)
	time.Sleep(3 * time.Second)
	resets := 0
	for _, m := range s.mail.Messages() {
		if p, err := m.Parse(); err == nil && p.Code() != "" {
			resets++
		}
	}
	if resets != 1 {
		t.Fatalf("%d reset mails delivered, want 1", resets)
	}
}

// TestThreeInstancesSendEachMailOnce runs three programs on one database
// and one mail server: each mail queued arrives once.
func TestThreeInstancesSendEachMailOnce(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	db := newEngine(t, addr)
	db.start()
	mailServer := smtptest.Start(t, smtptest.Options{})
	caFile := mailServer.CAFile(t)
	var instances []*server
	for range 3 {
		env := externalDB(t, addr)
		env["SMTP_URL"], env["SMTP_CA_FILE"], env["MAIL_FROM"] = mailServer.URL(), caFile, "BackCare <no-reply@backcare.test>"
		env["MAIL_INTERVAL"] = "1s"
		s := startServer(t, env)
		s.mail = mailServer
		defer s.stop()
		instances = append(instances, s)
	}
	// The mails are queued one after another, each through the next
	// instance; the race is between the three outboxes sending them.
	const n = 6
	for i := range n {
		instances[i%3].must(instances[i%3].call("POST", "/v1/auth/register", "", map[string]any{
			"email": fmt.Sprintf("inst-%d@example.com", i), "password": "a long passphrase", "name": "Ines", "timezone": "UTC",
		}), http.StatusCreated)
	}
	waitUntil(t, 30*time.Second, "every verification mail arrived", func() bool { return len(mailServer.Messages()) >= n })
	// Three more ticks of every instance: a mail sent twice would show.
	time.Sleep(3 * time.Second)
	per := map[string]int{}
	for _, m := range mailServer.Messages() {
		per[strings.Join(m.To, ",")]++
	}
	for i := range n {
		if got := per[fmt.Sprintf("inst-%d@example.com", i)]; got != 1 {
			t.Fatalf("inst-%d got %d mails, want 1 (all: %v)", i, got, per)
		}
	}
}

// TestDevelopmentMailerLogsTheLink: without SMTP_URL, as with make run, a
// reset's link is in the log, and the address is not.
func TestDevelopmentMailerLogsTheLink(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "SMTP_URL": "", "MAIL_INTERVAL": "1s"})
	defer s.stop()
	const email = "devon@example.com"
	s.must(s.call("POST", "/v1/auth/register", "", map[string]any{
		"email": email, "password": "a long passphrase", "name": "Devon", "timezone": "UTC",
	}), http.StatusCreated)
	s.must(s.call("POST", "/v1/auth/password-reset", "", map[string]any{"email": email}), http.StatusAccepted)
	waitUntil(t, 20*time.Second, "the reset mail was logged", func() bool {
		return strings.Contains(s.out.String(), "/reset#")
	})
	for _, line := range strings.Split(s.out.String(), "\n") {
		if strings.Contains(line, "/reset#") && (strings.Contains(line, email) || !strings.Contains(line, `"kind":"password_reset"`)) {
			t.Fatalf("the logged reset mail: %s", line)
		}
	}
}
