package retention

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/harborstays/concierge/lib/promtext"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Metric names WritePrometheus exports.
const (
	MetricRemoved      = "concierge_retention_removed_rows"
	MetricLongestBatch = "concierge_retention_longest_batch_seconds"
	MetricLastPass     = "concierge_retention_last_pass_timestamp_seconds"
	MetricComplete     = "concierge_retention_last_pass_complete"
)

// LastRun is the latest recorded pass.
type LastRun struct {
	FinishedAt     time.Time
	Complete       bool
	Removed        map[string]int64
	LongestBatchMS int
	Error          string
}

// Last reads the latest pass; ok is false before the first.
func Last(ctx context.Context, db *pgxpool.Pool) (LastRun, bool, error) {
	var r LastRun
	var removed []byte
	var msg *string
	err := db.QueryRow(ctx, `SELECT finished_at, complete, removed, longest_batch_ms, error FROM retention_runs ORDER BY id DESC LIMIT 1`).
		Scan(&r.FinishedAt, &r.Complete, &removed, &r.LongestBatchMS, &msg)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read retention runs: %w", err)
	}
	if msg != nil {
		r.Error = *msg
	}
	if err := json.Unmarshal(removed, &r.Removed); err != nil {
		return r, false, fmt.Errorf("read retention runs: %w", err)
	}
	return r, true, nil
}

// WritePrometheus writes the latest pass in the Prometheus text format.
// The HELP and TYPE lines come even before the first pass, so an alert
// sees an absent series as no pass rather than as a broken scrape.
func WritePrometheus(ctx context.Context, db *pgxpool.Pool, w io.Writer) error {
	r, ok, err := Last(ctx, db)
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricRemoved, "Rows the latest retention pass (purge) removed, by kind of data.", "gauge")
	if ok {
		for _, k := range kinds(r.Removed) {
			fmt.Fprintf(b, "%s{kind=%s} %d\n", MetricRemoved, strconv.Quote(k), r.Removed[k])
		}
	}
	c := 0
	if r.Complete {
		c = 1
	}
	for _, m := range []struct {
		name, help, value string
	}{
		{MetricLongestBatch, "Longest batch of the latest retention pass: the longest it held any row lock.", strconv.FormatFloat(float64(r.LongestBatchMS)/1000, 'g', -1, 64)},
		{MetricComplete, "1 when the latest retention pass finished within RETENTION_BUDGET and without error.", strconv.Itoa(c)},
		{MetricLastPass, "When the latest retention pass finished (Unix time); alert when it stops moving.", strconv.FormatInt(r.FinishedAt.Unix(), 10)},
	} {
		promtext.Header(b, m.name, m.help, "gauge")
		if ok {
			b.WriteString(m.name + " " + m.value + "\n")
		}
	}
	return b.Flush()
}
