// Package attachments backs up Chatwoot's attachments — the images,
// documents and voice notes guests send, in SeaweedFS behind the S3 API —
// into the backup store (R2, or a folder in make run), beside the database
// dumps of lib/backup and encrypted like them.
//
// A run is incremental: it lists the bucket page by page and copies only
// the objects with no current copy or whose ETag or size changed; each copy
// is recorded in attachment_copies as soon as it is stored, so an
// interrupted run resumes without copying again what was done. An object
// that left the bucket (or was replaced) keeps its copy for
// BACKUP_ATTACHMENTS_KEEP_DAYS; a sample of copies is read back through the
// decryption path and checked against the sha256 taken while copying.
// Nothing holds a whole attachment: content streams from the bucket through
// md5/sha256 and age into the store, a few copies at a time.
package attachments

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/objstore"
)

// Where copies live in the backup store, under the backup prefix. A copy's
// key is ObjectsDir + the attachment's own key, so the store's listing
// alone restores the bucket when the database is gone.
const (
	ObjectsDir  = "attachments/objects/"
	ReplacedDir = "attachments/replaced/"
)

// LockKey is the session advisory lock of a sync ("conc-att"): runs of the
// attachment backup never overlap; the database backup has its own.
const LockKey int64 = 0x636f6e632d617474

// Memory and concurrency. Most attachments are small (photos, voice
// notes): up to SmallObject, a copy is read into a pooled buffer, hashed,
// encrypted into a second one and stored in one request, so its checksum
// is in the metadata from the start. A larger one streams through the
// store's Put, which holds an 8 MiB part buffer (objstore.DefaultPartSize),
// two for a multipart upload. Copies take memory tokens of about 2 MiB:
// small 1, large 8, out of Concurrency — so 8 small copies hide the round
// trips to the stores, and the buffers stay within 32 MiB, under the
// function's GOMEMLIMIT.
const (
	SmallObject = 1 << 20
	Concurrency = 8
	largeWeight = 8
	// smallBuffer holds a small object and, encrypted, its age overhead
	// (a header and 16 bytes per 64 KiB chunk).
	smallBuffer = SmallObject + 64<<10
)

var smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallBuffer); return &b }}

// maxFailedKeys bounds the keys a report names.
const maxFailedKeys = 10

// Statuses of a sync.
const (
	StatusRunning    = "running"
	StatusComplete   = "complete"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// ErrCorrupt: a stored copy read back does not match what was copied.
var ErrCorrupt = errors.New("attachment copy is corrupt")

// Syncer copies the attachment bucket into the backup store.
type Syncer struct {
	DB     *pgxpool.Pool
	Source *Bucket
	Store  objstore.Store
	Crypt  *backup.Crypt
	// Prefix is the backup prefix (BACKUP_PREFIX).
	Prefix string
	// KeepDeleted is how long the copy of an object that left the bucket
	// is kept.
	KeepDeleted time.Duration
	// Sample is how many copies each run reads back.
	Sample int
	// Budget bounds the time a run spends starting copies.
	Budget time.Duration
	Now    func() time.Time
	// Direct is Store's bucket when Store is S3, for small copies in one
	// request (objstore's Put buffers a whole part first); nil: Store.Put.
	Direct *Bucket
}

// Report is what a sync did.
type Report struct {
	ID          int64    `json:"id"`
	Status      string   `json:"status"`
	Source      string   `json:"source"`
	Store       string   `json:"store"`
	Encrypted   bool     `json:"encrypted"`
	Listed      int64    `json:"listed"`
	Copied      int64    `json:"copied"`
	CopiedBytes int64    `json:"copied_bytes"`
	Unchanged   int64    `json:"unchanged"`
	Pending     int64    `json:"pending"`
	Failed      int64    `json:"failed"`
	Deleted     int64    `json:"deleted"`
	Removed     int64    `json:"removed"`
	Verified    int64    `json:"verified"`
	Corrupt     int64    `json:"corrupt"`
	FailedKeys  []string `json:"failed_keys,omitempty"`
	Seconds     float64  `json:"seconds"`
	Error       string   `json:"error,omitempty"`
}

// Error is a failed sync: the stage that failed and why.
type Error struct {
	Stage string
	Err   error
}

func (e *Error) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(stage string, err error) error { return &Error{Stage: stage, Err: err} }

// Stage returns the stage a sync failed in, or "".
func Stage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Stage
	}
	return ""
}

