package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/jobs"
)

const replayUsage = `usage: concierge replay (--kind KIND | --id UUID[,UUID...] | --all-failed) [--dry-run] [--no-dispatch]

Moves failed jobs back to pending with fresh attempt and redrive counts
(what they had is kept in the job_replays table), then invokes them through
GATEWAY_URL like any producer. When the gateway cannot be reached the jobs
stay pending and redrive invokes them once REDRIVE_GRACE has passed.
The database is DATABASE_URL, else the local runner's cluster under DATA_DIR.
`

// idList is a repeatable, comma-separated --id.
type idList []string

func (l *idList) String() string { return strings.Join(*l, ",") }

func (l *idList) Set(v string) error {
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*l = append(*l, id)
		}
	}
	return nil
}

// replay re-queues failed jobs: `concierge replay --kind vectorize`.
func replay(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	kind := fs.String("kind", "", "")
	var ids idList
	fs.Var(&ids, "id", "")
	all := fs.Bool("all-failed", false, "")
	dryRun := fs.Bool("dry-run", false, "")
	noDispatch := fs.Bool("no-dispatch", false, "")
	if help, err := parseArgs(fs, args, replayUsage, out); help || err != nil {
		return err
	}
	filter := jobs.ReplayFilter{Kind: *kind, IDs: ids, All: *all}
	if err := filter.Validate(); err != nil {
		return fmt.Errorf("%w\n%s", err, replayUsage)
	}

	e, closeEnv, err := cliEnv(ctx, env, "replay")
	if err != nil {
		return err
	}
	defer closeEnv()
	res, err := jobs.Replay(ctx, e.DB, filter, *dryRun)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	report(w, res)
	switch {
	case *dryRun:
		fmt.Fprintln(w, "dry run: nothing changed")
	case len(res.Requeued) == 0:
	case *noDispatch:
		fmt.Fprintln(w, "not dispatched: redrive invokes them once REDRIVE_GRACE has passed")
	case e.JobKeys == nil:
		// Every step refuses an unsigned invocation; the rows are what count.
		fmt.Fprintln(w, "not dispatched: no JOB_SIGNING_KEY (secret job-signing-key) to sign with; redrive invokes them once REDRIVE_GRACE has passed")
	default:
		sent := 0
		for _, j := range res.Jobs() {
			if err := jobs.Invoke(ctx, e.Invoker, j); err != nil {
				// The rows are committed: stopping here loses nothing.
				fmt.Fprintf(w, "dispatched %d of %d; the gateway refused the rest (%v): redrive invokes them once REDRIVE_GRACE has passed\n", sent, len(res.Requeued), err)
				return nil
			}
			sent++
		}
		fmt.Fprintf(w, "dispatched %d\n", sent)
	}
	return nil
}

func report(w io.Writer, res jobs.ReplayResult) {
	if len(res.Requeued)+len(res.Absorbed)+len(res.Untouched) == 0 {
		fmt.Fprintln(w, "no failed jobs match")
		return
	}
	if len(res.Requeued) > 0 {
		fmt.Fprintf(w, "re-queued %d failed job(s):\n", len(res.Requeued))
		for _, j := range res.Requeued {
			fmt.Fprintf(w, "  %s  %s  %s  (%d attempts, %d redrives, failed %s: %s)\n", j.ID, j.Kind, j.Subject,
				j.Attempts, j.Redrives, j.FailedAt.UTC().Format(time.RFC3339), clip(j.LastError, 160))
		}
	}
	if len(res.Absorbed) > 0 {
		fmt.Fprintf(w, "absorbed %d into the pending job of the same subject (marked done):\n", len(res.Absorbed))
		for _, j := range res.Absorbed {
			fmt.Fprintf(w, "  %s -> %s  %s  %s\n", j.ID, j.AbsorbedInto, j.Kind, j.Subject)
		}
	}
	if len(res.Untouched) > 0 {
		fmt.Fprintln(w, "left alone (not failed):")
		for _, u := range res.Untouched {
			status := u.Status
			if status == "" {
				status = "no such job"
			}
			fmt.Fprintf(w, "  %s  %s\n", u.ID, status)
		}
	}
}

func clip(s string, n int) string {
	if s == "" {
		return "no error recorded"
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
