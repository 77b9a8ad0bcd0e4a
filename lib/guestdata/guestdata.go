// Package guestdata answers a guest's requests about their personal data:
// it finds everything Concierge holds about one guest (Find), hands it over
// (Export) or erases it (Erase), and keeps an erasure log without personal
// data that is replayed after a backup is restored (Replay).
//
// A guest is named by a selector — a Guesty guest id, an E.164 phone or an
// e-mail address — and widened to what the rows link: the guest's phone and
// e-mail, reservations, Chatwoot conversations (proven or claimed links and
// the synced contact), calls from the guest's phones, Aircall contacts, the
// documents indexed for them and the raw webhook events that carried them.
package guestdata

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
)

// Selector kinds, as the CLI flags name them.
const (
	ByGuestyID = "guesty-id"
	ByPhone    = "phone"
	ByEmail    = "email"
)

// Selector names one guest.
type Selector struct {
	Kind  string
	Value string
}

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	guestyID  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	emailLike = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
)

// NewSelector validates and normalises a selector the way the rows store
// it: e-mails lower-cased, phones in E.164.
func NewSelector(kind, value string) (Selector, error) {
	v := strings.TrimSpace(value)
	switch kind {
	case ByGuestyID:
		if !guestyID.MatchString(v) {
			return Selector{}, fault.Field("guesty-id", "is not a Guesty id")
		}
	case ByPhone:
		if !e164.MatchString(v) {
			return Selector{}, fault.Field("phone", "must be E.164, like +15555550142")
		}
	case ByEmail:
		v = strings.ToLower(v)
		if !emailLike.MatchString(v) {
			return Selector{}, fault.Field("email", "is not an e-mail address")
		}
	default:
		return Selector{}, fault.Field("selector", "unknown kind %q", kind)
	}
	return Selector{Kind: kind, Value: v}, nil
}

// Conversation is a Chatwoot conversation by account and display id.
type Conversation struct {
	AccountID int64 `json:"account_id"`
	ID        int64 `json:"id"`
	ContactID int64 `json:"contact_id,omitempty"`
}

// Holdings is what Find linked to a guest: the keys every part of the
// export and the erasure select by.
type Holdings struct {
	GuestIDs        []string       `json:"guest_ids"`
	Phones          []string       `json:"phones"`
	Emails          []string       `json:"emails"`
	ReservationIDs  []string       `json:"reservation_ids"`
	Conversations   []Conversation `json:"conversations"`
	CallIDs         []int64        `json:"call_ids"`
	AircallContacts []int64        `json:"aircall_contact_ids"`
	// ChatwootContacts are the guest's contacts in Chatwoot (account, id),
	// for the optional removal there.
	ChatwootContacts []Conversation `json:"chatwoot_contacts"`
	DocumentIDs      []string       `json:"document_ids"`
}

// Empty reports whether nothing links to the selector.
func (h Holdings) Empty() bool {
	return len(h.GuestIDs)+len(h.ReservationIDs)+len(h.Conversations)+len(h.CallIDs)+len(h.AircallContacts)+len(h.DocumentIDs) == 0
}

