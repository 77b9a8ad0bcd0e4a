package retryafter

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"soon", 0, false},
		{"0", 0, true},
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-3", 0, true},
		{"Sun, 06 Dec 2026 07:00:30 GMT", 30 * time.Second, true},
		{"Sun, 06 Dec 2026 06:59:00 GMT", 0, true},
	} {
		d, ok := Parse(c.v, now)
		if d != c.want || ok != c.ok {
			t.Errorf("Parse(%q) = %s, %v; want %s, %v", c.v, d, ok, c.want, c.ok)
		}
	}
}
