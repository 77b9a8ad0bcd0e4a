package faas

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
)

func TestStatusAndPublicMessage(t *testing.T) {
	internal := Error(errString("pq: password authentication failed for user x"))
	if internal.StatusCode != 500 || strings.Contains(string(internal.Body), "password") {
		t.Errorf("internal error leaked: %d %s", internal.StatusCode, internal.Body)
	}
	down := Error(fault.Wrap(fault.Unavailable, errString("dial tcp 10.0.0.5:5432"), "database unavailable"))
	if down.StatusCode != 503 || down.Header.Get("Retry-After") == "" || strings.Contains(string(down.Body), "10.0.0.5") {
		t.Errorf("unavailable: %d %v %s", down.StatusCode, down.Header, down.Body)
	}
	if err := Method(handler.Request{Method: "GET"}, "POST"); Status(err) != 405 {
		t.Errorf("method: %v", err)
	}
	if err := Size(handler.Request{Body: make([]byte, 11)}, 10); Status(err) != 413 {
		t.Errorf("size: %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// A provider's own delay reaches the caller: status 503, Retry-After in
// whole seconds, the same figure in the body beside the caller's fields.
func TestRetryLaterCarriesTheDelay(t *testing.T) {
	res := RetryLater(89600*time.Millisecond, map[string]any{"status": "retrying", "job_id": "j1"})
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "90" {
		t.Fatalf("status %d, Retry-After %q; want 503 and 90", res.StatusCode, res.Header.Get("Retry-After"))
	}
	var body map[string]any
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["retry_after_seconds"] != float64(90) || body["status"] != "retrying" || body["job_id"] != "j1" {
		t.Errorf("body %v", body)
	}
}
