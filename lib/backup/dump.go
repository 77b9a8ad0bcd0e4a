package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os/exec"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/harborstays/concierge/lib/fault"
)

// Compression: pg_dump's own (zlib) is turned off and the archive goes
// through zstd at its default level instead. zstd compresses about as well
// as zlib -6 at several times the speed, so the dump is bound by the
// database, not by compressing; it checks a checksum of its own on every
// frame when decompressing; and the zstd command line tool reads the object
// as is (zstd -dc KEY | pg_restore). PostgreSQL 16 added --compress=zstd to
// pg_dump, but the client must match the server (15 here), and compressing
// outside pg_dump works with any version.
var encoderOptions = []zstd.EOption{
	zstd.WithEncoderLevel(zstd.SpeedDefault),
	// A 2 MiB window, as the zstd tool's level 3 uses on large inputs: the
	// encoder then holds about 5 MiB instead of 11, at the same ratio on
	// dumps (a custom archive rarely repeats itself further back).
	zstd.WithWindowSize(encoderWindow),
	// Two goroutines: one compressing a block while the next is read.
	zstd.WithEncoderConcurrency(2),
	zstd.WithLowerEncoderMem(true),
}

const encoderWindow = 2 << 20

var decoderOptions = []zstd.DOption{
	zstd.WithDecoderConcurrency(1),
	zstd.WithDecoderLowmem(true),
}

// digest is what Put stored: the sha256 and size of the object.
type digest struct {
	sha256 string
	size   int64
}

// hashCounter hashes and counts what is written through it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func newHashCounter() *hashCounter { return &hashCounter{h: sha256.New()} }

func (c *hashCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

func (c *hashCounter) digest() digest {
	return digest{sha256: hex.EncodeToString(c.h.Sum(nil)), size: c.n}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type dumped struct {
	digest
	dumpBytes int64
}

// dump streams pg_dump of DATABASE_URL's database into the store under key
// (dumpFrom).
func (s *Service) dump(ctx context.Context, t tools, snapshot, key string, meta map[string]string) (dumped, error) {
	return s.dumpFrom(ctx, t, s.conn, snapshot, key, meta)
}

// dumpFrom streams pg_dump of the database of conn through zstd (and age,
// when encryption is on) into the store under key:
//
//	pg_dump stdout -> zstd -> [age] -> (sha256, size) -> io.Pipe -> Store.Put
//
// The pipe closes with EOF only once pg_dump exited cleanly, so a failed
// dump never completes an object; Put asks for the metadata after EOF,
// when the checksum is known.
func (s *Service) dumpFrom(ctx context.Context, t tools, conn connInfo, snapshot, key string, meta map[string]string) (dumped, error) {
	args := []string{"--format=custom", "--compress=0",
		// A migration holding a table must not stall the run for an hour.
		"--lock-wait-timeout=5min", "--no-password", "--dbname=" + conn.String()}
	if snapshot != "" {
		args = append(args, "--snapshot="+snapshot)
	}
	return s.stream(ctx, t.pgDump, "pg_dump", args, conn, key, meta)
}

// stream runs tool with args and stores its stdout, compressed (and
// encrypted), under key.
func (s *Service) stream(ctx context.Context, path, tool string, args []string, conn connInfo, key string, meta map[string]string) (dumped, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = conn.env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return dumped{}, err
	}
	stderr := &stderrTail{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return dumped{}, fmt.Errorf("start %s: %w", tool, err)
	}

	pr, pw := io.Pipe()
	sum := newHashCounter()
	raw := &countingReader{r: stdout}
	done := make(chan error, 1)
	go func() {
		err := s.Crypt.Seal(io.MultiWriter(sum, pw), func(w io.Writer) error { return compress(w, raw) })
		if err != nil {
			cancel() // the tool may be blocked writing to us
		}
		if werr := cmd.Wait(); err == nil && werr != nil {
			err = &toolError{tool: tool, err: werr, stderr: stderr.summary()}
		}
		pw.CloseWithError(err)
		done <- err
	}()
	info, putErr := s.Store.Put(ctx, key, pr, func() map[string]string {
		m := maps.Clone(meta)
		d := sum.digest()
		m["sha256"], m["size"] = d.sha256, strconv.FormatInt(d.size, 10)
		return m
	})
	if putErr != nil {
		pr.CloseWithError(putErr)
	}
	dumpErr := <-done
	var te *toolError
	switch {
	case errors.As(dumpErr, &te):
		return dumped{}, dumpErr
	case putErr != nil:
		return dumped{}, fault.Wrap(fault.Unavailable, putErr, "upload to "+s.Store.String()+" failed")
	case dumpErr != nil:
		return dumped{}, dumpErr
	}
	d := sum.digest()
	if info.Size != d.size {
		return dumped{}, fmt.Errorf("store reports %d bytes, %d were written", info.Size, d.size)
	}
	return dumped{digest: d, dumpBytes: raw.n}, nil
}

func compress(w io.Writer, r io.Reader) error {
	enc, err := zstd.NewWriter(w, encoderOptions...)
	if err != nil {
		return err
	}
	if _, err := enc.ReadFrom(r); err != nil {
		enc.Close()
		return err
	}
	return enc.Close()
}
