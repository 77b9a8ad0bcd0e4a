package documents

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/harborstays/concierge/lib/retrieval"
)

// maxKnowledgeBytes bounds one knowledge file: policies and FAQs, not books.
const maxKnowledgeBytes = 1 << 20

// Knowledge returns one global document per "## " section of every
// Markdown file under dir. A missing dir holds no knowledge.
func Knowledge(dir string) ([]Document, error) {
	if dir == "" {
		return nil, nil
	}
	var docs []Document
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".md") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxKnowledgeBytes {
			return fmt.Errorf("knowledge file %s is larger than %d bytes", path, maxKnowledgeBytes)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		docs = append(docs, markdown(filepath.ToSlash(rel), string(b))...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("knowledge %s: %w", dir, err)
	}
	return docs, nil
}

// markdown splits a file at its "## " headings; the "# " title prefixes
// every section's title.
func markdown(name, text string) []Document {
	title := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	type section struct{ heading, body string }
	var sections []section
	cur := section{}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			title = strings.TrimSpace(strings.TrimPrefix(line, "# "))
		case strings.HasPrefix(line, "## "):
			if strings.TrimSpace(cur.body) != "" {
				sections = append(sections, cur)
			}
			cur = section{heading: strings.TrimSpace(strings.TrimPrefix(line, "## "))}
		default:
			cur.body += line + "\n"
		}
	}
	if strings.TrimSpace(cur.body) != "" {
		sections = append(sections, cur)
	}
	out := make([]Document, 0, len(sections))
	for i, s := range sections {
		// The section's own heading: prefixing the file's title ("Frequently
		// asked questions") would make every section match its words.
		t := title
		if s.heading != "" {
			t = s.heading
		}
		out = append(out, Document{
			ID: fmt.Sprintf("knowledge:%s:%d", name, i), Kind: "knowledge", Section: slug(s.heading),
			Title: t, Text: strings.TrimSpace(s.body), Owner: retrieval.Owner{Global: true},
		})
	}
	return out
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
