package retrievaltest

import (
	"strconv"

	"github.com/harborstays/concierge/lib/retrieval"
)

// Scope keys of the corpus. Guest A (Maya) stays at Seaview Cottage, guest B
// (Tomasz) at Harbor Loft; each also has a past stay at the other's listing,
// which the current scope must not reveal.
const (
	guestA   = "guest-a"
	guestB   = "guest-b"
	listingA = "listing-sea"
	listingB = "listing-loft"
	resA     = "res-a1"
	resAOld  = "res-a0"
	resB     = "res-b1"
	resBOld  = "res-b0"
)

// Document ids of the corpus.
const (
	docListingA  = "listing:" + listingA
	docListingB  = "listing:" + listingB
	docResA      = "reservation:" + resA
	docResAOld   = "reservation:" + resAOld
	docResB      = "reservation:" + resB
	docResBOld   = "reservation:" + resBOld
	docCallA     = "call:call-a1"
	docCallB     = "call:call-b1"
	docNotesA    = "call:call-a1:notes"
	docNotesB    = "call:call-b1:notes"
	docPlaybook  = "knowledge:team-playbook"
	docPolicies  = "knowledge:policies"
	docLounge    = "knowledge:office-lounge"
	docOrphan    = "knowledge:draft"
	docPolicies2 = "knowledge:policies-2026"
)

// part is a chunk before numbering.
type part struct {
	section, title, text string
	restricted           bool
}

// teamOnly marks every chunk of a document as the team's: internal notes.
func teamOnly(chunks []retrieval.Chunk) []retrieval.Chunk {
	for i := range chunks {
		chunks[i].TeamOnly = true
	}
	return chunks
}

// doc numbers parts into the chunks of one document.
func doc(id, kind string, owner retrieval.Owner, parts ...part) []retrieval.Chunk {
	out := make([]retrieval.Chunk, len(parts))
	for i, p := range parts {
		out[i] = retrieval.Chunk{
			ID:         id + "#" + strconv.Itoa(i),
			DocumentID: id,
			Kind:       kind,
			Section:    p.section,
			Title:      p.title,
			Text:       p.text,
			Owner:      owner,
			Restricted: p.restricted,
		}
	}
	return out
}

func listingSea() []retrieval.Chunk {
	return doc(docListingA, "listing", retrieval.Owner{ListingID: listingA},
		part{"summary", "Seaview Cottage", "Seaview Cottage is a two-bedroom stone cottage above Harbor Beach in Port Alder. It sleeps four guests: a queen bed, two twin beds and a sofa in the sitting room with a view of the bay. The beach and the harbour cafes are a five-minute walk downhill.", false},
		part{"access", "Seaview Cottage: arrival and parking", "Check-in time is 4 pm and check-out time is 10 am. Self check-in: the key is in the lockbox beside the blue front door, and the lockbox code is sent on the day of arrival. Parking: one free parking space on the gravel drive, marked Seaview. Please do not park on the lane, it blocks the neighbours' garage.", false},
		part{"house_rules", "Seaview Cottage: house rules", "House rules: quiet hours are from 10 pm to 8 am, the cottage is on a residential street. No smoking inside or in the garden. No parties or events. Take the rubbish to the bins at the end of the lane on Tuesday evening.", false},
		part{"amenities", "Seaview Cottage: amenities", "Amenities: fully equipped kitchen with dishwasher, oven and coffee machine; washing machine; hair dryer; beach towels and two sun loungers; an outdoor shower for sandy feet; a barbecue on the terrace. A travel cot and a high chair are available on request.", false},
		part{"wifi", "Seaview Cottage: wifi", "Wifi network: SeaviewCottage. Wifi password: gulls-and-tides-42. The router is in the hall cupboard; unplug it for ten seconds if the wifi drops.", true},
	)
}

