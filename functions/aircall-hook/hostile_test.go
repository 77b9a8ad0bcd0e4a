package function

import (
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
)

// TestHostileInput: text PostgreSQL cannot store is a 400 naming the field,
// even for an authenticated known event, which is otherwise stored raw
// whatever its shape: a NUL cannot be stored at all. Nothing of it is kept,
// and no input here gets a 5xx.
func TestHostileInput(t *testing.T) {
	ended := string(fixtures.Read("aircall/call.ended.json"))
	replace := func(old, new string) string {
		t.Helper()
		if !strings.Contains(ended, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(ended, old, new, 1)
	}
	tables := []string{"webhook_events", "calls", "jobs"}
	tests := []struct {
		name     string
		body     string
		want     int
		contains string
	}{
		{"NUL in a string field", replace(`"inbound"`, `"in\u0000bound"`), 400, "data.direction: must not contain NUL"},
		{"NUL in a field the parser does not read", replace(`"cost": "0"`, `"cost": "\u0000"`), 400, "data.cost: must not contain NUL"},
		{"NUL in an unparseable known event", strings.Replace(replace(`"duration": 201`, `"duration": "long"`), `"inbound"`, `"\u0000"`, 1), 400, "data.direction: must not contain NUL"},
		{"invalid UTF-8", replace(`"inbound"`, "\"in\xc3bound\""), 400, "data.direction: must be UTF-8"},
		{"NUL without the token", strings.Replace(replace(`"inbound"`, `"\u0000"`), fixtures.AircallToken, "0000000000000000000000000000beef", 1), 400, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			code, body := h.Post(t, []byte(tt.body), nil)
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
	t.Run("same delivery again", func(t *testing.T) {
		h := start(t)
		if code, body := h.Post(t, []byte(ended), nil); code != 200 || !strings.Contains(body, "stored") {
			t.Fatalf("first delivery: %d %s", code, body)
		}
		before := map[string]int{}
		for _, table := range tables {
			before[table] = dbtest.Count(t, h.DB.Pool, table, "")
		}
		if code, body := h.Post(t, []byte(ended), nil); code != 200 || !strings.Contains(body, "duplicate") {
			t.Errorf("again: %d %s, want 200 duplicate", code, body)
		}
		for _, table := range tables {
			if n := dbtest.Count(t, h.DB.Pool, table, ""); n != before[table] {
				t.Errorf("%s: %d rows after the repeat, %d before", table, n, before[table])
			}
		}
	})
}
