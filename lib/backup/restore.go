package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/objstore"
)

// readError marks a failure to read the object from the store, as opposed
// to a failure to decompress what was read.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &readError{err}
	}
	return n, err
}

// drainWriter writes to w until w fails (pg_restore exited), then discards:
// the object is always read to its end, so its checksum is always checked.
type drainWriter struct {
	w   io.Writer
	err error
}

func (d *drainWriter) Write(p []byte) (int, error) {
	if d.err == nil {
		if _, err := d.w.Write(p); err != nil {
			d.err = err
		}
	}
	return len(p), nil
}

// restoreInto streams the object under key from the store through zstd into
// pg_restore connected to target, and checks the object against want.
func (s *Service) restoreInto(ctx context.Context, t tools, key string, want digest, target connInfo) (digest, error) {
	rc, info, err := s.Store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return digest{}, fault.Wrap(fault.NotFound, err, "backup "+key+" not found in "+s.Store.String())
		}
		return digest{}, fault.Wrap(fault.Unavailable, err, "download from "+s.Store.String()+" failed")
	}
	defer rc.Close()
	if info.Size > 0 && info.Size != want.size {
		return digest{}, fmt.Errorf("%w: %s is %d bytes, %d were uploaded", ErrCorrupt, key, info.Size, want.size)
	}
	sum := newHashCounter()
	dec, err := zstd.NewReader(io.TeeReader(sourceReader{rc}, sum), decoderOptions...)
	if err != nil {
		return digest{}, err
	}
	defer dec.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.pgRestore, "--dbname="+target.String(),
		// Roles and grants of the source need not exist where it is restored.
		"--no-owner", "--no-privileges", "--exit-on-error", "--no-password")
	cmd.Env = target.env()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return digest{}, err
	}
	stderr := &stderrTail{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return digest{}, fmt.Errorf("start pg_restore: %w", err)
	}
	var copyErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, copyErr = dec.WriteTo(&drainWriter{w: stdin})
		if copyErr == nil {
			// Bytes after the zstd frame, if any, are part of the object.
			_, copyErr = io.Copy(io.Discard, io.TeeReader(sourceReader{rc}, sum))
		}
		stdin.Close()
		if copyErr != nil {
			cancel()
		}
	}()
	waitErr := cmd.Wait()
	wg.Wait()
	got := sum.digest()
	var re *readError
	switch {
	case errors.As(copyErr, &re):
		return digest{}, fault.Wrap(fault.Unavailable, copyErr, "download from "+s.Store.String()+" failed")
	case copyErr != nil:
		return digest{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, copyErr)
	case got != want:
		return digest{}, fmt.Errorf("%w: %s has sha256 %s and %d bytes, %s and %d were uploaded",
			ErrCorrupt, key, got.sha256, got.size, want.sha256, want.size)
	case waitErr != nil:
		return digest{}, &toolError{tool: "pg_restore", err: waitErr, stderr: stderr.summary()}
	}
	return got, nil
}

// scratchName is the database a verification restores into: one per source
// database, dropped after each run and before the next.
func scratchName(database string) string {
	if len(database) > 40 {
		database = database[:40]
	}
	return database + "_backup_verify"
}

// verify restores the object into a scratch database and compares its row
// counts with the snapshot's.
func (s *Service) verify(ctx context.Context, t tools, database, key string, want digest, counts map[string]int64) error {
	scratch := scratchName(database)
	if err := dropDatabase(ctx, s.DB, scratch); err != nil {
		return fmt.Errorf("drop leftover scratch database: %w", err)
	}
	if err := createDatabase(ctx, s.DB, scratch); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = dropDatabase(dctx, s.DB, scratch)
	}()
	target := s.conn.withDatabase(scratch)
	if _, err := s.restoreInto(ctx, t, key, want, target); err != nil {
		return err
	}
	got, err := countIn(ctx, target)
	if err != nil {
		return err
	}
	return compareCounts(counts, got)
}

func countIn(ctx context.Context, target connInfo) (map[string]int64, error) {
	conn, err := pgx.Connect(ctx, target.full())
	if err != nil {
		return nil, fmt.Errorf("connect to the restored database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := countRows(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("count restored rows: %w", err)
	}
	return rows, nil
}

func createDatabase(ctx context.Context, db execer, name string) error {
	// template0: nothing an administrator added to template1 gets in the way.
	if _, err := db.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create database %s (the role needs CREATEDB): %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, db execer, name string) error {
	_, err := db.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// RestoreReport is what Restore did.
type RestoreReport struct {
	Key      string
	Database string
	Bytes    int64
	SHA256   string
	// Rows per table in the restored database.
	Rows map[string]int64
	// Recorded are the row counts of the backups row, when there is one.
	Recorded map[string]int64
}

// Restore creates the database into on DATABASE_URL's server and restores
// the backup under key into it, checking the object against the sha256 and
// size in its metadata. If anything fails the new database is dropped; an
// existing database is never touched.
func (s *Service) Restore(ctx context.Context, key, into string) (*RestoreReport, error) {
	if into == "" {
		return nil, fault.New(fault.Invalid, "name the database to restore into")
	}
	info, err := s.Store.Head(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, fault.Wrap(fault.NotFound, err, "backup "+key+" not found in "+s.Store.String())
		}
		return nil, fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" unreachable")
	}
	size, err := strconv.ParseInt(info.Metadata["size"], 10, 64)
	if err != nil || info.Metadata["sha256"] == "" {
		return nil, fmt.Errorf("%w: %s has no sha256 and size metadata (an interrupted upload?)", ErrCorrupt, key)
	}
	want := digest{sha256: info.Metadata["sha256"], size: size}
	var versionNum int
	if err := s.DB.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	t, err := findTools(ctx, versionNum, s.BinDir)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := s.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", into).Scan(&exists); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	if exists {
		return nil, fault.New(fault.Invalid, "database %q exists; restore into a new name (nothing was changed)", into)
	}
	if err := createDatabase(ctx, s.DB, into); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = dropDatabase(context.WithoutCancel(ctx), s.DB, into)
		}
	}()
	target := s.conn.withDatabase(into)
	r, err := s.restoreInto(ctx, t, key, want, target)
	if err != nil {
		return nil, err
	}
	rows, err := countIn(ctx, target)
	if err != nil {
		return nil, err
	}
	rep := &RestoreReport{Key: key, Database: into, Bytes: r.size, SHA256: r.sha256, Rows: rows}
	if recs, err := Rows(ctx, s.DB, s.Store.String()); err == nil {
		rep.Recorded = recs[key].RowCounts
	}
	ok = true
	return rep, nil
}
