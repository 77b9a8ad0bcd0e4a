package guestytest

import (
	"fmt"
	"time"
)

// ID returns a deterministic 24-hex-digit id (Guesty's ids are Mongo
// ObjectIds) for kind ('l' listing, 'r' reservation, 'g' guest) and n.
func ID(kind byte, n int) string {
	return fmt.Sprintf("%02x%022x", kind, n)
}

// Generate fills the fake with an account: listings listings (every tenth
// inactive) and reservations reservations, each with its own guest,
// spread round-robin over the listings with check-outs from 60 days before
// now to 400 days after it (so some fall outside an import's window), all
// last updated an hour before now.
func (s *Server) Generate(listings, reservations int, now time.Time) {
	updated := Stamp(now.Add(-time.Hour))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range listings {
		id := ID('l', i)
		s.listings[id] = map[string]any{
			"_id": id, "title": fmt.Sprintf("Harbor Test Home %d", i), "nickname": fmt.Sprintf("HT-%04d", i),
			"active": i%10 != 9, "timezone": "America/Los_Angeles",
			"defaultCheckInTime": "15:00", "defaultCheckOutTime": "11:00", "accommodates": 4,
			"address":           map[string]any{"city": "Port Example", "country": "United States", "full": fmt.Sprintf("%d Example Rd, Port Example", i)},
			"publicDescription": map[string]any{"summary": fmt.Sprintf("Test home number %d near the harbor.", i)},
			"pictures":          []any{map[string]any{"original": "https://example.com/p.jpg"}},
			"lastUpdatedAt":     updated,
		}
	}
	span := 460 * 24 * time.Hour
	for i := range reservations {
		id, gid := ID('r', i), ID('g', i)
		lid := ID('l', i%max(listings, 1))
		out := now.Add(-60*24*time.Hour + time.Duration(int64(span)/int64(max(reservations, 1))*int64(i)))
		in := out.Add(-3 * 24 * time.Hour)
		guest := map[string]any{"_id": gid, "fullName": fmt.Sprintf("Test Guest %d", i), "firstName": "Test",
			"lastName": fmt.Sprintf("Guest%d", i), "email": fmt.Sprintf("guest%d@example.org", i)}
		s.guests[gid] = clone(guest)
		s.guests[gid]["lastUpdatedAt"] = updated
		s.reservations[id] = map[string]any{
			"_id": id, "confirmationCode": fmt.Sprintf("TEST%06d", i), "status": "confirmed",
			"listingId": lid, "listing": map[string]any{"_id": lid, "title": fmt.Sprintf("Harbor Test Home %d", i%max(listings, 1))},
			"guestId": gid, "guest": guest,
			"checkIn": Stamp(in), "checkOut": Stamp(out),
			"checkInDateLocalized": in.Format("2006-01-02"), "checkOutDateLocalized": out.Format("2006-01-02"),
			"plannedArrival": "15:00", "plannedDeparture": "11:00", "guestsCount": 2, "nightsCount": 3,
			"source": "manual", "money": map[string]any{"currency": "USD", "hostPayout": 500},
			"createdAt": updated, "lastUpdatedAt": updated,
		}
	}
}
