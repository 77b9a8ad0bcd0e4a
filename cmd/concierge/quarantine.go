package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/screen"
	"github.com/harborstays/concierge/lib/screen/quarantine"
)

const quarantineUsage = `usage: concierge quarantine [--json]

Lists the passages held back from the retrieval index because they read as
instructions to an assistant (text planted in a listing, a call or the
knowledge folder): where each comes from (source, document, section), the
rule that matched and the passage itself, so a person fixes it at the
source. Guests and the model never see these passages. Once the source no
longer holds one, the next sync of that source clears it; ` + "`concierge reindex`" + `
syncs everything.
Passages can hold personal data: share this list with the team only.
The database is DATABASE_URL, else the local runner's cluster under DATA_DIR.
`

// quarantineCommand is `concierge quarantine [--json]`.
func quarantineCommand(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("quarantine", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if help, err := parseArgs(fs, args, quarantineUsage, out); help || err != nil {
		return err
	}
	e, closeEnv, err := cliEnv(ctx, env, "quarantine")
	if err != nil {
		return err
	}
	defer closeEnv()
	list, err := quarantine.List(ctx, e.DB)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []quarantine.Passage{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	w := bufio.NewWriter(out)
	writeQuarantine(w, list)
	return w.Flush()
}

// writeQuarantine prints list for a person: one block per passage, the
// passage indented so a planted "System:" line cannot pass for output.
func writeQuarantine(w io.Writer, list []quarantine.Passage) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no passages held back: nothing indexed reads as an instruction to an assistant")
		return
	}
	why := map[string]string{}
	for _, r := range screen.Rules {
		why[r.Name] = r.Why
	}
	fmt.Fprintf(w, "%d passage(s) held back from the index; fix each at its source, the next sync clears it.\n", len(list))
	for _, p := range list {
		fmt.Fprintf(w, "\n%s  section %s  (document %s)\n", p.Source, or(p.Section, "-"), p.DocumentID)
		fmt.Fprintf(w, "  rule: %s", p.Rule)
		if r := why[p.Rule]; r != "" {
			fmt.Fprintf(w, " — %s", r)
		}
		fmt.Fprintf(w, "\n  first seen %s, last seen %s\n", p.FirstSeen.UTC().Format(time.DateTime), p.LastSeen.UTC().Format(time.DateTime))
		for _, line := range strings.Split(p.Text, "\n") {
			fmt.Fprintf(w, "  | %s\n", line)
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
