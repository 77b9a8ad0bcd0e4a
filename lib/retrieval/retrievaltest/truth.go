package retrievaltest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/retrieval"
)

// The truth table: who sees what, written out by hand from the rules in
// retrieval's package comment, not computed by Scope.Visible. It is the
// independent oracle for both the rule (TruthTable, run on Scope.Visible in
// lib/retrieval) and every index (the TruthTable case of Run, through
// Search).
//
// Columns are chunks of the corpus, one per shape that matters: whose
// (guest A, guest B, a listing, everyone, no one), restricted or not, and
// audience (guest or team-only). Rows are scopes: whose conversation, which
// listings and reservations, inside the disclosure window or not (the
// answer engine sets Scope.Restricted exactly when it is), and whether the
// reader is the team.

// Columns.
var truthChunks = map[string]string{
	"A booking":    docResA + "#0",     // guest A, current reservation
	"A arrival":    docResA + "#1",     // guest A, current reservation, restricted (lockbox code)
	"A old stay":   docResAOld + "#0",  // guest A, past reservation at the loft
	"A call":       docCallA + "#0",    // guest A, a call (no reservation)
	"A notes":      docNotesA + "#0",   // guest A, team-only notes on the call
	"B booking":    docResB + "#0",     // guest B
	"B arrival":    docResB + "#1",     // guest B, restricted
	"B call":       docCallB + "#0",    // guest B
	"B notes":      docNotesB + "#0",   // guest B, team-only
	"sea rules":    docListingA + "#2", // listing A (guest A's), public
	"sea wifi":     docListingA + "#4", // listing A, restricted
	"loft rules":   docListingB + "#2", // listing B (guest B's), public
	"loft wifi":    docListingB + "#4", // listing B, restricted
	"pets policy":  docPolicies + "#1", // global
	"lounge code":  docLounge + "#0",   // global, restricted
	"playbook":     docPlaybook + "#0", // global, team-only
	"orphan draft": docOrphan + "#0",   // no scope keys: no one
}

// truthRow is one scope and, by hand, every column it sees; the columns
// it does not list it must not see.
type truthRow struct {
	name  string
	scope retrieval.Scope
	sees  []string
}

var truthTable = []truthRow{
	{"guest A, before the window",
		retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}},
		[]string{"A booking", "A call", "sea rules", "pets policy"}},
	{"guest A, in the window",
		retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}, Restricted: true},
		[]string{"A booking", "A arrival", "A call", "sea rules", "sea wifi", "pets policy", "lounge code"}},
	{"team on guest A's conversation, before the window",
		retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}, Team: true},
		[]string{"A booking", "A call", "A notes", "sea rules", "pets policy", "playbook"}},
	{"team on guest A's conversation, in the window",
		retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}, Restricted: true, Team: true},
		[]string{"A booking", "A arrival", "A call", "A notes", "sea rules", "sea wifi", "pets policy", "lounge code", "playbook"}},
	{"guest B, in the window",
		retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}, Restricted: true},
		[]string{"B booking", "B arrival", "B call", "loft rules", "loft wifi", "pets policy", "lounge code"}},
	{"team on guest B's conversation, before the window",
		retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}, Team: true},
		[]string{"B booking", "B call", "B notes", "loft rules", "pets policy", "playbook"}},
	{"guest A asking about the past stay at the loft, in the window",
		retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingB}, ReservationIDs: []string{resAOld}, Restricted: true},
		[]string{"A old stay", "A call", "loft rules", "loft wifi", "pets policy", "lounge code"}},
	{"guest A naming guest B's reservations, in the window",
		retrieval.Scope{GuestID: guestA, ReservationIDs: []string{resA, resB, resBOld}, Restricted: true},
		[]string{"A booking", "A arrival", "A call", "pets policy", "lounge code"}},
	{"unverified contact: a listing only, before the window",
		retrieval.Scope{ListingIDs: []string{listingA}},
		[]string{"sea rules", "pets policy"}},
	{"unverified contact: a listing only, in the window",
		retrieval.Scope{ListingIDs: []string{listingA}, Restricted: true},
		[]string{"sea rules", "sea wifi", "pets policy", "lounge code"}},
	{"nobody",
		retrieval.Scope{},
		[]string{"pets policy"}},
	{"nobody, in the window, team",
		retrieval.Scope{Restricted: true, Team: true},
		[]string{"pets policy", "lounge code", "playbook"}},
	{"an unknown guest, in the window, team",
		retrieval.Scope{GuestID: "guest-z", ListingIDs: []string{"listing-z"}, ReservationIDs: []string{"res-z"}, Restricted: true, Team: true},
		[]string{"pets policy", "lounge code", "playbook"}},
}

// TruthTable checks visible, a scope rule such as retrieval.Scope.Visible,
// against the hand-written table.
func TruthTable(t *testing.T, visible func(retrieval.Scope, retrieval.Chunk) bool) {
	t.Helper()
	chunks := corpusChunks()
	checkTable(t)
	for _, row := range truthTable {
		for _, col := range slices.Sorted(maps.Keys(truthChunks)) {
			want := slices.Contains(row.sees, col)
			if got := visible(row.scope, chunks[truthChunks[col]]); got != want {
				t.Errorf("%s, %s (%s): visible = %v, the table says %v", row.name, col, truthChunks[col], got, want)
			}
		}
	}
}

// checkTable guards the table itself: every name is a column, and every
// column is both seen and hidden somewhere (but global public knowledge,
// which everyone sees, and the orphan, which no one does), so a column
// cannot pass by an index answering all or nothing.
func checkTable(t *testing.T) {
	t.Helper()
	chunks := corpusChunks()
	seen := map[string]bool{}
	hidden := map[string]bool{}
	for _, row := range truthTable {
		for _, col := range row.sees {
			if _, ok := truthChunks[col]; !ok {
				t.Fatalf("row %q names unknown column %q", row.name, col)
			}
		}
		for col := range truthChunks {
			if slices.Contains(row.sees, col) {
				seen[col] = true
			} else {
				hidden[col] = true
			}
		}
	}
	for col, id := range truthChunks {
		if _, ok := chunks[id]; !ok {
			t.Fatalf("column %q is %s, not in the corpus", col, id)
		}
		if !hidden[col] && col != "pets policy" {
			t.Errorf("column %q is seen by every row", col)
		}
		if !seen[col] && col != "orphan draft" {
			t.Errorf("column %q is seen by no row", col)
		}
	}
}

func corpusChunks() map[string]retrieval.Chunk {
	out := map[string]retrieval.Chunk{}
	for _, cs := range corpus() {
		for _, c := range cs {
			out[c.ID] = c
		}
	}
	return out
}

// testTruthTable asks each row's scope for every column's own text: a
// column the row sees must come back (the positive check: an index that
// returns nothing fails), one it does not see must not.
func testTruthTable(t *testing.T, s *session) {
	checkTable(t)
	chunks := corpusChunks()
	for _, row := range truthTable {
		t.Run(row.name, func(t *testing.T) {
			for _, col := range slices.Sorted(maps.Keys(truthChunks)) {
				c := chunks[truthChunks[col]]
				want := slices.Contains(row.sees, col)
				// The title too: a vector index ranks "title + text".
				got := slices.Contains(ids(s.search(row.scope, c.Title+" "+c.Text, 20)), c.ID)
				if got != want {
					verb := "found"
					if !got {
						verb = "did not find"
					}
					t.Errorf("%s %s (%s: %s…); the table says seen=%v", verb, col, c.ID, strings.Join(strings.Fields(c.Text)[:6], " "), want)
				}
			}
		})
	}
}
