package urgentcall

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what Count reads through (a pool, a connection, a
// transaction).
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Counts are the urgent calls of a window, for the console's overview.
type Counts struct {
	// Calls are the missed calls and voicemails from guests arriving the
	// same day or the next, whatever became of them.
	Calls int `json:"calls"`
	// Posted: the team was told in Chatwoot.
	Posted int `json:"posted"`
	// Pending: not told yet (being posted, or waiting for a retry).
	Pending int `json:"pending"`
	// Failed: the job gave up; `concierge replay` tries again.
	Failed int `json:"failed"`
	// Local: recorded without Chatwoot (make run).
	Local int `json:"local"`
}

// Count counts the urgent calls made in [from, to), by the time of the
// call (urgent_calls_called_at serves it).
func Count(ctx context.Context, q Querier, from, to time.Time) (Counts, error) {
	var c Counts
	err := q.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE status = 'posted'), count(*) FILTER (WHERE status = 'pending'),
			count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'local')
		FROM urgent_calls WHERE called_at >= $1 AND called_at < $2`, from, to).
		Scan(&c.Calls, &c.Posted, &c.Pending, &c.Failed, &c.Local)
	if err != nil {
		return Counts{}, fmt.Errorf("count urgent calls: %w", err)
	}
	return c, nil
}
