// Package backup makes PostgreSQL backups that are known to restore.
//
// A run holds an advisory lock (runs never overlap), exports a snapshot from
// a REPEATABLE READ transaction that counts every table's rows, and streams
// `pg_dump --format=custom --compress=0 --snapshot=…` through zstd into the
// object store: nothing holds the whole dump, in memory or on disk. The
// object's sha256 and size go into its metadata and the backups table. Then
// the object is read back from the store, restored with pg_restore into a
// scratch database, and the row counts compared with the snapshot's; only
// then is the backup verified, and only then does retention delete older
// backups. See README.md in this folder for the choices and the restore.
package backup

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/objstore"
)

// Statuses of a backups row.
const (
	StatusRunning  = "running"
	StatusUploaded = "uploaded"
	StatusVerified = "verified"
	StatusFailed   = "failed"
)

// LockKey is the session advisory lock a run holds from start to end
// ("conc-bak" in ASCII). Advisory locks are per database, so it serialises
// the runs that back up the same database.
const LockKey int64 = 0x636f6e632d62616b

// KeySuffix ends every backup object's key.
const KeySuffix = ".dump.zst"

// Format describes the object's content, in its metadata.
const Format = "pg_dump custom archive (-Fc -Z0), zstd-compressed"

// Errors a run can end with, besides storage and database outages.
var (
	// ErrCorrupt: the object read back differs from what was uploaded.
	ErrCorrupt = errors.New("backup object is corrupt")
	// ErrMismatch: the restored database's row counts differ from the snapshot's.
	ErrMismatch = errors.New("restored row counts differ from the snapshot")
)

// Service backs up the databases on DATABASE_URL's server into Store.
type Service struct {
	DB     *pgxpool.Pool
	Store  objstore.Store
	Policy Policy
	// Prefix starts every object key.
	Prefix string
	// BinDir overrides where pg_dump and pg_restore are found.
	BinDir string
	// Now is the clock: it names the objects and dates the rows, so tests
	// can run backups on chosen days.
	Now func() time.Time
	// Databases are what RunAll backs up (BACKUP_DATABASES); empty means
	// the database of DATABASE_URL. Each is reached with DATABASE_URL's
	// server, role and password.
	Databases []string
	// Crypt encrypts what is uploaded and decrypts what is read back; nil
	// or zero: plain objects.
	Crypt *Crypt
	// Template is what scratch and restored databases are created from
	// (BACKUP_VERIFY_TEMPLATE); empty is DefaultTemplate.
	Template string

	conn connInfo
}

// Report is the outcome of a run.
type Report struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Database   string    `json:"database"`
	Store      string    `json:"store"`
	Key        string    `json:"key"`
	Bytes      int64     `json:"bytes"`
	DumpBytes  int64     `json:"dump_bytes"`
	SHA256     string    `json:"sha256"`
	Tables     int       `json:"tables"`
	Rows       int64     `json:"rows"`
	StartedAt  time.Time `json:"started_at"`
	VerifiedAt time.Time `json:"verified_at"`
	// Seconds spent dumping and uploading, then verifying.
	DumpSeconds   float64  `json:"dump_seconds"`
	VerifySeconds float64  `json:"verify_seconds"`
	Deleted       []string `json:"deleted"`
	// Encrypted: the object is an age file (BACKUP_AGE_RECIPIENTS).
	Encrypted bool `json:"encrypted"`
}

// Error is a failed run: the stage that failed and why. The fault kind of
// the cause decides the HTTP status.
type Error struct {
	Stage string
	Err   error
}

func (e *Error) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Stage returns the stage a run failed in, or "".
func Stage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Stage
	}
	return ""
}

func fail(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Stage: stage, Err: err}
}

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// key names the object: prefix, database, then database and UTC time again,
// so a downloaded file still says what it is; ".age" when it is encrypted.
func (s *Service) key(database string, at time.Time) string {
	db := unsafeKeyChars.ReplaceAllString(database, "_")
	k := s.Prefix + db + "/" + db + "-" + at.UTC().Format("20060102T150405Z") + KeySuffix
	if s.Crypt.Enabled() {
		k += EncryptedSuffix
	}
	return k
}

// session is what a run holds from start to end: the advisory lock on a
// connection of DB, the server's version and the tools that match it.
type session struct {
	lock          *pgxpool.Conn
	database      string // DB's own database
	serverVersion string
	versionNum    int
	tools         tools
}