// Find links sel to everything held about the guest. It reads only.
func Find(ctx context.Context, db *pgxpool.Pool, sel Selector) (Holdings, error) {
	var h Holdings
	switch sel.Kind {
	case ByGuestyID:
		h.GuestIDs = []string{sel.Value}
	case ByPhone:
		h.Phones = []string{sel.Value}
	case ByEmail:
		h.Emails = []string{sel.Value}
	}
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Guests and their keys: one round widens phone → guest → e-mail.
		rows, err := tx.Query(ctx, `SELECT id, phone_e164, email FROM guests
			WHERE id = ANY($1) OR phone_e164 = ANY($2) OR email = ANY($3)`, h.GuestIDs, h.Phones, h.Emails)
		if err != nil {
			return err
		}
		var found []string
		for rows.Next() {
			var id string
			var phone, email *string
			if err := rows.Scan(&id, &phone, &email); err != nil {
				rows.Close()
				return err
			}
			found = append(found, id)
			if phone != nil {
				h.Phones = append(h.Phones, *phone)
			}
			if email != nil {
				h.Emails = append(h.Emails, *email)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A Guesty id is kept even without a guests row: reservations and
		// documents may still name it.
		h.GuestIDs = append(h.GuestIDs, found...)
		h.GuestIDs, h.Phones, h.Emails = uniq(h.GuestIDs), uniq(h.Phones), uniq(h.Emails)

		if h.ReservationIDs, err = strings1(ctx, tx, `SELECT id FROM reservations WHERE guest_id = ANY($1) ORDER BY id`, h.GuestIDs); err != nil {
			return err
		}
		// Contacts: the one contact sync linked, and those of conversations
		// proven to be the guest's. A conversation that only claims the
		// guest (claimed_guest_id) may be anyone's: it is neither exported
		// nor deleted, its claim is cleared (Erase).
		rows, err = tx.Query(ctx, `
			SELECT DISTINCT account_id, contact_id FROM (
				SELECT account_id, contact_id FROM contact_links WHERE guest_id = ANY($1)
				UNION ALL
				SELECT account_id, contact_id FROM conversations
				WHERE guest_id = ANY($1) AND contact_id IS NOT NULL
			) c ORDER BY 1, 2`, h.GuestIDs)
		if err != nil {
			return err
		}
		if h.ChatwootContacts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) {
			var c Conversation
			return c, r.Scan(&c.AccountID, &c.ContactID)
		}); err != nil {
			return err
		}
		accounts, contacts := make([]int64, 0), make([]int64, 0)
		for _, c := range h.ChatwootContacts {
			accounts, contacts = append(accounts, c.AccountID), append(contacts, c.ContactID)
		}
		rows, err = tx.Query(ctx, `
			SELECT account_id, id, COALESCE(contact_id, 0) FROM conversations
			WHERE guest_id = ANY($1)
				OR (account_id, contact_id) IN (SELECT * FROM unnest($2::bigint[], $3::bigint[]))
			ORDER BY 1, 2`, h.GuestIDs, accounts, contacts)
		if err != nil {
			return err
		}
		if h.Conversations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) {
			var c Conversation
			return c, r.Scan(&c.AccountID, &c.ID, &c.ContactID)
		}); err != nil {
			return err
		}
		if h.CallIDs, err = ints(ctx, tx, `SELECT id FROM calls WHERE phone_e164 = ANY($1) ORDER BY id`, h.Phones); err != nil {
			return err
		}
		if h.AircallContacts, err = ints(ctx, tx, `SELECT id FROM aircall_contacts WHERE phones && $1 OR emails && $2 ORDER BY id`, h.Phones, h.Emails); err != nil {
			return err
		}
		h.DocumentIDs, err = strings1(ctx, tx, `SELECT id FROM documents
			WHERE guest_id = ANY($1) OR source = ANY($2) ORDER BY id`, h.GuestIDs, h.sources())
		return err
	})
	if err != nil {
		return h, fault.Wrap(fault.Unavailable, fmt.Errorf("find guest data: %w", err), "database unavailable")
	}
	return h, nil
}

// sources are the vectorize subjects whose documents belong to the guest.
func (h Holdings) sources() []string {
	out := make([]string, 0, len(h.ReservationIDs)+len(h.CallIDs))
	for _, r := range h.ReservationIDs {
		out = append(out, jobs.ReservationSubject(r))
	}
	for _, c := range h.CallIDs {
		out = append(out, jobs.CallSubject(c))
	}
	return out
}

// subjects are the job subjects that name the guest's records.
func (h Holdings) subjects() []string {
	out := h.sources()
	for _, g := range h.GuestIDs {
		out = append(out, jobs.GuestSubject(g))
	}
	return out
}

