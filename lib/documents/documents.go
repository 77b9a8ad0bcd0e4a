// Package documents turns stored records — listings, reservations, calls and
// the shared knowledge folder — into retrieval documents with scope keys
// and an audience, and documents into chunks: screened first (lib/screen),
// so text that reads as an instruction to an assistant never becomes one.
package documents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/screen"
)

// Document is one retrievable unit: a listing section, a reservation's
// facts, a call, a knowledge file.
type Document struct {
	ID         string
	Kind       string
	Section    string
	Title      string
	Text       string
	Owner      retrieval.Owner
	Restricted bool
	// TeamOnly documents are the team's internal notes: their chunks are
	// never retrieved for a guest (retrieval.Chunk.TeamOnly).
	TeamOnly bool
}

// chunkerVersion names how documents become chunks: the splitting, the
// audiences (call comments and tags became team-only in v2) and the
// screening rules. It is part of every hash, so changing any of them
// re-indexes every document on its next sync, removing chunks the new
// rules would not write.
const chunkerVersion = "chunks-v2+" + screen.Version

// Hash identifies the document's content, scope and audience, and how it is
// chunked: a changed owner (a call matched to a guest later) re-indexes as
// surely as changed text.
func (d Document) Hash() string { return d.hashWith(chunkerVersion) }

func (d Document) hashWith(version string) string {
	b, _ := json.Marshal(d)
	h := sha256.New()
	h.Write([]byte(version))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Screen returns d with its text screened: invisible characters stripped,
// and every paragraph that reads as an instruction to an assistant held
// back and returned instead. A title that reads as one (a listing named
// "System: ...") is held back too and the document goes untitled. Chunk
// only the screened document.
func (d Document) Screen() (Document, []screen.Finding) {
	text, found := screen.Screen(d.Text)
	title := strings.TrimSpace(screen.Clean(d.Title))
	if rule, ok := screen.Match(d.Title); ok {
		found = append(found, screen.Finding{Passage: title, Rule: rule})
		title = ""
	}
	d.Text, d.Title = text, title
	return d, found
}

// Chunk sizes: a section fits one chunk usually; longer text (a transcript,
// a long policy) is cut at word boundaries with an overlap, so a sentence
// cut in two is whole in one of the chunks.
const (
	maxChunkChars = 1200
	overlapChars  = 200
)

// Chunks splits d into chunks with stable ids (document id + "#" + n). A
// document with no text left has none.
func (d Document) Chunks() []retrieval.Chunk {
	if strings.TrimSpace(d.Text) == "" {
		return nil
	}
	parts := split(d.Text, maxChunkChars, overlapChars)
	out := make([]retrieval.Chunk, len(parts))
	for i, p := range parts {
		out[i] = retrieval.Chunk{
			ID: d.ID + "#" + itoa(i), DocumentID: d.ID, Kind: d.Kind, Section: d.Section,
			Title: d.Title, Text: p, Owner: d.Owner, Restricted: d.Restricted, TeamOnly: d.TeamOnly,
		}
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// split cuts text into pieces of at most max runes that overlap by about
// overlap runes, breaking at whitespace when it can.
func split(text string, max, overlap int) []string {
	r := []rune(strings.TrimSpace(text))
	if len(r) <= max {
		return []string{string(r)}
	}
	var out []string
	for start := 0; start < len(r); {
		end := start + max
		if end >= len(r) {
			out = append(out, strings.TrimSpace(string(r[start:])))
			break
		}
		// Back up to a space in the last quarter of the window.
		cut := end
		for i := end; i > start+max*3/4; i-- {
			if unicode.IsSpace(r[i]) {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimSpace(string(r[start:cut])))
		next := cut - overlap
		for next > start && next < cut && !unicode.IsSpace(r[next]) {
			next--
		}
		if next <= start {
			next = cut
		}
		start = next
	}
	return out
}
