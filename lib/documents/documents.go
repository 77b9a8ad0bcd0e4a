// Package documents turns stored records — listings, reservations, calls and
// the shared knowledge folder — into retrieval documents with scope keys,
// and documents into chunks.
package documents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/harborstays/concierge/lib/retrieval"
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
}

// Hash identifies the document's content and scope: a changed owner (a
// call matched to a guest later) re-indexes as surely as changed text.
func (d Document) Hash() string {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Chunk sizes: a section fits one chunk usually; longer text (a transcript,
// a long policy) is cut at word boundaries with an overlap, so a sentence
// cut in two is whole in one of the chunks.
const (
	maxChunkChars = 1200
	overlapChars  = 200
)

// Chunks splits d into chunks with stable ids (document id + "#" + n).
func (d Document) Chunks() []retrieval.Chunk {
	parts := split(d.Text, maxChunkChars, overlapChars)
	out := make([]retrieval.Chunk, len(parts))
	for i, p := range parts {
		out[i] = retrieval.Chunk{
			ID: d.ID + "#" + itoa(i), DocumentID: d.ID, Kind: d.Kind, Section: d.Section,
			Title: d.Title, Text: p, Owner: d.Owner, Restricted: d.Restricted,
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
