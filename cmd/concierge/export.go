package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/guestdata"
)

const exportUsage = `usage: concierge export-guest (--guesty-id ID | --phone E164 | --email ADDRESS) [--out DIR]

Writes everything Concierge holds about one guest — the guest, reservations,
conversations, messages and transcripts, replies, voice clips (audio as
base64), identity checks, calls, Aircall contacts, raw webhook events, jobs
and the indexed text — as one JSON document and a readable HTML page:
DIR/guest-export-<time>.json and .html (DIR defaults to the current folder;
the names hold no personal data). Hand both to the guest; they hold
personal data, so keep no other copy.
The database is DATABASE_URL, else the local runner's cluster under DATA_DIR.
`

// exportGuest is `concierge export-guest`.
func exportGuest(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("export-guest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sf := addSelectorFlags(fs)
	dir := fs.String("out", ".", "")
	if help, err := parseArgs(fs, args, exportUsage, out); help || err != nil {
		return err
	}
	sel, err := sf.selector()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, exportUsage)
	}
	e, closeEnv, err := cliEnv(ctx, env, "export-guest")
	if err != nil {
		return err
	}
	defer closeEnv()
	h, err := guestdata.Find(ctx, e.DB, sel)
	if err != nil {
		return err
	}
	x, err := guestdata.Collect(ctx, e.DB, sel, h, e.Now())
	if err != nil {
		return err
	}
	total := 0
	for _, s := range x.Sections {
		total += len(s.Rows)
	}
	if total == 0 {
		_, err := fmt.Fprintln(out, "nothing held about this guest; no export written")
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("export folder: %w", err)
	}
	base := filepath.Join(*dir, "guest-export-"+x.GeneratedAt.Format("20060102T150405Z"))
	write := func(path string, f func(io.Writer) error) error {
		// 0600: the files hold the guest's personal data.
		file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f(file); err != nil {
			file.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		return file.Close()
	}
	if err := write(base+".json", x.WriteJSON); err != nil {
		return err
	}
	if err := write(base+".html", x.WriteHTML); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%d record(s) in %d section(s)\n%s.json\n%s.html\n", total, len(x.Sections), base, base)
	return err
}
