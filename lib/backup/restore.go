package backup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// MarkReads returns r whose read errors (not EOF) IsReadError recognises:
// a reader of a stored object wraps its body with it, so that an outage of
// the store is told apart from a corrupt object once the bytes went
// through age and zstd.
func MarkReads(r io.Reader) io.Reader { return sourceReader{r} }

// IsReadError reports whether err came from a reader MarkReads wrapped.
func IsReadError(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

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

// opened is a backup object being read: its stored bytes hashed as they
// arrive, then decrypted (when it is an age file) and decompressed.
type opened struct {
	rc  io.ReadCloser
	sum *hashCounter
	// br reads the stored bytes through the hash; draining it reads the
	// object to its end, so the checksum covers every byte.
	br        *bufio.Reader
	dec       *zstd.Decoder
	encrypted bool
}

// open starts reading the object under key. Plain reads the content
// (decrypted, decompressed). Errors: NotFound, Unavailable (download),
// ErrNoIdentity/ErrWrongKey (the key), ErrCorrupt (a bad header).
func (s *Service) open(ctx context.Context, key string) (*opened, objstore.Info, error) {
	rc, info, err := s.Store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, info, fault.Wrap(fault.NotFound, err, "backup "+key+" not found in "+s.Store.String())
		}
		return nil, info, fault.Wrap(fault.Unavailable, err, "download from "+s.Store.String()+" failed")
	}
	o := &opened{rc: rc, sum: newHashCounter()}
	o.br = bufio.NewReaderSize(io.TeeReader(sourceReader{rc}, o.sum), 64<<10)
	plain, encrypted, err := s.Crypt.Open(o.br, key)
	o.encrypted = encrypted
	if err != nil {
		rc.Close()
		var re *readError
		if errors.As(err, &re) {
			return nil, info, fault.Wrap(fault.Unavailable, err, "download from "+s.Store.String()+" failed")
		}
		return nil, info, err
	}
	o.dec, err = zstd.NewReader(plain, decoderOptions...)
	if err != nil {
		rc.Close()
		return nil, info, err
	}
	return o, info, nil
}

// drain reads what is left of the stored object, for its checksum.
func (o *opened) drain() error {
	_, err := io.Copy(io.Discard, o.br)
	return err
}

func (o *opened) Close() {
	o.dec.Close()
	o.rc.Close()
}

// classify turns an error of reading through o into a download failure
// (the store) or a corrupt object (decryption or decompression failed).
func (s *Service) classify(key string, err error) error {
	var re *readError
	if errors.As(err, &re) {
		return fault.Wrap(fault.Unavailable, err, "download from "+s.Store.String()+" failed")
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
}

// restoreInto streams the object under key from the store, through age
// (when encrypted) and zstd, into pg_restore connected to target, and
// checks the object against want. Extensions the target database already
// has (from BACKUP_VERIFY_TEMPLATE) are left out of the restore.
func (s *Service) restoreInto(ctx context.Context, t tools, key string, want digest, target connInfo) (digest, error) {
	args := []string{"--dbname=" + target.String(),
		// Roles and grants of the source need not exist where it is restored.
		"--no-owner", "--no-privileges", "--exit-on-error", "--no-password"}
	present, err := extensionsIn(ctx, target)
	if err != nil {
		return digest{}, err
	}
	if len(present) > 0 {
		list, err := s.restoreList(ctx, t, key, present)
		if err != nil {
			return digest{}, err
		}
		defer os.Remove(list)
		args = append(args, "--use-list="+list)
	}

	o, info, err := s.open(ctx, key)
	if err != nil {
		return digest{}, err
	}
	defer o.Close()
	if info.Size > 0 && info.Size != want.size {
		return digest{}, fmt.Errorf("%w: %s is %d bytes, %d were uploaded", ErrCorrupt, key, info.Size, want.size)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.pgRestore, args...)
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
		_, copyErr = o.dec.WriteTo(&drainWriter{w: stdin})
		if copyErr == nil {
			// Bytes after the zstd frame, if any, are part of the object.
			copyErr = o.drain()
		}
		stdin.Close()
		if copyErr != nil {
			cancel()
		}
	}()
	waitErr := cmd.Wait()
	wg.Wait()
	got := o.sum.digest()
	switch {
	case copyErr != nil:
		return digest{}, s.classify(key, copyErr)
	case got != want:
		return digest{}, fmt.Errorf("%w: %s has sha256 %s and %d bytes, %s and %d were uploaded",
			ErrCorrupt, key, got.sha256, got.size, want.sha256, want.size)
	case waitErr != nil:
		return digest{}, &toolError{tool: "pg_restore", err: waitErr, stderr: stderr.summary()}
	}
	return got, nil
}

