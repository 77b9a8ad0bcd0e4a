package attachments

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/objstore"
)

// tokens is a counting semaphore whose holders may take several tokens:
// the lock makes a multi-token acquire whole, so two of them never wait on
// each other's half.
type tokens struct {
	mu sync.Mutex
	c  chan struct{}
}

func newTokens(n int) *tokens { return &tokens{c: make(chan struct{}, n)} }

func (t *tokens) acquire(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < n; i++ {
		t.c <- struct{}{}
	}
}

func (t *tokens) release(n int) {
	for i := 0; i < n; i++ {
		<-t.c
	}
}

// openCopy opens a stored copy and returns its content, decrypted when it
// is an age file. A missing copy is corrupt (the backup lost it); a store
// that does not answer is Unavailable; a key that does not decrypt it
// names the identity's secret (lib/backup).
func openCopy(ctx context.Context, store objstore.Store, crypt *backup.Crypt, key string) (io.Reader, func(), error) {
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: %s is missing from %s", ErrCorrupt, key, store)
		}
		return nil, nil, fault.Wrap(fault.Unavailable, err, "object storage "+store.String()+" unreachable")
	}
	plain, _, err := crypt.Open(bufio.NewReaderSize(backup.MarkReads(rc), 64<<10), key)
	if err != nil {
		rc.Close()
		switch {
		case backup.IsReadError(err):
			return nil, nil, fault.Wrap(fault.Unavailable, err, "object storage "+store.String()+" unreachable")
		case errors.Is(err, backup.ErrCorrupt):
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil, nil, err
	}
	return plain, func() { rc.Close() }, nil
}

// readFailure classifies an error met while reading a copy's content.
func readFailure(store objstore.Store, key string, err error) error {
	if backup.IsReadError(err) {
		return fault.Wrap(fault.Unavailable, err, "object storage "+store.String()+" unreachable")
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
}

// RestoreReport is what Restore did.
type RestoreReport struct {
	Listed   int64
	Restored int64
	Bytes    int64
	// Skipped were already in the bucket with the same size (a restore
	// that was interrupted resumes).
	Skipped    int64
	Failed     int64
	FailedKeys []string
}

// Restore puts every copy under prefix+ObjectsDir in store back into the
// bucket under its own key, decrypted, checked against the sha256 and size
// of its metadata, with its content type. Copies of attachments deleted
// less than BACKUP_ATTACHMENTS_KEEP_DAYS ago come back too: a conversation
// restored from an older database backup may point at them. It reads the
// store only, so it works when the database is gone.
func Restore(ctx context.Context, store objstore.Store, prefix string, crypt *backup.Crypt, into *Bucket) (*RestoreReport, error) {
	dir := prefix + ObjectsDir
	objs, err := store.List(ctx, dir)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "object storage "+store.String()+" unreachable")
	}
	rep := &RestoreReport{Listed: int64(len(objs))}
	var mu sync.Mutex
	var firstErr error
	sem := newTokens(Concurrency)
	var wg sync.WaitGroup
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		sem.acquire(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sem.release(1)
			n, skipped, err := restoreOne(ctx, store, crypt, into, o.Key, strings.TrimPrefix(o.Key, dir))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				rep.Failed++
				if len(rep.FailedKeys) < maxFailedKeys {
					rep.FailedKeys = append(rep.FailedKeys, o.Key)
				}
				if firstErr == nil {
					firstErr = err
				}
			case skipped:
				rep.Skipped++
			default:
				rep.Restored++
				rep.Bytes += n
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if firstErr != nil {
		return rep, fmt.Errorf("%d of %d attachments not restored (run it again to retry them), first: %w", rep.Failed, rep.Listed, firstErr)
	}
	return rep, nil
}

func restoreOne(ctx context.Context, store objstore.Store, crypt *backup.Crypt, into *Bucket, key, target string) (int64, bool, error) {
	info, err := store.Head(ctx, key)
	if err != nil {
		return 0, false, fault.Wrap(fault.Unavailable, err, "object storage "+store.String()+" unreachable")
	}
	size, err := strconv.ParseInt(info.Metadata["size"], 10, 64)
	want := info.Metadata["sha256"]
	if err != nil || want == "" {
		return 0, false, fmt.Errorf("%w: %s has no sha256 and size metadata", ErrCorrupt, key)
	}
	if have, err := into.Head(ctx, target); err == nil && have.Size == size {
		return 0, true, nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, false, fault.Wrap(fault.Unavailable, err, "attachment bucket "+into.String()+" unreachable")
	}
	plain, closeFn, err := openCopy(ctx, store, crypt, key)
	if err != nil {
		return 0, false, err
	}
	defer closeFn()
	h := sha256.New()
	body := io.TeeReader(plain, h)
	// The HTTP client reads the body on a goroutine of its own, which may
	// still be reading when Put returns on an early answer.
	var mu sync.Mutex
	var readErr error
	putErr := into.Put(ctx, target, readerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		n, err := body.Read(p)
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = err
		}
		return n, err
	}), size, info.Metadata["content-type"])
	mu.Lock()
	defer mu.Unlock()
	if readErr == nil && putErr == nil {
		// The end of the content: age checks its last chunk, and nothing
		// may follow.
		if n, err := io.Copy(h, plain); err != nil || n != 0 {
			readErr = fmt.Errorf("content beyond its recorded size, or unreadable: %v", err)
		}
	}
	if readErr != nil {
		_ = into.Delete(context.WithoutCancel(ctx), target)
		return 0, false, readFailure(store, key, readErr)
	}
	if putErr != nil {
		return 0, false, fault.Wrap(fault.Unavailable, putErr, "upload to "+into.String()+" failed")
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		_ = into.Delete(context.WithoutCancel(ctx), target)
		return 0, false, fmt.Errorf("%w: %s has sha256 %s, %s was copied", ErrCorrupt, key, got, want)
	}
	return size, false, nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
