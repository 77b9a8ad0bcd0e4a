// Package fault gives errors a kind that decides, at the edge only, the HTTP
// status of a response and whether a job is retried.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller should do about it.
type Kind int

const (
	// Internal is the zero kind: a bug or an unexpected failure.
	Internal Kind = iota
	// Invalid input; retrying the same input fails again.
	Invalid
	// Unauthorized: a missing or wrong token or signature.
	Unauthorized
	// TooLarge: the body exceeds the configured limit.
	TooLarge
	// MethodNotAllowed: wrong HTTP method.
	MethodNotAllowed
	// Unavailable: a dependency is down; the same request may succeed later.
	Unavailable
	// Permanent: a downstream refused the work for good (4xx other than 429).
	Permanent
	// NotFound: the thing named does not exist.
	NotFound
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthorized:
		return "unauthorized"
	case TooLarge:
		return "too_large"
	case MethodNotAllowed:
		return "method_not_allowed"
	case Unavailable:
		return "unavailable"
	case Permanent:
		return "permanent"
	case NotFound:
		return "not_found"
	default:
		return "internal"
	}
}

// Error carries a kind, an optional field name for Invalid, and a message
// that is safe to return to the caller (no secrets, no PII).
type Error struct {
	Kind  Kind
	Field string
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a public message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err the kind k; msg is public, err stays internal.
func Wrap(k Kind, err error, msg string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: msg, Err: err}
}

// Field reports invalid input in a named field.
func Field(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the outermost fault.Error in err's chain.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}

// Public returns the message of err that may be shown to a caller. Errors
// without a kind are internal and only "internal error" is shown.
func Public(err error) string {
	var fe *Error
	if !errors.As(err, &fe) || fe.Kind == Internal {
		return "internal error"
	}
	msg := fe.Msg
	if fe.Field != "" {
		msg = fe.Field + ": " + msg
	}
	if msg == "" {
		msg = fe.Kind.String()
	}
	return msg
}

// Retryable reports whether the same work may succeed if tried again.
func Retryable(err error) bool {
	switch KindOf(err) {
	case Invalid, Unauthorized, TooLarge, MethodNotAllowed, Permanent, NotFound:
		return false
	}
	return true
}

// RetryAfter is the wait a provider asked for before the next attempt
// (HTTP Retry-After), carried by any error in err's chain that has a
// RetryDelay method; 0 when none did. Job back-off honours it, so a
// throttled provider is not retried sooner than it asked.
func RetryAfter(err error) time.Duration {
	var d interface{ RetryDelay() time.Duration }
	if errors.As(err, &d) {
		return max(d.RetryDelay(), 0)
	}
	return 0
}
