package handlers

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

// Conditional edits. Every document a phone edits has a version, which the
// store advances with each write and decides races on (store/markers.go).
// The single-entry routes send it as a strong ETag, `"<version>"`, and take
// If-Match, so that a phone can make its own edit conditional: one whose
// If-Match names no current version is refused with 412 and changes
// nothing. Without If-Match, an edit that loses a race to a concurrent
// write of the same document is read again and made again, a few times, so
// that two edits of different fields both apply; one that still does not
// get its turn answers 409, saying to fetch and try again. Never 200 with a
// change lost.

// etag is the ETag of a document at version v.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// setETag sends the ETag of a document at version v.
func setETag(c *fiber.Ctx, v int64) { c.Set(fiber.HeaderETag, etag(v)) }

// precondition is a request's If-Match; nil when it has none.
type precondition struct {
	// any is If-Match: *, which any existing version matches.
	any bool
	// tags are the entity-tags listed, quotes (and any W/) included.
	tags []string
}

// entityTag is one entity-tag (RFC 9110, 8.8.3).
var entityTag = regexp.MustCompile(`^(W/)?"[\x21\x23-\x7e\x80-\xff]*"$`)

// ifMatch reads the If-Match header; a malformed one is refused, naming it.
func ifMatch(c *fiber.Ctx) (*precondition, error) {
	raw := c.Request().Header.Peek(fiber.HeaderIfMatch)
	if raw == nil {
		return nil, nil
	}
	malformed := &models.Error{Code: models.ErrInvalid, Message: "the request has an invalid header",
		Fields: []models.FieldError{{Field: fiber.HeaderIfMatch, Message: `must be * or entity tags as ETag sends them, such as "3"`}}}
	value := strings.TrimSpace(string(raw))
	if value == "*" {
		return &precondition{any: true}, nil
	}
	p := &precondition{}
	for _, tag := range strings.Split(value, ",") {
		tag = strings.TrimSpace(tag)
		if !entityTag.MatchString(tag) {
			return nil, malformed
		}
		p.tags = append(p.tags, tag)
	}
	return p, nil
}

// check refuses version v unless the precondition names it. If-Match
// compares strongly: a weak tag (W/"3") never matches.
func (p *precondition) check(v int64) error {
	if p == nil || p.any || slices.Contains(p.tags, etag(v)) {
		return nil
	}
	return preconditionFailed()
}

// absent refuses any precondition on something that does not exist yet:
// If-Match, even *, asks for a current version, and there is none.
func (p *precondition) absent() error {
	if p == nil {
		return nil
	}
	return preconditionFailed()
}

func preconditionFailed() error {
	return &models.Error{Code: models.ErrPreconditionFailed,
		Message: "it changed since the version If-Match names; fetch it again and send its new ETag",
		Fields:  []models.FieldError{{Field: fiber.HeaderIfMatch, Message: "does not name the current version"}}}
}

// editAttempts is how often an edit without If-Match is tried.
const editAttempts = models.StaleRetries

// edit runs a read-change-write, attempt. A stale conflict — the document
// moved on between attempt's read and its write — is tried again from the
// read, up to editAttempts times, unless If-Match named versions: then the
// one it named is no longer current, and the answer is 412.
func edit(c *fiber.Ctx, p *precondition, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		switch {
		case !models.IsStale(err):
			return err
		case p != nil && !p.any:
			return preconditionFailed()
		case n == editAttempts:
			return err
		}
		if err := pauseBeforeRetry(c.UserContext(), n-1); err != nil {
			return err
		}
	}
}

// pauseBeforeRetry waits models.RetryPause before the next try.
func pauseBeforeRetry(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return &models.Error{Code: models.ErrUnavailable, Message: "the database took too long to answer; try again shortly", RetryAfter: 5 * time.Second}
	case <-time.After(models.RetryPause(attempt)):
		return nil
	}
}
