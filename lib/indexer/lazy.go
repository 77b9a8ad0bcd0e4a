package indexer

import (
	"context"
	"sync/atomic"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
)

// lazyDense is the Qdrant side of the fused index when Qdrant was
// unreachable at start: each use tries to open it again until one succeeds.
// Without it, a Qdrant outage while llm-query starts would keep the guest
// assistant down altogether, where a running one answers from full text.
// Configuration refusals (a collection of another model) are not deferred:
// OpenIndex fails on them at start, where the operator sees them.
type lazyDense struct {
	open func(ctx context.Context) (*qdrant.Index, error)

	// sem, of capacity 1, is held while opening (a channel, not a
	// sync.Mutex: the package's tests declare sync).
	sem chan struct{}
	idx atomic.Pointer[qdrant.Index]
}

func newLazyDense(open func(ctx context.Context) (*qdrant.Index, error)) *lazyDense {
	return &lazyDense{open: open, sem: make(chan struct{}, 1)}
}

var _ retrieval.Index = (*lazyDense)(nil)

// errConnecting: another caller is opening Qdrant right now; this one does
// not wait past its own budget for it.
var errConnecting = fault.New(fault.Unavailable, "qdrant: still connecting")

func (l *lazyDense) get(ctx context.Context) (*qdrant.Index, error) {
	if idx := l.idx.Load(); idx != nil {
		return idx, nil
	}
	select {
	case l.sem <- struct{}{}:
	default:
		return nil, errConnecting
	}
	defer func() { <-l.sem }()
	if idx := l.idx.Load(); idx != nil {
		return idx, nil
	}
	idx, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	l.idx.Store(idx)
	return idx, nil
}

func (l *lazyDense) Replace(ctx context.Context, docID string, chunks []retrieval.Chunk) error {
	idx, err := l.get(ctx)
	if err != nil {
		return err
	}
	return idx.Replace(ctx, docID, chunks)
}

func (l *lazyDense) Delete(ctx context.Context, docID string) error {
	idx, err := l.get(ctx)
	if err != nil {
		return err
	}
	return idx.Delete(ctx, docID)
}

func (l *lazyDense) Search(ctx context.Context, scope retrieval.Scope, query string, limit int) ([]retrieval.Hit, error) {
	idx, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return idx.Search(ctx, scope, query, limit)
}

// Close closes the connection once opened.
func (l *lazyDense) Close() error {
	l.sem <- struct{}{}
	defer func() { <-l.sem }()
	if idx := l.idx.Swap(nil); idx != nil {
		return idx.Close()
	}
	return nil
}
