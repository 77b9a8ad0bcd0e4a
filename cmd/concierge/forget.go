package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/guestdata"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
)

func init() {
	// make run's erasure log key: written once under DATA_DIR/secrets (a
	// secret file the runner's purge and this command both read) and kept,
	// since a log is only replayable under the key it was written with.
	localSecrets[guestdata.SettingLogKey.Secret] = jobs.RandomKey()
}

const forgetUsage = `usage: concierge forget-guest (--guesty-id ID | --phone E164 | --email ADDRESS) [--dry-run] [--chatwoot]
       concierge forget-guest --replay-log [--log FILE] [--log-from DATABASE_URL] [--dry-run]
       concierge forget-guest --export-log FILE

Erases everything Concierge holds about one guest: the guest (kept as a
tombstone: the Guesty id and the deletion time), reservations, Chatwoot
conversations, messages and voice transcripts, replies, voice clips,
identity checks, calls from the guest's phones, Aircall contacts, raw
webhook events that carried them, their jobs, and their documents in the
retrieval index (chunks or Qdrant points). --dry-run lists what would go
and changes nothing. --chatwoot also deletes the guest's contacts in
Chatwoot (an administrator's CHATWOOT_CONTACTS_TOKEN; Chatwoot then
deletes their conversations and messages).

Every erasure is logged in erasure_log with keyed hashes of the guest's
ids, phones and e-mails (ERASURE_LOG_KEY, secret erasure-log-key) and
counts, never the values. Backups are not rewritten, and a backup older
than an erasure restores a log without it: keep a copy of the log outside
the backups (--export-log FILE writes it as JSON lines; it holds no
personal data). After a restore, run --replay-log with --log FILE (that
copy) or --log-from the database being replaced: their entries are added
to the restored log and everything the log names is erased again.
The database is DATABASE_URL, else the local runner's cluster under DATA_DIR.
`

// selectorFlags are the three ways to name a guest, shared with export-guest.
type selectorFlags struct{ guestyID, phone, email *string }

func addSelectorFlags(fs *flag.FlagSet) selectorFlags {
	return selectorFlags{fs.String("guesty-id", "", ""), fs.String("phone", "", ""), fs.String("email", "", "")}
}

func (f selectorFlags) selector() (guestdata.Selector, error) {
	var set []guestdata.Selector
	for kind, v := range map[string]string{guestdata.ByGuestyID: *f.guestyID, guestdata.ByPhone: *f.phone, guestdata.ByEmail: *f.email} {
		if v != "" {
			set = append(set, guestdata.Selector{Kind: kind, Value: v})
		}
	}
	if len(set) != 1 {
		return guestdata.Selector{}, errors.New("name the guest with exactly one of --guesty-id, --phone, --email")
	}
	return guestdata.NewSelector(set[0].Kind, set[0].Value)
}

// withLocalSecrets points a command at make run's secrets folder when it
// uses make run's database, so it reads the same erasure log key.
func withLocalSecrets(env config.LookupFunc) (config.LookupFunc, error) {
	if u, _ := env("DATABASE_URL"); u != "" {
		return env, nil
	}
	if d, ok := env("SECRETS_DIR"); ok && d != "" {
		return env, nil
	}
	dir, err := seedSecrets(filepath.Join(config.New(env).String(dataDirSetting), "secrets"))
	if err != nil {
		return nil, err
	}
	return config.Layered(env, config.FromMap(map[string]string{"SECRETS_DIR": dir})), nil
}

