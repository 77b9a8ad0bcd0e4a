package function

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
)

// TestHostileInput: what an attacker or a broken sender can send is
// refused with a 4xx naming the field, or acknowledged as a duplicate; it
// never gets a 5xx (senders retry those for ever) and never leaves part of
// a delivery behind.
func TestHostileInput(t *testing.T) {
	res := string(fixtures.Read("guesty/reservation.new.json"))
	replace := func(old, new string) string {
		t.Helper()
		if !strings.Contains(res, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(res, old, new, 1)
	}
	tables := []string{"webhook_events", "reservations", "guests", "listings", "jobs"}
	tests := []struct {
		name     string
		body     string
		id       string
		want     int
		contains string
	}{
		{"NUL in a string field", replace(`"HMK7M2Q9XA"`, `"HMK7\u0000M2Q9XA"`), "msg_nul", 400, "reservation.confirmationCode: must not contain NUL"},
		{"invalid UTF-8", replace(`Harbor View Loft - 2BR`, "Harbor View Loft \xff 2BR"), "msg_utf8", 400, "must be UTF-8"},
		{"huge svix id", res, "msg_" + strings.Repeat("x", 300), 400, "svix-id"},
		{"raw NUL byte", replace(`"HMK7M2Q9XA"`, "\"HMK7\x00\""), "msg_raw", 400, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			code, body := h.Post(t, []byte(tt.body), sign([]byte(tt.body), tt.id, time.Now()))
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
	t.Run("huge svix id with signatures off", func(t *testing.T) {
		h := startOff(t)
		hdr := http.Header{"Svix-Id": {strings.Repeat("x", 3000)}}
		if code, body := h.Post(t, []byte(res), hdr); code != 400 || !strings.Contains(body, "svix-id") {
			t.Errorf("got %d %s, want 400 naming svix-id", code, body)
		}
		if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 0 {
			t.Errorf("webhook_events = %d", n)
		}
	})
	t.Run("replayed signature", func(t *testing.T) {
		h := start(t)
		hdr := sign([]byte(res), "msg_replay", time.Now())
		if code, body := h.Post(t, []byte(res), hdr); code != 200 || !strings.Contains(body, "stored") {
			t.Fatalf("first delivery: %d %s", code, body)
		}
		counts := map[string]int{}
		for _, table := range tables {
			counts[table] = dbtest.Count(t, h.DB.Pool, table, "")
		}
		if code, body := h.Post(t, []byte(res), hdr); code != 200 || !strings.Contains(body, "duplicate") {
			t.Errorf("replay: %d %s, want 200 duplicate", code, body)
		}
		for _, table := range tables {
			if n := dbtest.Count(t, h.DB.Pool, table, ""); n != counts[table] {
				t.Errorf("%s: %d rows after the replay, %d before", table, n, counts[table])
			}
		}
	})
}

func startOff(t *testing.T) *faastest.Harness {
	t.Helper()
	return faastest.Start(t, Name, New, map[string]string{"GUESTY_SIGNATURE": "off"})
}
