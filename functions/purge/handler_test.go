package function

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func TestPurgeDeletesExpiredClips(t *testing.T) {
	h := faastest.Start(t, Name, New, nil)
	now := time.Date(2025, 7, 20, 12, 0, 0, 0, time.UTC)
	h.Clock.Set(now)
	clips := []struct {
		kind    string
		expires time.Time
	}{
		{"input", now.Add(-time.Hour)},
		{"reply", now.Add(-time.Second)},
		{"input", now.Add(time.Hour)},
	}
	for i, c := range clips {
		if _, err := h.DB.Pool.Exec(context.Background(), `INSERT INTO voice_clips (kind, account_id, conversation_id, message_id, content_type, bytes, size, expires_at)
			VALUES ($1, 1, 1287, $2, 'audio/ogg', $3, 3, $4)`, c.kind, 40000+i, []byte("abc"), c.expires); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name                    string
		method                  string
		status                  int
		deleted, inputs, remain int
	}{
		{"expired clips go", "POST", 200, 2, 1, 1},
		{"a second run finds nothing", "POST", 200, 0, 0, 1},
		{"PUT is refused", "PUT", 405, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.Do(t, tt.method, nil, nil)
			if code != tt.status {
				t.Fatalf("%d %s", code, body)
			}
			if code == 200 {
				var v struct {
					Result struct {
						Deleted, Inputs, Bytes int
						Removed                map[string]int
						Complete               bool
					}
				}
				if err := json.Unmarshal([]byte(body), &v); err != nil || v.Result.Deleted != tt.deleted || v.Result.Inputs != tt.inputs ||
					v.Result.Bytes != 3*tt.deleted || v.Result.Removed["voice_clips"] != tt.deleted || !v.Result.Complete {
					t.Errorf("result %s", body)
				}
			}
			if n := dbtest.Count(t, h.DB.Pool, "voice_clips", "true"); n != tt.remain {
				t.Errorf("%d clips left, want %d", n, tt.remain)
			}
		})
	}
}

// The pass's figures are also metrics: GET answers the latest pass in the
// Prometheus text format (redrive's scrape can include them).
func TestPurgeAnswersMetrics(t *testing.T) {
	h := faastest.Start(t, Name, New, map[string]string{"RETENTION_EVENTS": "24h"})
	now := time.Now()
	h.Clock.Set(now)
	if _, err := h.DB.Pool.Exec(context.Background(), `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, received_at)
		VALUES ('guesty', 'guest.updated', 'old', '{}', true, $1), ('guesty', 'guest.updated', 'new', '{}', true, $2)`,
		now.Add(-48*time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	code, body := h.Do(t, "GET", nil, nil)
	if code != 200 || !strings.Contains(body, "# TYPE concierge_retention_removed_rows gauge") || strings.Contains(body, "concierge_retention_removed_rows{") {
		t.Fatalf("before any pass: %d %s", code, body)
	}
	if code, body := h.Do(t, "POST", nil, nil); code != 200 || !strings.Contains(body, `"webhook_events":1`) {
		t.Fatalf("pass: %d %s", code, body)
	}
	_, body = h.Do(t, "GET", nil, nil)
	for _, want := range []string{`concierge_retention_removed_rows{kind="webhook_events"} 1`, "concierge_retention_last_pass_complete 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", "true"); n != 1 {
		t.Errorf("%d events left, want the recent one", n)
	}
}

// A malformed retention setting stops the function at start, by name.
func TestPurgeRefusesBadSettings(t *testing.T) {
	d := dbtest.New(t)
	_, _, err := faas.Build(context.Background(), faas.Options{Name: Name, DB: d.Pool, LogOutput: io.Discard,
		Lookup: config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "RETENTION_CALLS": "a year"})}, New)
	if err == nil || !strings.Contains(err.Error(), "RETENTION_CALLS") {
		t.Errorf("%v", err)
	}
}