// forgetGuest is `concierge forget-guest`.
func forgetGuest(ctx context.Context, args []string, env config.LookupFunc, out io.Writer) error {
	fs := flag.NewFlagSet("forget-guest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sf := addSelectorFlags(fs)
	dryRun := fs.Bool("dry-run", false, "")
	inChatwoot := fs.Bool("chatwoot", false, "")
	replayLog := fs.Bool("replay-log", false, "")
	logFile := fs.String("log", "", "")
	logFrom := fs.String("log-from", "", "")
	exportLog := fs.String("export-log", "", "")
	if help, err := parseArgs(fs, args, forgetUsage, out); help || err != nil {
		return err
	}
	var sel guestdata.Selector
	_, selErr := sf.selector()
	switch {
	case *replayLog && *exportLog != "":
		return fmt.Errorf("--replay-log and --export-log are separate runs\n%s", forgetUsage)
	case *replayLog || *exportLog != "":
		if selErr == nil || *inChatwoot {
			return fmt.Errorf("--replay-log and --export-log take no guest and no --chatwoot\n%s", forgetUsage)
		}
	case *logFile != "" || *logFrom != "":
		return fmt.Errorf("--log and --log-from go with --replay-log\n%s", forgetUsage)
	default:
		var err error
		if sel, err = sf.selector(); err != nil {
			return fmt.Errorf("%w\n%s", err, forgetUsage)
		}
	}
	env, err := withLocalSecrets(env)
	if err != nil {
		return err
	}
	e, closeEnv, err := cliEnv(ctx, env, "forget-guest")
	if err != nil {
		return err
	}
	defer closeEnv()
	key := guestdata.KeyFrom(e.Config)
	index, err := indexer.OpenIndex(ctx, e.Config, e.DB)
	if err != nil {
		return err
	}
	if err := e.Config.Err(); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()

	if *exportLog != "" {
		return exportErasureLog(ctx, e.DB, *exportLog, w)
	}
	if *replayLog {
		entries, err := extraLog(ctx, *logFile, *logFrom)
		if err != nil {
			return err
		}
		if len(entries) > 0 && !*dryRun {
			added, err := guestdata.ImportLog(ctx, e.DB, entries)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "erasure log: %d entries brought in, %d of them new here\n", len(entries), added)
		}
		res, err := guestdata.Replay(ctx, e.DB, index, key, *dryRun)
		fmt.Fprintf(w, "erasure log: %d entries; %d guest ids, phones or e-mails in this database match\n", res.Entries, res.Matched)
		if res.Matched > 0 {
			verb := "erased again"
			if *dryRun {
				verb = "would erase again"
			}
			fmt.Fprintf(w, "%s:\n", verb)
			writeCounts(w, res.Erased)
		}
		if *dryRun {
			fmt.Fprintln(w, "dry run: nothing changed")
		}
		return err
	}

	if key == nil && !*dryRun {
		return fmt.Errorf("%s (secret %s) is not set: an erasure must be logged under the key a restore will replay it with", guestdata.SettingLogKey.Name, guestdata.SettingLogKey.Secret)
	}
	h, err := guestdata.Find(ctx, e.DB, sel)
	if err != nil {
		return err
	}
	counts, err := guestdata.Count(ctx, e.DB, h)
	if err != nil {
		return err
	}
	if counts.Total() == 0 {
		fmt.Fprintln(w, "nothing held about this guest")
		return nil
	}
	writeHoldings(w, h)
	if *dryRun {
		fmt.Fprintln(w, "would remove:")
		writeCounts(w, counts)
		if *inChatwoot {
			fmt.Fprintf(w, "would delete %d Chatwoot contact(s) and their conversations\n", len(h.ChatwootContacts))
		}
		fmt.Fprintln(w, "dry run: nothing changed")
		return nil
	}
	erased, err := guestdata.Erase(ctx, e.DB, index, key, h, guestdata.SourceCLI)
	fmt.Fprintln(w, "removed:")
	writeCounts(w, erased)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "logged in erasure_log (keyed hashes and counts only)")
	if !*inChatwoot {
		if len(h.ChatwootContacts) > 0 {
			fmt.Fprintf(w, "left in Chatwoot: %d contact(s) and their conversations (run again with --chatwoot, or delete them there)\n", len(h.ChatwootContacts))
		}
		return nil
	}
	return deleteChatwootContacts(ctx, w, e.Config, h)
}

