package webhook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// An authenticated delivery of a known event type whose body does not
// decode is stored raw with its parse error (Delivery.ParseError) and
// answered like a success: a provider that sees the same delivery fail
// again and again disables the whole webhook (Aircall does). What was not
// understood stays visible (ParseFailures) until a decoder that reads it
// applies it (Resolve).

// ParseFailure counts the stored events of one source and type that no
// decoder has read yet.
type ParseFailure struct {
	Source    string `json:"source"`
	EventType string `json:"event_type"`
	Count     int    `json:"count"`
}

// ParseFailures counts the unresolved parse failures by source and event
// type, ordered by both, for the operator's metrics.
func ParseFailures(ctx context.Context, db *pgxpool.Pool) ([]ParseFailure, error) {
	rows, err := db.Query(ctx, `SELECT source, event_type, count(*) FROM webhook_events
		WHERE parse_error IS NOT NULL AND parse_resolved_at IS NULL
		GROUP BY source, event_type ORDER BY source, event_type`)
	if err != nil {
		return nil, classify(fmt.Errorf("count parse failures: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ParseFailure, error) {
		var f ParseFailure
		return f, r.Scan(&f.Source, &f.EventType, &f.Count)
	})
	if err != nil {
		return nil, classify(fmt.Errorf("count parse failures: %w", err))
	}
	return out, nil
}

// UnparsedEvent is a stored event waiting for a decoder that reads it.
type UnparsedEvent struct {
	ID         int64
	Source     string
	EventType  string
	Payload    []byte
	ParseError string
	ReceivedAt time.Time
}

// ListUnparsed lists up to limit unresolved unparsed events of source with an
// id above after, oldest first (page with the last id returned).
func ListUnparsed(ctx context.Context, db *pgxpool.Pool, source string, after int64, limit int) ([]UnparsedEvent, error) {
	rows, err := db.Query(ctx, `SELECT id, source, event_type, payload::text, parse_error, received_at FROM webhook_events
		WHERE source = $1 AND id > $2 AND parse_error IS NOT NULL AND parse_resolved_at IS NULL
		ORDER BY id LIMIT $3`, source, after, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list unparsed %s events: %w", source, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnparsedEvent, error) {
		var e UnparsedEvent
		var payload string
		err := r.Scan(&e.ID, &e.Source, &e.EventType, &payload, &e.ParseError, &e.ReceivedAt)
		e.Payload = []byte(payload)
		return e, err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list unparsed %s events: %w", source, err))
	}
	return out, nil
}

// resolveEvent is the "ev" of a replay: the stored unparsed event, marked
// resolved, unless it is resolved already. The row lock serialises two
// replays of one event; the second finds it resolved and writes nothing.
const resolveEvent = `UPDATE webhook_events SET parse_resolved_at = now(), handled = @handled
		WHERE id = @event_id AND source = @source AND parse_error IS NOT NULL AND parse_resolved_at IS NULL
		RETURNING id`

// Resolve applies d, the decoded form of the stored unparsed event id, as
// a fresh delivery would have (its writes and jobs, in one statement), and
// marks the event resolved in the same statement. The parse error is kept
// for the record. An event resolved already changes nothing: Duplicate.
// d's ParseError must be empty and its DedupeKey is not used.
func (s *Store) Resolve(ctx context.Context, id int64, d Delivery) (Outcome, error) {
	if d.ParseError != "" {
		return "", fault.New(fault.Invalid, "resolve %s event %d: the delivery still does not parse", d.Source, id)
	}
	return s.run1(ctx, d, resolveEvent, map[string]any{"event_id": id}, true)
}

// MetricParseFailures is the gauge WriteParseFailures exports.
const MetricParseFailures = "concierge_webhook_parse_failures"

// WriteParseFailures writes fs in the Prometheus text format. The HELP and
// TYPE lines come even with no failures, so an alert sees an absent series
// as 0 rather than as a broken scrape.
func WriteParseFailures(w io.Writer, fs []ParseFailure) error {
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricParseFailures, "Authenticated deliveries of known events stored raw because their body did not decode, not yet replayed (concierge replay-events).", "gauge")
	for _, f := range fs {
		fmt.Fprintf(b, "%s{source=%s,event_type=%s} %d\n", MetricParseFailures, strconv.Quote(f.Source), strconv.Quote(f.EventType), f.Count)
	}
	return b.Flush()
}
