package bench

import (
	"strings"
	"testing"
	"time"
)

// The verdicts `make bench` prints are code too: a run that lost
// deliveries, or a baseline that did, never "meets" its target, however
// fast it was.
func TestIntakeVerdict(t *testing.T) {
	base := result{rps: 1000, p99: 2 * time.Millisecond}
	good := result{rps: 900, p99: 5 * time.Millisecond}
	for _, c := range []struct {
		name    string
		r, base result
		want    string
		why     string
	}{
		{"fast and clean", good, base, "meets", ""},
		{"at the throughput bound", result{rps: 800, p99: latencyLimit}, base, "meets", ""},
		{"one error", result{rps: 900, p99: 5 * time.Millisecond, errors: 1}, base, "MISSES", "1 errors"},
		// Refusals answer fast: errors must not buy a throughput verdict.
		{"fast because it refused", result{rps: 5000, p99: time.Millisecond, errors: 4000}, base, "MISSES", "4000 errors"},
		{"baseline with errors", good, result{rps: 1000, errors: 3}, "MISSES", "baseline had 3 errors"},
		{"slow", result{rps: 799, p99: 5 * time.Millisecond}, base, "MISSES", "below 0.8x"},
		{"late", result{rps: 900, p99: latencyLimit + time.Millisecond}, base, "MISSES", "p99"},
		{"no baseline", good, result{}, "MISSES", "below 0.8x"},
	} {
		verdict, why := intakeVerdict(c.r, c.base)
		if verdict != c.want || !strings.Contains(why, c.why) || (c.why == "" && why != "") {
			t.Errorf("%s: %q%s, want %q naming %q", c.name, verdict, why, c.want, c.why)
		}
	}
}

func TestOverheadVerdict(t *testing.T) {
	for _, c := range []struct {
		ours, bare time.Duration
		want       string
		overhead   float64
	}{
		{1000 * time.Millisecond, 1000 * time.Millisecond, "meets", 0},
		{900 * time.Millisecond, 1000 * time.Millisecond, "meets", -10},
		{1100 * time.Millisecond, 1000 * time.Millisecond, "meets", 10},
		{1101 * time.Millisecond, 1000 * time.Millisecond, "MISSES", 10.1},
		{2 * time.Second, time.Second, "MISSES", 100},
		{time.Second, 0, "MISSES", 0},
	} {
		verdict, over := overheadVerdict(c.ours, c.bare)
		if verdict != c.want || over < c.overhead-0.01 || over > c.overhead+0.01 {
			t.Errorf("overheadVerdict(%s, %s) = %s %.2f%%, want %s %.2f%%", c.ours, c.bare, verdict, over, c.want, c.overhead)
		}
	}
}
