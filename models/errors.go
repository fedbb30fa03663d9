package models

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Error codes. The HTTP layer maps each code to one status; the store maps
// driver errors onto them. Nothing else decides what a caller is told.
const (
	ErrInvalid      = "invalid"
	ErrNotFound     = "not_found"
	ErrConflict     = "conflict"
	ErrUnauthorized = "unauthorized"
	ErrForbidden    = "forbidden"
	ErrRateLimited  = "rate_limited"
	// ErrPreconditionFailed: the version a request named (If-Match) is not
	// the current one.
	ErrPreconditionFailed = "precondition_failed"
	// ErrUnavailable: a dependency (the database) cannot be reached right
	// now; the caller should retry after RetryAfter.
	ErrUnavailable = "unavailable"
	// ErrEmailUnverified: the action needs an address the account has
	// verified (sharing a report, joining a clinic); answered 403.
	ErrEmailUnverified = "email_unverified"
	ErrInternal        = "internal"
)

// FieldError names one field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an application error with a code, a message that is safe to show
// to the caller, and for validation errors the fields at fault.
type Error struct {
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	// Stale marks a conflict with a concurrent write: the document moved
	// on from the version that was read, so reading it again and redoing
	// the change may succeed.
	Stale bool
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or ErrInternal when err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}

// IsStale reports whether err is a conflict with a concurrent write (see Error.Stale).
func IsStale(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Stale
}

// Problems collects field errors during validation.
type Problems []FieldError

// Add records that field is wrong.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns an ErrInvalid *Error listing the problems, or nil if there are none.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: ErrInvalid, Message: "the request has invalid fields", Fields: p}
}

// FieldsOf returns the field errors carried by err, if any.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Merge adds the field errors of err for fields not already reported, so
// that one wrong field gets one message.
func (p *Problems) Merge(err error) {
	for _, f := range FieldsOf(err) {
		seen := false
		for _, q := range *p {
			seen = seen || q.Field == f.Field
		}
		if !seen {
			*p = append(*p, f)
		}
	}
}

// StaleRetries is how many times in all a read-change-write that lost the
// race to a concurrent write is made, each time from a fresh read.
const StaleRetries = 6

// RetryPause is how long a read-change-write waits before its next try
// after its attempt-th (counted from 0) lost a race: 10 ms doubling, plus
// up to 10 ms of jitter, so that the write it lost to can land first; six
// tries wait about 0.3 s in all, room for that write on a busy machine.
func RetryPause(attempt int) time.Duration {
	return time.Duration(10<<attempt)*time.Millisecond + rand.N(10*time.Millisecond)
}
