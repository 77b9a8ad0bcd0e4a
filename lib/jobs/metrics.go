package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// KindStats counts one kind's jobs that are not done.
type KindStats struct {
	Pending  int `json:"pending"`
	Running  int `json:"running"`
	Retrying int `json:"retrying"`
	Failed   int `json:"failed"`
	// Overdue jobs are those a redrive pass would act on now.
	Overdue int `json:"overdue"`
	// OldestSeconds is the age of the oldest pending, running or retrying
	// job; 0 when there is none.
	OldestSeconds float64 `json:"oldest_seconds"`
}

// Stats is a snapshot of the outbox: done jobs are not counted, every other
// status is.
type Stats struct {
	Totals KindStats            `json:"totals"`
	Kinds  map[string]KindStats `json:"kinds"`
}

// ReadStats counts the jobs by kind and status in one statement. grace is
// the redrive grace period, which decides what is overdue. Every kind in
// known appears, with zeros if it has no jobs, so a dashboard or an alert
// sees 0 rather than a missing series.
func ReadStats(ctx context.Context, db *pgxpool.Pool, grace time.Duration, known ...Kind) (Stats, error) {
	st := Stats{Kinds: map[string]KindStats{}}
	for _, k := range known {
		st.Kinds[k.Name] = KindStats{}
	}
	rows, err := db.Query(ctx, `SELECT kind,
			count(*) FILTER (WHERE status = 'pending'),
			count(*) FILTER (WHERE status = 'running'),
			count(*) FILTER (WHERE status = 'retrying'),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE `+overdueSQL+`),
			COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE status <> 'failed')), 0)::float8
		FROM jobs WHERE status IN ('pending', 'running', 'retrying', 'failed')
		GROUP BY kind`, max(grace, 0).Seconds())
	if err != nil {
		return st, fault.Wrap(fault.Unavailable, fmt.Errorf("job stats: %w", err), "database unavailable")
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var k KindStats
		if err := rows.Scan(&kind, &k.Pending, &k.Running, &k.Retrying, &k.Failed, &k.Overdue, &k.OldestSeconds); err != nil {
			return st, fault.Wrap(fault.Unavailable, fmt.Errorf("job stats: %w", err), "database unavailable")
		}
		st.Kinds[kind] = k
		st.Totals.Pending += k.Pending
		st.Totals.Running += k.Running
		st.Totals.Retrying += k.Retrying
		st.Totals.Failed += k.Failed
		st.Totals.Overdue += k.Overdue
		st.Totals.OldestSeconds = max(st.Totals.OldestSeconds, k.OldestSeconds)
	}
	if err := rows.Err(); err != nil {
		return st, fault.Wrap(fault.Unavailable, fmt.Errorf("job stats: %w", err), "database unavailable")
	}
	return st, nil
}

// PrometheusContentType is the media type of WritePrometheus's output.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// WritePrometheus writes the snapshot in the Prometheus text exposition
// format: gauges, since each scrape reads the table afresh.
//
//	concierge_jobs{status="pending",kind="vectorize"} 3
//	concierge_jobs_overdue{kind="vectorize"} 1
//	concierge_jobs_oldest_seconds{kind="vectorize"} 182.4
func (s Stats) WritePrometheus(w io.Writer) error {
	kinds := make([]string, 0, len(s.Kinds))
	for k := range s.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	b := bufio.NewWriter(w)
	promtext.Header(b, "concierge_jobs", "Jobs in the outbox by status and kind; done jobs are not counted.", "gauge")
	for _, status := range []string{StatusPending, StatusRunning, StatusRetrying, StatusFailed} {
		for _, k := range kinds {
			ks := s.Kinds[k]
			n := map[string]int{StatusPending: ks.Pending, StatusRunning: ks.Running, StatusRetrying: ks.Retrying, StatusFailed: ks.Failed}[status]
			fmt.Fprintf(b, "concierge_jobs{status=%s,kind=%s} %d\n", promtext.Label(status), promtext.Label(k), n)
		}
	}
	promtext.Header(b, "concierge_jobs_overdue", "Jobs a redrive pass would re-invoke or park now.", "gauge")
	for _, k := range kinds {
		fmt.Fprintf(b, "concierge_jobs_overdue{kind=%s} %d\n", promtext.Label(k), s.Kinds[k].Overdue)
	}
	promtext.Header(b, "concierge_jobs_oldest_seconds", "Age of the oldest pending, running or retrying job; 0 when there is none.", "gauge")
	for _, k := range kinds {
		fmt.Fprintf(b, "concierge_jobs_oldest_seconds{kind=%s} %s\n", promtext.Label(k), strconv.FormatFloat(s.Kinds[k].OldestSeconds, 'f', 3, 64))
	}
	return b.Flush()
}
