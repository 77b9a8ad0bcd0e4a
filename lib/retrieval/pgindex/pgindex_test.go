package pgindex_test

import (
	"os"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/retrievaltest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// The behavioural suite every index implementation passes.
func TestSuite(t *testing.T) {
	retrievaltest.Run(t, func(t *testing.T) retrieval.Index { return pgindex.New(dbtest.New(t).Pool) })
}
