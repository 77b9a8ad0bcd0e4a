// Package retrievaltest is the one behavioural suite that every
// retrieval.Index implementation runs: a hand-written truth table of who
// sees what (truth.go), scope isolation checked against
// retrieval.Scope.Visible with positive checks that the owner does find its
// chunks, restricted and team-only chunks, Replace and Delete semantics,
// limits, and the best section first for obvious questions.
//
// It depends only on the retrieval.Index interface and compares ranks and
// membership, never score values, so lexical and vector indexes both pass.
// The corpus is hand-written: two listings, two guests with current and past
// reservations and calls, the team's notes on those calls, global knowledge
// (one document for the team only), a chunk with no scope keys.
// Texts contain the words of the questions asked (or their stems), so a
// full-text index can answer them as well as a vector index.
package retrievaltest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/retrieval"
)

// Run runs every case against a fresh index from open, which must return an
// empty index and register its own cleanup. Subtests run one after another,
// so open may reuse one database.
func Run(t *testing.T, open func(t *testing.T) retrieval.Index) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s *session)
	}{
		{"TruthTable", testTruthTable},
		{"RoundTrip", testRoundTrip},
		{"ScopeIsolation", testScopeIsolation},
		{"OwnChunksFound", testOwnChunksFound},
		{"EmptyScopeSeesOnlyGlobal", testEmptyScope},
		{"RestrictedOnlyWhenAllowed", testRestricted},
		{"TeamOnlyNeverForGuests", testTeamOnly},
		{"BestSectionFirst", testBestSectionFirst},
		{"LimitHonoured", testLimit},
		{"ReplaceReplaces", testReplaceReplaces},
		{"ReplaceWithFewerChunks", testReplaceFewer},
		{"ReplaceWithNothing", testReplaceNothing},
		{"ReplaceTwiceIsIdempotent", testReplaceTwice},
		{"DeleteRemoves", testDelete},
		{"BlankQuery", testBlankQuery},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &session{t: t, ctx: t.Context(), idx: open(t), docs: map[string][]retrieval.Chunk{}}
			for _, id := range slices.Sorted(maps.Keys(corpus())) {
				s.replace(id, corpus()[id])
			}
			c.fn(t, s)
		})
	}
}

// session is one index and the model of what it should hold. Every search
// is checked against the model: each hit is a chunk the index currently
// holds (never a replaced or deleted one), with its stored fields, visible
// in the scope by Scope.Visible, at most once, within the limit, best first.
type session struct {
	t    *testing.T
	ctx  context.Context
	idx  retrieval.Index
	docs map[string][]retrieval.Chunk
}

func (s *session) replace(docID string, chunks []retrieval.Chunk) {
	s.t.Helper()
	if err := s.idx.Replace(s.ctx, docID, slices.Clone(chunks)); err != nil {
		s.t.Fatalf("Replace(%s): %v", docID, err)
	}
	if len(chunks) == 0 {
		delete(s.docs, docID)
		return
	}
	s.docs[docID] = slices.Clone(chunks)
}

func (s *session) delete(docID string) {
	s.t.Helper()
	if err := s.idx.Delete(s.ctx, docID); err != nil {
		s.t.Fatalf("Delete(%s): %v", docID, err)
	}
	delete(s.docs, docID)
}

// chunk returns the model's chunk with id, or false.
func (s *session) chunk(id string) (retrieval.Chunk, bool) {
	for _, cs := range s.docs {
		for _, c := range cs {
			if c.ID == id {
				return c, true
			}
		}
	}
	return retrieval.Chunk{}, false
}

