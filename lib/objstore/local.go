package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a Store in a local folder: each key is a file under the folder
// (slashes make subfolders) and its metadata sits beside it in a hidden
// ".NAME.meta.json". Files are private to the user (0600): backups hold
// personal data.
type Dir struct {
	root string
}

// NewDir returns a Store rooted at dir (made absolute; created on first use).
func NewDir(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errors.New("objstore: empty folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: folder %s: %w", dir, err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) String() string { return "file://" + d.root }

// Root is the absolute folder.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("objstore: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if strings.HasPrefix(seg, ".") {
			return "", fmt.Errorf("objstore: key %q: segments starting with a dot are reserved in a folder store", key)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func metaPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".meta.json")
}

// Check creates the folder and proves a file can be written in it.
func (d *Dir) Check(ctx context.Context) error {
	if err := os.MkdirAll(d.root, 0o700); err != nil {
		return fmt.Errorf("objstore: create %s: %w", d.root, err)
	}
	f, err := os.CreateTemp(d.root, ".check-*")
	if err != nil {
		return fmt.Errorf("objstore: %s not writable: %w", d.root, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Put writes r to a temporary file beside the target, syncs it, writes the
// metadata, then renames it into place: a failed or interrupted Put leaves
// no object under key.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, meta MetaFunc) (info Info, err error) {
	path, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, fmt.Errorf("objstore: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	var m map[string]string
	if meta != nil {
		m = meta()
	}
	if err := writeMeta(path, m); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	syncDir(dir)
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	return Info{Key: key, Size: n, Modified: st.ModTime(), Metadata: m}, nil
}

func writeMeta(path string, m map[string]string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	mp := metaPath(path)
	tmp := mp + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, mp)
}

func readMeta(path string) (map[string]string, error) {
	b, err := os.ReadFile(metaPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", filepath.Base(path), err)
	}
	return m, nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// Get opens the file.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	info, err := d.Head(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	path, _ := d.path(key)
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, d.notFound(key, err)
	}
	return f, info, nil
}

// Head stats the file and reads its metadata.
func (d *Dir) Head(_ context.Context, key string) (Info, error) {
	path, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, d.notFound(key, err)
	}
	if !st.Mode().IsRegular() {
		return Info{}, fmt.Errorf("objstore: %s: %w", key, ErrNotFound)
	}
	m, err := readMeta(path)
	if err != nil {
		return Info{}, fmt.Errorf("objstore: %s: %w", key, err)
	}
	return Info{Key: key, Size: st.Size(), Modified: st.ModTime(), Metadata: m}, nil
}

func (d *Dir) notFound(key string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("objstore: %s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("objstore: %s: %w", key, err)
}

// List walks the folder; hidden files (metadata, temporary files) are not
// objects. A missing folder is an empty store.
func (d *Dir) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == d.root && errors.Is(err, os.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if path == d.root {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, Info{Key: key, Size: st.Size(), Modified: st.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: list %s: %w", d.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the file and its metadata.
func (d *Dir) Delete(_ context.Context, key string) error {
	path, err := d.path(key)
	if err != nil {
		return err
	}
	for _, p := range []string{path, metaPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("objstore: delete %s: %w", key, err)
		}
	}
	return nil
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