// deleteChatwootContacts deletes the guest's contacts in Chatwoot; a
// contact gone already counts as deleted.
func deleteChatwootContacts(ctx context.Context, w io.Writer, cfg *config.Config, h guestdata.Holdings) error {
	clients, err := chatwoot.FromConfig(cfg)
	if err != nil {
		return err
	}
	if err := cfg.Err(); err != nil {
		return err
	}
	if clients.Contacts == nil {
		return errors.New("--chatwoot: CHATWOOT_URL is not set, so no Chatwoot contact was deleted")
	}
	var failed []string
	for _, c := range h.ChatwootContacts {
		err := clients.Contacts.ForAccount(c.AccountID).DeleteContact(ctx, c.ContactID)
		switch chatwoot.StatusOf(err) {
		case 0:
			if err != nil {
				failed = append(failed, err.Error())
				continue
			}
			fmt.Fprintf(w, "deleted Chatwoot contact %d (account %d) and its conversations\n", c.ContactID, c.AccountID)
		case http.StatusNotFound:
			fmt.Fprintf(w, "Chatwoot contact %d (account %d) was gone already\n", c.ContactID, c.AccountID)
		default:
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("Chatwoot kept %d contact(s) (deleting needs an administrator's CHATWOOT_CONTACTS_TOKEN; a contact online in the widget is refused until it leaves): %s",
			len(failed), strings.Join(failed, "; "))
	}
	return nil
}

func writeHoldings(w io.Writer, h guestdata.Holdings) {
	fmt.Fprintf(w, "guest: %s\n", list(h.GuestIDs))
	fmt.Fprintf(w, "phones: %s\nemails: %s\n", list(h.Phones), list(h.Emails))
	fmt.Fprintf(w, "reservations: %s\n", list(h.ReservationIDs))
	var convs []string
	for _, c := range h.Conversations {
		convs = append(convs, fmt.Sprintf("%d/%d", c.AccountID, c.ID))
	}
	fmt.Fprintf(w, "conversations (account/id): %s\n", list(convs))
	var calls []string
	for _, c := range h.CallIDs {
		calls = append(calls, fmt.Sprint(c))
	}
	fmt.Fprintf(w, "calls: %s\n", list(calls))
	fmt.Fprintf(w, "indexed documents: %s\n", list(h.DocumentIDs))
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

func writeCounts(w io.Writer, c guestdata.Counts) {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if c[k] > 0 {
			fmt.Fprintf(w, "  %-22s %d\n", k, c[k])
		}
	}
}

// exportErasureLog writes the log as JSON lines (0600: it holds no
// personal data, but it is the proof of what was erased).
func exportErasureLog(ctx context.Context, db *pgxpool.Pool, path string, w io.Writer) error {
	entries, err := guestdata.ReadLog(ctx, db)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("export erasure log: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			f.Close()
			return fmt.Errorf("export erasure log: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export erasure log: %w", err)
	}
	_, err = fmt.Fprintf(w, "%d erasure(s) written to %s\n", len(entries), path)
	return err
}

// extraLog reads the log entries a replay brings in: a file written by
// --export-log, and the log of another database (the one being replaced).
func extraLog(ctx context.Context, file, fromURL string) ([]guestdata.LogEntry, error) {
	var out []guestdata.LogEntry
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--log: %w", err)
		}
		defer f.Close()
		dec := json.NewDecoder(f)
		for {
			var e guestdata.LogEntry
			if err := dec.Decode(&e); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("--log %s: entry %d: %w", file, len(out)+1, err)
			}
			out = append(out, e)
		}
	}
	if fromURL != "" {
		pool, err := pgxpool.New(ctx, fromURL)
		if err != nil {
			return nil, fmt.Errorf("--log-from: %w", err)
		}
		defer pool.Close()
		entries, err := guestdata.ReadLog(ctx, pool)
		if err != nil {
			return nil, fmt.Errorf("--log-from: %w", err)
		}
		out = append(out, entries...)
	}
	return out, nil
}
