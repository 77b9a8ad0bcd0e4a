// Package scrape is what Prometheus reads from redrive: the outbox's job
// counts, then what the functions nobody scrapes (they run on a schedule
// or per job) record in PostgreSQL. One scrape covers the deployment.
package scrape

import (
	"context"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/retention"
	"github.com/harborstays/concierge/lib/screen/quarantine"
	"github.com/harborstays/concierge/lib/webhook"
)

// Jobs reads the outbox's counts; every declared kind is reported, with
// zeros when it has no jobs. grace is redrive's: a pending job older than
// it is overdue.
func Jobs(ctx context.Context, db *pgxpool.Pool, grace time.Duration) (jobs.Stats, error) {
	return jobs.ReadStats(ctx, db, grace, jobs.All()...)
}

// Write writes every metric in Prometheus's text format: the job counts,
// then each scheduled function's figures, then the deliveries stored with
// a parse error.
func Write(ctx context.Context, db *pgxpool.Pool, grace time.Duration, w io.Writer) error {
	st, err := Jobs(ctx, db, grace)
	if err != nil {
		return err
	}
	for _, write := range []func() error{
		func() error { return st.WritePrometheus(w) },
		// What only an operator fixes: a provider refusing a setting.
		func() error { return incidents.WritePrometheus(ctx, db, w) },
		// Listing text held back from the index as instructions to an
		// assistant: a person fixes the listing (`concierge quarantine`).
		func() error { return quarantine.WritePrometheus(ctx, db, w) },
		// The nightly backup's outcome, per database and for the attachments.
		func() error { return backup.WritePrometheus(ctx, db, w) },
		func() error { return attachments.WritePrometheus(ctx, db, w) },
		// The nightly Guesty reconciliation: rows repaired, last finish.
		func() error { return guesty.WritePrometheus(ctx, db, w) },
		// The retention pass (purge): rows removed, longest lock, last pass.
		func() error { return retention.WritePrometheus(ctx, db, w) },
		// Replies by mode over the last day and week: the hand-off alert.
		func() error { return replies.WritePrometheus(ctx, db, w) },
		// Deliveries stored with a parse error, for `concierge replay-events`.
		func() error {
			failures, err := webhook.ParseFailures(ctx, db)
			if err != nil {
				return err
			}
			return webhook.WriteParseFailures(w, failures)
		},
	} {
		if err := write(); err != nil {
			return err
		}
	}
	return nil
}
