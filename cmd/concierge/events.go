package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/webhook"
)

const replayEventsUsage = `usage: concierge replay-events --source SOURCE [--dry-run]

Runs the webhook events stored unparsed (an authenticated delivery of a
known event type whose body did not decode, answered 200 so the provider
kept its webhook on) through the current decoder. Each event that decodes
now gets the rows and jobs a fresh delivery would have had, once, and is
marked resolved; the others stay as they were. Jobs are invoked through
GATEWAY_URL; when it cannot be reached they stay pending and redrive invokes
them once REDRIVE_GRACE has passed.
Sources: aircall.
The database is DATABASE_URL, else the local runner's cluster under DATA_DIR.
`

// eventReplayers replay the unparsed events of a source, configured as its
// hook is.
var eventReplayers = map[string]func(ctx context.Context, e *faas.Env, dryRun bool) (aircall.ReplayResult, error){
	aircall.Source: func(ctx context.Context, e *faas.Env, dryRun bool) (aircall.ReplayResult, error) {
		hook := &aircall.Hook{
			Store:           &webhook.Store{DB: e.DB, Invoker: e.Invoker},
			Region:          e.Config.String(config.PhoneRegion),
			TranscribeAfter: aircall.TranscribeDelay(e.Config),
		}
		if err := e.Config.Err(); err != nil {
			return aircall.ReplayResult{}, err
		}
		return hook.ReplayUnparsed(ctx, dryRun)
	},
}

// replayEvents is `concierge replay-events --source aircall [--dry-run]`.
func replayEvents(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("replay-events", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	source := fs.String("source", "", "")
	dryRun := fs.Bool("dry-run", false, "")
	if help, err := parseArgs(fs, args, replayEventsUsage, out); help || err != nil {
		return err
	}
	replay, ok := eventReplayers[*source]
	if !ok {
		sources := make([]string, 0, len(eventReplayers))
		for s := range eventReplayers {
			sources = append(sources, s)
		}
		sort.Strings(sources)
		return fault.New(fault.Invalid, "--source must be one of %s, got %q\n%s", strings.Join(sources, ", "), *source, replayEventsUsage)
	}

	e, closeEnv, err := cliEnv(ctx, env, "replay-events")
	if err != nil {
		return err
	}
	defer closeEnv()
	res, err := replay(ctx, e, *dryRun)
	w := bufio.NewWriter(out)
	defer w.Flush()
	// What was applied before an error is committed: report it either way.
	reportEvents(w, *source, res, *dryRun)
	return err
}

func reportEvents(w io.Writer, source string, res aircall.ReplayResult, dryRun bool) {
	if len(res.Applied)+len(res.Unparsed) == 0 {
		fmt.Fprintf(w, "no unparsed %s events\n", source)
		return
	}
	if len(res.Applied) > 0 {
		verb := "applied"
		if dryRun {
			verb = "would apply"
		}
		fmt.Fprintf(w, "%s %d event(s) the decoder reads now:\n", verb, len(res.Applied))
		for _, r := range res.Applied {
			outcome := string(r.Outcome)
			if dryRun {
				outcome = "decodes"
			}
			fmt.Fprintf(w, "  %d  %s  received %s  %s  (was: %s)\n", r.ID, r.EventType,
				r.ReceivedAt.UTC().Format(time.RFC3339), outcome, clip(r.ParseError, 160))
		}
	}
	if len(res.Unparsed) > 0 {
		fmt.Fprintf(w, "still unparsed, left as they were: %d\n", len(res.Unparsed))
		for _, r := range res.Unparsed {
			fmt.Fprintf(w, "  %d  %s  received %s  %s\n", r.ID, r.EventType,
				r.ReceivedAt.UTC().Format(time.RFC3339), clip(r.ParseError, 160))
		}
	}
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing changed")
	}
}
