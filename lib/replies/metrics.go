package replies

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/harborstays/concierge/lib/promtext"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MetricRecent is the replies decided over a recent window, by mode (auto,
// draft, handoff) and window (1d, 7d). Gauges over windows, not a counter:
// retention deletes old replies, which a counter would read as resets.
// The hand-off alert compares the share of hand-offs over the last day
// with the share over the last week.
const MetricRecent = "concierge_replies_recent"

// windows the metric reports, with their SQL intervals.
var windows = []struct{ label, interval string }{{"1d", "1 day"}, {"7d", "7 days"}}

// WritePrometheus writes MetricRecent. Every mode is written for every
// window, with zeros, so a ratio is defined from the first scrape.
func WritePrometheus(ctx context.Context, db *pgxpool.Pool, w io.Writer) error {
	counts := map[[2]string]int64{}
	for _, win := range windows {
		rows, err := db.Query(ctx, `SELECT mode, count(*) FROM replies WHERE created_at > now() - $1::interval GROUP BY mode`, win.interval)
		if err != nil {
			return fmt.Errorf("count recent replies: %w", err)
		}
		for rows.Next() {
			var mode string
			var n int64
			if err := rows.Scan(&mode, &n); err != nil {
				rows.Close()
				return fmt.Errorf("count recent replies: %w", err)
			}
			counts[[2]string{mode, win.label}] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("count recent replies: %w", err)
		}
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricRecent, "Replies the assistant decided over the window, by mode (auto, draft, handoff).", "gauge")
	for _, win := range windows {
		for _, mode := range []Mode{Auto, Draft, Handoff} {
			fmt.Fprintf(b, "%s{mode=%q,window=%q} %d\n", MetricRecent, mode, win.label, counts[[2]string{string(mode), win.label}])
		}
	}
	return b.Flush()
}