// visible lists the model's chunks that scope may see.
func (s *session) visible(scope retrieval.Scope) []retrieval.Chunk {
	var out []retrieval.Chunk
	for _, id := range slices.Sorted(maps.Keys(s.docs)) {
		for _, c := range s.docs[id] {
			if scope.Visible(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func (s *session) search(scope retrieval.Scope, query string, limit int) []retrieval.Hit {
	s.t.Helper()
	hits, err := s.idx.Search(s.ctx, scope, query, limit)
	if err != nil {
		s.t.Fatalf("Search(%s, %q, %d): %v", fmtScope(scope), query, limit, err)
	}
	s.check(scope, query, limit, hits)
	return hits
}

func (s *session) check(scope retrieval.Scope, query string, limit int, hits []retrieval.Hit) {
	s.t.Helper()
	where := fmt.Sprintf("Search(%s, %q, %d)", fmtScope(scope), query, limit)
	if len(hits) > max(limit, 0) {
		s.t.Errorf("%s: %d hits, limit %d", where, len(hits), limit)
	}
	seen := map[string]bool{}
	for i, h := range hits {
		want, ok := s.chunk(h.ID)
		if !ok {
			s.t.Errorf("%s: hit %d is %s, which the index should not hold (replaced, deleted or never written)", where, i, h.ID)
			continue
		}
		if !scope.Visible(want) {
			s.t.Errorf("%s: hit %d is %s owned by %+v restricted=%v team_only=%v: not visible in this scope", where, i, h.ID, want.Owner, want.Restricted, want.TeamOnly)
		}
		if h.Chunk != want {
			s.t.Errorf("%s: hit %d does not round-trip:\n got %+v\nwant %+v", where, i, h.Chunk, want)
		}
		if seen[h.ID] {
			s.t.Errorf("%s: %s returned twice", where, h.ID)
		}
		seen[h.ID] = true
		if math.IsNaN(h.Score) {
			s.t.Errorf("%s: hit %d score is NaN", where, i)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			s.t.Errorf("%s: hits not best first: %s (%g) after %s (%g)", where, h.ID, h.Score, hits[i-1].ID, hits[i-1].Score)
		}
	}
}

func ids(hits []retrieval.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func fmtScope(s retrieval.Scope) string {
	return fmt.Sprintf("{guest=%q listings=%q reservations=%q restricted=%v team=%v}", s.GuestID, s.ListingIDs, s.ReservationIDs, s.Restricted, s.Team)
}

var (
	scopeA  = retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}}
	scopeAR = retrieval.Scope{GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}, Restricted: true}
	scopeBR = retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}, Restricted: true}
)

// queries is every chunk's text and title plus the extra questions.
func queries() []string {
	var out []string
	docs := corpus()
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		for _, c := range docs[id] {
			out = append(out, c.Text, c.Title)
		}
	}
	return append(out, extraQueries...)
}

func testRoundTrip(t *testing.T, s *session) {
	// Searching a chunk's own text finds it with every field as written
	// (check compares each hit with the model).
	for _, c := range s.visible(scopeAR) {
		hits := s.search(scopeAR, c.Text, 3)
		if len(hits) == 0 || hits[0].ID != c.ID {
			t.Errorf("own text of %s: best hit is %v", c.ID, ids(hits))
		}
	}
}

func testScopeIsolation(t *testing.T, s *session) {
	// Whatever is asked, in whatever scope, nothing outside the scope comes
	// back: check tests each hit with Scope.Visible.
	scs := scopes()
	for _, name := range slices.Sorted(maps.Keys(scs)) {
		for _, q := range queries() {
			s.search(scs[name], q, 10)
		}
	}
	// Guest A asking with guest B's exact words gets none of B's data,
	// while B, asking the same words, does find them: an index that
	// returns nothing cannot pass.
	scopeBOld := retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingA}, ReservationIDs: []string{resBOld}, Restricted: true}
	scopeBTeam := scopeBR
	scopeBTeam.Team = true
	for _, o := range []struct {
		id    string
		owner retrieval.Scope
	}{{docResB, scopeBR}, {docResBOld, scopeBOld}, {docCallB, scopeBR}, {docListingB, scopeBR}, {docNotesB, scopeBTeam}} {
		for _, c := range s.docs[o.id] {
			for _, h := range s.search(scopeAR, c.Text, 10) {
				if h.Owner.GuestID == guestB || h.Owner.ListingID == listingB {
					t.Errorf("guest A asking %q got %s of guest B", c.Text, h.ID)
				}
			}
			if !slices.Contains(ids(s.search(o.owner, c.Text, 10)), c.ID) {
				t.Errorf("guest B asking its own words %q did not find %s", c.Text, c.ID)
			}
		}
	}
}

