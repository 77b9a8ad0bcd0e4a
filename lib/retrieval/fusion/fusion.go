// Package fusion is the production retrieval index: the same question, in
// the same scope, asked of PostgreSQL full text (exact words, any language
// the guest shares with the listing) and of Qdrant's dense vectors (meaning,
// across languages with a multilingual model), the two rankings merged by
// reciprocal rank fusion.
//
// Reciprocal rank fusion scores a chunk by its positions alone,
// sum over the rankings of 1/(K + rank), rank counted from 1, so the two
// indexes' scores (ts_rank_cd and cosine similarity) never need to be made
// comparable. K = 60 is the constant of Cormack, Clarke and Büttcher,
// "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning
// Methods", SIGIR 2009 (doi:10.1145/1571941.1572114).
//
// Full text is the floor. When the dense side fails (Qdrant down, the
// embeddings provider answering 5xx, or either slower than DenseTimeout), a
// search answers from full text alone, logs a warning and counts the
// degradation (Degraded, and Options.OnDegraded for a durable metric): a
// guest waiting for an answer gets the answer PostgreSQL alone gave before
// Qdrant existed, rather than a retry seconds later or a hand-off once the
// retries run out. A full-text failure fails the search: PostgreSQL is where
// everything else of the step lives too, so the step retries.
//
// Writes go to both: Replace and Delete succeed only when both indexes did,
// so a failed side makes the job retry, and the retry converges (both
// Replaces are idempotent).
package fusion

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/retrieval"
)

// K is the rank constant of reciprocal rank fusion, 60 as in Cormack,
// Clarke and Büttcher (SIGIR 2009): large enough that a chunk both indexes
// rank fairly well beats one that only a single index ranks first.
const K = 60

const (
	// DefaultDenseTimeout bounds the dense side of one search: embedding
	// the question at the provider and querying Qdrant take a few hundred
	// milliseconds; past this, the guest is better served by full text now
	// than by the embeddings client's retries.
	DefaultDenseTimeout = 3 * time.Second
	// minDepth and maxDepth bound how many candidates each side returns:
	// fusion needs more than the final limit from each ranking (a chunk
	// fourth in both beats one first in only one), and Qdrant caps a query
	// at 100.
	minDepth = 20
	maxDepth = 100
	// depthFactor: each side returns this many times the limit.
	depthFactor = 4
)

// Options tune an Index.
type Options struct {
	// DenseTimeout bounds the dense side of one search; 0 means
	// DefaultDenseTimeout.
	DenseTimeout time.Duration
	// OnDegraded is called after a search answered from full text alone
	// because the dense side failed with err: the caller records it where
	// its metrics are read (indexer records an incident). It runs on the
	// search's goroutine; it must not panic.
	OnDegraded func(ctx context.Context, err error)
}

// Index searches both indexes and fuses their rankings.
type Index struct {
	text, dense  retrieval.Index
	denseTimeout time.Duration
	onDegraded   func(ctx context.Context, err error)
	degraded     atomic.Int64
}

var _ retrieval.Index = (*Index)(nil)

// New returns the fused Index of text (PostgreSQL full text, the floor) and
// dense (Qdrant).
func New(text, dense retrieval.Index, o Options) *Index {
	if o.DenseTimeout <= 0 {
		o.DenseTimeout = DefaultDenseTimeout
	}
	return &Index{text: text, dense: dense, denseTimeout: o.DenseTimeout, onDegraded: o.OnDegraded}
}

// Degraded counts the searches answered from full text alone since New.
func (x *Index) Degraded() int64 { return x.degraded.Load() }

