package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
)

// Asker decides a reply: answer.Engine, the one the answer job uses.
type Asker interface {
	Answer(ctx context.Context, req answer.Request) answer.Result
}

// Stranger is the playground's unknown contact: no proven guest.
const Stranger = "stranger"

// stayPrefix starts a playground contact that is a stay's guest.
const stayPrefix = "stay:"

// contactsShown bounds the stays the playground offers, nearest first.
const contactsShown = 200

// maxQuestionBytes bounds a playground question (the engine reads the
// last 2000 characters of a guest's messages).
const maxQuestionBytes = 8 << 10

// Contact is one choice of whom to ask as.
type Contact struct {
	Value string
	Label string
	// When says where the stay is in time: "in stay", "arrives in 3 days".
	When string
}

// Contacts lists the stays to ask as (their guest's), nearest to now
// first, then the unknown contact.
func Contacts(ctx context.Context, db *pgxpool.Pool, now time.Time) ([]Contact, error) {
	rows, err := db.Query(ctx, `SELECT r.id, COALESCE(NULLIF(g.full_name, ''), r.guest_id), COALESCE(r.confirmation_code, ''),
			COALESCE(NULLIF(l.nickname, ''), NULLIF(l.title, ''), r.listing_id, ''), r.check_in, r.check_out
		FROM reservations r
		JOIN guests g ON g.id = r.guest_id
		LEFT JOIN listings l ON l.id = r.listing_id
		WHERE g.erased_at IS NULL AND g.deleted_at IS NULL AND COALESCE(r.status, '') NOT IN `+guests.InactiveSQL+`
		ORDER BY r.check_out < $1, abs(EXTRACT(EPOCH FROM COALESCE(r.check_in, $1) - $1)), r.id
		LIMIT $2`, now, contactsShown)
	if err != nil {
		return nil, fmt.Errorf("list stays: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Contact, error) {
		var id, name, code, listing string
		var in, out *time.Time
		if err := r.Scan(&id, &name, &code, &listing, &in, &out); err != nil {
			return Contact{}, err
		}
		c := Contact{Value: stayPrefix + id, When: when(now, in, out)}
		c.Label = strings.TrimSpace(fmt.Sprintf("%s — %s %s", name, code, listing))
		if in != nil && out != nil {
			c.Label += fmt.Sprintf(" (%s to %s)", in.UTC().Format("2 Jan"), out.UTC().Format("2 Jan 2006"))
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list stays: %w", err)
	}
	return append(cs, Contact{Value: Stranger, Label: "An unknown contact (not proven to be a guest)"}), nil
}

func when(now time.Time, in, out *time.Time) string {
	switch {
	case in == nil || out == nil:
		return ""
	case now.Before(*in):
		days := int(in.Sub(now).Hours() / 24)
		if days == 0 {
			return "arrives today"
		}
		return fmt.Sprintf("arrives in %d days", days)
	case now.Before(*out):
		return "in stay"
	}
	return "stay over"
}

// Asked is a playground answer.
type Asked struct {
	As       string
	Question string
	Access   guests.Access
	Guest    string
	// Window: the stay's secrets may be shared now.
	Window bool
	Result answer.Result
	// Other: the stay chosen is not the one the assistant reads (it reads
	// the guest's current or next stay, as it would in Chatwoot).
	Other    string
	Passages []Passage
}

// Decision says in words what the assistant decided.
func (a *Asked) Decision() string {
	switch {
	case a.Result.Handoff:
		return "Hands the conversation to a person"
	case a.Result.Verify:
		return "Asks the contact to prove who they are"
	}
	return "Answers the guest"
}

// Why explains the policy that decided it, if one did.
func (a *Asked) Why() string { return PolicyWhy(a.Result.Provenance.Policy) }

// Ask answers question as the contact as (a Contacts value) at now, the
// way the answer job would for a new conversation: the guest's access
// (their current or next stay), the question's language, the policy,
// retrieval and the model or the offline answerer. Nothing is stored,
// nothing is sent, and Chatwoot is not involved.
func Ask(ctx context.Context, db *pgxpool.Pool, asker Asker, now time.Time, as, question string) (*Asked, error) {
	question = strings.TrimSpace(question)
	switch {
	case question == "":
		return nil, fault.Field("question", "ask something")
	case len(question) > maxQuestionBytes || !utf8.ValidString(question):
		return nil, fault.Field("question", "must be UTF-8 text of at most %d bytes", maxQuestionBytes)
	}
	a := &Asked{As: as, Question: question}
	guestID, reservation := "", ""
	switch {
	case as == Stranger:
		a.Guest = "an unknown contact"
	case strings.HasPrefix(as, stayPrefix):
		reservation = strings.TrimPrefix(as, stayPrefix)
		var name string
		err := db.QueryRow(ctx, `SELECT r.guest_id, COALESCE(NULLIF(g.full_name, ''), r.guest_id) FROM reservations r
			JOIN guests g ON g.id = r.guest_id WHERE r.id = $1 AND g.erased_at IS NULL`, reservation).Scan(&guestID, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fault.Field("as", "no such stay")
		}
		if err != nil {
			return nil, fmt.Errorf("read the stay: %w", err)
		}
		a.Guest = name
	default:
		return nil, fault.Field("as", "choose a stay or the unknown contact")
	}
	access, err := guests.For(ctx, db, guestID, now)
	if err != nil {
		return nil, fmt.Errorf("read the guest's access: %w", err)
	}
	a.Access = access
	if access.Stay != nil && reservation != "" && access.Stay.ReservationID != reservation {
		a.Other = access.Stay.ConfirmationCode
	}
	a.Result = asker.Answer(ctx, answer.Request{
		Question: question, Access: access, Now: now, Unverified: guestID == "",
		Identity: "asked in the console's playground as " + a.Guest,
	})
	if access.Stay != nil {
		// The disclosure window as the engine judged it (provenance).
		a.Window = a.Result.Provenance.Restricted
	}
	if a.Passages, err = passages(ctx, db, a.Result.Provenance.ChunkIDs, a.Result.Citations); err != nil {
		return nil, err
	}
	return a, nil
}
