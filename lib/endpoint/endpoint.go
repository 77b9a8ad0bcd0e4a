// Package endpoint holds the request plumbing every function shares: method
// check, body limit, JSON decoding with validation errors that name the
// field, and the one place where error kinds become HTTP statuses.
package endpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
)

// Method returns a MethodNotAllowed fault unless req uses one of allowed.
func Method(req handler.Request, allowed ...string) error {
	for _, m := range allowed {
		if req.Method == m {
			return nil
		}
	}
	return fault.New(fault.MethodNotAllowed, "method %s not allowed; use %s", req.Method, strings.Join(allowed, ", "))
}

// Size returns a TooLarge fault when the body exceeds max bytes. The HTTP
// server already stops reading there; this covers callers that build a
// Request by hand.
func Size(req handler.Request, max int64) error {
	if max > 0 && int64(len(req.Body)) > max {
		return fault.New(fault.TooLarge, "request body exceeds %d bytes", max)
	}
	return nil
}

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Name fields by their JSON names so a 400 points at the payload.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}

// Validate runs validator/v10 on v and returns an Invalid fault that names
// the first failing field by its JSON path.
func Validate(v any) error {
	err := validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return fault.Wrap(fault.Invalid, err, "invalid payload")
	}
	fe := ves[0]
	// Namespace is "Type.a.b"; drop the Go type name.
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest
	}
	return fault.Field(field, "%s", describe(fe))
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return "must be one of " + fe.Param()
	case "min":
		return "must be at least " + fe.Param()
	case "max":
		return "must be at most " + fe.Param()
	case "datetime":
		return "must be a date/time in the form " + fe.Param()
	default:
		if fe.Param() != "" {
			return "failed " + fe.Tag() + "=" + fe.Param()
		}
		return "failed " + fe.Tag()
	}
}

// Decode parses body as a single JSON value into v and validates it. Type
// errors name the field too.
func Decode(body []byte, v any) error {
	if err := Unmarshal(body, v); err != nil {
		return err
	}
	return Validate(v)
}

// Unmarshal parses body as a single JSON value into v without validating.
func Unmarshal(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Invalid, "empty body; expected JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fault.Field(te.Field, "must be %s, got %s", te.Type.String(), te.Value)
		}
		return fault.Wrap(fault.Invalid, err, "malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.Invalid, "malformed JSON: trailing data after the object")
	}
	return nil
}

// Status maps an error kind to its HTTP status.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	switch fault.KindOf(err) {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Permanent:
		return http.StatusUnprocessableEntity
	default:
		return http.StatusInternalServerError
	}
}

// JSON renders v with status.
func JSON(status int, v any) handler.Response {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	return handler.Response{StatusCode: status, Body: b, Header: http.Header{"Content-Type": []string{"application/json"}}}
}

// Headers that carry the cause of a 5xx from Error to the HTTP edge
// (fnserver), which logs them once with the request and removes them: they
// never leave the process.
const (
	CauseHeader     = "X-Concierge-Cause"
	CauseKindHeader = "X-Concierge-Cause-Kind"
)

// maxCause bounds the logged text of a cause: enough for a wrapped
// database error, not a dumped payload.
const maxCause = 1024

// Error renders err as {"error": "..."} with its status. Only the public
// part of the message leaves the function; for a 5xx the internal text
// rides along in CauseHeader for the edge to log.
func Error(err error) handler.Response {
	status := Status(err)
	res := JSON(status, map[string]string{"error": fault.Public(err)})
	if fault.KindOf(err) == fault.Unavailable {
		// Webhook senders retry on 5xx; tell polite ones when.
		res.Header.Set("Retry-After", "5")
	}
	if status >= 500 && err != nil {
		res.Header.Set(CauseKindHeader, fault.KindOf(err).String())
		res.Header.Set(CauseHeader, headerSafe(err.Error(), maxCause))
	}
	return res
}

// headerSafe makes s a valid header value of at most n bytes: control
// characters become spaces and the cut falls on a rune boundary.
func headerSafe(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
