// Package smtptest runs an SMTP server on loopback for tests: the real
// protocol (emersion/go-smtp) with STARTTLS on a certificate made for the
// test, or implicit TLS, and AUTH PLAIN required. It records every mail it
// accepts and can be told to refuse mails (451 or 550) or to go down and
// come back.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The account the server accepts.
const (
	Username = "backcare"
	Password = "s3cret-smtp-pass"
)

// Options chooses how the server speaks.
type Options struct {
	// ImplicitTLS serves TLS from the first byte (smtps://).
	ImplicitTLS bool
	// NoSTARTTLS offers no STARTTLS: a server a careful client must not
	// send to (or sign in to).
	NoSTARTTLS bool
}

// Message is one mail the server accepted.
type Message struct {
	From string
	To   []string
	// Data is the mail as it came, headers and body.
	Data []byte
	// TLS tells whether the connection was encrypted when it came.
	TLS bool
	// User is who signed in to send it.
	User string
}

// Server is a running test SMTP server.
type Server struct {
	opts      Options
	addr      string
	serverTLS *tls.Config
	roots     *x509.CertPool
	certDER   []byte

	mu sync.Mutex
	// srv serves on ln while the server is up.
	srv      *smtp.Server
	ln       net.Listener
	refusal  *smtp.SMTPError
	received []Message
	auths    int
}

// Start runs a server on 127.0.0.1 (a free port) until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, roots, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{opts: opts, roots: roots, certDER: cert.Certificate[0],
		serverTLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Down)
	return s
}

// URL is the SMTP_URL that reaches the server with its account.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.opts.ImplicitTLS {
		scheme = "smtps"
	}
	return (&url.URL{Scheme: scheme, User: url.UserPassword(Username, Password), Host: s.addr}).String()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientTLS is a client configuration that trusts the server's certificate.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// CAFile writes the server's certificate as PEM into the test's temporary
// directory and returns its path: the SMTP_CA_FILE a server under test
// trusts it by.
func (s *Server) CAFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "smtptest-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RefuseTemporarily answers every mail 451 (try again later) until Accept.
func (s *Server) RefuseTemporarily() {
	s.refuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"})
}

// RefusePermanently answers every mail 550 (refused for good) until Accept.
func (s *Server) RefusePermanently() {
	s.refuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Refused"})
}

// Accept takes mails again.
func (s *Server) Accept() { s.refuse(nil) }

func (s *Server) refuse(e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = e
}

// Down closes the listener and every connection: the server is away.
func (s *Server) Down() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// The listener is closed here too: go-smtp closes only those its
		// Serve has registered, which it may not have done yet.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.serve(ln)
}

// Messages returns the mails accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

// Auths counts the AUTH attempts the server saw.
func (s *Server) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{server: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if !s.opts.NoSTARTTLS {
		srv.TLSConfig = s.serverTLS
	}
	if s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.serverTLS)
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// session is one connection's conversation.
type session struct {
	server *Server
	conn   *smtp.Conn
	user   string
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	ss.server.mu.Lock()
	ss.server.auths++
	ss.server.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != Username || password != Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.server.mu.Lock()
	refusal := ss.server.refusal
	ss.server.mu.Unlock()
	if refusal != nil {
		return refusal
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.server.mu.Lock()
	defer ss.server.mu.Unlock()
	ss.server.received = append(ss.server.received, Message{From: ss.from, To: ss.to, Data: b, TLS: isTLS, User: ss.user})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
