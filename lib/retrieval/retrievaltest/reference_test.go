package retrievaltest

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/retrieval"
)

// memIndex is the simplest correct Index: brute-force cosine over Hashing
// vectors, filtered with Scope.Visible itself. It checks the suite, not an
// implementation.
type memIndex struct {
	mu     sync.Mutex
	emb    *embed.Hashing
	chunks map[string][]stored
}

type stored struct {
	c   retrieval.Chunk
	vec []float32
}

func (m *memIndex) Replace(ctx context.Context, docID string, chunks []retrieval.Chunk) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []stored
	for _, c := range chunks {
		out = append(out, stored{c, m.emb.Vector(c.Title + "\n" + c.Text)})
	}
	m.chunks[docID] = out
	return nil
}

func (m *memIndex) Delete(ctx context.Context, docID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.chunks, docID)
	return nil
}

func (m *memIndex) Search(ctx context.Context, scope retrieval.Scope, query string, limit int) ([]retrieval.Hit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.TrimSpace(query) == "" || limit <= 0 {
		return nil, nil
	}
	q := m.emb.Vector(query)
	var hits []retrieval.Hit
	for _, cs := range m.chunks {
		for _, s := range cs {
			if !scope.Visible(s.c) {
				continue
			}
			var dot float64
			for i := range q {
				dot += float64(q[i]) * float64(s.vec[i])
			}
			if math.IsNaN(dot) {
				continue
			}
			hits = append(hits, retrieval.Hit{Chunk: s.c, Score: dot})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits, nil
}

func TestSuiteOnReference(t *testing.T) {
	Run(t, func(t *testing.T) retrieval.Index {
		return &memIndex{emb: embed.NewHashing(0), chunks: map[string][]stored{}}
	})
}
