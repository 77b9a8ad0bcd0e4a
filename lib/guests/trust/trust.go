// Package trust decides who the sender of a Chatwoot event is: the Guesty
// guest a contact claims (Resolve), and whether the channel proves it
// (Identify). It is apart from lib/guests, which says what a guest may see,
// because matching phone numbers needs libphonenumber's metadata: every
// function that reads stays would otherwise carry it.
package trust

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/identity"
)

// Proof says how a conversation's guest is known. Trust follows where the
// answer goes: an answer sent to the guest's own phone number or mailbox
// cannot reach anyone else, an answer shown in a browser can.
type Proof string

// Proofs, from the channel's own evidence to what the guest shows.
const (
	// ProofNone: the contact claims a guest (an identifier, an attribute,
	// an email or a phone typed into a web widget) and nothing proves it.
	ProofNone Proof = ""
	// ProofChannel: a phone channel (WhatsApp, SMS) whose sender number,
	// set by the channel itself, is the guest's phone.
	ProofChannel Proof = "channel"
	// ProofHMAC: a web-widget or API-channel contact whose identifier the
	// website signed (Chatwoot identity validation, hmac_verified).
	ProofHMAC Proof = "hmac"
	// ProofEmail: an email inbox; replies go to the sender's own address,
	// so a forged From reaches only the real guest.
	ProofEmail Proof = "email"
	// ProofSync: the contact our contact sync linked to the guest, in a
	// channel where the contact cannot name itself (not a widget or API
	// inbox, where anyone can call setUser with another's identifier and be
	// merged into the synced contact).
	ProofSync Proof = "sync"
	// ProofCode: the guest gave the booking's confirmation code and last
	// name in this conversation.
	ProofCode Proof = "code"
)

// Chatwoot channel types (Inbox#channel_type) that decide trust.
const (
	ChannelWebWidget = "Channel::WebWidget"
	ChannelAPI       = "Channel::Api"
	ChannelWhatsApp  = "Channel::Whatsapp"
	ChannelSMS       = "Channel::Sms"
	ChannelTwilioSMS = "Channel::TwilioSms" // SMS and WhatsApp through Twilio
	ChannelEmail     = "Channel::Email"
)

// Claim is what one Chatwoot event says about its sender, and how it came.
type Claim struct {
	Contact
	AccountID int64
	ContactID int64
	// Channel is the inbox's channel type (conversation.channel).
	Channel string
	// SourceID is contact_inbox.source_id: the sender's address in the
	// channel (a WhatsApp number, an E.164 number, an email address).
	SourceID string
	// HMACVerified is contact_inbox.hmac_verified.
	HMACVerified bool
}

// Identity is who a contact is, as far as it is proven.
type Identity struct {
	// Claimed is the guest the contact names, proven or not ("" if none).
	Claimed string
	// Guest is the proven guest: "" unless Proof is set.
	Guest string
	Proof Proof
}

// Verified reports whether the guest is proven.
func (i Identity) Verified() bool { return i.Proof != ProofNone && i.Guest != "" }

// Contact is what Chatwoot tells about the sender.
type Contact struct {
	Identifier    string
	GuestyGuestID string // custom attribute guesty_guest_id
	Phone         string
	Email         string
	DefaultRegion string
}

// Resolve returns the Guesty guest id contact claims, or "" for a stranger:
// a claim, not a proof (Identify decides that). The
// order goes from the strongest key (the id contact sync wrote) to the
// weakest; a phone or email shared by several guests matches nobody.
func Resolve(ctx context.Context, db *pgxpool.Pool, c Contact) (string, error) {
	for _, id := range []string{c.Identifier, c.GuestyGuestID} {
		if id == "" {
			continue
		}
		found, err := guestByID(ctx, db, id)
		if err != nil || found != "" {
			return found, err
		}
	}
	for _, k := range []struct{ col, val string }{
		{"phone_e164", identity.Phone(c.Phone, c.DefaultRegion)},
		{"email", identity.Email(c.Email)},
	} {
		if k.val == "" {
			continue
		}
		id, err := uniqueGuest(ctx, db, k.col, k.val)
		if err != nil || id != "" {
			return id, err
		}
	}
	return "", nil
}

// Identify decides who the sender of c is. The claim is resolved as
// before (Resolve); the proof comes from the channel only.
func Identify(ctx context.Context, db *pgxpool.Pool, c Claim) (Identity, error) {
	claimed, err := Resolve(ctx, db, c.Contact)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Claimed: claimed}
	var proven string
	switch c.Channel {
	case ChannelWebWidget, ChannelAPI:
		// Identity validation signs the identifier only: custom attributes,
		// email and phone stay the visitor's word.
		if c.HMACVerified && c.Identifier != "" {
			if proven, err = guestByID(ctx, db, c.Identifier); err == nil && proven != "" {
				return Identity{Claimed: claimed, Guest: proven, Proof: ProofHMAC}, nil
			}
		}
		return id, err
	case ChannelWhatsApp, ChannelSMS, ChannelTwilioSMS:
		if phone := sourcePhone(c.SourceID, c.DefaultRegion); phone != "" {
			if proven, err = uniqueGuest(ctx, db, "phone_e164", phone); err != nil {
				return id, err
			}
			if proven != "" {
				return Identity{Claimed: claimed, Guest: proven, Proof: ProofChannel}, nil
			}
		}
	case ChannelEmail:
		addr := identity.Email(c.SourceID)
		if addr == "" {
			addr = identity.Email(c.Email)
		}
		if addr != "" {
			if proven, err = uniqueGuest(ctx, db, "email", addr); err != nil {
				return id, err
			}
			if proven != "" {
				return Identity{Claimed: claimed, Guest: proven, Proof: ProofEmail}, nil
			}
		}
	}
	if c.ContactID == 0 {
		return id, nil
	}
	err = db.QueryRow(ctx, `SELECT l.guest_id FROM contact_links l JOIN guests g ON g.id = l.guest_id AND g.deleted_at IS NULL
		WHERE l.account_id = $1 AND l.contact_id = $2 LIMIT 1`, c.AccountID, c.ContactID).Scan(&proven)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return id, nil
	case err != nil:
		return id, fmt.Errorf("identify contact: %w", err)
	}
	return Identity{Claimed: claimed, Guest: proven, Proof: ProofSync}, nil
}

// sourcePhone reads a phone channel's sender: "15555550142" (WhatsApp
// Cloud), "+15555550142" (SMS), "whatsapp:+15555550142" (Twilio). A
// WhatsApp business-scoped user id carries no number and proves nothing.
func sourcePhone(source, region string) string {
	s := strings.TrimPrefix(strings.TrimSpace(source), "whatsapp:")
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	return identity.Phone("+"+digits, region)
}

func guestByID(ctx context.Context, db *pgxpool.Pool, id string) (string, error) {
	var found string
	err := db.QueryRow(ctx, "SELECT id FROM guests WHERE id = $1 AND deleted_at IS NULL", id).Scan(&found)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identify contact: %w", err)
	}
	return found, nil
}

// uniqueGuest is the one guest with col = val; a value shared by several
// guests proves nobody.
func uniqueGuest(ctx context.Context, db *pgxpool.Pool, col, val string) (string, error) {
	rows, err := db.Query(ctx, "SELECT id FROM guests WHERE "+col+" = $1 AND deleted_at IS NULL LIMIT 2", val)
	if err != nil {
		return "", fmt.Errorf("identify contact: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("identify contact: %w", err)
	}
	if len(ids) != 1 {
		return "", nil
	}
	return ids[0], nil
}
