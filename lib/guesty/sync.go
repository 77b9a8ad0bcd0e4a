package guesty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

// Import window: the stays a guest may still write about, and the ones
// booked ahead (issue 12).
const (
	ImportPast   = 30 * 24 * time.Hour
	ImportFuture = 365 * 24 * time.Hour
)

// Phases of a walk, in order.
const (
	PhaseListings     = "listings"
	PhaseReservations = "reservations"
	PhaseDone         = "done"
)

// Counts tally what a walk saw and did.
type Counts struct {
	// Listings and Reservations count the entities read from the API.
	Listings     int `json:"listings"`
	Reservations int `json:"reservations"`
	// Stored are entities written (new, or newer than the stored row);
	// Unchanged were stored already in that version; Skipped were not
	// wanted (an inactive listing).
	Stored    int `json:"stored"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	// Pages counts the list requests.
	Pages int `json:"pages"`
}

// Progress is reported after every page.
type Progress struct {
	Phase string
	// Done and Total count the phase's entities (Total as Guesty counts
	// the list now).
	Done, Total int
	Counts      Counts
}

// Sync walks the account's listings and reservations through the API and
// applies each as guesty-fetch would (Hook.Apply: raw event, upsert by
// lastUpdatedAt, vectorize and contact-sync jobs). Its cursor lives in
// guesty_sync under Name, so an interrupted walk resumes at the page it
// stopped on; re-applying a page changes nothing (the events dedupe on
// kind, id and lastUpdatedAt).
type Sync struct {
	API  *API
	Hook *Hook
	DB   *pgxpool.Pool
	// Name keys the cursor ("import").
	Name string
	// DryRun reads the API and compares with the database, writing
	// nothing (the cursor included).
	DryRun bool
	// Restart ignores an unfinished cursor and starts over.
	Restart bool
	// Progress, when set, is called after every page.
	Progress func(Progress)
}

// cursor is a walk's saved position.
type cursor struct {
	Phase    string
	Skip     int
	From, To time.Time
	Counts   Counts
	Resumed  bool
}

// Report is what a finished walk did.
type Report struct {
	From, To time.Time
	Resumed  bool
	Counts   Counts
	// Changes, in a dry run, list what a real run would write.
	Changes DryRunChanges
}

// DryRunChanges tally, per entity kind, what a real run would do.
type DryRunChanges struct {
	New, Newer, Unchanged map[string]int
}

// Import walks every active listing, then every reservation checking out
// from ImportPast before now to ImportFuture after it (with the guest each
// carries).
func (s *Sync) Import(ctx context.Context, now time.Time) (Report, error) {
	c, err := s.start(ctx, now.Add(-ImportPast).UTC(), now.Add(ImportFuture).UTC())
	if err != nil {
		return Report{}, err
	}
	rep := Report{From: c.From, To: c.To, Resumed: c.Resumed, Changes: DryRunChanges{New: map[string]int{}, Newer: map[string]int{}, Unchanged: map[string]int{}}}
	log := logging.From(ctx)
	if c.Resumed {
		log.Info().Str("phase", c.Phase).Int("skip", c.Skip).Msg("guesty import resumes")
	}
	if c.Phase == PhaseListings {
		q := url.Values{"fields": {joinFields(ListingFields)}, "sort": {"_id"}}
		if err := s.walk(ctx, &c, &rep, "/v1/listings", q, KindListing); err != nil {
			return rep, err
		}
		c.Phase, c.Skip = PhaseReservations, 0
		if err := s.save(ctx, c, false); err != nil {
			return rep, err
		}
	}
	if c.Phase == PhaseReservations {
		filters, _ := json.Marshal([]map[string]string{{"field": "checkOut", "operator": "$between",
			"from": c.From.Format("2006-01-02T15:04:05.000Z"), "to": c.To.Format("2006-01-02T15:04:05.000Z")}})
		q := url.Values{"fields": {joinFields(ReservationFields)}, "sort": {"_id"}, "filters": {string(filters)}}
		if err := s.walk(ctx, &c, &rep, "/v1/reservations", q, KindReservation); err != nil {
			return rep, err
		}
		c.Phase, c.Skip = PhaseDone, 0
		if err := s.save(ctx, c, true); err != nil {
			return rep, err
		}
	}
	rep.Counts = c.Counts
	return rep, nil
}

func joinFields(f []string) string { return strings.Join(f, " ") }

// page counts a page of kind and returns the entities worth storing: an
// inactive listing is not one guests ask about.
func (c *Counts) page(kind string, results []json.RawMessage) []json.RawMessage {
	c.Pages++
	batch := make([]json.RawMessage, 0, len(results))
	for _, raw := range results {
		if kind == KindListing {
			c.Listings++
			var l struct {
				Active *bool `json:"active"`
			}
			if json.Unmarshal(raw, &l) == nil && l.Active != nil && !*l.Active {
				c.Skipped++
				continue
			}
		} else {
			c.Reservations++
		}
		batch = append(batch, raw)
	}
	return batch
}

// walk pages through path from the cursor, applying each entity.
func (s *Sync) walk(ctx context.Context, c *cursor, rep *Report, path string, q url.Values, kind string) error {
	log := logging.From(ctx)
	return s.API.List(ctx, path, q, c.Skip, func(p Page, next int) error {
		batch := c.Counts.page(kind, p.Results)
		if s.DryRun {
			if err := s.compare(ctx, kind, batch, rep); err != nil {
				return err
			}
		} else {
			for _, raw := range batch {
				out, err := s.Hook.Apply(ctx, kind, raw)
				if err != nil {
					return fmt.Errorf("import %s: %w", kind, err)
				}
				if out == webhook.Duplicate {
					c.Counts.Unchanged++
				} else {
					c.Counts.Stored++
				}
			}
		}
		c.Skip = next
		if err := s.save(ctx, *c, false); err != nil {
			return err
		}
		log.Info().Str("phase", c.Phase).Int("done", next).Int("total", p.Count).
			Int("stored", c.Counts.Stored).Int("unchanged", c.Counts.Unchanged).Msg("guesty import progress")
		if s.Progress != nil {
			s.Progress(Progress{Phase: c.Phase, Done: next, Total: p.Count, Counts: c.Counts})
		}
		return nil
	})
}

// compare tallies, for a dry run, what applying batch would change.
func (s *Sync) compare(ctx context.Context, kind string, batch []json.RawMessage, rep *Report) error {
	table := map[string]string{KindListing: "listings", KindReservation: "reservations"}[kind]
	for _, raw := range batch {
		var e struct {
			ID      string `json:"_id"`
			Updated string `json:"lastUpdatedAt"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.ID == "" {
			continue
		}
		var stored *time.Time
		err := s.DB.QueryRow(ctx, "SELECT source_updated_at FROM "+table+" WHERE id = $1", e.ID).Scan(&stored)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			rep.Changes.New[kind]++
		case err != nil:
			return fmt.Errorf("dry run: read %s: %w", kind, err)
		case stored == nil || (instant(e.Updated) != nil && instant(e.Updated).After(*stored)):
			rep.Changes.Newer[kind]++
		default:
			rep.Changes.Unchanged[kind]++
		}
	}
	return nil
}