// extensionsIn lists the extensions of target besides plpgsql: those its
// template brought.
func extensionsIn(ctx context.Context, target connInfo) (map[string]bool, error) {
	conn, err := pgx.Connect(ctx, target.full())
	if err != nil {
		return nil, fmt.Errorf("connect to the restore target: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")
	if err != nil {
		return nil, fmt.Errorf("list the restore target's extensions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the restore target's extensions: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// restoreList reads the archive's table of contents (pg_restore --list
// over a second read of the object; only its start is read) and writes it
// without the entries that create or comment the extensions present: a role
// that may not create an extension (pgvector is not trusted) restores into
// a database whose template has it, and COMMENT ON EXTENSION would fail for
// not owning it. It returns the list file; the caller removes it.
func (s *Service) restoreList(ctx context.Context, t tools, key string, present map[string]bool) (string, error) {
	o, _, err := s.open(ctx, key)
	if err != nil {
		return "", err
	}
	defer o.Close()
	cmd := exec.CommandContext(ctx, t.pgRestore, "--list")
	cmd.Stdin = o.dec
	stderr := &stderrTail{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		// A broken pipe on our side is the store or the object; the
		// full restore that follows tells which.
		return "", &toolError{tool: "pg_restore --list", err: err, stderr: stderr.summary()}
	}
	var keep bytes.Buffer
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if ext, ok := extensionEntry(line); ok && present[ext] {
			continue
		}
		keep.WriteString(line)
	}
	f, err := os.CreateTemp("", "concierge-restore-*.list")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(keep.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// extensionEntry reads the extension a --list line creates or comments:
// "2; 3079 16386 EXTENSION - vector" or "3425; 0 0 COMMENT - EXTENSION vector".
func extensionEntry(line string) (string, bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, ";") {
		return "", false
	}
	for _, marker := range []string{" EXTENSION - ", " COMMENT - EXTENSION "} {
		if _, rest, ok := strings.Cut(line, marker); ok {
			name, _, _ := strings.Cut(rest, " ")
			return name, name != ""
		}
	}
	return "", false
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
	if err := createDatabaseFrom(ctx, s.DB, scratch, s.template()); err != nil {
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
	return createDatabaseFrom(ctx, db, name, DefaultTemplate)
}

// DefaultTemplate is what scratch and restored databases are created from:
// nothing an administrator added to template1 gets in the way.
const DefaultTemplate = "template0"

func (s *Service) template() string {
	if s.Template == "" {
		return DefaultTemplate
	}
	return s.Template
}

func createDatabaseFrom(ctx context.Context, db execer, name, template string) error {
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	if _, err := db.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s from %s (the role needs CREATEDB, and the template must be one: ALTER DATABASE … IS_TEMPLATE true): %w", name, template, err)
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
	if db, _, ok := ParseKey(s.Prefix, key); ok && db == GlobalsName {
		return nil, fault.New(fault.Invalid, "%s holds the roles and globals (SQL for psql as a superuser): write it out with -out FILE (docs/recovery.md)", key)
	}
	want, err := s.recorded(ctx, key)
	if err != nil {
		return nil, err
	}
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
	if err := createDatabaseFrom(ctx, s.DB, into, s.template()); err != nil {
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

// recorded is the sha256 and size the object's metadata recorded at upload.
func (s *Service) recorded(ctx context.Context, key string) (digest, error) {
	info, err := s.Store.Head(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return digest{}, fault.Wrap(fault.NotFound, err, "backup "+key+" not found in "+s.Store.String())
		}
		return digest{}, fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" unreachable")
	}
	size, err := strconv.ParseInt(info.Metadata["size"], 10, 64)
	if err != nil || info.Metadata["sha256"] == "" {
		return digest{}, fmt.Errorf("%w: %s has no sha256 and size metadata (an interrupted upload?)", ErrCorrupt, key)
	}
	return digest{sha256: info.Metadata["sha256"], size: size}, nil
}

// FetchReport is what Fetch wrote.
type FetchReport struct {
	Key       string
	Bytes     int64 // the stored object
	Written   int64 // its content, decrypted and decompressed
	SHA256    string
	Encrypted bool
}

// Fetch writes the content of the backup under key to w, decrypted and
// decompressed — a pg_dump custom archive for pg_restore, or the globals'
// SQL for psql — and checks the object against the sha256 and size of its
// metadata. The check ends the stream: when it fails, w already holds what
// was read, and the error says the object is corrupt (age and zstd check
// their own frames as they go, so a corrupt object rarely gets that far).
func (s *Service) Fetch(ctx context.Context, key string, w io.Writer) (*FetchReport, error) {
	want, err := s.recorded(ctx, key)
	if err != nil {
		return nil, err
	}
	o, _, err := s.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	var werr error
	n, err := o.dec.WriteTo(writerFunc(func(p []byte) (int, error) {
		n, err := w.Write(p)
		if err != nil {
			werr = err
		}
		return n, err
	}))
	if werr != nil {
		return nil, fmt.Errorf("write %s: %w", key, werr)
	}
	if err == nil {
		err = o.drain()
	}
	if err != nil {
		return nil, s.classify(key, err)
	}
	if got := o.sum.digest(); got != want {
		return nil, fmt.Errorf("%w: %s has sha256 %s and %d bytes, %s and %d were uploaded",
			ErrCorrupt, key, got.sha256, got.size, want.sha256, want.size)
	}
	return &FetchReport{Key: key, Bytes: want.size, Written: n, SHA256: want.sha256, Encrypted: o.encrypted}, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
