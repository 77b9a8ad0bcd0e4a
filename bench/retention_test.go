package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/retention"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
)

// BenchmarkRetention: one retention pass (batches of RETENTION_BATCH rows,
// FOR UPDATE SKIP LOCKED, each batch its own short transaction) over
// BENCH_RETENTION_EVENTS raw webhook events and BENCH_RETENTION_MESSAGES
// messages, 90 % of them past their retention, beside a bare
// `DELETE … WHERE` of the same rows. The size is 10,000,000 and
// 1,000,000; the defaults keep make bench short. The figure that matters
// is the longest lock: the bare DELETE holds every row it deletes until
// it commits, a hook or job touching one of them waits that long.
func BenchmarkRetention(b *testing.B) {
	events := envInt(b, "BENCH_RETENTION_EVENTS", 200_000)
	messages := envInt(b, "BENCH_RETENTION_MESSAGES", 20_000)
	batch := envInt(b, "BENCH_RETENTION_BATCH", 1000)
	ctx := context.Background()
	d := dbtest.New(b)
	now := time.Now()
	for i := 0; i < b.N; i++ {
		fill(b, ctx, d.Pool, events, messages, now)
		p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: retention.Policy{
			Events: 720 * time.Hour, Jobs: 720 * time.Hour, FailedJobs: 2160 * time.Hour, Messages: 8760 * time.Hour,
			Calls: 8760 * time.Hour, Replies: 9504 * time.Hour, Voice: 72 * time.Hour, Batch: batch, Budget: 24 * time.Hour,
		}}
		t0 := time.Now()
		res, err := p.Run(ctx, now)
		passTime := time.Since(t0)
		if err != nil || !res.Complete {
			b.Fatalf("pass: %v complete %v", err, res.Complete)
		}
		removed := res.Removed[retention.KindEvents] + res.Removed[retention.KindMessages]
		wantGone := int64(events - events/10 + messages - messages/10)
		if removed != wantGone {
			b.Fatalf("the pass removed %d rows, want %d", removed, wantGone)
		}

		fill(b, ctx, d.Pool, events, messages, now)
		t0 = time.Now()
		var bare int64
		err = inOneTransaction(ctx, d.Pool, func(q func(string, ...any) (int64, error)) error {
			n1, err := q(`DELETE FROM webhook_events WHERE received_at < $1 AND (parse_error IS NULL OR parse_resolved_at < $1)`, now.Add(-720*time.Hour))
			if err != nil {
				return err
			}
			n2, err := q(`DELETE FROM messages WHERE created_at < $1`, now.Add(-8760*time.Hour))
			bare = n1 + n2
			return err
		})
		bareTime := time.Since(t0)
		if err != nil || bare != wantGone {
			b.Fatalf("bare delete: %d rows, %v", bare, err)
		}
		rate := func(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() }
		fmt.Printf("retention over %d events and %d messages (%d past retention), batches of %d:\n", events, messages, removed, batch)
		fmt.Printf("  retention pass: %8.2f s  %9.0f rows/s  %5d batches  longest lock held %7.1f ms\n",
			passTime.Seconds(), rate(removed, passTime), res.Batches, millis(res.LongestBatch))
		fmt.Printf("  bare DELETE:    %8.2f s  %9.0f rows/s  1 transaction  longest lock held %7.1f ms\n",
			bareTime.Seconds(), rate(bare, bareTime), millis(bareTime))
		b.ReportMetric(rate(removed, passTime), "pass-rows/s")
		b.ReportMetric(rate(bare, bareTime), "bare-rows/s")
		b.ReportMetric(millis(res.LongestBatch), "pass-longest-lock-ms")
		b.ReportMetric(millis(bareTime), "bare-lock-ms")
	}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill replaces the events and messages with n and m rows in the order
// the hooks write them (oldest first); the newest tenth of each is inside
// its retention.
func fill(b *testing.B, ctx context.Context, db *pgxpool.Pool, n, m int, now time.Time) {
	b.Helper()
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`TRUNCATE webhook_events, messages, conversations`, nil},
		{`INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, received_at)
			SELECT 'aircall', 'call.ended', 'bench-' || i, jsonb_build_object('data', jsonb_build_object('id', i, 'raw_digits', '+1 555-555-0142')), true,
				CASE WHEN i > $2::int - $2::int / 10 THEN $1::timestamptz - interval '1 day' ELSE $1::timestamptz - interval '40 days' END
					+ i * interval '1 millisecond'
			FROM generate_series(1, $2::int) i`, []any{now, n}},
		{`INSERT INTO conversations (account_id, id) SELECT 1, c FROM generate_series(1, 1000) c`, nil},
		{`INSERT INTO messages (account_id, id, conversation_id, message_type, content, created_at)
			SELECT 1, i, 1 + i % 1000, 'incoming', 'What time can we check in? ' || i,
				CASE WHEN i > $2::int - $2::int / 10 THEN $1::timestamptz - interval '10 days' ELSE $1::timestamptz - interval '400 days' END
					+ i * interval '1 millisecond'
			FROM generate_series(1, $2::int) i`, []any{now, m}},
		{`VACUUM ANALYZE webhook_events, messages, conversations`, nil},
	} {
		if _, err := db.Exec(ctx, st.q, st.args...); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

func inOneTransaction(ctx context.Context, db *pgxpool.Pool, f func(q func(string, ...any) (int64, error)) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := f(func(q string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