func listingLoft() []retrieval.Chunk {
	return doc(docListingB, "listing", retrieval.Owner{ListingID: listingB},
		part{"summary", "Harbor Loft", "Harbor Loft is a one-bedroom loft apartment on the third floor of a converted sail warehouse on Quay Street, Port Alder. It sleeps two guests in a king bed. Floor-to-ceiling windows look over the marina.", false},
		part{"access", "Harbor Loft: arrival and parking", "Check-in time is 3 pm and check-out time is 11 am. The building door opens with the keypad code from your arrival message; the loft is on the third floor, lift on the left. Parking: there is no private parking; the public car park on Dock Road costs 12 euros a day.", false},
		part{"house_rules", "Harbor Loft: house rules", "House rules: quiet hours are 11 pm to 7 am because of the neighbours below. No smoking anywhere in the building. At most two guests; no visitors after 10 pm. No pets.", false},
		part{"amenities", "Harbor Loft: amenities", "Amenities: kitchenette with induction hob and microwave, espresso machine, smart TV with streaming apps, a desk with a monitor for remote work, iron and ironing board. Shared rooftop terrace with city views.", false},
		part{"wifi", "Harbor Loft: wifi", "Wifi network: HarborLoft-5G. Wifi password: marina-lights-7. For faster wifi, sit near the window desk where the access point is.", true},
	)
}

// corpus is every document of the suite, by id.
func corpus() map[string][]retrieval.Chunk {
	return map[string][]retrieval.Chunk{
		docListingA: listingSea(),
		docListingB: listingLoft(),
		docResA: doc(docResA, "reservation", retrieval.Owner{GuestID: guestA, ListingID: listingA, ReservationID: resA},
			part{"booking", "Reservation at Seaview Cottage", "Reservation for Maya Lindqvist at Seaview Cottage: arrival Friday 12 June 2026, departure Monday 15 June 2026, three nights, two adults and one child. Paid in full. Early arrival requested, to be confirmed by the host.", false},
			part{"arrival", "Arrival details", "Arrival details for Maya: the lockbox code for Seaview Cottage is 4821 and stays valid until departure on 15 June.", true},
		),
		docResAOld: doc(docResAOld, "reservation", retrieval.Owner{GuestID: guestA, ListingID: listingB, ReservationID: resAOld},
			part{"booking", "Reservation at Harbor Loft", "Reservation for Maya Lindqvist at Harbor Loft: arrival 3 March 2025, departure 6 March 2025, two adults. Completed; the guests left a five-star review.", false},
		),
		docCallA: doc(docCallA, "call", retrieval.Owner{GuestID: guestA},
			part{"summary", "Call with Maya Lindqvist", "Phone call from Maya Lindqvist: asked whether a travel cot can be set up before arrival and whether a late check-out until noon is possible on Monday. The agent promised to ask the host.", false},
		),
		docResB: doc(docResB, "reservation", retrieval.Owner{GuestID: guestB, ListingID: listingB, ReservationID: resB},
			part{"booking", "Reservation at Harbor Loft", "Reservation for Tomasz Nowak at Harbor Loft: arrival Wednesday 17 June 2026, departure Sunday 21 June 2026, four nights, one adult. Paid in full. The guest works remotely and asked about the desk.", false},
			part{"arrival", "Arrival details", "Arrival details for Tomasz: the building keypad code for Harbor Loft is 7395 and is valid from 17 June.", true},
		),
		docResBOld: doc(docResBOld, "reservation", retrieval.Owner{GuestID: guestB, ListingID: listingA, ReservationID: resBOld},
			part{"booking", "Reservation at Seaview Cottage", "Reservation for Tomasz Nowak at Seaview Cottage: arrival 8 August 2025, departure 12 August 2025, two adults and a dog. Completed; the host found sand in the dishwasher and the wifi password on the fridge.", false},
		),
		docCallB: doc(docCallB, "call", retrieval.Owner{GuestID: guestB},
			part{"summary", "Call with Tomasz Nowak", "Phone call from Tomasz Nowak: wants to know where to park near Harbor Loft and whether the public car park is open at night. He also said the wifi was slow and asked what time check-in starts.", false},
		),
		// The team's own notes on those calls: in the guest's scope, for
		// the team's eyes only.
		docNotesA: teamOnly(doc(docNotesA, "call", retrieval.Owner{GuestID: guestA},
			part{"notes", "Team notes on the call", "Agent note: offered Maya a noon checkout only if housekeeping finishes the turnover early; owner wants a deposit hold. Tags: VIP, upsell.", false},
		)),
		docNotesB: teamOnly(doc(docNotesB, "call", retrieval.Owner{GuestID: guestB},
			part{"notes", "Team notes on the call", "Agent note: Tomasz sounded annoyed about the slow router; consider a goodwill voucher. Tags: complaint risk.", false},
		)),
		docPolicies: doc(docPolicies, "knowledge", retrieval.Owner{Global: true},
			part{"late_checkout", "Late check-out", "Late check-out: when the next guests allow it, check-out can move to noon for free; ask at least one day before. Later than noon costs half a night.", false},
			part{"pets", "Pets", "Pets: dogs are welcome only in listings marked pet-friendly, for a cleaning fee of 30 euros per stay. Assistance animals are always welcome.", false},
			part{"cancellation", "Cancellation", "Cancellation: free cancellation up to 14 days before arrival; after that, 50 percent of the booking is refunded unless the nights are rebooked.", false},
			part{"emergencies", "Emergencies", "Emergencies: for fire, police or an ambulance call 112. For urgent problems at a property, such as no heating, a leak or guests locked out, call the 24-hour host line in your booking confirmation.", false},
		),
		// Global, but for the team only.
		docPlaybook: teamOnly(doc(docPlaybook, "knowledge", retrieval.Owner{Global: true},
			part{"refunds", "Team playbook: refunds", "Playbook for agents: refunds above 200 euros need the owner's sign-off; never promise one on the phone.", false},
		)),
		docLounge: doc(docLounge, "knowledge", retrieval.Owner{Global: true},
			part{"lounge", "Guest lounge", "Guest lounge at the Port Alder office: the door code is 2468; guests can store luggage there from 8 am to 10 pm.", true},
		),
		// A chunk without scope keys is visible to no one.
		docOrphan: doc(docOrphan, "knowledge", retrieval.Owner{},
			part{"draft", "Welcome basket (draft)", "Draft: the welcome basket will hold local honey, sea salt crackers and a bottle of cider for every guest.", false},
		),
	}
}

