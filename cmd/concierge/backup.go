package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/objstore"
)

// backupsCommand lists the backups in the configured store:
//
//	concierge backups [-db NAME]
func backupsCommand(ctx context.Context, env config.LookupFunc, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backups", flag.ContinueOnError)
	dbName := fs.String("db", "", "only the backups of this database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config.New(env)
	store, err := objstore.FromConfig(cfg)
	prefix := cfg.String(backup.KeyPrefix)
	if cerr := cfg.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	// Status comes from the backups table when a database answers; the
	// list itself comes from the store, so it works when the database is gone.
	var rows map[string]backup.Row
	var pool *pgxpool.Pool
	if e, closeEnv, err := cliEnv(ctx, env, "backups"); err != nil {
		fmt.Fprintf(out, "(no status column: no database: %v)\n", err)
	} else {
		defer closeEnv()
		pool = e.DB
		rows = rowsOf(ctx, e.DB, store, out)
	}
	list, err := backup.List(ctx, store, prefix, rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "store: %s\n", store)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTARTED (UTC)\tSIZE\tSTATUS\tSHA256")
	n := 0
	for _, l := range list {
		if *dbName != "" && l.Database != *dbName {
			continue
		}
		status := l.Status
		if status == "" {
			status = "-"
		}
		sum := l.SHA256
		if len(sum) > 12 {
			sum = sum[:12] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Key, l.Time.Format("2006-01-02 15:04:05"), size(l.Size), status, sum)
		n++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(out, "no backups")
	}
	if pool != nil {
		if err := provenTable(ctx, pool, store, *dbName, out); err != nil {
			fmt.Fprintf(out, "(no proven restores: %v)\n", err)
		}
	}
	return nil
}

// restoreCommand restores a backup into a new database on DATABASE_URL's
// server, writes one out, or puts the attachments back into their bucket:
//
//	concierge restore -backup KEY|latest -into NAME [-db NAME]
//	concierge restore -backup KEY|latest -out FILE|- [-db NAME]   (decrypted, decompressed)
//	concierge restore -globals -backup latest -out FILE           (the roles, SQL for psql)
//	concierge restore -attachments [-bucket NAME]                  (into the attachment bucket)
func restoreCommand(ctx context.Context, env config.LookupFunc, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	key := fs.String("backup", "", "object key of the backup (see `concierge backups`), or latest: the newest verified")
	into := fs.String("into", "", "database to create and restore into; it must not exist")
	dbName := fs.String("db", "", "with -backup latest: the database whose backups to consider (default: DATABASE_URL's)")
	file := fs.String("out", "", "write the backup's content (pg_dump archive, or the globals' SQL) to this file, - for stdout, instead of restoring it")
	globals := fs.Bool("globals", false, "the roles and globals (pg_dumpall --globals-only): with -out")
	atts := fs.Bool("attachments", false, "put every attachment copy back into the attachment bucket (ATTACHMENTS_* settings)")
	bucket := fs.String("bucket", "", "with -attachments: the bucket to restore into (default ATTACHMENTS_BUCKET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *atts {
		return restoreAttachments(ctx, env, *bucket, out)
	}
	if *globals {
		*dbName = backup.GlobalsName
		if *file == "" {
			return errors.New("the globals are SQL for psql: restore -globals -backup latest -out globals.sql (docs/recovery.md)")
		}
	}
	if *key == "" || (*into == "") == (*file == "") {
		return errors.New("restore needs -backup KEY|latest and either -into DATABASE or -out FILE (e.g. make restore BACKUP=latest INTO=concierge_restored), or -attachments")
	}
	if *file != "" && *key != "latest" {
		// No database needed — onto an empty server there is none yet: the
		// store, the identity and the key are enough.
		cfg := config.New(env)
		store, storeErr := objstore.FromConfig(cfg)
		svc := &backup.Service{Store: store, Crypt: backup.CryptFromConfig(cfg), Prefix: cfg.String(backup.KeyPrefix)}
		if err := cfg.Err(); err != nil {
			return err
		}
		if storeErr != nil {
			return storeErr
		}
		return fetchBackup(ctx, svc, *key, *file, out)
	}
	e, closeEnv, err := cliEnv(ctx, env, "restore")
	if err != nil {
		return err
	}
	defer closeEnv()
	svc, err := backup.FromConfig(e.Config, e.DB, time.Now)
	if err != nil {
		return err
	}
	if *key == "latest" {
		if *dbName == "" {
			if err := e.DB.QueryRow(ctx, "SELECT current_database()").Scan(dbName); err != nil {
				return err
			}
		}
		list, err := backup.List(ctx, svc.Store, svc.Prefix, rowsOf(ctx, e.DB, svc.Store, out))
		if err != nil {
			return err
		}
		*key = ""
		for _, l := range list {
			if l.Database == *dbName && l.Status == backup.StatusVerified {
				*key = l.Key
				break
			}
		}
		if *key == "" {
			return fmt.Errorf("no verified backup of database %q in %s (concierge backups lists them; -backup KEY restores any)", *dbName, svc.Store)
		}
	}
	if *file != "" {
		return fetchBackup(ctx, svc, *key, *file, out)
	}
	fmt.Fprintf(out, "restoring %s from %s into database %s\n", *key, svc.Store, *into)
	start := time.Now()
	rep, err := svc.Restore(ctx, *key, *into)
	if err != nil {
		return err
	}
	var rows int64
	names := make([]string, 0, len(rep.Rows))
	for name, n := range rep.Rows {
		rows += n
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "restored %d tables, %d rows in %s; object sha256 %s matches its metadata\n",
		len(rep.Rows), rows, time.Since(start).Round(time.Millisecond), rep.SHA256)
	if rep.Recorded == nil {
		fmt.Fprintln(out, "the backups table has no record of this backup to compare row counts with")
		return nil
	}
	var diffs []string
	for _, name := range names {
		if want, ok := rep.Recorded[name]; !ok || want != rep.Rows[name] {
			diffs = append(diffs, fmt.Sprintf("%s: %d rows, recorded %d", name, rep.Rows[name], want))
		}
	}
	if len(diffs) > 0 || len(rep.Recorded) != len(rep.Rows) {
		return fmt.Errorf("row counts differ from the backup's record: %s", strings.Join(diffs, "; "))
	}
	fmt.Fprintln(out, "row counts match the backup's record")
	return nil
}

// fetchBackup writes the content of the backup under key to file ("-":
// out, with the messages on stderr, so it can be piped into pg_restore or
// psql). A file that fails the checksum is removed.
func fetchBackup(ctx context.Context, svc *backup.Service, key, file string, out io.Writer) error {
	if file == "-" {
		rep, err := svc.Fetch(ctx, key, out)
		if err != nil {
			return err
		}
		printFetched(os.Stderr, rep, "stdout")
		return nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w (nothing was overwritten)", err)
	}
	rep, err := svc.Fetch(ctx, key, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return err
	}
	printFetched(out, rep, file)
	return nil
}

func printFetched(w io.Writer, rep *backup.FetchReport, file string) {
	how := "plain"
	if rep.Encrypted {
		how = "decrypted"
	}
	fmt.Fprintf(w, "wrote %s (%s, %s) to %s; object sha256 %s matches its metadata\n", rep.Key, how, size(rep.Written), file, rep.SHA256)
}

// restoreAttachments puts every attachment copy back into the bucket.
func restoreAttachments(ctx context.Context, env config.LookupFunc, bucket string, out io.Writer) error {
	vars := map[string]string{}
	if bucket != "" {
		vars["ATTACHMENTS_BUCKET"] = bucket
	}
	cfg := config.New(config.Layered(config.FromMap(vars), env))
	store, storeErr := objstore.FromConfig(cfg)
	prefix := cfg.String(backup.KeyPrefix)
	crypt := backup.CryptFromConfig(cfg)
	into := attachments.BucketFromConfig(cfg)
	if err := cfg.Err(); err != nil {
		return err
	}
	if storeErr != nil {
		return storeErr
	}
	if into == nil {
		return errors.New("restore -attachments needs the attachment bucket's settings: ATTACHMENTS_S3_ENDPOINT, ATTACHMENTS_S3_ACCESS_KEY_ID and its secret (docs/recovery.md)")
	}
	fmt.Fprintf(out, "restoring attachments from %s into %s\n", store, into)
	start := time.Now()
	rep, err := attachments.Restore(ctx, store, prefix, crypt, into)
	if rep != nil {
		fmt.Fprintf(out, "%d copies: %d restored (%s), %d already there, %d failed, in %s\n",
			rep.Listed, rep.Restored, size(rep.Bytes), rep.Skipped, rep.Failed, time.Since(start).Round(time.Millisecond))
		if len(rep.FailedKeys) > 0 {
			fmt.Fprintf(out, "failed: %s\n", strings.Join(rep.FailedKeys, ", "))
		}
	}
	return err
}

// provenTable prints, per database (and the roles, and the attachments),
// when a backup of it was last proven to restore, and how its latest run
// ended: what an operator asks first.
func provenTable(ctx context.Context, pool *pgxpool.Pool, store objstore.Store, only string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dbs, err := backup.LastProven(ctx, pool, store.String())
	if err != nil {
		return err
	}
	att, err := attachments.LastProven(ctx, pool, store.String())
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintln(out, "\nLast proven restore (read back, decrypted, restored into a scratch database and counted):")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\tPROVEN (UTC)\tAGO\tBACKUP\tLATEST RUN")
	for _, p := range dbs {
		if only != "" && p.Database != only {
			continue
		}
		when, ago, key := "never", "-", "-"
		if p.VerifiedAt != nil {
			when, ago, key = p.VerifiedAt.UTC().Format("2006-01-02 15:04:05"), since(now, *p.VerifiedAt), p.Key
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Database, when, ago, key, latest(p.LastStatus, p.LastStartedAt, p.LastError))
	}
	if len(dbs) == 0 {
		fmt.Fprintln(tw, "(no backup run recorded)\t\t\t\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if only != "" {
		return nil
	}
	if len(att) == 0 {
		fmt.Fprintln(out, "attachments: no backup run recorded (ATTACHMENTS_S3_ACCESS_KEY_ID unset?)")
	}
	for _, a := range att {
		when := "never complete"
		if a.CompleteAt != nil {
			when = fmt.Sprintf("last complete %s UTC (%s ago, %d copies read back intact)", a.CompleteAt.UTC().Format("2006-01-02 15:04:05"), since(now, *a.CompleteAt), a.Verified)
		}
		fmt.Fprintf(out, "attachments (bucket %s): %s; %d copies, %d of deleted attachments kept, %s; latest run %s\n",
			a.Source, when, a.Copies, a.Deleted, size(a.Bytes), latest(a.LastStatus, a.LastStartedAt, a.LastError))
		if a.Pending > 0 {
			fmt.Fprintf(out, "  %d attachments left for the next run\n", a.Pending)
		}
	}
	return nil
}

func since(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

func latest(status string, at time.Time, errText string) string {
	s := status + " " + at.UTC().Format("2006-01-02 15:04")
	if errText != "" {
		if len(errText) > 120 {
			errText = errText[:120] + "…"
		}
		s += ": " + errText
	}
	return s
}

func rowsOf(ctx context.Context, pool *pgxpool.Pool, store objstore.Store, out io.Writer) map[string]backup.Row {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := backup.Rows(ctx, pool, store.String())
	if err != nil {
		fmt.Fprintf(out, "(no status: the database did not answer: %v)\n", errors.Unwrap(err))
		return nil
	}
	return rows
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
