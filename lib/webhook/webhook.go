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
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// Unparsed: new, authenticated event of a known type whose body did
	// not decode; kept raw with its parse error until a decoder reads it
	// (Store.Resolve). Answered like a success, so the sender does not
	// retry it and, in the end, disable its webhook.
	Unparsed Outcome = "unparsed"
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
	// ParseError, when set, says why the body of a known event type could
	// not be decoded: the raw event is kept with it (and no Writes) and
	// counted by ParseFailures until Resolve applies it.
	ParseError string
}

// Write is one data-modifying statement run, in the same SQL statement as
// the raw event's insert, only when the event is new. Its SQL may refer to
// the CTE "ev" (the inserted event; empty for a duplicate) and to earlier
// writes by name, and takes named arguments (@name); the event's own are
// @source, @event_type, @dedupe_key, @payload, @handled, @parse_error and
// @trace_id.
//
// One statement instead of a transaction of several: a delivery costs one
// statement, and concurrent deliveries share a round trip and a commit
// (see Store), which is what keeps the hooks near the speed of a bare
// INSERT (see bench/).
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
	// Delay, when set, holds the job back this long (jobs.EnqueueAfter): it
	// is not dispatched, redrive invokes it once due.
	Delay time.Duration
}

// Store persists deliveries and dispatches their jobs after commit.
//
// Concurrent deliveries share transactions (group commit): a delivery joins
// a queue, and while fewer than MaxFlushes batches are in flight the caller
// becomes the leader that sends the queue, up to MaxBatch statements, to
// PostgreSQL as one pipelined batch in one implicit transaction: one round
// trip and one commit for all of them. Under low load a batch holds the one
// delivery that started it, so nothing waits for company. Each delivery keeps
// its own statement, so a batch commits exactly what the deliveries would
// have committed one by one; if a batch fails, it is rolled back whole and
// each of its deliveries is retried alone, so one bad delivery fails only
// itself. A caller returns only after its own statement committed.
//
// One batch in flight (the default) is classic group commit: the next batch
// gathers while the current one commits. More flushes use more PostgreSQL
// backends at once, but concurrent batches can then lock the same rows in
// crossed orders; PostgreSQL breaks such a deadlock after deadlock_timeout
// and the loser's deliveries are retried alone.
//
// The zero value's fields besides DB and Invoker pick the defaults; a Store
// must not be copied after first use.
type Store struct {
	DB      *pgxpool.Pool
	Invoker jobs.Invoker
	// MaxBatch bounds the deliveries in one transaction; 0 means
	// DefaultMaxBatch, 1 turns group commit off: every delivery runs at
	// once in a transaction of its own.
	MaxBatch int
	// MaxFlushes bounds the batches in flight at once; 0 means
	// DefaultMaxFlushes.
	MaxFlushes int

	mu     sync.Mutex
	queue  []*pending
	active int // leaders flushing now, or told to

	// observe, when set (tests), sees the size of every batch run.
	observe func(size int)
}

// Group commit defaults, chosen with bench/intake_test.go on two cores.
const (
	DefaultMaxBatch   = 64
	DefaultMaxFlushes = 1
)

// queuedJob is one job row the statement returns.
type queuedJob struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Function string `json:"function"`
	Subject  string `json:"subject"`
}

// pending is one delivery waiting for its statement to commit.
type pending struct {
	ctx  context.Context
	sql  string
	args []any
	// ch receives true when this caller is to lead a flush, false when the
	// result below is set. A caller holds at most one lead at a time and
	// gets one result, so two slots never block a sender.
	ch      chan bool
	leading bool // guarded by Store.mu

	isNew  bool
	queued []queuedJob
	err    error
}

// insertEvent is the "ev" of a delivery: the raw event, unless its dedupe
// key is stored already.
const insertEvent = `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, parse_error, trace_id)
		VALUES (@source, @event_type, @dedupe_key, @payload, @handled, @parse_error, @trace_id)
		ON CONFLICT (source, dedupe_key) DO NOTHING
		RETURNING id`

// statement assembles the delivery's SQL; it depends only on the shape of
// the writes, so PostgreSQL sees few distinct statements and pgx caches
// their plans.
func statement(d Delivery) (string, pgx.NamedArgs) { return statementWith(d, insertEvent) }

