package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/harborstays/concierge/lib/objstore/s3test"
)

const testPart = minPartSize

// impl is one Store under test, with a way to look at what it stored that
// does not go through the Store itself.
type impl struct {
	store Store
	// raw returns the stored bytes of key, or ok=false.
	raw func(t *testing.T, key string) (content []byte, ok bool)
	// meta returns the stored metadata of key.
	meta func(t *testing.T, key string) map[string]string
	// pending counts unfinished uploads (S3 multipart uploads).
	pending func(t *testing.T) int
}

// implementations builds each Store under test inside its own subtest, so
// a missing S3 server skips (or, under CI, fails) only the S3 one.
var implementations = []struct {
	name string
	make func(t *testing.T) impl
}{
	{"local", func(t *testing.T) impl {
		dir := t.TempDir()
		local, err := NewDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return impl{
			store: local,
			raw: func(t *testing.T, key string) ([]byte, bool) {
				return readFile(t, filepath.Join(dir, filepath.FromSlash(key)))
			},
			meta: func(t *testing.T, key string) map[string]string {
				m, err := readMeta(filepath.Join(dir, filepath.FromSlash(key)))
				if err != nil {
					t.Fatal(err)
				}
				return m
			},
			pending: func(t *testing.T) int {
				n := 0
				_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
					if err == nil && !e.IsDir() && filepath.Ext(p) != ".json" && e.Name()[0] == '.' {
						n++
					}
					return nil
				})
				return n
			},
		}
	}},
	{"s3", func(t *testing.T) impl {
		srv := s3test.Start(t)
		bucket := srv.Bucket(t)
		s, err := NewS3(S3Options{Endpoint: srv.Endpoint, Bucket: bucket, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey, PartSize: testPart})
		if err != nil {
			t.Fatal(err)
		}
		// Objects above 12 MiB get their metadata by a multipart copy in 5 MiB
		// ranges, as objects above 5 GiB do in production.
		s.copyLimit, s.copyPart = 12<<20, 5<<20
		return impl{
			store: s,
			// versitygw's posix backend keeps each object as a file.
			raw: func(t *testing.T, key string) ([]byte, bool) {
				return readFile(t, filepath.Join(srv.Root, bucket, filepath.FromSlash(key)))
			},
			// The aws CLI, not our client, reads the metadata.
			meta: func(t *testing.T, key string) map[string]string {
				var h struct{ Metadata map[string]string }
				if err := json.Unmarshal(srv.AWS(t, "s3api", "head-object", "--bucket", bucket, "--key", key), &h); err != nil {
					t.Fatal(err)
				}
				return h.Metadata
			},
			pending: func(t *testing.T) int {
				var l struct{ Uploads []any }
				out := srv.AWS(t, "s3api", "list-multipart-uploads", "--bucket", bucket)
				if len(bytes.TrimSpace(out)) > 0 {
					if err := json.Unmarshal(out, &l); err != nil {
						t.Fatalf("%v: %s", err, out)
					}
				}
				return len(l.Uploads)
			},
		}
	}},
}

