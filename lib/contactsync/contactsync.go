// Package contactsync keeps Chatwoot contacts in step with Guesty guests:
// it finds the guest's contact (by identifier, then email, then phone),
// creates or updates it with identifier = the Guesty guest id, the E.164
// phone, the email, and the current or next stay in custom_attributes, and
// stores the link with a hash of what was sent, so an unchanged guest costs
// no API call.
//
// The contacts API refuses agent-bot tokens: the client must carry an
// agent's or administrator's token.
package contactsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// SettingInboxID is the inbox new contacts are created in.
var SettingInboxID = config.Register(config.Setting{Name: "CHATWOOT_CONTACT_INBOX_ID",
	Help: "Chatwoot inbox in which contact sync creates contacts (Settings > Inboxes; required with CHATWOOT_URL)", Used: "chatwoot-reply"})

// Custom attributes contact sync writes. Each is always sent (null when the
// guest has no stay) so a stale stay is cleared: Chatwoot merges custom
// attributes on update.
const (
	AttrGuestID           = "guesty_guest_id"
	AttrReservationID     = "guesty_reservation_id"
	AttrConfirmationCode  = "confirmation_code"
	AttrCheckIn           = "check_in"
	AttrCheckOut          = "check_out"
	AttrListing           = "listing"
	AttrReservationStatus = "reservation_status"
)

// Outcomes of a sync.
type Outcome string

// Outcomes.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Skipped   Outcome = "skipped"
)