// statementWith is statement with ev as the event's CTE (insertEvent, or
// resolveEvent for a replay).
func statementWith(d Delivery, ev string) (string, pgx.NamedArgs) {
	var parseError *string
	if d.ParseError != "" {
		parseError = &d.ParseError
	}
	args := pgx.NamedArgs{
		"source": d.Source, "event_type": d.EventType, "dedupe_key": d.DedupeKey,
		"payload": d.Payload, "handled": d.Writes != nil, "parse_error": parseError,
	}
	var b strings.Builder
	b.WriteString("WITH ev AS (\n\t\t")
	b.WriteString(ev)
	b.WriteString(")")
	var jobCTEs []string
	for _, w := range d.Writes {
		b.WriteString(",\n")
		b.WriteString(w.Name)
		b.WriteString(" AS (")
		b.WriteString(w.SQL)
		b.WriteString(")")
		for k, v := range w.Args {
			args[k] = v
		}
		for i, j := range w.Jobs {
			name := w.Name + "_job" + strconv.Itoa(i)
			// The delay is code's, not input's: formatting it keeps the
			// statement text constant per configuration.
			notBefore := "NULL::timestamptz"
			if j.Delay > 0 {
				notBefore = fmt.Sprintf("now() + make_interval(secs => %d)", int64(j.Delay.Seconds()))
			}
			rows := fmt.Sprintf("SELECT '%s', '%s', %s, @trace_id, %s, COALESCE(%s, now()) FROM %s WHERE %s IS NOT NULL",
				j.Kind.Name, j.Kind.Function, j.Column, notBefore, notBefore, w.Name, j.Column)
			fmt.Fprintf(&b, `,
%s AS (
		%s
		RETURNING id::text, kind, function, subject)`, name, jobs.EnqueueSQL(rows))
			if j.Delay > 0 {
				// Written, not dispatched: nothing may start it early.
				// (PostgreSQL runs a data-modifying CTE whether or not the
				// query reads it.)
				continue
			}
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

// positional is a statement with its @names rewritten to $n once: names[i]
// is the argument for $i+1.
type positional struct {
	sql   string
	names []string
}

// rewritten caches positional forms by statement text. The texts come from
// code, not input, so the cache stays small.
var rewritten sync.Map // string -> *positional

// argName marks a probe value while learning a statement's argument order.
type argName string

// bind returns sql with positional parameters and their values, rewriting
// with pgx's own NamedArgs lexer the first time a statement is seen. A
// statement that names an argument d does not supply is not cached; pgx
// binds NULL for it, as before.
func bind(sql string, args pgx.NamedArgs) (string, []any, error) {
	if p, ok := rewritten.Load(sql); ok {
		p := p.(*positional)
		vals := make([]any, len(p.names))
		for i, n := range p.names {
			vals[i] = args[n]
		}
		return p.sql, vals, nil
	}
	probe := make(pgx.NamedArgs, len(args))
	for k := range args {
		probe[k] = argName(k)
	}
	psql, order, err := probe.RewriteQuery(context.Background(), nil, sql, nil)
	if err != nil {
		return "", nil, err
	}
	p := &positional{sql: psql, names: make([]string, len(order))}
	complete := true
	for i, o := range order {
		n, ok := o.(argName)
		if !ok {
			complete = false
			continue
		}
		p.names[i] = string(n)
	}
	vals := make([]any, len(order))
	for i, n := range p.names {
		if n != "" {
			vals[i] = args[n]
		}
	}
	if complete {
		rewritten.Store(sql, p)
	}
	return psql, vals, nil
}

// Receive stores d once. It returns after the statement committed; the
// async invocations that follow never turn a stored event into an error.
func (s *Store) Receive(ctx context.Context, d Delivery) (Outcome, error) {
	if d.ParseError != "" && d.Writes != nil {
		return "", fmt.Errorf("store %s %s: a delivery that did not parse has no writes", d.Source, d.EventType)
	}
	return s.run1(ctx, d, insertEvent, nil, s.maxBatch() == 1)
}

// run1 runs one delivery's statement with ev as its event CTE (extra adds
// arguments ev names) and dispatches the jobs it queued once committed.
func (s *Store) run1(ctx context.Context, d Delivery, ev string, extra pgx.NamedArgs, alone bool) (Outcome, error) {
	trace := logging.Trace(ctx)
	sql, args := statementWith(d, ev)
	args["trace_id"] = trace
	for k, v := range extra {
		args[k] = v
	}
	psql, vals, err := bind(sql, args)
	if err != nil {
		return "", fmt.Errorf("store %s %s: %w", d.Source, d.EventType, err)
	}
	p := &pending{ctx: ctx, sql: psql, args: vals}
	if alone {
		s.runAlone(p)
	} else {
		p.ch = make(chan bool, 2)
		s.submit(p)
	}
	if p.err != nil {
		return "", classify(fmt.Errorf("store %s %s: %w", d.Source, d.EventType, p.err))
	}
	if !p.isNew {
		return Duplicate, nil
	}
	if len(p.queued) > 0 {
		js := make([]jobs.Job, len(p.queued))
		for i, q := range p.queued {
			js[i] = jobs.Job{ID: q.ID, Kind: q.Kind, Function: q.Function, Subject: q.Subject, TraceID: trace}
		}
		jobs.Dispatch(ctx, s.Invoker, js)
	}
	switch {
	case d.ParseError != "":
		return Unparsed, nil
	case d.Writes == nil:
		return Ignored, nil
	}
	return Stored, nil
}

func (s *Store) maxBatch() int {
	if s.MaxBatch > 0 {
		return s.MaxBatch
	}
	return DefaultMaxBatch
}

func (s *Store) maxFlushes() int {
	if s.MaxFlushes > 0 {
		return s.MaxFlushes
	}
	return DefaultMaxFlushes
}

// submit queues p and returns once its result is set, leading flushes
// when asked to.
func (s *Store) submit(p *pending) {
	s.mu.Lock()
	s.queue = append(s.queue, p)
	if s.active < s.maxFlushes() {
		s.active++
		p.leading = true
		p.ch <- true
	}
	s.mu.Unlock()
	for lead := range p.ch {
		if !lead {
			return
		}
		s.flush(p)
	}
}

// flush sends the head of the queue as one batch, then hands the lead to
// the next queued delivery that holds none, or steps down when the queue is
// empty. Handing on, rather than flushing on, means no caller's response
// waits for other callers' batches.
func (s *Store) flush(leader *pending) {
	s.mu.Lock()
	n := min(len(s.queue), s.maxBatch())
	batch := make([]*pending, n)
	copy(batch, s.queue)
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	s.mu.Unlock()
	defer s.handOff(leader)
	if n > 0 {
		s.run(batch)
	}
}

func (s *Store) handOff(leader *pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	leader.leading = false
	for _, q := range s.queue {
		if !q.leading {
			q.leading = true
			q.ch <- true
			return
		}
	}
	s.active--
}

// run executes a batch and sets every delivery's result. A panic becomes
// every delivery's error rather than a store that never answers again.
func (s *Store) run(batch []*pending) {
	defer func() {
		if r := recover(); r != nil {
			for _, p := range batch {
				p.isNew, p.queued, p.err = false, nil, fmt.Errorf("webhook: store panicked: %v", r)
			}
		}
		for _, p := range batch {
			p.ch <- false
		}
	}()
	if s.observe != nil {
		s.observe(len(batch))
	}
	if len(batch) == 1 {
		s.runAlone(batch[0])
		return
	}
	ctx, release := batchContext(batch)
	err := s.runBatch(ctx, batch)
	release()
	if err == nil {
		return
	}
	if fault.KindOf(classify(err)) == fault.Unavailable {
		// The database is down or timed out: retrying each alone would
		// only multiply the wait. Nothing was acknowledged; senders retry.
		for _, p := range batch {
			p.isNew, p.queued, p.err = false, nil, err
			if cerr := p.ctx.Err(); cerr != nil {
				p.err = cerr
			}
		}
		return
	}
	// The transaction rolled back whole: run each delivery alone so only
	// the one that failed (or lost a deadlock) fails.
	var wg sync.WaitGroup
	for _, p := range batch {
		p.isNew, p.queued, p.err = false, nil, nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					p.isNew, p.queued, p.err = false, nil, fmt.Errorf("webhook: store panicked: %v", r)
				}
			}()
			s.runAlone(p)
		}()
	}
	wg.Wait()
}

