package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/objstore"
)

// Listed is a backup object found in the store.
type Listed struct {
	Key      string
	Database string
	// Time is when the backup started (from the key).
	Time   time.Time
	Size   int64
	SHA256 string
	// Status and VerifiedAt come from the backups table, when it has the
	// object; Status is "" for an object the table does not know.
	Status     string
	VerifiedAt *time.Time
	// Encrypted: the key ends in EncryptedSuffix.
	Encrypted bool
}

// ParseKey splits a key made by Service.key (or the globals' key) into
// database and time; the globals' database is GlobalsName.
func ParseKey(prefix, key string) (database string, at time.Time, ok bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", time.Time{}, false
	}
	db, file, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(file, db+"-") {
		return "", time.Time{}, false
	}
	file = strings.TrimSuffix(file, EncryptedSuffix)
	suffix := KeySuffix
	if db == GlobalsName {
		suffix = GlobalsSuffix
	}
	if !strings.HasSuffix(file, suffix) {
		return "", time.Time{}, false
	}
	at, err := time.Parse("20060102T150405Z", strings.TrimSuffix(strings.TrimPrefix(file, db+"-"), suffix))
	if err != nil {
		return "", time.Time{}, false
	}
	return db, at, true
}

// List returns the backups in store under prefix, newest first, with their
// sha256 from the object metadata and, from rows (Rows, may be nil), their
// status. It reads the store, not the table, so it works when the database
// is gone.
func List(ctx context.Context, store objstore.Store, prefix string, rows map[string]Row) ([]Listed, error) {
	objs, err := store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []Listed
	for _, o := range objs {
		db, at, ok := ParseKey(prefix, o.Key)
		if !ok {
			continue
		}
		l := Listed{Key: o.Key, Database: db, Time: at, Size: o.Size, Encrypted: strings.HasSuffix(o.Key, EncryptedSuffix)}
		info, err := store.Head(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("head %s: %w", o.Key, err)
		}
		l.SHA256 = info.Metadata["sha256"]
		if r, ok := rows[o.Key]; ok {
			l.Status, l.VerifiedAt = r.Status, r.VerifiedAt
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}
