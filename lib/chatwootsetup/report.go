package chatwootsetup

import (
	"fmt"
	"io"
	"strings"
)

// Action is what happened to one object.
type Action string

// Actions of a Change. A dry run (Inspect) reports Created and Updated for
// what a run would do.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	// Skipped: left alone on purpose (an e-mail inbox without an address,
	// a system bot).
	Skipped Action = "skipped"
	// Console: differs, and no API changes it; the chatwoot_setup role sets
	// it in the Rails console (branding, keep_pending_on_bot_failure, the
	// onboarding).
	Console Action = "console"
)

// Change is one object's outcome.
type Change struct {
	Kind   string // account, user, agent, team, inbox, label, contact attribute, agent bot, ...
	Name   string
	Action Action
	// Detail says what differed (field names, never values) or why.
	Detail string
}

// Report is what a run did (or, dry, would do).
type Report struct {
	URL     string
	Version string
	DryRun  bool
	Changes []Change
	// Outputs are set by a run that completed (not a dry run).
	Outputs Outputs
}

// Count returns how many changes had action a.
func (r Report) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Pending are the changes that leave the account unlike the state: what a
// dry run would create or update, and console settings that differ.
func (r Report) Pending() []Change {
	var out []Change
	for _, c := range r.Changes {
		if c.Action == Created || c.Action == Updated || c.Action == Console {
			out = append(out, c)
		}
	}
	return out
}

func (r *Report) add(kind, name string, a Action, detail string, args ...any) {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	r.Changes = append(r.Changes, Change{Kind: kind, Name: name, Action: a, Detail: detail})
}

// WriteText prints the plan: one line per object, then the totals.
func (r Report) WriteText(w io.Writer) error {
	verb := map[Action]string{Created: "created", Updated: "updated", Unchanged: "unchanged", Skipped: "skipped", Console: "console"}
	if r.DryRun {
		verb[Created], verb[Updated] = "would create", "would update"
	}
	if _, err := fmt.Fprintf(w, "chatwoot-setup: %s (Chatwoot %s)%s\n", r.URL, r.Version, map[bool]string{true: ", dry run"}[r.DryRun]); err != nil {
		return err
	}
	for _, c := range r.Changes {
		line := fmt.Sprintf("  %-12s %-18s %s", verb[c.Action], c.Kind, c.Name)
		if c.Detail != "" {
			line += " (" + c.Detail + ")"
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "chatwoot-setup: %d created, %d updated, %d unchanged, %d skipped, %d for the console\n",
		r.Count(Created), r.Count(Updated), r.Count(Unchanged), r.Count(Skipped), r.Count(Console))
	return err
}