func readFile(t *testing.T, path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// failingReader returns n bytes, then an error.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func TestStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mk := range implementations {
		t.Run(mk.name, func(t *testing.T) {
			im := mk.make(t)
			if err := im.store.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			sizes := []struct {
				name string
				size int
			}{
				{"empty", 0},
				{"one small part", 1234},
				{"exactly one part", testPart},
				{"parts and a remainder", 2*testPart + 777},
				{"exact parts", 2 * testPart},
				{"above the copy limit", 13 << 20},
			}
			for _, sz := range sizes {
				t.Run(sz.name, func(t *testing.T) {
					key := "db/" + strconv.Itoa(sz.size) + ".bin"
					data := random(t, sz.size)
					metaCalled := false
					info, err := im.store.Put(ctx, key, bytes.NewReader(data), func() map[string]string {
						metaCalled = true
						return map[string]string{"sha256": digest(data), "size": strconv.Itoa(len(data))}
					})
					if err != nil {
						t.Fatalf("Put: %v", err)
					}
					if !metaCalled || info.Size != int64(sz.size) {
						t.Fatalf("Put: meta called %v, size %d; want true, %d", metaCalled, info.Size, sz.size)
					}
					content, ok := im.raw(t, key)
					if !ok || !bytes.Equal(content, data) {
						t.Fatalf("stored content differs (found %v, %d bytes)", ok, len(content))
					}
					if sz.size >= 2*testPart {
						// The paths that rewrite metadata after a multipart upload.
						if meta := im.meta(t, key); meta["sha256"] != digest(data) || meta["size"] != strconv.Itoa(sz.size) {
							t.Errorf("stored metadata %v", meta)
						}
					}
					rc, got, err := im.store.Get(ctx, key)
					if err != nil {
						t.Fatalf("Get: %v", err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || !bytes.Equal(b, data) || got.Size != int64(sz.size) || got.Metadata["sha256"] != digest(data) {
						t.Errorf("Get: %v, %d bytes, info %+v", err, len(b), got)
					}
					h, err := im.store.Head(ctx, key)
					if err != nil || h.Size != int64(sz.size) || h.Metadata["size"] != strconv.Itoa(sz.size) {
						t.Errorf("Head: %+v %v", h, err)
					}
				})
			}

			t.Run("failed reader stores nothing", func(t *testing.T) {
				for _, n := range []int{100, testPart + 100, 3*testPart + 1} {
					key := "failed/" + strconv.Itoa(n)
					boom := errors.New("dump failed")
					_, err := im.store.Put(ctx, key, &failingReader{r: bytes.NewReader(random(t, n)), err: boom}, func() map[string]string {
						t.Error("metadata asked for after a failed read")
						return nil
					})
					if !errors.Is(err, boom) {
						t.Errorf("Put of %d bytes: %v, want the reader's error", n, err)
					}
					if _, ok := im.raw(t, key); ok {
						t.Errorf("object %s exists after a failed Put", key)
					}
				}
				if n := im.pending(t); n != 0 {
					t.Errorf("%d unfinished uploads left behind", n)
				}
			})

			t.Run("list, delete, not found", func(t *testing.T) {
				list, err := im.store.List(ctx, "db/")
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != len(sizes) {
					t.Fatalf("List = %d objects, want %d: %+v", len(list), len(sizes), list)
				}
				for i := 1; i < len(list); i++ {
					if list[i-1].Key >= list[i].Key {
						t.Errorf("List not in key order: %s, %s", list[i-1].Key, list[i].Key)
					}
				}
				if other, _ := im.store.List(ctx, "nothing/"); len(other) != 0 {
					t.Errorf("List of another prefix = %+v", other)
				}
				key := list[0].Key
				if err := im.store.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				if err := im.store.Delete(ctx, key); err != nil {
					t.Errorf("second Delete: %v", err)
				}
				if _, ok := im.raw(t, key); ok {
					t.Errorf("%s still stored", key)
				}
				if _, _, err := im.store.Get(ctx, key); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get of a deleted key: %v, want ErrNotFound", err)
				}
				if _, err := im.store.Head(ctx, "db/missing"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Head of a missing key: %v, want ErrNotFound", err)
				}
			})

			t.Run("invalid keys", func(t *testing.T) {
				for _, key := range []string{"", "/abs", "a//b", "../up", "a/./b", "a\\b"} {
					if _, err := im.store.Put(ctx, key, bytes.NewReader(nil), nil); err == nil {
						t.Errorf("Put(%q) accepted", key)
					}
				}
			})
		})
	}
}

func TestS3Unreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	s, err := NewS3(S3Options{Endpoint: endpoint, Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Check(ctx); err == nil {
		t.Fatal("Check of a closed port succeeded")
	}
	if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("x")), nil); err == nil {
		t.Fatal("Put to a closed port succeeded")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("failing took %s", d)
	}
}

func TestNewS3Validates(t *testing.T) {
	for _, o := range []S3Options{
		{Endpoint: "", Bucket: "b"},
		{Endpoint: "r2.example.com", Bucket: "b"},
		{Endpoint: "https://r2.example.com", Bucket: ""},
		{Endpoint: "https://r2.example.com", Bucket: "b", PartSize: 1 << 20},
	} {
		if _, err := NewS3(o); err == nil {
			t.Errorf("NewS3(%+v) accepted", o)
		}
	}
	s, err := NewS3(S3Options{Endpoint: "https://acct.r2.cloudflarestorage.com/", Bucket: "backups"})
	if err != nil || s.String() != "s3://acct.r2.cloudflarestorage.com/backups" {
		t.Errorf("NewS3: %v %v", s, err)
	}
}

// recorder is an http.RoundTripper that keeps every request's headers.
type recorder struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.headers = append(r.headers, req.Header.Clone())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// The R2 checksum incident (contracts, R2): since service/s3 v1.73.0 the SDK
// sends CRC32 checksums unless told "when required". None may be sent.
func TestNoDefaultChecksums(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	rec := &recorder{}
	s, err := NewS3(S3Options{Endpoint: srv.Endpoint, Bucket: bucket, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey,
		PartSize: testPart, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []int{100, 2*testPart + 1} {
		key := "c/" + strconv.Itoa(n)
		if _, err := s.Put(ctx, key, bytes.NewReader(random(t, n)), func() map[string]string { return map[string]string{"sha256": "x"} }); err != nil {
			t.Fatal(err)
		}
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if len(rec.headers) < 8 {
		t.Fatalf("only %d requests recorded", len(rec.headers))
	}
	for _, h := range rec.headers {
		for name := range h {
			l := strings.ToLower(name)
			if strings.HasPrefix(l, "x-amz-checksum-") || l == "x-amz-sdk-checksum-algorithm" || l == "x-amz-trailer" || l == "x-amz-checksum-mode" {
				t.Errorf("request sent %s: %v", name, h[name])
			}
		}
	}
	if o := s.client.Options(); o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired || o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Errorf("checksum options %v %v, want when_required", o.RequestChecksumCalculation, o.ResponseChecksumValidation)
	}
}
