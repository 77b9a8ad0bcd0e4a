package backup

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

// The roles, their memberships and settings, and the tablespaces belong to
// the server, not to a database: pg_dump leaves them out, so a dump alone
// does not restore onto an empty server. Each RunAll also stores
// `pg_dumpall --globals-only` beside the dumps, under the pseudo-database
// GlobalsName, with a backups row and retention of its own.
const (
	// GlobalsName is the database name of the globals' backups (in keys
	// and rows); BACKUP_DATABASES may not name it.
	GlobalsName = "_globals"
	// GlobalsSuffix ends a globals key: SQL for psql, zstd-compressed.
	GlobalsSuffix = ".sql.zst"
	// GlobalsFormat describes the globals object, in its metadata.
	GlobalsFormat = "pg_dumpall --globals-only SQL, zstd-compressed"
)

func (s *Service) globalsKey(at time.Time) string {
	k := s.Prefix + GlobalsName + "/" + GlobalsName + "-" + at.UTC().Format("20060102T150405Z") + GlobalsSuffix
	if s.Crypt.Enabled() {
		k += EncryptedSuffix
	}
	return k
}

// backupGlobals stores the globals and proves the object reads back: its
// checksum, decryption and decompression, and that it creates the role of
// the run and the owner of every database backed up — what a restore onto
// an empty server needs before the dumps. Role passwords are included when
// the role may read pg_authid (a superuser, or pg_read_all_data), else
// left out (pg_dumpall --no-role-passwords) and said so in the metadata:
// they are set again from the vault (docs/recovery.md).
func (s *Service) backupGlobals(ctx context.Context, sess *session, databases []string) (_ *Report, err error) {
	log := logging.From(ctx).With().Str("database", GlobalsName).Logger()
	if _, err := markInterrupted(ctx, sess.lock, GlobalsName, s.Now()); err != nil {
		return nil, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	started := s.Now().UTC().Truncate(time.Second)
	rep := &Report{Database: GlobalsName, Store: s.Store.String(), Key: s.globalsKey(started), StartedAt: started, Encrypted: s.Crypt.Enabled()}
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
			log.Warn().Err(uerr).Msg("could not record the failure")
		}
	}()

	var passwords bool
	var roles []string
	if err := sess.lock.QueryRow(ctx, "SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')").Scan(&passwords); err != nil {
		return nil, fail("dump", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rows, err := sess.lock.Query(ctx, `
		SELECT DISTINCT r FROM (
			SELECT pg_get_userbyid(datdba) AS r FROM pg_database WHERE datname = ANY($1)
			UNION SELECT current_user) x ORDER BY 1`, databases)
	if err == nil {
		roles, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return nil, fail("dump", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rep.ID, err = insertRun(ctx, sess.lock, rep, sess.serverVersion)
	if err != nil {
		return nil, fail("dump", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}

	args := []string{"--globals-only", "--no-password", "--dbname=" + s.conn.String()}
	if !passwords {
		args = append(args, "--no-role-passwords")
	}
	meta := map[string]string{
		"database": GlobalsName, "created": started.Format(time.RFC3339),
		"format": GlobalsFormat, "server-version": sess.serverVersion,
		"role-passwords": fmt.Sprint(passwords),
	}
	if s.Crypt.Enabled() {
		meta["encryption"] = "age"
	}
	dumpStart := time.Now()
	d, err := s.stream(ctx, sess.tools.pgDumpall, "pg_dumpall", args, s.conn, rep.Key, maps.Clone(meta))
	if err != nil {
		return nil, fail("dump", err)
	}
	rep.DumpSeconds = time.Since(dumpStart).Seconds()
	rep.Bytes, rep.SHA256, rep.DumpBytes = d.size, d.sha256, d.dumpBytes
	if err := markUploaded(ctx, s.DB, rep, nil, s.Now()); err != nil {
		return nil, fail("dump", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}

	verifyStart := time.Now()
	found, err := s.verifyGlobals(ctx, rep.Key, d.digest, roles)
	if err != nil {
		return nil, fail("verify", err)
	}
	rep.Rows = int64(found)
	if _, err := s.DB.Exec(ctx, "UPDATE backups SET row_counts = $2 WHERE id = $1", rep.ID, map[string]int64{"roles": int64(found)}); err != nil {
		return nil, fail("verify", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rep.VerifySeconds = time.Since(verifyStart).Seconds()
	rep.VerifiedAt = s.Now().UTC()
	if err := markVerified(ctx, s.DB, rep.ID, rep.VerifiedAt); err != nil {
		return nil, fail("verify", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rep.Status = StatusVerified
	log.Info().Str("key", rep.Key).Int("roles", found).Bool("role_passwords", passwords).Msg("globals backed up and verified")
	rep.Deleted, err = s.retain(ctx, GlobalsName)
	if err != nil {
		return nil, fail("retention", err)
	}
	return rep, nil
}

// verifyGlobals reads the object back through the decryption path and
// returns how many roles it creates; every role in want must be among them.
func (s *Service) verifyGlobals(ctx context.Context, key string, want digest, roles []string) (int, error) {
	o, info, err := s.open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer o.Close()
	if info.Size > 0 && info.Size != want.size {
		return 0, fmt.Errorf("%w: %s is %d bytes, %d were uploaded", ErrCorrupt, key, info.Size, want.size)
	}
	created := map[string]bool{}
	sc := bufio.NewScanner(o.dec)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if name, ok := createdRole(sc.Text()); ok {
			created[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, s.classify(key, err)
	}
	if err := o.drain(); err != nil {
		return 0, s.classify(key, err)
	}
	if got := o.sum.digest(); got != want {
		return 0, fmt.Errorf("%w: %s has sha256 %s and %d bytes, %s and %d were uploaded",
			ErrCorrupt, key, got.sha256, got.size, want.sha256, want.size)
	}
	var missing []string
	for _, r := range roles {
		if !created[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return 0, fmt.Errorf("%w: %s creates no role %s", ErrMismatch, key, strings.Join(missing, ", "))
	}
	return len(created), nil
}

// createdRole reads `CREATE ROLE name;` as pg_dumpall writes it (the name
// double-quoted when it needs to be).
func createdRole(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "CREATE ROLE ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSuffix(strings.TrimSpace(rest), ";")
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
		rest = strings.ReplaceAll(rest[1:len(rest)-1], `""`, `"`)
	}
	return rest, rest != ""
}
