package guesty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

// Reconciliation (issue 12): webhooks get lost — Svix gives up after its
// retries, a deploy drops a delivery, a guesty-fetch job ends failed — and
// nothing else would ever notice. Each night the reconciliation asks the
// Open API what changed since its previous run and stores whatever is
// newer than what PostgreSQL holds, exactly as guesty-fetch would.
const (
	// ReconcileName keys the reconciliation's cursor in guesty_sync.
	ReconcileName = "reconcile"
	// ReconcileOverlap re-reads this much before the previous run's
	// start: Guesty stamps lastUpdatedAt on its own servers, and a write
	// committed there just before our previous query may only have become
	// visible after it. Re-reading costs a comparison, never a write.
	ReconcileOverlap = time.Hour
	// ReconcileFirstLookback is how far back a first run reads: the import
	// (or the webhooks) covered what came before.
	ReconcileFirstLookback = 48 * time.Hour
	// reconcileLock is the advisory lock key of a running reconciliation:
	// the nightly cron and a retry job must not walk one cursor together.
	reconcileLock int64 = 0x6775_6573_7479_7263 // "guestyrc"
)

// Reconcile outcomes (ReconcileReport.Status).
const (
	ReconcileDone = "done"
	// ReconcileBusy: another reconciliation holds the lock.
	ReconcileBusy = "busy"
	// ReconcileNothing: a retry job found no unfinished reconciliation.
	ReconcileNothing = "nothing to resume"
)

// Reconciler repairs drift between Guesty and PostgreSQL.
type Reconciler struct {
	API  *API
	Hook *Hook
	DB   *pgxpool.Pool
	// Overlap and FirstLookback default to ReconcileOverlap and
	// ReconcileFirstLookback.
	Overlap, FirstLookback time.Duration
}

