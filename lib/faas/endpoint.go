// The request plumbing every function shares: method
// check, body limit, and the one place where error kinds become HTTP
// statuses. (Decoding and validation are lib/payload, which webhook sources
// share.)

package faas

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// RetryLater answers 503 with Retry-After: the work was accepted as far as
// it went and is queued to go on after delay (a provider's own delay, not
// the generic 5 s of Error). fields become the JSON body, with
// retry_after_seconds added.
func RetryLater(delay time.Duration, fields map[string]any) handler.Response {
	secs := int(delay.Round(time.Second).Seconds())
	body := map[string]any{"retry_after_seconds": secs}
	for k, v := range fields {
		body[k] = v
	}
	res := JSON(http.StatusServiceUnavailable, body)
	res.Header.Set("Retry-After", strconv.Itoa(secs))
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
