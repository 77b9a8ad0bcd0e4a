package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
	if e, closeEnv, err := cliEnv(ctx, env, "backups"); err != nil {
		fmt.Fprintf(out, "(no status column: no database: %v)\n", err)
	} else {
		defer closeEnv()
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
	return nil
}

// restoreCommand restores a backup into a new database on DATABASE_URL's
// server:
//
//	concierge restore -backup KEY|latest -into NAME [-db NAME]
func restoreCommand(ctx context.Context, env config.LookupFunc, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	key := fs.String("backup", "", "object key of the backup (see `concierge backups`), or latest: the newest verified")
	into := fs.String("into", "", "database to create and restore into; it must not exist")
	dbName := fs.String("db", "", "with -backup latest: the database whose backups to consider (default: DATABASE_URL's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *into == "" {
		return errors.New("restore needs -backup KEY|latest and -into DATABASE (e.g. make restore BACKUP=latest INTO=concierge_restored)")
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
