// Package webhook stores raw deliveries with their dedupe key and runs the
// domain writes and outbox jobs of a delivery in the same transaction, so a
// hook acknowledges only what is durably stored, and a retried delivery
// changes nothing twice.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Outcome says what happened to a delivery.
type Outcome string

const (
	// Stored: new event, domain rows written.
	Stored Outcome = "stored"
	// Ignored: new event of a type we do not act on; kept raw for replay.
	Ignored Outcome = "ignored"
	// Duplicate: seen before; nothing changed.
	Duplicate Outcome = "duplicate"
)

// Delivery is one webhook request after authentication and validation.
type Delivery struct {
	Source    string
	EventType string
	DedupeKey string
	Payload   []byte
	// Writes are the domain changes of a new event. Nil means the event
	// type is not handled: only the raw event is kept.
	Writes []Write
}

// Write is one data-modifying statement run, in the same SQL statement as
// the raw event's insert, only when the event is new. Its SQL may refer to
// the CTE "ev" (the inserted event; empty for a duplicate) and to earlier
// writes by name, and takes named arguments (@name); the event's own are
// @source, @event_type, @dedupe_key, @payload, @handled and @trace_id.
//
// One statement instead of a transaction of several: a delivery costs one
// round trip to PostgreSQL, which is what keeps the hooks near the speed of
// a bare INSERT (see bench/).
type Write struct {
	Name string
	SQL  string
	Args pgx.NamedArgs
	// Jobs are queued for each row the write returns, with the subject in
	// the named column; a NULL subject queues nothing.
	Jobs []JobFrom
}

// JobFrom queues a job of Kind with the subject read from Column.
type JobFrom struct {
	Kind   jobs.Kind
	Column string
}

// Store persists deliveries and dispatches their jobs after commit.
type Store struct {
	DB      *pgxpool.Pool
	Invoker jobs.Invoker
}

// statement assembles the delivery's SQL; it depends only on the shape of
// the writes, so PostgreSQL sees few distinct statements and pgx caches
// their plans.
func statement(d Delivery) (string, pgx.NamedArgs) {
	args := pgx.NamedArgs{
		"source": d.Source, "event_type": d.EventType, "dedupe_key": d.DedupeKey,
		"payload": d.Payload, "handled": d.Writes != nil,
	}
	var b strings.Builder
	b.WriteString(`WITH ev AS (
		INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, trace_id)
		VALUES (@source, @event_type, @dedupe_key, @payload, @handled, @trace_id)
		ON CONFLICT (source, dedupe_key) DO NOTHING
		RETURNING id)`)
	var jobCTEs []string
	for _, w := range d.Writes {
		fmt.Fprintf(&b, ",\n%s AS (%s)", w.Name, w.SQL)
		for k, v := range w.Args {
			args[k] = v
		}
		for i, j := range w.Jobs {
			name := fmt.Sprintf("%s_job%d", w.Name, i)
			fmt.Fprintf(&b, `,
%s AS (
		INSERT INTO jobs (kind, function, subject, trace_id)
		SELECT '%s', '%s', %s, @trace_id FROM %s WHERE %s IS NOT NULL
		ON CONFLICT (kind, subject) WHERE status = 'pending' DO UPDATE SET updated_at = now()
		RETURNING id::text, kind, function, subject)`, name, j.Kind.Name, j.Kind.Function, j.Column, w.Name, j.Column)
			jobCTEs = append(jobCTEs, "SELECT * FROM "+name)
		}
	}
	b.WriteString("\nSELECT EXISTS (SELECT 1 FROM ev), ")
	if len(jobCTEs) == 0 {
		b.WriteString("'[]'::json")
	} else {
		b.WriteString("(SELECT COALESCE(json_agg(j), '[]') FROM (" + strings.Join(jobCTEs, " UNION ALL ") + ") j)")
	}
	return b.String(), args
}

// Receive stores d once. It returns after the statement committed; the
// async invocations that follow never turn a stored event into an error.
func (s *Store) Receive(ctx context.Context, d Delivery) (Outcome, error) {
	trace := logging.Trace(ctx)
	sql, args := statement(d)
	args["trace_id"] = trace
	var (
		isNew  bool
		queued []struct {
			ID       string `json:"id"`
			Kind     string `json:"kind"`
			Function string `json:"function"`
			Subject  string `json:"subject"`
		}
	)
	if err := s.DB.QueryRow(ctx, sql, args).Scan(&isNew, &queued); err != nil {
		return "", classify(fmt.Errorf("store %s %s: %w", d.Source, d.EventType, err))
	}
	if !isNew {
		return Duplicate, nil
	}
	if len(queued) > 0 {
		js := make([]jobs.Job, len(queued))
		for i, q := range queued {
			js[i] = jobs.Job{ID: q.ID, Kind: q.Kind, Function: q.Function, Subject: q.Subject, TraceID: trace}
		}
		jobs.Dispatch(ctx, s.Invoker, js)
	}
	if d.Writes == nil {
		return Ignored, nil
	}
	return Stored, nil
}

// classify turns a database failure into a fault kind: connection problems
// are Unavailable (the sender should retry), faults from Apply keep their
// kind, anything else is internal.
func classify(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		if pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57" || pgErr.Code == "53300" {
			return fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		return err
	case errors.As(err, &netErr), pgconn.SafeToRetry(err), isConnectErr(err):
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	case errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(fault.Unavailable, err, "database timed out")
	}
	return err
}

func isConnectErr(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// BodyKey derives a dedupe key from a body for senders that give no event id.
func BodyKey(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
