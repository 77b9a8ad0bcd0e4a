package urgentcall

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/documents"
)

// Parts of what the team is told, each posted once, in this order: the
// call itself (with whatever else is known then), the voicemail when it
// comes later, its transcript when that comes later still.
const (
	PartCall       = "call"
	PartVoicemail  = "voicemail"
	PartTranscript = "transcript"
)

// maxTranscriptChars bounds a transcript quoted in a note: a voicemail is
// short, and Chatwoot's message limit is far above this.
const maxTranscriptChars = 8000

// ref ends every note: the call and the part, so an attempt after one
// whose outcome is unknown finds what it posted, and a person can look
// the call up in Aircall.
func ref(callID int64, part string) string {
	return fmt.Sprintf("Ref: Aircall call %d (%s)", callID, part)
}

// accessSections are the listing documents that tell a person how to get
// the guest in: the same text the assistant would give the guest during
// the stay, restricted sections included (the agent is not the guest).
var accessSections = []string{"address", "access", "private", "details"}

// accessDetails renders the stay's listing's access details, or "" when
// the listing is unknown or says nothing of access.
func (n *Notifier) accessDetails(ctx context.Context, s *stay) (string, error) {
	if s.listingID == "" {
		return "", nil
	}
	b := documents.Builder{DB: n.DB, CustomFields: n.Fields}
	docs, err := b.Listing(ctx, s.listingID)
	if errors.Is(err, documents.ErrGone) {
		return "", nil
	}
	if err != nil {
		return "", unavailable(err, "read listing "+s.listingID)
	}
	var out []string
	for _, section := range accessSections {
		for _, d := range docs {
			if d.Section != section {
				continue
			}
			switch section {
			case "address":
				out = append(out, "Exact address: "+d.Text)
			case "access":
				out = append(out, "Access: "+d.Text)
			default:
				out = append(out, d.Text)
			}
		}
	}
	return strings.Join(out, "\n"), nil
}

// whenLocal renders an instant in the listing's time zone.
func whenLocal(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Monday 2 January 2006 at 15:04") + " (" + loc.String() + ")"
}

func day(d time.Time) string { return d.Format("Monday 2 January") }

// arrival says "today" or "tomorrow" from the day of the call.
func arrival(c call, s *stay) string {
	if s.checkIn.Equal(date(c.calledAt.In(s.loc))) {
		return "today"
	}
	return "tomorrow"
}

// callNote is the first note: the call, the guest, the stay and its access
// details, and the voicemail and transcript when they are known already.
// It returns the parts it covers.
func (n *Notifier) callNote(ctx context.Context, c call, s *stay) (string, []string, error) {
	parts := []string{PartCall}
	var b strings.Builder
	who := s.guestName
	if who == "" {
		who = "a guest"
	}
	what := "Missed call"
	if c.hasVoicemail {
		what = "Voicemail"
	}
	fmt.Fprintf(&b, "URGENT: %s from %s, arriving %s (%s). Nothing was sent to the guest.\n", what, who, arrival(c, s), day(s.checkIn))
	fmt.Fprintf(&b, "Called on %s from %s; nobody answered", whenLocal(c.calledAt, s.loc), c.phone)
	if c.missedReason != "" {
		fmt.Fprintf(&b, " (%s)", strings.ReplaceAll(c.missedReason, "_", " "))
	}
	b.WriteString(".\n")
	if c.hasVoicemail {
		b.WriteString(voicemailLine(c) + "\n")
		parts = append(parts, PartVoicemail)
	}
	fmt.Fprintf(&b, "Call them back on %s.\n\n", c.phone)

	b.WriteString("Stay: ")
	var facts []string
	if s.listingTitle != "" {
		facts = append(facts, s.listingTitle)
	}
	if s.code != "" {
		facts = append(facts, "confirmation "+s.code)
	}
	if s.status != "" {
		facts = append(facts, s.status)
	}
	if s.guestsCount > 0 {
		facts = append(facts, fmt.Sprintf("%d guest(s)", s.guestsCount))
	}
	in := "check-in " + day(s.checkIn)
	if s.checkInTime != "" {
		in += " from " + s.checkInTime
	}
	if s.arrival != "" {
		in += " (planned arrival " + s.arrival + ")"
	}
	facts = append(facts, in)
	if !s.checkOut.IsZero() {
		facts = append(facts, "check-out "+day(s.checkOut))
	}
	b.WriteString(strings.Join(facts, ", ") + ".\n")

	access, err := n.accessDetails(ctx, s)
	if err != nil {
		return "", nil, err
	}
	if access != "" {
		b.WriteString("\nAccess details (for the team; this note is private):\n" + access + "\n")
	} else {
		b.WriteString("\nThe listing holds no access details.\n")
	}
	if t := strings.TrimSpace(c.transcript); t != "" {
		b.WriteString("\n" + transcriptBlock(c) + "\n")
		parts = append(parts, PartTranscript)
	}
	b.WriteString("\n" + ref(c.id, PartCall))
	return b.String(), parts, nil
}

func voicemailLine(c call) string {
	if c.assetURL != "" {
		return "They left a voicemail: " + c.assetURL
	}
	return "They left a voicemail (in Aircall)."
}

func transcriptBlock(c call) string {
	t := strings.TrimSpace(c.transcript)
	if len(t) > maxTranscriptChars {
		t = t[:maxTranscriptChars] + "…"
	}
	what := "call"
	if c.hasVoicemail {
		what = "voicemail"
	}
	return "Transcript of the " + what + ":\n" + t
}

// followUp is the note of a part that came after the first note.
func followUp(c call, part string) string {
	switch part {
	case PartVoicemail:
		return "URGENT (follow-up): " + voicemailLine(c) + "\n\n" + ref(c.id, part)
	default:
		return "URGENT (follow-up): " + transcriptBlock(c) + "\n\n" + ref(c.id, part)
	}
}
