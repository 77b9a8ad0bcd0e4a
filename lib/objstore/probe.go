package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/smithy-go"
)

// ProbePrefix is the folder, under the backups' own prefix, that Probe
// writes in; backup listings ignore keys that are not backups.
const ProbePrefix = "doctor/"

// probeSize is the probe object's size: small, but more than one read.
const probeSize = 64

// ProbeError says which step of Probe failed: put, get, compare or delete.
type ProbeError struct {
	Step string
	Key  string
	Err  error
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("objstore probe: %s %s: %v", e.Step, e.Key, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// Probe puts a small random object under prefix+ProbePrefix, reads it back,
// compares the bytes and deletes it: what a backup run needs of the store,
// at the cost of three requests. It returns the probe's key. The object is
// deleted even when reading it failed.
func Probe(ctx context.Context, s Store, prefix string) (key string, err error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	key = prefix + ProbePrefix + "probe-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(id[:])
	content := make([]byte, probeSize)
	_, _ = rand.Read(content)
	if _, err := s.Put(ctx, key, bytes.NewReader(content), nil); err != nil {
		return key, &ProbeError{Step: "put", Key: key, Err: err}
	}
	defer func() {
		// On a fresh context: ctx may be why the read failed.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := s.Delete(dctx, key); derr != nil && err == nil {
			err = &ProbeError{Step: "delete", Key: key, Err: derr}
		}
	}()
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return key, &ProbeError{Step: "get", Key: key, Err: err}
	}
	got, err := io.ReadAll(io.LimitReader(rc, probeSize+1))
	rc.Close()
	if err != nil {
		return key, &ProbeError{Step: "get", Key: key, Err: err}
	}
	if !bytes.Equal(got, content) {
		return key, &ProbeError{Step: "compare", Key: key, Err: fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(content))}
	}
	return key, nil
}

// S3Error is the S3 error code ("NoSuchBucket", "InvalidAccessKeyId",
// "SignatureDoesNotMatch", "AccessDenied", ...) and message in err, or ""
// when err is not an S3 answer (unreachable endpoint).
func S3Error(err error) (code, message string) {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode(), api.ErrorMessage()
	}
	return "", ""
}
