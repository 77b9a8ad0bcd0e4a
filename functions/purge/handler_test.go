package function

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func TestPurgeDeletesExpiredClips(t *testing.T) {
	h := fntest.Start(t, Name, New, nil)
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
		{"GET is refused", "GET", 405, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.Do(t, tt.method, nil, nil)
			if code != tt.status {
				t.Fatalf("%d %s", code, body)
			}
			if code == 200 {
				var v struct {
					Result struct{ Deleted, Inputs, Bytes int }
				}
				if err := json.Unmarshal([]byte(body), &v); err != nil || v.Result.Deleted != tt.deleted || v.Result.Inputs != tt.inputs || v.Result.Bytes != 3*tt.deleted {
					t.Errorf("result %s", body)
				}
			}
			if n := dbtest.Count(t, h.DB.Pool, "voice_clips", "true"); n != tt.remain {
				t.Errorf("%d clips left, want %d", n, tt.remain)
			}
		})
	}
}