func (s *Syncer) now() time.Time { return s.Now().UTC() }

// current is the current copy of an attachment.
type current struct {
	backupKey string
	etag      string
	size      int64
}

// tally collects a run's counts from the copying goroutines.
type tally struct {
	copied, bytes, failed atomic.Int64
	mu                    sync.Mutex
	keys                  []string
	firstErr              error
}

func (t *tally) failure(key string, err error) {
	t.failed.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.keys) < maxFailedKeys {
		t.keys = append(t.keys, key)
	}
	if t.firstErr == nil {
		t.firstErr = fmt.Errorf("%s: %w", key, err)
	}
}

// Run copies what changed since the last run, marks and expires what left
// the bucket, and reads a sample back. The report is returned with the
// error too, when there is one: a failed run still says what it did.
func (s *Syncer) Run(ctx context.Context) (rep *Report, err error) {
	log := logging.From(ctx)
	start := s.now().Truncate(time.Millisecond)
	began := time.Now()
	rep = &Report{Status: StatusRunning, Source: s.Source.Name(), Store: s.Store.String(), Encrypted: s.Crypt.Enabled()}

	lock, err := s.DB.Acquire(ctx)
	if err != nil {
		return rep, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	defer lock.Release()
	var locked bool
	if err := lock.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", LockKey).Scan(&locked); err != nil {
		return rep, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	if !locked {
		return rep, fail("lock", fault.New(fault.Unavailable, "another attachment backup is running"))
	}
	defer func() { _, _ = lock.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", LockKey) }()

	if err := s.Store.Check(ctx); err != nil {
		return rep, fail("store", fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" unreachable"))
	}
	if err := s.Source.Check(ctx); err != nil {
		return rep, fail("source", fault.Wrap(fault.Unavailable, err, "attachment bucket "+s.Source.String()+" unreachable"))
	}
	if tag, err := lock.Exec(ctx, `
		UPDATE attachment_syncs SET status = 'failed', finished_at = $3,
		       error = 'interrupted: the run ended without recording an outcome'
		WHERE store = $1 AND source = $2 AND status = 'running'`, rep.Store, rep.Source, start); err != nil {
		return rep, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	} else if n := tag.RowsAffected(); n > 0 {
		log.Warn().Int64("runs", n).Msg("earlier attachment backups ended without a result; marked failed (their copies are kept)")
	}
	if err := lock.QueryRow(ctx, `INSERT INTO attachment_syncs (store, source, started_at) VALUES ($1, $2, $3) RETURNING id`,
		rep.Store, rep.Source, start).Scan(&rep.ID); err != nil {
		return rep, fail("lock", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	defer func() {
		rep.Seconds = time.Since(began).Seconds()
		if err != nil {
			rep.Status, rep.Error = StatusFailed, fault.Public(err)
		}
		s.finish(context.WithoutCancel(ctx), rep, err)
	}()

	t := &tally{}
	if err := s.copyChanged(ctx, rep, t, start); err != nil {
		s.tallied(rep, t)
		return rep, fail("list", fault.Wrap(fault.Unavailable, err, "attachment bucket "+s.Source.String()+" could not be listed"))
	}
	s.tallied(rep, t)
	log.Info().Int64("listed", rep.Listed).Int64("copied", rep.Copied).Int64("bytes", rep.CopiedBytes).
		Int64("unchanged", rep.Unchanged).Int64("pending", rep.Pending).Int64("failed", rep.Failed).Msg("attachments copied")

	// The listing was complete: what it did not see left the bucket.
	tag, err := s.DB.Exec(ctx, `
		UPDATE attachment_copies SET deleted_at = $4
		WHERE store = $1 AND source = $2 AND deleted_at IS NULL AND seen_at < $3`, rep.Store, rep.Source, start, s.now())
	if err != nil {
		return rep, fail("deletions", fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	rep.Deleted = tag.RowsAffected()
	if rep.Removed, err = s.expire(ctx, rep); err != nil {
		return rep, fail("retention", err)
	}
	if err := s.verify(ctx, rep, start); err != nil {
		return rep, fail("verify", err)
	}
	switch {
	case rep.Failed > 0:
		return rep, fail("copy", copyFailure(rep, t))
	case rep.Pending > 0:
		rep.Status = StatusIncomplete
		log.Warn().Int64("pending", rep.Pending).Dur("budget", s.Budget).Msg("attachment backup incomplete: the next run copies the rest")
	default:
		rep.Status = StatusComplete
	}
	return rep, nil
}

func (s *Syncer) tallied(rep *Report, t *tally) {
	rep.Copied, rep.CopiedBytes, rep.Failed = t.copied.Load(), t.bytes.Load(), t.failed.Load()
	rep.FailedKeys = t.keys
}

func copyFailure(rep *Report, t *tally) error {
	err := fmt.Errorf("%d attachments could not be copied, first %w", rep.Failed, t.firstErr)
	if fault.KindOf(t.firstErr) == fault.Unavailable {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("%d attachments could not be copied (stores unreachable); the next run retries them", rep.Failed))
	}
	return fault.Wrap(fault.Internal, err, fmt.Sprintf("%d attachments could not be copied", rep.Failed))
}

// finish records the outcome of the run.
func (s *Syncer) finish(ctx context.Context, rep *Report, cause error) {
	msg := ""
	if cause != nil {
		msg = cause.Error()
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
	}
	_, err := s.DB.Exec(ctx, `
		UPDATE attachment_syncs SET status = $2, finished_at = $3, listed = $4, copied = $5, copied_bytes = $6,
		       unchanged = $7, pending = $8, failed = $9, deleted = $10, removed = $11, verified = $12, corrupt = $13,
		       error = nullif($14, '')
		WHERE id = $1`, rep.ID, rep.Status, s.now(), rep.Listed, rep.Copied, rep.CopiedBytes,
		rep.Unchanged, rep.Pending, rep.Failed, rep.Deleted, rep.Removed, rep.Verified, rep.Corrupt, msg)
	if err != nil {
		logging.From(ctx).Warn().Err(err).Int64("sync_id", rep.ID).Msg("could not record the attachment backup's outcome")
	}
}

// copyChanged lists the bucket and copies, Concurrency at a time, what has
// no current copy or changed; until the budget ends, after which it only
// counts what is pending. Every listed object with a current copy is marked
// seen, even a changed one whose new copy fails: it did not leave the
// bucket.
func (s *Syncer) copyChanged(ctx context.Context, rep *Report, t *tally, start time.Time) error {
	deadline := time.Now().Add(s.Budget)
	mem := newTokens(Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	log := logging.From(ctx)
	return s.Source.List(ctx, func(page []Object) error {
		rep.Listed += int64(len(page))
		keys := make([]string, len(page))
		for i, o := range page {
			keys[i] = o.Key
		}
		cur, err := s.currentCopies(ctx, rep, keys)
		if err != nil {
			return err
		}
		seen := make([]string, 0, len(cur))
		for k := range cur {
			seen = append(seen, k)
		}
		if _, err := s.DB.Exec(ctx, `
			UPDATE attachment_copies SET seen_at = $4
			WHERE store = $1 AND source = $2 AND deleted_at IS NULL AND source_key = ANY($3)`, rep.Store, rep.Source, seen, start); err != nil {
			return err
		}
		for _, o := range page {
			c, ok := cur[o.Key]
			if ok && c.etag == o.ETag && c.size == o.Size {
				rep.Unchanged++
				continue
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				rep.Pending++
				continue
			}
			var prev *current
			if ok {
				prev = &c
			}
			w := weight(o.Size)
			mem.acquire(w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer mem.release(w)
				n, err := s.copy(ctx, rep, o, prev, start)
				switch {
				case errors.Is(err, ErrNotFound):
					// Deleted since the listing: the next run sees it gone.
				case err != nil:
					log.Warn().Err(err).Str("attachment_key", o.Key).Msg("attachment not copied")
					t.failure(o.Key, err)
				default:
					t.copied.Add(1)
					t.bytes.Add(n)
				}
			}()
		}
		return nil
	})
}

// weight is the memory tokens a copy of size bytes takes.
func weight(size int64) int {
	if size <= SmallObject {
		return 1
	}
	return largeWeight
}

func (s *Syncer) currentCopies(ctx context.Context, rep *Report, keys []string) (map[string]current, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT source_key, backup_key, etag, size FROM attachment_copies
		WHERE store = $1 AND source = $2 AND deleted_at IS NULL AND source_key = ANY($3)`, rep.Store, rep.Source, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]current{}
	var k string
	var c current
	_, err = pgx.ForEachRow(rows, []any{&k, &c.backupKey, &c.etag, &c.size}, func() error {
		out[k] = c
		return nil
	})
	return out, err
}

// digests hash and count an attachment's bytes as they stream.
type digests struct {
	md5, sha hash.Hash
	n        int64
}

func (d *digests) Write(p []byte) (int, error) {
	d.md5.Write(p)
	d.sha.Write(p)
	d.n += int64(len(p))
	return len(p), nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// plainMD5 reports whether an ETag is the MD5 of the content (a single
// PUT); a multipart ETag ("…-3") is not.
func plainMD5(etag string) bool {
	if len(etag) != 32 {
		return false
	}
	_, err := hex.DecodeString(etag)
	return err == nil
}

// copy streams one object from the bucket into the store and records it:
//
//	GetObject body -> (md5, sha256, size) -> [age] -> Store.Put
//
// A changed object's previous copy is first moved under ReplacedDir, where
// retention treats it as deleted. The content must match the object's
// size and, for a single-PUT ETag, its MD5: else the copy is deleted.
func (s *Syncer) copy(ctx context.Context, rep *Report, o Object, prev *current, start time.Time) (int64, error) {
	if prev != nil {
		if err := s.retire(ctx, rep, o.Key, *prev, start); err != nil {
			return 0, err
		}
	}
	rc, info, err := s.Source.Get(ctx, o.Key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, err
		}
		return 0, fault.Wrap(fault.Unavailable, err, "attachment bucket unreachable")
	}
	defer rc.Close()
	key := s.Prefix + ObjectsDir + o.Key
	d := &digests{md5: md5.New(), sha: sha256.New()}
	stored := &counter{}
	meta := func() map[string]string {
		m := map[string]string{
			"source-bucket": s.Source.Name(), "source-etag": info.ETag,
			"size": strconv.FormatInt(d.n, 10), "sha256": hex.EncodeToString(d.sha.Sum(nil)),
		}
		if ct := info.ContentType; ct != "" && printableASCII(ct) && len(ct) < 200 {
			m["content-type"] = ct
		}
		if s.Crypt.Enabled() {
			m["encryption"] = "age"
		}
		return m
	}
	// The size the bucket answers with decides, not the listing's: the
	// object may have changed in between.
	if info.Size <= SmallObject && o.Size <= SmallObject {
		err = s.storeSmall(ctx, key, rc, info.Size, d, stored, meta)
	} else {
		err = s.storeStream(ctx, key, rc, d, stored, meta)
	}
	if err != nil {
		return 0, err
	}
	sum := hex.EncodeToString(d.sha.Sum(nil))
	if d.n != info.Size || (plainMD5(info.ETag) && hex.EncodeToString(d.md5.Sum(nil)) != info.ETag) {
		_ = s.Store.Delete(context.WithoutCancel(ctx), key)
		return 0, fmt.Errorf("%w: read %d bytes (md5 %x) of an object of %d bytes with ETag %s", ErrCorrupt, d.n, d.md5.Sum(nil), info.Size, info.ETag)
	}
	now := s.now()
	// Recorded even when the run is being cancelled: the copy is stored,
	// and a row is what spares the next run copying it again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err = s.DB.Exec(rctx, `
		INSERT INTO attachment_copies (store, source, source_key, backup_key, etag, size, sha256, stored_bytes, copied_at, seen_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (store, backup_key) DO UPDATE SET source = EXCLUDED.source, source_key = EXCLUDED.source_key,
		       etag = EXCLUDED.etag, size = EXCLUDED.size, sha256 = EXCLUDED.sha256, stored_bytes = EXCLUDED.stored_bytes,
		       copied_at = EXCLUDED.copied_at, seen_at = EXCLUDED.seen_at, verified_at = NULL, deleted_at = NULL, removed_at = NULL`,
		rep.Store, rep.Source, o.Key, key, info.ETag, d.n, sum, stored.n, now, start)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	return d.n, nil
}

// storeSmall reads the object whole into a pooled buffer, hashes it,
// encrypts it into a second and stores it in one request.
func (s *Syncer) storeSmall(ctx context.Context, key string, body io.Reader, size int64, d *digests, stored *counter, meta func() map[string]string) error {
	pb := smallBuffers.Get().(*[]byte)
	defer smallBuffers.Put(pb)
	// One byte more than announced shows an object longer than its size.
	plain := (*pb)[:size+1]
	n, err := io.ReadFull(body, plain)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fault.Wrap(fault.Unavailable, err, "attachment bucket unreachable")
	}
	plain = plain[:n]
	d.Write(plain)
	out := plain
	if s.Crypt.Enabled() {
		eb := smallBuffers.Get().(*[]byte)
		defer smallBuffers.Put(eb)
		sealed := bytes.NewBuffer((*eb)[:0])
		if err := s.Crypt.Seal(sealed, func(w io.Writer) error { _, err := w.Write(plain); return err }); err != nil {
			return err
		}
		out = sealed.Bytes()
		if cap(out) <= smallBuffer {
			*eb = out[:0]
		}
	}
	stored.n = int64(len(out))
	if s.Direct != nil {
		err = s.Direct.PutBytes(ctx, key, out, meta())
	} else {
		_, err = s.Store.Put(ctx, key, bytes.NewReader(out), meta)
	}
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "upload to "+s.Store.String()+" failed")
	}
	return nil
}

// storeStream streams the object through the store's Put:
//
//	body -> (md5, sha256, size) -> [age] -> io.Pipe -> Store.Put
func (s *Syncer) storeStream(ctx context.Context, key string, body io.Reader, d *digests, stored *counter, meta func() map[string]string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.Crypt.Seal(io.MultiWriter(stored, pw), func(w io.Writer) error {
			_, err := io.Copy(w, io.TeeReader(body, d))
			return err
		})
		pw.CloseWithError(err)
		done <- err
	}()
	_, putErr := s.Store.Put(ctx, key, pr, meta)
	if putErr != nil {
		pr.CloseWithError(putErr)
	}
	readErr := <-done
	switch {
	case readErr != nil && putErr == nil:
		return fault.Wrap(fault.Unavailable, readErr, "attachment bucket unreachable")
	case putErr != nil:
		return fault.Wrap(fault.Unavailable, putErr, "upload to "+s.Store.String()+" failed")
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// retire moves the previous copy of a changed object under ReplacedDir
// (the stored bytes as they are, with their metadata) and marks its row
// deleted, so retention keeps it as long as a deleted object's.
func (s *Syncer) retire(ctx context.Context, rep *Report, sourceKey string, prev current, start time.Time) error {
	dest := s.Prefix + ReplacedDir + start.Format("20060102T150405Z") + "/" + sourceKey
	rc, info, err := s.Store.Get(ctx, prev.backupKey)
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		// Nothing to keep: the row alone records what was there.
		_, err = s.DB.Exec(ctx, `UPDATE attachment_copies SET deleted_at = $3, removed_at = $3 WHERE store = $1 AND backup_key = $2`,
			rep.Store, prev.backupKey, s.now())
		return err
	case err != nil:
		return fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" unreachable")
	}
	_, err = s.Store.Put(ctx, dest, rc, func() map[string]string { return info.Metadata })
	rc.Close()
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "upload to "+s.Store.String()+" failed")
	}
	_, err = s.DB.Exec(ctx, `UPDATE attachment_copies SET backup_key = $3, deleted_at = $4 WHERE store = $1 AND backup_key = $2`,
		rep.Store, prev.backupKey, dest, s.now())
	return err
}

// expire deletes the copies whose object left the bucket more than
// KeepDeleted ago, oldest first, in batches.
func (s *Syncer) expire(ctx context.Context, rep *Report) (int64, error) {
	cutoff := s.now().Add(-s.KeepDeleted)
	var removed int64
	for {
		rows, err := s.DB.Query(ctx, `
			SELECT backup_key FROM attachment_copies
			WHERE store = $1 AND source = $2 AND deleted_at < $3 AND removed_at IS NULL
			ORDER BY deleted_at LIMIT 500`, rep.Store, rep.Source, cutoff)
		if err != nil {
			return removed, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return removed, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		if len(keys) == 0 {
			return removed, nil
		}
		for _, k := range keys {
			if err := s.Store.Delete(ctx, k); err != nil {
				return removed, fault.Wrap(fault.Unavailable, err, "object storage "+s.Store.String()+" failed to delete an expired copy")
			}
			if _, err := s.DB.Exec(ctx, `UPDATE attachment_copies SET removed_at = $3 WHERE store = $1 AND backup_key = $2`, rep.Store, k, s.now()); err != nil {
				return removed, fault.Wrap(fault.Unavailable, err, "database unavailable")
			}
			removed++
		}
	}
}

// verify reads back a sample of the stored copies — half from this run's
// copies, the rest from all — through the decryption path and checks each
// against the sha256 and size taken while copying. A corrupt current copy
// loses its row, so the next run copies the attachment again.
func (s *Syncer) verify(ctx context.Context, rep *Report, start time.Time) error {
	if s.Sample == 0 {
		return nil
	}
	rows, err := s.DB.Query(ctx, `
		SELECT backup_key, sha256, size, deleted_at IS NULL FROM (
			(SELECT backup_key, sha256, size, deleted_at FROM attachment_copies
			 WHERE store = $1 AND source = $2 AND removed_at IS NULL AND copied_at >= $3
			 ORDER BY random() LIMIT ($4 + 1) / 2)
			UNION
			(SELECT backup_key, sha256, size, deleted_at FROM attachment_copies
			 WHERE store = $1 AND source = $2 AND removed_at IS NULL
			 ORDER BY random() LIMIT $4)) x
		LIMIT $4`, rep.Store, rep.Source, start, s.Sample)
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	type sampled struct {
		key, sha string
		size     int64
		current  bool
	}
	sample, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sampled, error) {
		var x sampled
		return x, r.Scan(&x.key, &x.sha, &x.size, &x.current)
	})
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	var corrupt []string
	for _, x := range sample {
		err := s.check(ctx, x.key, x.sha, x.size)
		switch {
		case errors.Is(err, ErrCorrupt):
			rep.Corrupt++
			corrupt = append(corrupt, x.key)
			logging.From(ctx).Error().Err(err).Str("backup_key", x.key).Msg("attachment copy is corrupt")
			if x.current {
				if _, err := s.DB.Exec(ctx, `DELETE FROM attachment_copies WHERE store = $1 AND backup_key = $2`, rep.Store, x.key); err != nil {
					return fault.Wrap(fault.Unavailable, err, "database unavailable")
				}
			}
		case err != nil:
			return err
		default:
			rep.Verified++
			if _, err := s.DB.Exec(ctx, `UPDATE attachment_copies SET verified_at = $3 WHERE store = $1 AND backup_key = $2`, rep.Store, x.key, s.now()); err != nil {
				return fault.Wrap(fault.Unavailable, err, "database unavailable")
			}
		}
	}
	if len(corrupt) > 0 {
		return fmt.Errorf("%w: %d of %d sampled (%s); current ones are copied again by the next run", ErrCorrupt, len(corrupt), len(sample), corrupt[0])
	}
	return nil
}

// check reads one stored copy back and compares it with what was copied.
func (s *Syncer) check(ctx context.Context, key, wantSHA string, wantSize int64) error {
	plain, closeFn, err := openCopy(ctx, s.Store, s.Crypt, key)
	if err != nil {
		return err
	}
	defer closeFn()
	h := sha256.New()
	n, err := io.Copy(h, plain)
	if err != nil {
		return readFailure(s.Store, key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA || n != wantSize {
		return fmt.Errorf("%w: %s reads back %d bytes with sha256 %s, %d with %s were copied", ErrCorrupt, key, n, got, wantSize, wantSHA)
	}
	return nil
}
