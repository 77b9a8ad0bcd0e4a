package retrieval_test

import (
	"testing"

	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/retrievaltest"
)

// The scope rule itself against the hand-written truth table: the oracle
// the behavioural suite uses for every index is checked independently of
// the rule it would otherwise trust.
func TestVisibleTruthTable(t *testing.T) {
	retrievaltest.TruthTable(t, retrieval.Scope.Visible)
}

// The zero Scope is a guest's: existing callers that never heard of
// audiences stay safe.
func TestZeroScopeIsTheGuestAudience(t *testing.T) {
	notes := retrieval.Chunk{ID: "call:1:notes#0", Owner: retrieval.Owner{GuestID: "G"}, TeamOnly: true}
	for _, s := range []retrieval.Scope{{}, {GuestID: "G"}, {GuestID: "G", Restricted: true}} {
		if s.Visible(notes) {
			t.Errorf("scope %+v sees a team-only chunk", s)
		}
	}
	if !(retrieval.Scope{GuestID: "G", Team: true}).Visible(notes) {
		t.Error("the team does not see its own note")
	}
}
