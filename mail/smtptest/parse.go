package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
)

// Parsed is a received mail taken apart.
type Parsed struct {
	Header  mail.Header
	Subject string
	// Text and HTML are the decoded bodies of the text/plain and text/html
	// parts.
	Text, HTML string
}

// Parse reads the mail's headers and its text and HTML parts (of a
// multipart/alternative mail, or the one part of a single-part mail).
func (m Message) Parse() (Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return Parsed{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Header: msg.Header, Subject: subject}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Parsed{}, fmt.Errorf("content type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, err := decode(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if err != nil {
			return Parsed{}, err
		}
		p.set(mediaType, body)
		return p, nil
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return Parsed{}, err
		}
		// NextPart has already undone quoted-printable.
		body, err := decode(part.Header.Get("Content-Transfer-Encoding"), part)
		if err != nil {
			return Parsed{}, err
		}
		partType, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.set(partType, body)
	}
}

func (p *Parsed) set(mediaType, body string) {
	switch mediaType {
	case "text/plain":
		p.Text = body
	case "text/html":
		p.HTML = body
	}
}

func decode(encoding string, r io.Reader) (string, error) {
	if strings.EqualFold(encoding, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

var (
	linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)
	codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)
)

// Links returns the links in the text part, in order.
func (p Parsed) Links() []string { return linkPattern.FindAllString(p.Text, -1) }

// Code returns the first 6-digit code in the text part, or "".
func (p Parsed) Code() string { return codePattern.FindString(p.Text) }
