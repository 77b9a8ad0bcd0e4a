package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/objstore/s3test"
)

func TestProbeLeavesNothing(t *testing.T) {
	for _, im := range implementations {
		t.Run(im.name, func(t *testing.T) {
			s := im.make(t).store
			key, err := Probe(t.Context(), s, "production/")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(key, "production/doctor/probe-") {
				t.Fatalf("key %s", key)
			}
			left, err := s.List(t.Context(), "production/")
			if err != nil || len(left) != 0 {
				t.Fatalf("left behind %v, %v", left, err)
			}
		})
	}
}

func TestProbeS3Broken(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	for _, tc := range []struct {
		name, bucket, secret, code string
	}{
		{"missing bucket", "no-such-bucket", s3test.SecretKey, "NoSuchBucket"},
		{"wrong secret key", bucket, "not-the-secret-0123456789", "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewS3(S3Options{Endpoint: srv.Endpoint, Bucket: tc.bucket, AccessKeyID: s3test.AccessKey, SecretAccessKey: tc.secret})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Probe(t.Context(), s, "")
			var pe *ProbeError
			code, msg := S3Error(err)
			if !errors.As(err, &pe) || pe.Step != "put" || code != tc.code || msg == "" {
				t.Fatalf("err %v (code %q, message %q), want put failing with %s", err, code, msg, tc.code)
			}
		})
	}
}

// flipping returns other bytes than were stored.
type flipping struct{ Store }

func (f flipping) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	rc, info, err := f.Store.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	b[0] ^= 0xff
	return io.NopCloser(bytes.NewReader(b)), info, nil
}

func TestProbeComparesAndStillDeletes(t *testing.T) {
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Probe(t.Context(), flipping{dir}, "")
	var pe *ProbeError
	if !errors.As(err, &pe) || pe.Step != "compare" {
		t.Fatalf("err %v", err)
	}
	if left, _ := dir.List(t.Context(), ""); len(left) != 0 {
		t.Fatalf("left behind %v", left)
	}
}