// begin takes the lock, finds the tools and checks the store: what every
// database of a run needs. A failure here fails the whole run.
func (s *Service) begin(ctx context.Context) (_ *session, err error) {
	lock, err := s.DB.Acquire(ctx)
	if err != nil {
		return nil, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	var locked bool
	if err := lock.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", LockKey).Scan(&locked); err != nil {
		return nil, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	if !locked {
		return nil, fail("lock", fault.New(fault.Unavailable, "another backup of this database is running"))
	}
	sess := &session{lock: lock}
	defer func() {
		if err != nil {
			sess.end(ctx)
		}
	}()
	if err := lock.QueryRow(ctx, `SELECT current_database(), current_setting('server_version'),
		current_setting('server_version_num')::int`).Scan(&sess.database, &sess.serverVersion, &sess.versionNum); err != nil {
		return nil, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	if sess.tools, err = findTools(ctx, sess.versionNum, s.BinDir); err != nil {
		return nil, fail("tools", err)
	}
	if err := s.Store.Check(ctx); err != nil {
		return nil, fail("store", fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" unreachable"))
	}
	return sess, nil
}

// end releases the lock (session locks outlive transactions).
func (sess *session) end(ctx context.Context) {
	_, _ = sess.lock.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", LockKey)
	sess.lock.Release()
}

// Run makes one backup of DATABASE_URL's database, verifies it and applies
// retention. A failure at any stage fails the run and deletes nothing.
// RunAll backs up every configured database and the globals.
func (s *Service) Run(ctx context.Context) (*Report, error) {
	sess, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.end(ctx)
	return s.backupDatabase(ctx, sess, sess.database)
}

// snapshotSource is where the snapshot is exported and the rows counted: a
// connection of the pool for DB's own database, a connection of its own
// for another database on the server.
type snapshotSource interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}

// connect opens the snapshot's connection to database.
func (s *Service) connect(ctx context.Context, sess *session, database string) (snapshotSource, func(), error) {
	if database == sess.database {
		c, err := s.DB.Acquire(ctx)
		if err != nil {
			return nil, nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		return c, c.Release, nil
	}
	c, err := pgx.Connect(ctx, s.conn.withDatabase(database).full())
	if err != nil {
		return nil, nil, connectError(database, err)
	}
	return c, func() { _ = c.Close(context.WithoutCancel(ctx)) }, nil
}

// connectError says why database cannot be reached: gone, not allowed to
// connect (the grants of docs/recovery.md), or the server is down.
func connectError(database string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "3D000":
			return fault.Wrap(fault.Permanent, err, fmt.Sprintf("database %q does not exist (BACKUP_DATABASES)", database))
		case "42501", "28000":
			return fault.Wrap(fault.Permanent, err, fmt.Sprintf("the backup role may not connect to database %q: GRANT CONNECT (docs/recovery.md)", database))
		}
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("database %q unavailable", database))
}