// testTeamOnly: the team's notes never reach a guest's answer, whatever is
// asked and whatever the scope holds besides; the team finds them.
func testTeamOnly(t *testing.T, s *session) {
	notes := append(append(slices.Clone(s.docs[docNotesA]), s.docs[docNotesB]...), s.docs[docPlaybook]...)
	guestScopes := []retrieval.Scope{scopeA, scopeAR, scopeBR, {Restricted: true},
		{GuestID: guestA, ListingIDs: []string{listingA, listingB}, ReservationIDs: []string{resA, resAOld, resB, resBOld}, Restricted: true}}
	for _, scope := range guestScopes {
		for _, c := range notes {
			for _, q := range []string{c.Text, c.Title, "agent note", "tags", "refund playbook", "noon checkout deposit", "goodwill voucher"} {
				for _, h := range s.search(scope, q, 20) {
					if h.TeamOnly || h.DocumentID == docNotesA || h.DocumentID == docNotesB || h.DocumentID == docPlaybook {
						t.Errorf("guest scope %s asking %q got the team's %s", fmtScope(scope), q, h.ID)
					}
				}
			}
		}
	}
	teamA := scopeAR
	teamA.Team = true
	for _, c := range append(slices.Clone(s.docs[docNotesA]), s.docs[docPlaybook]...) {
		hits := s.search(teamA, c.Text, 5)
		if len(hits) == 0 || hits[0].ID != c.ID || !hits[0].TeamOnly {
			t.Errorf("team on guest A's conversation, own text of %s: got %v", c.ID, ids(hits))
		}
	}
	// The team reading guest A's conversation still sees only guest A's
	// notes: Team widens the audience, not the scope.
	for _, h := range s.search(teamA, s.docs[docNotesB][0].Text, 20) {
		if h.DocumentID == docNotesB {
			t.Errorf("team on guest A's conversation got guest B's notes %s", h.ID)
		}
	}
}

func testOwnChunksFound(t *testing.T, s *session) {
	// Every chunk a scope may see is found by its own text: the filter is
	// not stricter than the rule either.
	scs := scopes()
	for _, name := range slices.Sorted(maps.Keys(scs)) {
		scope := scs[name]
		for _, c := range s.visible(scope) {
			if !slices.Contains(ids(s.search(scope, c.Text, 10)), c.ID) {
				t.Errorf("%s: own text of visible %s not found", name, c.ID)
			}
		}
	}
}

func testEmptyScope(t *testing.T, s *session) {
	for _, restricted := range []bool{false, true} {
		scope := retrieval.Scope{Restricted: restricted}
		for _, q := range queries() {
			for _, h := range s.search(scope, q, 10) {
				if !h.Owner.Global {
					t.Errorf("empty scope, %q: got non-global %s", q, h.ID)
				}
			}
		}
	}
	hits := s.search(retrieval.Scope{}, "Can I bring my dog? pets", 5)
	if len(hits) == 0 || hits[0].ID != docPolicies+"#1" {
		t.Errorf("empty scope, pets: want the global pets policy first, got %v", ids(hits))
	}
}