// patterns match a raw webhook payload that carries one of the guest's
// keys as a JSON string (ids, E.164 phones, lower-cased e-mails).
func (h Holdings) patterns() []string {
	var out []string
	for _, vs := range [][]string{h.GuestIDs, h.Phones, h.Emails} {
		for _, v := range vs {
			esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(v)
			out = append(out, `%"`+esc+`"%`)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// args are the named arguments every part's condition uses.
func (h Holdings) args() pgx.NamedArgs {
	accounts, convs := make([]int64, 0), make([]int64, 0)
	for _, c := range h.Conversations {
		accounts, convs = append(accounts, c.AccountID), append(convs, c.ID)
	}
	calls, contacts := make([]string, 0), make([]string, 0)
	for _, c := range h.CallIDs {
		calls = append(calls, strconv.FormatInt(c, 10))
	}
	for _, c := range h.AircallContacts {
		contacts = append(contacts, strconv.FormatInt(c, 10))
	}
	return pgx.NamedArgs{
		"guests": nonNil(h.GuestIDs), "reservations": nonNil(h.ReservationIDs),
		"conv_accounts": accounts, "conv_ids": convs,
		"calls": nonNilInt(h.CallIDs), "call_texts": calls,
		"contacts": nonNilInt(h.AircallContacts), "contact_texts": contacts,
		"documents": nonNil(h.DocumentIDs), "subjects": nonNil(h.subjects()), "patterns": h.patterns(),
	}
}

// part is one table's share of a guest's data.
type part struct {
	name  string // the export's section and the counts' key
	table string
	where string // over args()
}

const inConversations = `(account_id, conversation_id) IN (SELECT * FROM unnest(@conv_accounts::bigint[], @conv_ids::bigint[]))`

// parts lists, once, where a guest's data lives. Export reads every part;
// Erase deletes them in this order (guests last: it becomes a tombstone).
var parts = []part{
	{"messages", "messages", inConversations},
	{"replies", "replies", inConversations},
	{"voice_clips", "voice_clips", inConversations},
	{"identity_checks", "identity_checks", inConversations},
	{"conversations", "conversations", `(account_id, id) IN (SELECT * FROM unnest(@conv_accounts::bigint[], @conv_ids::bigint[]))`},
	{"contact_links", "contact_links", `guest_id = ANY(@guests)`},
	{"reservations", "reservations", `guest_id = ANY(@guests) OR id = ANY(@reservations)`},
	{"calls", "calls", `id = ANY(@calls)`},
	{"aircall_contacts", "aircall_contacts", `id = ANY(@contacts)`},
	{"jobs", "jobs", `subject = ANY(@subjects) AND status <> 'running'`},
	// Raw deliveries: Chatwoot's by conversation, Aircall's by call or
	// contact, and any (Guesty's above all) that carries a key as a string.
	{"webhook_events", "webhook_events", `
		(source = 'chatwoot' AND (payload->'account'->>'id', payload->'conversation'->>'id') IN
			(SELECT a::text, c::text FROM unnest(@conv_accounts::bigint[], @conv_ids::bigint[]) AS x(a, c)))
		OR (source = 'aircall' AND event_type LIKE 'call.%' AND payload->'data'->>'id' = ANY(@call_texts::text[]))
		OR (source = 'aircall' AND event_type LIKE 'contact.%' AND payload->'data'->>'id' = ANY(@contact_texts::text[]))
		OR payload::text LIKE ANY(@patterns::text[])`},
	// A tombstone (erased before) holds nothing more to export or erase.
	{"guests", "guests", `id = ANY(@guests) AND NOT (erased_at IS NOT NULL AND deleted_at IS NOT NULL)`},
}

// indexParts are read by Export only: Erase removes them through the
// retrieval index (Unindex), which also reaches Qdrant.
var indexParts = []part{
	{"documents", "documents", `id = ANY(@documents)`},
	{"indexed_chunks", "chunks", `document_id = ANY(@documents) OR guest_id = ANY(@guests)`},
	{"quarantined_passages", "quarantined_passages", `document_id = ANY(@documents)`},
}

func strings1(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return nonNil(out), err
}

func ints(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return nonNilInt(out), err
}

func uniq(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilInt(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
