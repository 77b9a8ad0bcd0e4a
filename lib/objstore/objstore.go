// Package objstore stores large objects as streams: an S3-compatible bucket
// (Cloudflare R2 in production) or a local folder (the embedded default).
// Neither implementation holds a whole object in memory: uploads are read
// part by part, downloads are returned as a stream.
//
// An object's metadata is often only known once its content has been read
// (a checksum, a size), so Put takes a function that it calls after the
// reader reached EOF and before the object is final.
package objstore

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrNotFound means no object has the key.
var ErrNotFound = errors.New("object not found")

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
	// Metadata holds the user metadata given to Put (keys lower-case). List
	// leaves it nil; Head and Get fill it.
	Metadata map[string]string
}

// MetaFunc returns an object's metadata; Put calls it once the content has
// been read to EOF.
type MetaFunc func() map[string]string

// Store is a flat namespace of objects addressed by slash-separated keys.
type Store interface {
	// Check reports whether the store is reachable and writable enough to
	// start an upload, so a run fails fast before any expensive work.
	Check(ctx context.Context) error
	// Put stores r under key. If r fails, nothing is stored under key.
	Put(ctx context.Context, key string, r io.Reader, meta MetaFunc) (Info, error)
	// Get opens the object for reading; the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Head returns the object's size and metadata.
	Head(ctx context.Context, key string) (Info, error)
	// List returns the objects whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// String names the store without credentials ("s3://host/bucket",
	// "file:///srv/backups"); it is recorded beside each object key.
	String() string
}

// ValidKey reports whether key is usable by every implementation: non-empty,
// relative, no empty, "." or ".." segments, no backslashes or control
// characters.
func ValidKey(key string) bool {
	if key == "" || len(key) > 1024 || strings.ContainsAny(key, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f {
				return false
			}
		}
	}
	return true
}