// ReconcileReport is what a run did; Repaired is the figure to watch: rows
// a webhook should have brought and did not.
type ReconcileReport struct {
	Status string `json:"status"`
	// Since is the lastUpdatedAt the reservations were read from; Until
	// is when the run began (the next run reads from Until - overlap).
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Resumed bool      `json:"resumed"`
	// Reservations and Listings count what was read from the API.
	Reservations int `json:"reservations"`
	Listings     int `json:"listings"`
	// Repaired counts entities stored because Guesty's version was newer
	// than ours, or ours was missing or still waiting for a fetch.
	Repaired  int `json:"repaired"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Pages     int `json:"pages"`
}

// Run reconciles: it resumes an unfinished run from its cursor, or (unless
// resumeOnly, a retry job's case) starts one reading the reservations
// updated since the previous run's start less the overlap, then every
// listing (Guesty's listing list has no updated-since filter). The cursor
// is saved after each page, so an error — the rate limit's wait longer
// than the API client's budget comes back as an Unavailable fault carrying
// Guesty's Retry-After — loses nothing: the next run goes on from there.
func (r *Reconciler) Run(ctx context.Context, now time.Time, resumeOnly bool) (ReconcileReport, error) {
	conn, err := r.DB.Acquire(ctx)
	if err != nil {
		return ReconcileReport{}, fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile: acquire: %w", err), "database unavailable")
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", reconcileLock).Scan(&locked); err != nil {
		return ReconcileReport{}, fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile: lock: %w", err), "database unavailable")
	}
	if !locked {
		return ReconcileReport{Status: ReconcileBusy}, nil
	}
	defer func() {
		// Session locks outlive a cancelled request: release on a fresh
		// context, or the pooled connection keeps it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", reconcileLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session drops the lock
		}
	}()

	// PostgreSQL keeps microseconds: the window reads back as it was set.
	c, ok, err := r.start(ctx, now.UTC().Truncate(time.Microsecond), resumeOnly)
	if err != nil || !ok {
		return ReconcileReport{Status: ReconcileNothing}, err
	}
	log := logging.From(ctx).With().Str("since", c.From.Format(time.RFC3339)).Logger()
	ctx = logging.WithLogger(ctx, log)
	if c.Resumed {
		log.Info().Str("phase", c.Phase).Int("skip", c.Skip).Msg("guesty reconciliation resumes")
	}
	report := func() ReconcileReport {
		return ReconcileReport{Since: c.From, Until: c.To, Resumed: c.Resumed, Reservations: c.Counts.Reservations,
			Listings: c.Counts.Listings, Repaired: c.Counts.Stored, Unchanged: c.Counts.Unchanged,
			Skipped: c.Counts.Skipped, Pages: c.Counts.Pages}
	}
	saver := &Sync{DB: r.DB, Name: ReconcileName}
	if c.Phase == PhaseReservations {
		// Paged by _id over a set that only grows while we walk (a
		// reservation updated meanwhile still matches): an insertion before
		// the cursor makes us read one entity twice, never skip one.
		filters, _ := json.Marshal([]map[string]string{{"field": "lastUpdatedAt", "operator": "$gte",
			"value": c.From.Format("2006-01-02T15:04:05.000Z")}})
		q := url.Values{"fields": {joinFields(ReservationFields)}, "sort": {"_id"}, "filters": {string(filters)}}
		if err := r.walk(ctx, saver, &c, "/v1/reservations", q, KindReservation); err != nil {
			return report(), err
		}
		c.Phase, c.Skip = PhaseListings, 0
		if err := saver.save(ctx, c, false); err != nil {
			return report(), err
		}
	}
	if c.Phase == PhaseListings {
		q := url.Values{"fields": {joinFields(ListingFields)}, "sort": {"_id"}}
		if err := r.walk(ctx, saver, &c, "/v1/listings", q, KindListing); err != nil {
			return report(), err
		}
		c.Phase, c.Skip = PhaseDone, 0
		if err := saver.save(ctx, c, true); err != nil {
			return report(), err
		}
	}
	rep := report()
	rep.Status = ReconcileDone
	log.Info().Int("repaired", rep.Repaired).Int("unchanged", rep.Unchanged).Int("pages", rep.Pages).
		Msg("guesty reconciliation finished")
	return rep, nil
}

// start reads the cursor: an unfinished run resumes with its own window;
// otherwise a new run reads from the previous run's start less the
// overlap (or FirstLookback before now) — unless resumeOnly.
func (r *Reconciler) start(ctx context.Context, now time.Time, resumeOnly bool) (cursor, bool, error) {
	overlap, first := r.Overlap, r.FirstLookback
	if overlap <= 0 {
		overlap = ReconcileOverlap
	}
	if first <= 0 {
		first = ReconcileFirstLookback
	}
	c := cursor{Phase: PhaseReservations, From: now.Add(-first), To: now}
	var counts []byte
	var wf, wt, finished *time.Time
	var phase string
	var skip int
	err := r.DB.QueryRow(ctx, `SELECT phase, skip, window_from, window_to, counts, finished_at FROM guesty_sync WHERE name = $1`,
		ReconcileName).Scan(&phase, &skip, &wf, &wt, &counts, &finished)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return c, false, fault.Wrap(fault.Unavailable, fmt.Errorf("read reconcile cursor: %w", err), "database unavailable")
	case finished == nil && wf != nil && wt != nil:
		c = cursor{Phase: phase, Skip: skip, From: *wf, To: *wt, Resumed: true}
		_ = json.Unmarshal(counts, &c.Counts)
		return c, true, nil
	case wt != nil:
		c.From = wt.Add(-overlap)
	}
	if resumeOnly {
		return c, false, nil
	}
	return c, true, (&Sync{DB: r.DB, Name: ReconcileName}).save(ctx, c, false)
}

// walk pages through path from the cursor, repairing each page, and saves
// the cursor after it.
func (r *Reconciler) walk(ctx context.Context, saver *Sync, c *cursor, path string, q url.Values, kind string) error {
	log := logging.From(ctx)
	return r.API.List(ctx, path, q, c.Skip, func(p Page, next int) error {
		batch := c.Counts.page(kind, p.Results) // as the import
		if err := r.repair(ctx, kind, batch, &c.Counts); err != nil {
			return err
		}
		c.Skip = next
		if err := saver.save(ctx, *c, false); err != nil {
			return err
		}
		log.Info().Str("phase", c.Phase).Int("done", next).Int("total", p.Count).
			Int("repaired", c.Counts.Stored).Msg("guesty reconciliation progress")
		return nil
	})
}

// repair applies the entities of one page that are newer than ours. Equal
// versions are left alone without a write: applying them again would queue
// a re-index and a contact sync for nothing, and a second run must repair
// nothing.
func (r *Reconciler) repair(ctx context.Context, kind string, batch []json.RawMessage, n *Counts) error {
	type remote struct {
		ID      string `json:"_id"`
		Updated string `json:"lastUpdatedAt"`
	}
	ids := make([]string, 0, len(batch))
	for _, raw := range batch {
		var e remote
		if json.Unmarshal(raw, &e) == nil && e.ID != "" {
			ids = append(ids, e.ID)
		}
	}
	// needs_refresh: a lean v2 event stored part of the reservation and its
	// fetch never completed it.
	query := `SELECT id, source_updated_at, needs_refresh FROM reservations WHERE id = ANY($1)`
	if kind == KindListing {
		query = `SELECT id, source_updated_at, false FROM listings WHERE id = ANY($1)`
	}
	rows, err := r.DB.Query(ctx, query, ids)
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile: read stored %ss: %w", kind, err), "database unavailable")
	}
	type stored struct {
		updated *time.Time
		refresh bool
	}
	have := map[string]stored{}
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&id, &s.updated, &s.refresh); err != nil {
			rows.Close()
			return fmt.Errorf("reconcile: read stored %ss: %w", kind, err)
		}
		have[id] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile: read stored %ss: %w", kind, err), "database unavailable")
	}
	for _, raw := range batch {
		var e remote
		_ = json.Unmarshal(raw, &e)
		s, ok := have[e.ID]
		remoteAt := instant(e.Updated)
		stale := !ok || s.updated == nil || s.refresh || remoteAt == nil || remoteAt.After(*s.updated)
		if !stale {
			n.Unchanged++
			continue
		}
		out, err := r.Hook.Apply(ctx, kind, raw)
		if err != nil {
			return fmt.Errorf("reconcile %s %s: %w", kind, e.ID, err)
		}
		if out == webhook.Duplicate {
			n.Unchanged++
			continue
		}
		n.Stored++
		logging.From(ctx).Info().Str("kind", kind).Str("id", e.ID).Msg("guesty reconciliation repaired")
	}
	return nil
}

// reconcileMinRetry is the least wait before a job continues a run the
// time budget (not Guesty) stopped.
const reconcileMinRetry = time.Minute

// Interrupted is a nightly run that Guesty's rate limit or the time budget
// stopped: Job continues it once Delay has passed (redrive starts it).
type Interrupted struct {
	Job   jobs.Job
	Delay time.Duration
	Err   error
}

func (e *Interrupted) Error() string { return e.Err.Error() }
func (e *Interrupted) Unwrap() error { return e.Err }

// Nightly is the scheduled run, within the guesty-reconcile kind's time
// budget. A run an outage or the budget stops writes the job that goes on
// from the cursor after Guesty's delay (at least reconcileMinRetry) and
// returns *Interrupted; when even that write fails, the next night resumes
// and the error is returned as it came.
func (r *Reconciler) Nightly(ctx context.Context, now time.Time) (ReconcileReport, error) {
	run, cancel := context.WithTimeout(ctx, jobs.GuestyReconcile.Budget)
	defer cancel()
	rep, err := r.Run(run, now, false)
	log := logging.From(ctx)
	switch {
	case err == nil:
		return rep, nil
	case fault.KindOf(err) != fault.Unavailable:
		log.Error().Err(err).Msg("guesty reconciliation failed")
		return rep, err
	}
	delay := max(fault.RetryAfter(err), reconcileMinRetry)
	job, jerr := r.later(context.WithoutCancel(ctx), delay)
	if jerr != nil {
		log.Error().Err(jerr).Msg("could not write the job that continues the reconciliation; the next night resumes it")
		return rep, err
	}
	log.Warn().Err(err).Dur("retry_after", delay).Str("job_id", job.ID).Int("repaired", rep.Repaired).
		Msg("guesty reconciliation interrupted; a job continues it")
	return rep, &Interrupted{Job: job, Delay: delay, Err: err}
}

// Continue is the guesty-reconcile job's work: it goes on with the run
// an outage or the budget interrupted. The result is nil when it fails for
// want of credentials (no report to give).
func (r *Reconciler) Continue(ctx context.Context, now time.Time) (any, error) {
	if r.API == nil {
		return nil, fault.New(fault.Permanent, "Guesty API not configured: set GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret)")
	}
	return r.Run(ctx, now, true)
}

// later writes the job that continues an interrupted run after delay.
func (r *Reconciler) later(ctx context.Context, delay time.Duration) (jobs.Job, error) {
	var job jobs.Job
	err := pgx.BeginFunc(ctx, r.DB, func(tx pgx.Tx) (err error) {
		job, err = jobs.EnqueueAfter(ctx, tx, jobs.GuestyReconcile, jobs.ReconcileSubject, "", delay)
		return err
	})
	if err != nil {
		return job, fmt.Errorf("enqueue %s: %w", jobs.GuestyReconcile.Name, err)
	}
	return job, nil
}