// start reads the cursor, or begins a walk over [from, to].
func (s *Sync) start(ctx context.Context, from, to time.Time) (cursor, error) {
	c := cursor{Phase: PhaseListings, From: from, To: to}
	if s.Restart || s.DryRun {
		return c, nil
	}
	var counts []byte
	var wf, wt *time.Time
	var finished *time.Time
	err := s.DB.QueryRow(ctx, `SELECT phase, skip, window_from, window_to, counts, finished_at FROM guesty_sync WHERE name = $1`, s.Name).
		Scan(&c.Phase, &c.Skip, &wf, &wt, &counts, &finished)
	switch {
	case errors.Is(err, pgx.ErrNoRows), err == nil && finished != nil:
		c = cursor{Phase: PhaseListings, From: from, To: to}
		return c, s.save(ctx, c, false)
	case err != nil:
		return c, fmt.Errorf("read %s cursor: %w", s.Name, err)
	}
	// An unfinished walk keeps its own window: resuming tomorrow must not
	// shift the pages under the cursor.
	if wf != nil && wt != nil {
		c.From, c.To = *wf, *wt
	}
	_ = json.Unmarshal(counts, &c.Counts)
	c.Resumed = true
	return c, nil
}

// save writes the cursor (not in a dry run).
func (s *Sync) save(ctx context.Context, c cursor, finished bool) error {
	if s.DryRun {
		return nil
	}
	counts, _ := json.Marshal(c.Counts)
	_, err := s.DB.Exec(ctx, `INSERT INTO guesty_sync (name, phase, skip, window_from, window_to, counts, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END)
		ON CONFLICT (name) DO UPDATE SET phase = EXCLUDED.phase, skip = EXCLUDED.skip,
			window_from = EXCLUDED.window_from, window_to = EXCLUDED.window_to, counts = EXCLUDED.counts,
			finished_at = EXCLUDED.finished_at, updated_at = now(),
			started_at = CASE WHEN guesty_sync.finished_at IS NOT NULL THEN now() ELSE guesty_sync.started_at END`,
		s.Name, c.Phase, c.Skip, c.From, c.To, counts, finished)
	if err != nil {
		return fmt.Errorf("save %s cursor: %w", s.Name, err)
	}
	return nil
}
