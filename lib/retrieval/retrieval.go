// Package retrieval defines the index that answers guests' questions from
// their own data: chunks of documents, each with scope keys, and a search
// that always takes an explicit scope.
//
// Scope is a security boundary. A chunk is visible to a search when it is
// global knowledge, or when it belongs to the scope's guest (reservation and
// call documents carry the guest id), or when it is a listing chunk of one
// of the scope's listings. An empty scope sees only global knowledge.
// Restricted chunks (door codes, Wi-Fi passwords) are returned only when the
// scope allows them; the answering policy decides when. Team-only chunks
// (the team's internal notes on a call) are returned only to a scope marked
// Team: a guest's answer never sees them, whatever else the scope holds.
//
// Two implementations: PostgreSQL full text (the embedded default) and
// Qdrant (production), chosen by configuration. One behavioural suite
// (retrievaltest) runs against both.
package retrieval

import (
	"context"
	"slices"
)

// Chunk is one indexed piece of text.
type Chunk struct {
	// ID is DocumentID + "#" + the chunk's number; stable across re-indexing.
	ID         string `json:"id"`
	DocumentID string `json:"document_id"`
	// Kind of source: listing, reservation, call or knowledge.
	Kind string `json:"kind"`
	// Section within the document, e.g. "access" or "house_rules".
	Section string `json:"section"`
	Title   string `json:"title"`
	Text    string `json:"text"`
	Owner   Owner  `json:"owner"`
	// Restricted chunks hold secrets for the stay (Wi-Fi password, door
	// code, exact address).
	Restricted bool `json:"restricted"`
	// TeamOnly chunks are the team's internal notes (Aircall call comments
	// and tags): never retrieved for a guest's answer. The zero value is
	// the guest audience, which is what every chunk written before
	// audiences existed was.
	TeamOnly bool `json:"team_only"`
}

// Owner holds a chunk's scope keys.
type Owner struct {
	Global        bool   `json:"global,omitempty"`
	GuestID       string `json:"guest_id,omitempty"`
	ListingID     string `json:"listing_id,omitempty"`
	ReservationID string `json:"reservation_id,omitempty"`
}

// Scope is what one search may see.
type Scope struct {
	GuestID        string
	ListingIDs     []string
	ReservationIDs []string
	// Restricted allows restricted chunks of the scope's listings and
	// reservations.
	Restricted bool
	// Team marks a search whose results only the team reads (a hand-off
	// note for an agent): team-only chunks in the scope are returned too.
	// Never set it for text a guest or a model answering a guest will see;
	// the zero value is the guest audience.
	Team bool
}

// Visible reports whether c may be returned for s. Both implementations
// express this rule in their own filter language; the suite checks them
// against a hand-written truth table (retrievaltest).
func (s Scope) Visible(c Chunk) bool {
	if c.Restricted && !s.Restricted {
		return false
	}
	if c.TeamOnly && !s.Team {
		return false
	}
	o := c.Owner
	switch {
	case o.Global:
		return true
	case o.GuestID != "":
		if o.GuestID != s.GuestID {
			return false
		}
		return o.ReservationID == "" || slices.Contains(s.ReservationIDs, o.ReservationID)
	case o.ListingID != "":
		return slices.Contains(s.ListingIDs, o.ListingID)
	}
	return false
}

// Hit is a search result.
type Hit struct {
	Chunk
	Score float64 `json:"score"`
}

// Index stores chunks and searches them within a scope.
type Index interface {
	// Replace makes chunks the whole content of document docID: chunks
	// not in the list are removed. Replacing with the same chunks is a
	// no-op in effect.
	Replace(ctx context.Context, docID string, chunks []Chunk) error
	// Delete removes every chunk of docID.
	Delete(ctx context.Context, docID string) error
	// Search returns at most limit chunks visible in scope, best first.
	Search(ctx context.Context, scope Scope, query string, limit int) ([]Hit, error)
}