// scopes used by the property checks: the guests' own, mixes that tempt an
// implementation to leak, and the empty scope.
func scopes() map[string]retrieval.Scope {
	out := map[string]retrieval.Scope{}
	base := map[string]retrieval.Scope{
		"guest A":                 {GuestID: guestA, ListingIDs: []string{listingA}, ReservationIDs: []string{resA}},
		"guest B":                 {GuestID: guestB, ListingIDs: []string{listingB}, ReservationIDs: []string{resB}},
		"empty":                   {},
		"listing A only":          {ListingIDs: []string{listingA}},
		"guest A no reservations": {GuestID: guestA, ListingIDs: []string{listingA}},
		"guest A with B's ids":    {GuestID: guestA, ReservationIDs: []string{resA, resB, resBOld}},
		"guest B past stay":       {GuestID: guestB, ListingIDs: []string{listingA}, ReservationIDs: []string{resBOld}},
		"unknown guest":           {GuestID: "guest-z", ListingIDs: []string{"listing-z"}, ReservationIDs: []string{"res-z"}},
	}
	for name, s := range base {
		out[name] = s
		s.Restricted = true
		out[name+" restricted"] = s
		// The team's view (a hand-off note); the truth table covers the
		// team without the window.
		s.Team = true
		out[name+" restricted team"] = s
	}
	return out
}

// extraQueries are asked on top of every chunk's text and title.
var extraQueries = []string{
	"wifi password", "quiet hours", "where do I park", "What time is check-in?",
	"door code", "lockbox code", "keypad code", "Tomasz Nowak", "Maya Lindqvist",
	"reservation", "arrival", "dog", "pets allowed?", "travel cot", "desk for remote work",
	"marina", "Harbor Loft", "Seaview Cottage", "cancellation", "emergency", "late check-out",
	"7395", "4821", "2468", "gulls-and-tides-42", "marina-lights-7", "guests",
	"Can I bring my dog?", "Is there a dishwasher?", "¿Dónde puedo aparcar?", "welcome basket",
	"agent note", "noon checkout", "deposit", "voucher", "refund", "playbook", "tags",
}
