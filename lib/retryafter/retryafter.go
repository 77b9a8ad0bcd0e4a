// Package retryafter reads HTTP Retry-After, the wait a provider asks for
// before the next attempt, in one place for every provider client.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads delay-seconds (decimals accepted, as some providers send
// them) or an HTTP date, relative to now; a negative delay or a past date
// is 0. ok is false when v is empty or unreadable.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(max(s, 0) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