func testRestricted(t *testing.T, s *session) {
	secrets := []string{"wifi password", "door code", "lockbox code 4821", "keypad code", "gulls-and-tides-42", "Guest lounge door code"}
	for _, q := range secrets {
		for _, h := range s.search(scopeA, q, 10) {
			if h.Restricted {
				t.Errorf("unrestricted scope, %q: got restricted %s", q, h.ID)
			}
		}
	}
	found := map[string]bool{}
	for _, q := range secrets {
		for _, h := range s.search(scopeAR, q, 10) {
			if h.Restricted {
				found[h.ID] = true
			}
		}
	}
	for _, want := range []string{docListingA + "#4", docResA + "#1", docLounge + "#0"} {
		if !found[want] {
			t.Errorf("restricted scope: %s never found by %q", want, secrets)
		}
	}
	for id := range found {
		if strings.HasPrefix(id, docListingB) || strings.HasPrefix(id, docResB) {
			t.Errorf("restricted scope of guest A: got %s", id)
		}
	}
}

func testBestSectionFirst(t *testing.T, s *session) {
	tests := []struct {
		scope retrieval.Scope
		query string
		want  string
	}{
		{scopeAR, "wifi password", docListingA + "#4"},
		{scopeA, "quiet hours", docListingA + "#2"},
		{scopeAR, "quiet hours", docListingA + "#2"},
		{scopeA, "where do I park", docListingA + "#1"},
		{scopeAR, "Where do I park?", docListingA + "#1"},
		{scopeA, "What time is check-in?", docListingA + "#1"},
		{scopeAR, "What time is check-in?", docListingA + "#1"},
		{retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}, Restricted: true}, "wifi password", docListingB + "#4"},
		{retrieval.Scope{GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}}, "quiet hours", docListingB + "#2"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hits := s.search(tt.scope, tt.query, 5)
			if len(hits) == 0 || hits[0].ID != tt.want {
				t.Errorf("%s %q: want %s first, got %v", fmtScope(tt.scope), tt.query, tt.want, ids(hits))
			}
		})
	}
}

func testLimit(t *testing.T, s *session) {
	// "guests" is in at least three chunks guest A may see.
	all := s.search(scopeA, "guests", 10)
	if len(all) < 3 {
		t.Fatalf("guests: want at least 3 hits with limit 10, got %v", ids(all))
	}
	for _, limit := range []int{1, 2, 3} {
		hits := s.search(scopeA, "guests", limit)
		if len(hits) != limit {
			t.Errorf("limit %d: got %d hits %v", limit, len(hits), ids(hits))
		}
		for _, h := range hits {
			if !slices.Contains(ids(all), h.ID) {
				t.Errorf("limit %d: %s is not among the hits of limit 10 %v", limit, h.ID, ids(all))
			}
		}
	}
	hits, err := s.idx.Search(s.ctx, scopeA, "guests", 0)
	if err == nil && len(hits) > 0 {
		t.Errorf("limit 0: got %v", ids(hits))
	}
}

func testReplaceReplaces(t *testing.T, s *session) {
	before := s.search(scopeA, "sun loungers", 3)
	if len(before) == 0 || before[0].ID != docListingA+"#3" {
		t.Fatalf("before Replace: sun loungers gives %v", ids(before))
	}
	next := listingSea()
	next[3].Text = "Amenities: new kitchen with an induction hob and an espresso machine; washing machine and tumble dryer; a wood-fired hot tub on the terrace, heated from May to October."
	next[1].Text = "Check-in time is 3 pm and check-out time is 10 am. The key safe by the garden gate opens with the code in your arrival message. Parking: two free parking spaces on the gravel drive."
	s.replace(docListingA, next)

	hits := s.search(scopeA, "hot tub", 3)
	if len(hits) == 0 || hits[0].ID != docListingA+"#3" || hits[0].Text != next[3].Text {
		t.Errorf("after Replace: hot tub gives %v, want the new amenities first", ids(hits))
	}
	// check rejects any hit whose text is not the model's: the old
	// amenities and access texts must be gone, whatever is asked.
	old := listingSea()
	for _, q := range []string{old[3].Text, old[1].Text, "sun loungers", "lockbox beside the blue front door", "where do I park"} {
		s.search(scopeA, q, 10)
	}
}