// runBatch sends every statement of batch in one pipeline: one round trip,
// one implicit transaction, one commit.
func (s *Store) runBatch(ctx context.Context, batch []*pending) error {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(batch))}
	for _, p := range batch {
		b.Queue(p.sql, p.args...).QueryRow(func(row pgx.Row) error {
			return row.Scan(&p.isNew, &p.queued)
		})
	}
	return s.DB.SendBatch(ctx, b).Close()
}

// runAlone executes p in a transaction of its own, retrying a deadlock or
// serialization failure: PostgreSQL rolled the statement back, so running
// it again is safe.
func (s *Store) runAlone(p *pending) {
	for attempt := 1; ; attempt++ {
		p.err = s.DB.QueryRow(p.ctx, p.sql, p.args...).Scan(&p.isNew, &p.queued)
		if p.err == nil || attempt == 3 || !retryable(p.err) {
			return
		}
		p.isNew, p.queued = false, nil
	}
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// batchContext returns a context that ends when every delivery's context
// has ended: one caller going away must not cancel the others' writes,
// while a batch nobody waits for any more stops.
func batchContext(batch []*pending) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, p := range batch {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// classify turns a database failure into a fault kind: connection problems,
// a connection lost mid-statement included, are Unavailable (the sender
// should retry; a retry of a statement that did commit is a duplicate),
// data the database refuses (SQLSTATE class 22: a NUL, bytes that are not
// UTF-8, a malformed value; a NOT NULL or CHECK violation) is Invalid
// (retrying the same body fails again); a unique or foreign-key violation
// stays internal (our statements are written not to cause one); faults
// from Apply keep their kind; anything else is internal.
func classify(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		class := pgErr.Code
		if len(class) > 2 {
			class = class[:2]
		}
		switch {
		case class == "08" || class == "57" || pgErr.Code == "53300":
			return fault.Wrap(fault.Unavailable, err, "database unavailable")
		case class == "22":
			return fault.Wrap(fault.Invalid, err, "a value in the body cannot be stored (SQLSTATE "+pgErr.Code+")")
		case pgErr.Code == "23502" || pgErr.Code == "23514":
			// A required value missing or out of range in the body: the
			// same body fails again. The column and constraint are schema
			// names, never the value.
			return fault.Wrap(fault.Invalid, err, "a value in the body is missing or out of range ("+
				strings.TrimSpace(pgErr.ColumnName+" "+pgErr.ConstraintName)+", SQLSTATE "+pgErr.Code+")")
		}
		return err
	case errors.As(err, &netErr), pgconn.SafeToRetry(err), pgconn.Timeout(err), isConnectErr(err),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "unexpected EOF"):
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