// Close closes the dense index if it has a Close method (qdrant.FromConfig's
// connection); the full-text index shares the caller's pool.
func (x *Index) Close() error {
	if c, ok := x.dense.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// Replace writes docID to full text first, then to Qdrant. Full text first:
// when the embeddings provider or Qdrant is down, the guest's new
// reservation is already searchable by its words, and the returned error
// makes the job retry until the vectors are written too.
func (x *Index) Replace(ctx context.Context, docID string, chunks []retrieval.Chunk) error {
	if err := x.text.Replace(ctx, docID, chunks); err != nil {
		return fmt.Errorf("fusion: full text: %w", err)
	}
	if err := x.dense.Replace(ctx, docID, chunks); err != nil {
		return fmt.Errorf("fusion: dense: %w", err)
	}
	return nil
}

// Delete removes docID from both, trying both whatever the first answers:
// a deletion is often a guest's data leaving, and one side's outage must not
// keep the other side's copy.
func (x *Index) Delete(ctx context.Context, docID string) error {
	var errs []error
	if err := x.text.Delete(ctx, docID); err != nil {
		errs = append(errs, fmt.Errorf("fusion: full text: %w", err))
	}
	if err := x.dense.Delete(ctx, docID); err != nil {
		errs = append(errs, fmt.Errorf("fusion: dense: %w", err))
	}
	return errors.Join(errs...)
}

// depth is how many candidates each side returns for a search of limit.
func depth(limit int) int {
	return min(max(limit*depthFactor, minDepth), maxDepth)
}

// Search asks both indexes in scope, concurrently, and returns at most limit
// chunks by fused rank. The dense side has DenseTimeout; if it fails, the
// full-text ranking alone is returned (see the package comment).
func (x *Index) Search(ctx context.Context, scope retrieval.Scope, query string, limit int) ([]retrieval.Hit, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := depth(limit)
	type result struct {
		hits []retrieval.Hit
		err  error
	}
	denseDone := make(chan result, 1)
	dctx, cancel := context.WithTimeout(ctx, x.denseTimeout)
	defer cancel()
	go func() {
		hits, err := x.dense.Search(dctx, scope, query, n)
		denseDone <- result{hits, err}
	}()
	text, err := x.text.Search(ctx, scope, query, n)
	if err != nil {
		return nil, fmt.Errorf("fusion: full text: %w", err)
	}
	d := <-denseDone
	if d.err != nil {
		if ctx.Err() != nil {
			// The caller gave up: not an outage of the dense side.
			return nil, ctx.Err()
		}
		x.degraded.Add(1)
		logging.From(ctx).Warn().Err(d.err).Int("hits", len(text)).
			Msg("fusion: dense retrieval failed; answering from PostgreSQL full text alone")
		if x.onDegraded != nil {
			x.onDegraded(ctx, d.err)
		}
		d.hits = nil
	}
	return fuse(ctx, scope, limit, text, d.hits), nil
}

// candidate is one chunk in the fusion.
type candidate struct {
	hit   retrieval.Hit
	score float64
	// best is its best rank in any list, lists how many lists hold it,
	// inText whether full text found it: the tie-breaks.
	best   int
	lists  int
	inText bool
}

// fuse merges the rankings by reciprocal rank fusion. On equal scores the
// chunk found by both indexes comes first, then the one with the better
// single rank, then full text's (its match is the guest's own words), then
// by id, so the order is deterministic. The chunk's fields come from the
// first list that holds it (full text, PostgreSQL's row). Every hit is
// checked with scope.Visible once more: neither side may widen the scope.
func fuse(ctx context.Context, scope retrieval.Scope, limit int, lists ...[]retrieval.Hit) []retrieval.Hit {
	byID := map[string]*candidate{}
	var order []*candidate
	for li, list := range lists {
		seen := map[string]bool{}
		for i, h := range list {
			if seen[h.ID] {
				continue // a list repeating a chunk gets its best rank only
			}
			seen[h.ID] = true
			if !scope.Visible(h.Chunk) {
				logging.From(ctx).Error().Str("chunk_id", h.ID).Int("list", li).
					Msg("fusion: an index returned a chunk outside the scope; dropped")
				continue
			}
			rank := i + 1
			c, ok := byID[h.ID]
			if !ok {
				c = &candidate{hit: h, best: rank}
				byID[h.ID] = c
				order = append(order, c)
			}
			c.score += 1 / float64(K+rank)
			c.best = min(c.best, rank)
			c.lists++
			c.inText = c.inText || li == 0
		}
	}
	slices.SortStableFunc(order, func(a, b *candidate) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		if a.lists != b.lists {
			return cmp.Compare(b.lists, a.lists)
		}
		if a.best != b.best {
			return cmp.Compare(a.best, b.best)
		}
		if a.inText != b.inText {
			if a.inText {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.hit.ID, b.hit.ID)
	})
	if len(order) > limit {
		order = order[:limit]
	}
	out := make([]retrieval.Hit, len(order))
	for i, c := range order {
		out[i] = retrieval.Hit{Chunk: c.hit.Chunk, Score: c.score}
	}
	return out
}