func testReplaceFewer(t *testing.T, s *session) {
	s.replace(docListingA, listingSea()[:2])
	removed := listingSea()[2:]
	for _, c := range removed {
		for _, q := range []string{c.Text, c.Title} {
			for _, h := range s.search(scopeAR, q, 10) {
				if h.DocumentID == docListingA && h.ID != docListingA+"#0" && h.ID != docListingA+"#1" {
					t.Errorf("after Replace with 2 chunks, %q found %s", q, h.ID)
				}
			}
		}
	}
	for _, q := range []string{"quiet hours", "wifi password", "dishwasher"} {
		s.search(scopeAR, q, 10)
	}
	hits := s.search(scopeA, "What time is check-in?", 3)
	if len(hits) == 0 || hits[0].ID != docListingA+"#1" {
		t.Errorf("kept access chunk not found first: %v", ids(hits))
	}
}

func testReplaceNothing(t *testing.T, s *session) {
	s.replace(docResA, nil)
	for _, c := range corpus()[docResA] {
		for _, h := range s.search(scopeAR, c.Text, 10) {
			if h.DocumentID == docResA {
				t.Errorf("after Replace with no chunks, found %s", h.ID)
			}
		}
	}
}

func testReplaceTwice(t *testing.T, s *session) {
	qs := append([]string{"wifi password", "quiet hours", "where do I park", "What time is check-in?", "guests", "travel cot"}, extraQueries...)
	snapshot := func() []map[string]float64 {
		out := make([]map[string]float64, len(qs))
		for i, q := range qs {
			out[i] = map[string]float64{}
			for _, h := range s.search(scopeAR, q, 10) {
				out[i][h.ID] = h.Score
			}
		}
		return out
	}
	before := snapshot()
	for range 2 {
		s.replace(docListingA, listingSea())
		s.replace(docResA, corpus()[docResA])
	}
	after := snapshot()
	for i, q := range qs {
		if !maps.EqualFunc(before[i], after[i], func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(a)) }) {
			t.Errorf("%q: results changed after replacing with the same chunks:\nbefore %v\n after %v", q, before[i], after[i])
		}
	}
}

func testDelete(t *testing.T, s *session) {
	// A document whose id extends another's must survive the other's
	// deletion.
	s.replace(docPolicies2, doc(docPolicies2, "knowledge", retrieval.Owner{Global: true},
		part{"pets", "Pets from 2026", "Pets from 2026: cats and dogs are welcome in every cottage for a cleaning fee of 40 euros per stay.", false},
	))
	s.delete(docPolicies)
	s.delete(docResA)
	for _, c := range append(corpus()[docPolicies], corpus()[docResA]...) {
		for _, h := range s.search(scopeAR, c.Text, 10) {
			if h.DocumentID == docPolicies || h.DocumentID == docResA {
				t.Errorf("after Delete, %q found %s", c.Text, h.ID)
			}
		}
	}
	hits := s.search(scopeA, "Pets from 2026: cats and dogs", 3)
	if len(hits) == 0 || hits[0].ID != docPolicies2+"#0" {
		t.Errorf("Delete(%s) took %s with it: %v", docPolicies, docPolicies2, ids(hits))
	}
	// Other documents stay.
	hits = s.search(scopeA, "quiet hours", 3)
	if len(hits) == 0 || hits[0].ID != docListingA+"#2" {
		t.Errorf("after Delete of other documents, quiet hours gives %v", ids(hits))
	}
	// Deleting what is not there is not an error.
	s.delete(docResA)
	s.delete("listing:never-indexed")
}

func testBlankQuery(t *testing.T, s *session) {
	// A blank question may give no hits or an error, never a leak.
	for _, q := range []string{"", "   ", "?!"} {
		hits, err := s.idx.Search(s.ctx, scopeA, q, 5)
		if err == nil {
			s.check(scopeA, q, 5, hits)
		}
	}
}
