package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

const guestyImportUsage = `usage: concierge guesty-import [--dry-run] [--restart] [--no-progress]

Imports the Guesty account through the Open API: every active listing, then
every reservation checking out from 30 days ago to a year ahead, with the
guest each carries. Each entity is stored as a webhook would store it, and
its vectorize and contact-sync jobs are invoked through GATEWAY_URL (redrive
invokes them later if the gateway is down).

Idempotent and resumable: the position is kept in PostgreSQL (guesty_sync),
so a run stopped by Ctrl-C, a crash or Guesty's rate limit continues where
it stopped; entities already stored in the same version change nothing.
--restart starts over; --dry-run reads the API and prints what a run would
change, writing nothing.

Needs GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (GUESTY_API_URL for another
host). The database is DATABASE_URL, else the local runner's cluster.
`

// importMaxWait lets the import wait out Guesty's rate limit, hourly
// window included: nobody else is waiting on it.
const importMaxWait = 65 * time.Minute

// guestyImport runs `concierge guesty-import`.
func guestyImport(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("guesty-import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dryRun := fs.Bool("dry-run", false, "")
	restart := fs.Bool("restart", false, "")
	noProgress := fs.Bool("no-progress", false, "")
	if help, err := parseArgs(fs, args, guestyImportUsage, out); help || err != nil {
		return err
	}
	e, closeEnv, err := cliEnv(ctx, env, "guesty-import")
	if err != nil {
		return err
	}
	defer closeEnv()
	cfg := e.Config
	base := cfg.URL(guesty.APIURL)
	id, secret := cfg.String(guesty.ClientID), cfg.String(guesty.ClientSecret)
	if id == "" || secret == "" {
		cfg.Require(guesty.ClientID)
		cfg.Require(guesty.ClientSecret)
	}
	if err := cfg.Err(); err != nil {
		return err
	}
	api := guesty.NewAPI(guesty.APIOptions{BaseURL: base, ClientID: id, ClientSecret: secret, DB: e.DB, MaxWait: importMaxWait})
	hook := &guesty.Hook{Store: &webhook.Store{DB: e.DB, Invoker: e.Invoker}, Region: cfg.String(config.PhoneRegion)}
	ctx = logging.WithLogger(ctx, e.Log)
	return runGuestyImport(ctx, api, hook, importOptions{dryRun: *dryRun, restart: *restart, progress: !*noProgress}, out)
}

type importOptions struct {
	dryRun, restart, progress bool
	// bar is where the progress bar draws (stderr, a terminal, unless a
	// test sets it).
	bar io.Writer
	now time.Time
}

// runGuestyImport is the command after its setup: the tests and the
// benchmark call it with their own API, hook and writers.
func runGuestyImport(ctx context.Context, api *guesty.API, hook *guesty.Hook, o importOptions, out io.Writer) error {
	if o.now.IsZero() {
		o.now = time.Now()
	}
	if o.bar == nil {
		o.bar = os.Stderr
	}
	sync := &guesty.Sync{API: api, Hook: hook, DB: hook.Store.DB, Name: "import", DryRun: o.dryRun, Restart: o.restart}
	var bar *progressbar.ProgressBar
	phase := ""
	if o.progress {
		sync.Progress = func(p guesty.Progress) {
			if p.Phase != phase {
				if bar != nil {
					_ = bar.Finish()
				}
				phase = p.Phase
				bar = progressbar.NewOptions(max(p.Total, 1),
					progressbar.OptionSetWriter(o.bar),
					progressbar.OptionSetDescription(p.Phase),
					progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(o.bar) }),
				)
			}
			bar.ChangeMax(max(p.Total, p.Done, 1))
			_ = bar.Set(p.Done)
		}
	}
	start := time.Now()
	rep, err := sync.Import(ctx, o.now)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if fault.RetryAfter(err) > 0 {
			return fmt.Errorf("%w\nthe position is saved: run guesty-import again to continue", err)
		}
		return err
	}
	c := rep.Counts
	fmt.Fprintf(out, "window: check-out from %s to %s\n", rep.From.Format("2006-01-02"), rep.To.Format("2006-01-02"))
	if rep.Resumed {
		fmt.Fprintln(out, "resumed an interrupted import")
	}
	fmt.Fprintf(out, "read %d listings (%d inactive, skipped) and %d reservations in %d pages, %s\n",
		c.Listings, c.Skipped, c.Reservations, c.Pages, time.Since(start).Round(time.Millisecond))
	if o.dryRun {
		for _, kind := range []string{guesty.KindListing, guesty.KindReservation} {
			fmt.Fprintf(out, "would store %d new %ss, update %d, leave %d unchanged\n",
				rep.Changes.New[kind], kind, rep.Changes.Newer[kind], rep.Changes.Unchanged[kind])
		}
		fmt.Fprintln(out, "dry run: nothing changed")
		return nil
	}
	fmt.Fprintf(out, "stored %d, unchanged %d; vectorize and contact sync queued for what changed\n", c.Stored, c.Unchanged)
	fmt.Fprintf(out, "API requests %d, tokens requested %d\n", api.Requests(), api.TokensRequested())
	return nil
}