// Result is what Sync did.
type Result struct {
	GuestID   string  `json:"guest_id"`
	Outcome   Outcome `json:"outcome"`
	ContactID int64   `json:"contact_id,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	// Dropped names fields left off because another contact holds the
	// value (Chatwoot keeps email and phone unique per account).
	Dropped []string `json:"dropped,omitempty"`
}

// Syncer syncs guests into one Chatwoot account.
type Syncer struct {
	DB *pgxpool.Pool
	// Chat is the contacts client (a user token); nil skips every sync.
	Chat *chatwoot.Client
	// InboxID is where new contacts are created.
	InboxID int64
	// Now picks the current or next stay.
	Now func() time.Time
}

// FromConfig builds a Syncer; chat is nil when Chatwoot is not configured.
// Missing settings are recorded in cfg.
func FromConfig(cfg *config.Config, db *pgxpool.Pool, chat *chatwoot.Client, now func() time.Time) (*Syncer, error) {
	raw := cfg.String(SettingInboxID)
	inbox := cfg.Int(SettingInboxID)
	if chat != nil {
		if raw == "" {
			cfg.Require(SettingInboxID)
		} else if inbox <= 0 {
			return nil, fmt.Errorf("configuration: %s: must be a positive inbox id, got %d", SettingInboxID.Name, inbox)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Syncer{DB: db, Chat: chat, InboxID: int64(inbox), Now: now}, nil
}

// Job is the contact-sync job's work: the guest its subject names
// (jobs.GuestSubject), synced.
func (s *Syncer) Job(ctx context.Context, job jobs.Claimed) (any, error) {
	id, err := jobs.ParseGuestSubject(job.Subject)
	if err != nil {
		return nil, err
	}
	return s.Sync(ctx, id)
}

type guest struct {
	id, name, email, phone string
	deleted                bool
}

func unavailable(err error, op string) error {
	return fault.Wrap(fault.Unavailable, fmt.Errorf("%s: %w", op, err), "database unavailable")
}

// Sync brings guestID's Chatwoot contact in step. Chatwoot errors keep
// their fault kind: 429/5xx retry, 401 (a bot token), 404 and 422 are
// permanent.
func (s *Syncer) Sync(ctx context.Context, guestID string) (Result, error) {
	res := Result{GuestID: guestID}
	if s.Chat == nil {
		res.Outcome, res.Reason = Skipped, "Chatwoot is not configured (CHATWOOT_URL)"
		return res, nil
	}
	g := guest{id: guestID}
	err := s.DB.QueryRow(ctx, `SELECT COALESCE(full_name, ''), COALESCE(email, ''), COALESCE(phone_e164, ''), deleted_at IS NOT NULL
		FROM guests WHERE id = $1`, guestID).Scan(&g.name, &g.email, &g.phone, &g.deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		res.Outcome, res.Reason = Skipped, "the guest is not stored (yet)"
		return res, nil
	case err != nil:
		return res, unavailable(err, "load guest "+guestID)
	case g.deleted:
		// Contacts of deleted guests are left to people.
		res.Outcome, res.Reason = Skipped, "the guest was deleted in Guesty"
		return res, nil
	}
	if g.email == "" && !chatwoot.ValidPhone(g.phone) {
		res.Outcome, res.Reason = Skipped, "the guest has no email or phone a conversation could match"
		return res, nil
	}
	access, err := guests.For(ctx, s.DB, guestID, s.Now())
	if err != nil {
		return res, unavailable(err, "stay of guest "+guestID)
	}
	want := desired(g, access.Stay)
	hash := s.hash(want)
	log := logging.From(ctx).With().Str("guest_id", guestID).Logger()

	var link struct {
		account, contact int64
		hash             string
	}
	err = s.DB.QueryRow(ctx, "SELECT account_id, contact_id, synced_hash FROM contact_links WHERE guest_id = $1", guestID).
		Scan(&link.account, &link.contact, &link.hash)
	linked := err == nil && link.account == s.Chat.AccountID()
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, unavailable(err, "load contact link of guest "+guestID)
	}
	if linked && link.hash == hash {
		res.Outcome, res.ContactID = Unchanged, link.contact
		return res, nil
	}

	var c chatwoot.Contact
	if linked {
		c, res.Dropped, err = s.write(ctx, link.contact, want)
		switch {
		case err == nil:
			res.Outcome = Updated
		case chatwoot.StatusOf(err) == http.StatusNotFound:
			log.Info().Int64("contact_id", link.contact).Msg("linked contact is gone from Chatwoot; finding or creating it again")
		default:
			return res, fmt.Errorf("update contact of guest %s: %w", guestID, err)
		}
	}
	if res.Outcome == "" {
		found, err := s.find(ctx, want)
		if err != nil {
			return res, fmt.Errorf("find contact of guest %s: %w", guestID, err)
		}
		if found == nil {
			in := want
			in.InboxID = s.InboxID
			c, res.Dropped, err = s.write(ctx, 0, in)
			switch {
			case err == nil:
				res.Outcome = Created
			case has(chatwoot.AttributesOf(err), "identifier"):
				// Created meanwhile (a concurrent run, or a create whose
				// answer was lost): update that one.
				var ferr error
				if found, ferr = s.find(ctx, chatwoot.ContactInput{Identifier: want.Identifier}); ferr != nil {
					return res, fmt.Errorf("find contact of guest %s: %w", guestID, ferr)
				}
				if found == nil {
					return res, fmt.Errorf("create contact of guest %s: %w", guestID, err)
				}
			default:
				return res, fmt.Errorf("create contact of guest %s: %w", guestID, err)
			}
		}
		if res.Outcome == "" {
			if c, res.Dropped, err = s.write(ctx, found.ID, want); err != nil {
				return res, fmt.Errorf("update contact of guest %s: %w", guestID, err)
			}
			res.Outcome = Updated
		}
	}
	res.ContactID = c.ID
	if _, err := s.DB.Exec(ctx, `
		INSERT INTO contact_links (guest_id, account_id, contact_id, synced_hash, synced_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (guest_id) DO UPDATE SET account_id = EXCLUDED.account_id, contact_id = EXCLUDED.contact_id,
			synced_hash = EXCLUDED.synced_hash, synced_at = now()`,
		guestID, s.Chat.AccountID(), c.ID, hash); err != nil {
		// The contact is right in Chatwoot; the retry finds it and
		// stores the link.
		return res, unavailable(err, "store contact link of guest "+guestID)
	}
	log.Info().Str("outcome", string(res.Outcome)).Int64("contact_id", c.ID).Strs("dropped", res.Dropped).Msg("contact synced")
	return res, nil
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// desired is the contact as Guesty describes the guest.
func desired(g guest, stay *guests.Stay) chatwoot.ContactInput {
	in := chatwoot.ContactInput{Name: g.name, Email: g.email, Identifier: g.id}
	if chatwoot.ValidPhone(g.phone) {
		in.PhoneNumber = g.phone
	}
	attrs := map[string]any{
		AttrGuestID: g.id, AttrReservationID: nil, AttrConfirmationCode: nil, AttrCheckIn: nil,
		AttrCheckOut: nil, AttrListing: nil, AttrReservationStatus: nil,
	}
	if stay != nil {
		loc, err := time.LoadLocation(stay.Timezone)
		if err != nil || stay.Timezone == "" {
			loc = time.UTC
		}
		set := func(k, v string) {
			if v != "" {
				attrs[k] = v
			}
		}
		set(AttrReservationID, stay.ReservationID)
		set(AttrConfirmationCode, stay.ConfirmationCode)
		set(AttrListing, stay.ListingTitle)
		set(AttrReservationStatus, stay.Status)
		// The listing's local dates as Guesty sends them; the instants are
		// read in the listing's zone only when it is not stored with them.
		if !stay.CheckIn.IsZero() {
			attrs[AttrCheckIn] = stay.CheckIn.In(loc).Format(time.DateOnly)
		}
		if stay.CheckInDay != "" {
			attrs[AttrCheckIn] = stay.CheckInDay
		}
		if !stay.CheckOut.IsZero() {
			attrs[AttrCheckOut] = stay.CheckOut.In(loc).Format(time.DateOnly)
		}
		if stay.CheckOutDay != "" {
			attrs[AttrCheckOut] = stay.CheckOutDay
		}
	}
	in.CustomAttributes = attrs
	return in
}

// hash digests what a sync sends to the account (JSON sorts map keys).
func (s *Syncer) hash(in chatwoot.ContactInput) string {
	b, _ := json.Marshal(struct {
		Account int64                 `json:"account"`
		Contact chatwoot.ContactInput `json:"contact"`
	}{s.Chat.AccountID(), in})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// find returns the guest's contact: the one whose identifier is the guest
// id, else one with the same email, else one with the same phone. A
// contact another guest's id already claims is never taken over.
func (s *Syncer) find(ctx context.Context, in chatwoot.ContactInput) (*chatwoot.Contact, error) {
	keys := []struct {
		q     string
		match func(chatwoot.Contact) bool
	}{
		{in.Identifier, func(c chatwoot.Contact) bool { return c.Identifier == in.Identifier }},
		{in.Email, func(c chatwoot.Contact) bool { return strings.EqualFold(c.Email, in.Email) }},
		{in.PhoneNumber, func(c chatwoot.Contact) bool { return c.PhoneNumber == in.PhoneNumber }},
	}
	for _, k := range keys {
		if k.q == "" {
			continue
		}
		list, err := s.Chat.SearchContacts(ctx, k.q)
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if k.match(c) && (c.Identifier == "" || c.Identifier == in.Identifier) {
				return &c, nil
			}
		}
	}
	return nil, nil
}

// write creates (id 0) or updates a contact. When Chatwoot refuses an
// email or phone another contact holds, it writes again without them and
// names them in dropped.
func (s *Syncer) write(ctx context.Context, id int64, in chatwoot.ContactInput) (chatwoot.Contact, []string, error) {
	var dropped []string
	for {
		var c chatwoot.Contact
		var err error
		if id == 0 {
			c, err = s.Chat.CreateContact(ctx, in)
		} else {
			c, err = s.Chat.UpdateContact(ctx, id, in)
		}
		if err == nil || chatwoot.StatusOf(err) != http.StatusUnprocessableEntity {
			return c, dropped, err
		}
		retry := false
		for _, a := range chatwoot.AttributesOf(err) {
			switch {
			case a == "email" && in.Email != "":
				in.Email, retry = "", true
				dropped = append(dropped, a)
			case a == "phone_number" && in.PhoneNumber != "":
				in.PhoneNumber, retry = "", true
				dropped = append(dropped, a)
			}
		}
		if !retry {
			return c, dropped, err
		}
	}
}
