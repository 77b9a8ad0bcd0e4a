package function

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
)

// TestHostileInput: signed Chatwoot events that PostgreSQL cannot store or
// that are not Chatwoot's are a 400 naming the field (Chatwoot does not
// retry a 4xx), never a 5xx, and leave nothing behind; a replayed
// signature is a duplicate.
func TestHostileInput(t *testing.T) {
	msg := string(fixtures.Read("chatwoot/message_created.incoming.json"))
	conv := string(fixtures.Read("chatwoot/conversation_status_changed.json"))
	replace := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	now := time.Now()
	signed := func(body string) http.Header {
		ts := now.Unix()
		return http.Header{
			chatwoot.TimestampHeader: {strconv.FormatInt(ts, 10)},
			chatwoot.SignatureHeader: {chatwoot.Sign(fixtures.ChatwootSecret, ts, []byte(body))},
		}
	}
	startSigned := func(t *testing.T) *faastest.Harness {
		h := faastest.Start(t, Name, New, map[string]string{"CHATWOOT_WEBHOOK_SECRET": fixtures.ChatwootSecret, "BOT_BURST_WINDOW": "0s"})
		h.Clock.Set(now)
		return h
	}
	tables := []string{"webhook_events", "messages", "jobs"}
	tests := []struct {
		name     string
		body     string
		want     int
		contains string
	}{
		{"NUL in a string field", replace(msg, `"content": "Hi!`, `"content": "Hi!\u0000`), 400, "content: must not contain NUL"},
		{"invalid UTF-8", replace(msg, `"content": "Hi!`, "\"content\": \"Hi\xff!"), 400, "content: must be UTF-8"},
		{"message_type outside the enum", replace(msg, `"message_type": "incoming"`, `"message_type": "broadcast"`), 400, "message_type"},
		{"message_type number outside 0-3", replace(msg, `"message_type": "incoming"`, `"message_type": 7`), 400, "message_type"},
		{"conversation status outside the enum", replace(msg, `"status": "pending"`, `"status": "closed"`), 400, "conversation.status"},
		{"status event outside the enum", replace(conv, `"status": "open"`, `"status": "deleted"`), 400, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startSigned(t)
			code, body := h.Post(t, []byte(tt.body), signed(tt.body))
			if code != tt.want || !strings.Contains(body, tt.contains) {
				t.Errorf("got %d %s, want %d containing %q", code, body, tt.want, tt.contains)
			}
			if code >= 500 {
				t.Errorf("hostile input got a %d", code)
			}
			for _, table := range tables {
				if n := dbtest.Count(t, h.DB.Pool, table, ""); n != 0 {
					t.Errorf("%s = %d rows, want none", table, n)
				}
			}
		})
	}
	t.Run("replayed signature", func(t *testing.T) {
		h := startSigned(t)
		hdr := signed(msg)
		if code, body := h.Post(t, []byte(msg), hdr); code != 200 || !strings.Contains(body, "stored") {
			t.Fatalf("first delivery: %d %s", code, body)
		}
		before := map[string]int{}
		for _, table := range tables {
			before[table] = dbtest.Count(t, h.DB.Pool, table, "")
		}
		if code, body := h.Post(t, []byte(msg), hdr); code != 200 || !strings.Contains(body, "duplicate") {
			t.Errorf("replay: %d %s, want 200 duplicate", code, body)
		}
		for _, table := range tables {
			if n := dbtest.Count(t, h.DB.Pool, table, ""); n != before[table] {
				t.Errorf("%s: %d rows after the replay, %d before", table, n, before[table])
			}
		}
	})
}
