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
	// Apply writes the domain rows and returns the jobs to hand on. Nil
	// means the event type is not handled: only the raw event is kept.
	Apply func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error)
}

// Store persists deliveries and dispatches their jobs after commit.
type Store struct {
	DB      *pgxpool.Pool
	Invoker jobs.Invoker
}

// Receive stores d once. It returns after the transaction committed; the
// async invocations that follow never turn a stored event into an error.
func (s *Store) Receive(ctx context.Context, d Delivery) (Outcome, error) {
	var (
		outcome = Ignored
		queued  []jobs.Job
	)
	if d.Apply != nil {
		outcome = Stored
	}
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, trace_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (source, dedupe_key) DO NOTHING
			RETURNING id`, d.Source, d.EventType, d.DedupeKey, d.Payload, d.Apply != nil, logging.Trace(ctx)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			outcome = Duplicate
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert webhook event: %w", err)
		}
		if d.Apply == nil {
			return nil
		}
		queued, err = d.Apply(ctx, tx)
		return err
	})
	if err != nil {
		return "", classify(err)
	}
	if len(queued) > 0 {
		jobs.Dispatch(ctx, s.Invoker, queued)
	}
	return outcome, nil
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
