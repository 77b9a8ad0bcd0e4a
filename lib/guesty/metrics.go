package guesty

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// Metrics of the nightly reconciliation, in Prometheus's text format.
const (
	MetricReconcileRepaired     = "concierge_guesty_reconcile_repaired"
	MetricReconcileLastFinished = "concierge_guesty_reconcile_last_finished_seconds"
	MetricReconcileUnfinished   = "concierge_guesty_reconcile_unfinished"
)

// ReconcileState is the reconciliation as its cursor tells it.
type ReconcileState struct {
	// Repaired by the latest run (so far, when it is unfinished).
	Repaired int
	// LastFinished is when the latest complete run ended; zero if none.
	LastFinished time.Time
	// Unfinished: the latest run stopped (rate limit, time budget) and a
	// retry job or the next night goes on with it.
	Unfinished bool
}

// ReadReconcileState reads the reconciliation's cursor (zero before the
// first run).
func ReadReconcileState(ctx context.Context, db querier) (ReconcileState, error) {
	var st ReconcileState
	var counts []byte
	var finished *time.Time
	err := db.QueryRow(ctx, `SELECT counts, finished_at FROM guesty_sync WHERE name = $1`, ReconcileName).Scan(&counts, &finished)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fault.Wrap(fault.Unavailable, fmt.Errorf("read reconcile state: %w", err), "database unavailable")
	}
	var c Counts
	_ = json.Unmarshal(counts, &c)
	st.Repaired = c.Stored
	if finished != nil {
		st.LastFinished = *finished
	} else {
		st.Unfinished = true
	}
	return st, nil
}

// WritePrometheus writes the reconciliation's figures: repaired rows are
// the webhooks that went missing; alert when they are not zero night after
// night, or when the last finished run is older than a day and a bit.
func WritePrometheus(ctx context.Context, db querier, w io.Writer) error {
	st, err := ReadReconcileState(ctx, db)
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricReconcileRepaired, "Reservations and listings the latest Guesty reconciliation stored because a webhook never brought them (so far, while it is unfinished).", "gauge")
	fmt.Fprintf(b, "%s %d\n", MetricReconcileRepaired, st.Repaired)
	promtext.Header(b, MetricReconcileLastFinished, "When the latest complete Guesty reconciliation finished, in Unix seconds; 0 if none.", "gauge")
	ts := 0.0
	if !st.LastFinished.IsZero() {
		ts = float64(st.LastFinished.UnixMilli()) / 1000
	}
	fmt.Fprintf(b, "%s %s\n", MetricReconcileLastFinished, strconv.FormatFloat(ts, 'f', 3, 64))
	promtext.Header(b, MetricReconcileUnfinished, "1 while a Guesty reconciliation waits to go on (Guesty's rate limit or the time budget stopped it).", "gauge")
	v := 0
	if st.Unfinished {
		v = 1
	}
	fmt.Fprintf(b, "%s %d\n", MetricReconcileUnfinished, v)
	return b.Flush()
}
