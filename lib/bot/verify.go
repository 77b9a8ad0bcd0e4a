package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/guests/trust"
	"github.com/harborstays/concierge/lib/logging"
)

// VerifyLimits bound how many wrong confirmation codes are tried: per
// conversation (then a person takes over) and per hour across all
// conversations (a widget visitor can open conversations at will, so only
// a global bound stops guessing at scale).
type VerifyLimits struct {
	PerConversation int
	PerHour         int
}

func (l VerifyLimits) withDefaults() VerifyLimits {
	if l.PerConversation <= 0 {
		l.PerConversation = 3
	}
	if l.PerHour <= 0 {
		l.PerHour = 20
	}
	return l
}

// verdict of the guest's messages after the bot asked for proof.
type verdict int

const (
	noAttempt verdict = iota // nothing that looks like a confirmation code
	verified                 // code and last name match a booking: linked
	mismatch                 // a wrong code or name; attempts remain
	exhausted                // too many wrong ones: a person takes over
)

type verification struct {
	verdict verdict
	guest   string
	left    int
	reason  string
	// rest is the text of the messages that were no attempt.
	rest []string
}

// codeToken is what a confirmation code looks like: 5 to 40 letters,
// digits and dashes. Guesty's codes (HMABCD1234, GY-h3k9Lq2) and channel
// codes all have a digit; words without one are never tried.
var codeToken = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9-]{4,39}`)

// maxTokens bounds the lookups one message can cause.
const maxTokens = 5

func codeTokens(text string) []string {
	var out []string
	for _, t := range codeToken.FindAllString(text, -1) {
		if strings.IndexFunc(t, unicode.IsDigit) < 0 {
			continue
		}
		if out = append(out, strings.Trim(t, "-")); len(out) == maxTokens {
			break
		}
	}
	return out
}

// fold lower-cases, strips accents and splits into words, so "Müller" in
// Guesty matches "muller" typed on a phone.
func fold(s string) []string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}

// hasName reports whether the words of name occur together in text.
func hasName(text, name string) bool {
	n := fold(name)
	if len(n) == 0 {
		return false
	}
	t := fold(text)
	for i := 0; i+len(n) <= len(t); i++ {
		match := true
		for j := range n {
			if t[i+j] != n[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// verify checks the pending messages of an unverified conversation whose
// guest was asked for proof. Each message with something like a code is
// one attempt, recorded once (a repeated job finds its record); a match
// links the conversation to the booking's guest. Neither the code nor the
// name is logged, and neither reaches the model.
func (a *Answerer) verify(ctx context.Context, account, conv int64, pending []inbound) (verification, error) {
	lim := a.Verify.withDefaults()
	log := logging.From(ctx)
	var v verification
	for _, m := range pending {
		tokens := codeTokens(m.text)
		if len(tokens) == 0 {
			if t := strings.TrimSpace(m.text); t != "" {
				v.rest = append(v.rest, t)
			}
			continue
		}
		checked, ok, guest, err := a.recorded(ctx, account, m.id)
		if err != nil {
			return v, err
		}
		var fails, hourly int
		if err := a.DB.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM identity_checks WHERE account_id = $1 AND conversation_id = $2 AND NOT ok),
				(SELECT count(*) FROM identity_checks WHERE NOT ok AND checked_at > now() - interval '1 hour')`,
			account, conv).Scan(&fails, &hourly); err != nil {
			return v, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		if !checked {
			if fails >= lim.PerConversation {
				return verification{verdict: exhausted, reason: fmt.Sprintf("the contact could not prove who they are (%d failed identity checks)", fails)}, nil
			}
			if hourly >= lim.PerHour {
				log.Warn().Int("failed_last_hour", hourly).Msg("identity checks paused: too many failures in the last hour")
				return verification{verdict: exhausted, reason: "identity checks are paused: too many failed attempts across conversations in the last hour"}, nil
			}
			var reservation string
			guest, reservation = a.match(ctx, m.text, tokens)
			ok = guest != ""
			if err := a.link(ctx, account, conv, m.id, ok, guest, reservation); err != nil {
				return v, err
			}
			if !ok {
				fails++
			}
		}
		if ok {
			log.Info().Str("proof", string(trust.ProofCode)).Msg("guest verified by confirmation code and last name")
			return verification{verdict: verified, guest: guest, rest: v.rest}, nil
		}
		log.Info().Int("failed", fails).Msg("identity check failed")
		if fails >= lim.PerConversation {
			return verification{verdict: exhausted, reason: fmt.Sprintf("the contact could not prove who they are (%d failed identity checks)", fails)}, nil
		}
		v.verdict, v.left = mismatch, lim.PerConversation-fails
	}
	return v, nil
}

// recorded returns the outcome of an earlier check of message id, and the
// guest it proved.
func (a *Answerer) recorded(ctx context.Context, account, message int64) (checked, ok bool, guest string, err error) {
	var g *string
	err = a.DB.QueryRow(ctx, `SELECT ic.ok, r.guest_id FROM identity_checks ic
		LEFT JOIN reservations r ON r.id = ic.reservation_id
		WHERE ic.account_id = $1 AND ic.message_id = $2`, account, message).Scan(&ok, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, "", nil
	}
	if err != nil {
		return false, false, "", fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	return true, ok && g != nil, deref(g), nil
}

// match finds an active booking with one of the codes whose guest's last
// name is in text. A lookup error counts as no match: the guest may try
// again.
func (a *Answerer) match(ctx context.Context, text string, tokens []string) (guest, reservation string) {
	for _, code := range tokens {
		rows, err := a.DB.Query(ctx, `SELECT r.id, r.guest_id, COALESCE(g.last_name, ''), COALESCE(g.full_name, '')
			FROM reservations r JOIN guests g ON g.id = r.guest_id AND g.deleted_at IS NULL
			WHERE upper(r.confirmation_code) = upper($1) AND COALESCE(r.status, '') NOT IN `+guests.InactiveSQL, code)
		if err != nil {
			logging.From(ctx).Warn().Err(err).Msg("identity check lookup failed")
			return "", ""
		}
		type row struct{ res, guest, last, full string }
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.res, &x.guest, &x.last, &x.full)
		})
		if err != nil {
			logging.From(ctx).Warn().Err(err).Msg("identity check lookup failed")
			return "", ""
		}
		for _, f := range found {
			// Guesty's lastName when set, else the last word of the name.
			name := f.last
			if ws := strings.Fields(f.full); name == "" && len(ws) > 0 {
				name = ws[len(ws)-1]
			}
			if hasName(text, name) {
				return f.guest, f.res
			}
		}
	}
	return "", ""
}

// link records the check and, when it matched, links the conversation, in
// one transaction.
func (a *Answerer) link(ctx context.Context, account, conv, message int64, ok bool, guest, reservation string) error {
	err := pgx.BeginFunc(ctx, a.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO identity_checks (account_id, message_id, conversation_id, ok, reservation_id)
			VALUES ($1, $2, $3, $4, NULLIF($5, '')) ON CONFLICT (account_id, message_id) DO NOTHING`,
			account, message, conv, ok, reservation); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE conversations SET guest_id = $3, verified_by = $4, verify_asked_message_id = NULL, updated_at = now()
			WHERE account_id = $1 AND id = $2 AND guest_id IS NULL`, account, conv, guest, string(trust.ProofCode))
		return err
	})
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("record identity check: %w", err), "database unavailable")
	}
	return nil
}