// backupDatabase dumps database, verifies the dump and applies its
// retention. Its backups row is written once the snapshot is taken (so a
// restored DB never shows its own backup as running); a failure before that
// is recorded in a failed row of its own.
func (s *Service) backupDatabase(ctx context.Context, sess *session, database string) (_ *Report, err error) {
	log := logging.From(ctx).With().Str("database", database).Logger()
	if n, err := markInterrupted(ctx, sess.lock, database, s.Now()); err != nil {
		return nil, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	} else if n > 0 {
		log.Warn().Int64("runs", n).Msg("earlier backup runs ended without a result; marked failed")
	}

	started := s.Now().UTC().Truncate(time.Second)
	rep := &Report{Database: database, Store: s.Store.String(), Key: s.key(database, started), StartedAt: started, Encrypted: s.Crypt.Enabled()}
	defer func() {
		if err == nil {
			return
		}
		wctx := context.WithoutCancel(ctx)
		var uerr error
		if rep.ID == 0 {
			uerr = insertFailed(wctx, s.DB, rep, sess.serverVersion, s.Now(), err)
		} else {
			uerr = markFailed(wctx, s.DB, rep.ID, s.Now(), err)
		}
		if uerr != nil {
			log.Warn().Err(uerr).Int64("backup_id", rep.ID).Msg("could not record the failure")
		}
	}()

	// The snapshot: pg_dump imports it, and the same transaction counts the
	// rows the dump holds.
	src, release, err := s.connect(ctx, sess, database)
	if err != nil {
		return nil, fail("connect", err)
	}
	defer release()
	tx, err := src.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fail("snapshot", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return nil, fail("snapshot", err)
	}

	// The row is written after the snapshot: the dump does not hold it.
	rep.ID, err = insertRun(ctx, sess.lock, rep, sess.serverVersion)
	if err != nil {
		return nil, fail("snapshot", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}

	type counted struct {
		rows map[string]int64
		err  error
	}
	countc := make(chan counted, 1)
	countCtx, stopCount := context.WithCancel(ctx)
	defer stopCount()
	go func() {
		rows, err := countRows(countCtx, tx)
		countc <- counted{rows, err}
	}()
	dumpStart := time.Now()
	meta := map[string]string{
		"database": database, "created": started.Format(time.RFC3339),
		"format": Format, "server-version": sess.serverVersion,
	}
	if s.Crypt.Enabled() {
		meta["encryption"] = "age"
	}
	d, err := s.dumpFrom(ctx, sess.tools, s.conn.withDatabase(database), snapshot, rep.Key, meta)
	if err != nil {
		stopCount()
	}
	c := <-countc
	_ = tx.Rollback(ctx)
	if err != nil {
		return nil, fail("dump", err)
	}
	if c.err != nil {
		return nil, fail("snapshot", fmt.Errorf("count rows: %w", c.err))
	}
	rep.DumpSeconds = time.Since(dumpStart).Seconds()
	rep.Bytes, rep.SHA256, rep.DumpBytes = d.size, d.sha256, d.dumpBytes
	rep.Tables = len(c.rows)
	for _, n := range c.rows {
		rep.Rows += n
	}
	if err := markUploaded(ctx, s.DB, rep, c.rows, s.Now()); err != nil {
		return nil, fail("dump", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	log.Info().Str("key", rep.Key).Int64("bytes", rep.Bytes).Int64("dump_bytes", rep.DumpBytes).
		Float64("seconds", rep.DumpSeconds).Msg("backup uploaded; verifying")

	verifyStart := time.Now()
	if err := s.verify(ctx, sess.tools, database, rep.Key, d.digest, c.rows); err != nil {
		return nil, fail("verify", err)
	}
	rep.VerifySeconds = time.Since(verifyStart).Seconds()
	rep.VerifiedAt = s.Now().UTC()
	if err := markVerified(ctx, s.DB, rep.ID, rep.VerifiedAt); err != nil {
		return nil, fail("verify", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rep.Status = StatusVerified
	log.Info().Str("key", rep.Key).Int("tables", rep.Tables).Int64("rows", rep.Rows).
		Float64("seconds", rep.VerifySeconds).Msg("backup verified")

	rep.Deleted, err = s.retain(ctx, database)
	if err != nil {
		return nil, fail("retention", err)
	}
	return rep, nil
}

// retain deletes what Plan drops among this database's backups in this
// store. Each object is deleted before its row is marked, so a failure
// leaves rows that the next run deletes again.
func (s *Service) retain(ctx context.Context, database string) ([]string, error) {
	recs, err := liveRecords(ctx, s.DB, database, s.Store.String())
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	_, drop := Plan(recs, s.Policy)
	deleted := []string{}
	for _, r := range drop {
		if err := s.Store.Delete(ctx, r.Key); err != nil {
			return deleted, fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" failed to delete an old backup")
		}
		if err := markDeleted(ctx, s.DB, r.ID, s.Now()); err != nil {
			return deleted, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		deleted = append(deleted, r.Key)
	}
	if len(deleted) > 0 {
		logging.From(ctx).Info().Strs("keys", deleted).Msg("retention deleted old backups")
	}
	return deleted, nil
}

// countRows counts the rows of every table pg_dump dumps data for: ordinary
// tables outside the system schemas and not owned by an extension. ONLY, so
// inheritance parents count their own rows, as pg_dump copies them.
func countRows(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d
		                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		return t, r.Scan(&t.schema, &t.name)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	parts := make([]string, len(tables))
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t.schema + "." + t.name
		parts[i] = fmt.Sprintf("SELECT $%d::text, count(*) FROM ONLY %s", i+1, pgx.Identifier{t.schema, t.name}.Sanitize())
	}
	rows, err = q.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, rows.Err()
}

// compareCounts names the first differences between two row counts.
func compareCounts(want, got map[string]int64) error {
	var diffs []string
	for name, n := range want {
		if g, ok := got[name]; !ok {
			diffs = append(diffs, name+" missing")
		} else if g != n {
			diffs = append(diffs, fmt.Sprintf("%s has %d rows, want %d", name, g, n))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, name+" unexpected")
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
	}
	return fmt.Errorf("%w: %s", ErrMismatch, strings.Join(diffs, "; "))
}
