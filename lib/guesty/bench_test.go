package guesty

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/webhook"
)

// BenchmarkImport imports 2,000 listings and 20,000 reservations from the
// fake at Guesty's own limits and reports the wall time beside the least
// the fake's rate limit allows, requests per token and peak RSS.
// go test -run '^$' -bench Import -benchtime 1x ./lib/guesty
func BenchmarkImport(b *testing.B) {
	for range b.N {
		d := dbtest.New(b)
		fake := guestytest.New(b)
		now := time.Now().UTC()
		fake.Generate(2000, 20000, now)
		hook := &Hook{Store: &webhook.Store{DB: d.Pool, Invoker: &countingInvoker{}}, Region: "US"}
		api := client(fake, d, APIOptions{MaxWait: time.Hour})
		s := &Sync{API: api, Hook: hook, DB: d.Pool, Name: "import"}
		start := time.Now()
		rep, err := s.Import(context.Background(), now)
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		st := fake.Stats()
		least := guestytest.MinDuration(st.Requests, guestytest.GuestyLimits)
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(least.Seconds(), "rate-limit-min-s")
		b.ReportMetric(float64(st.Requests)/float64(max(st.TokensIssued, 1)), "requests/token")
		b.ReportMetric(float64(peakRSS())/1024, "peak-rss-MiB")
		b.Logf("stored %d, %d requests (%d throttled), %d tokens; wall %s, rate-limit minimum %s (ratio %.2f)",
			rep.Counts.Stored, st.Requests, st.Throttled, st.TokensIssued, wall.Round(time.Millisecond), least,
			wall.Seconds()/max(least.Seconds(), 1))
	}
}

// peakRSS reads VmHWM (KiB) from /proc; 0 elsewhere.
func peakRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n := 0
			for _, c := range f[1] {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return 0
}
