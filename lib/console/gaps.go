package console

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxGapQuestions bounds the questions one Knowledge gaps page groups:
// the newest of the window.
const maxGapQuestions = 2000

// burstSQL is the guest's words a reply r answered: its guest messages
// after the conversation's previous reply, up to the one it answers
// (voice messages by their transcript), oldest first, one per line.
const burstSQL = `(SELECT string_agg(COALESCE(NULLIF(m.content, ''), m.transcript, ''), E'\n' ORDER BY m.id)
		FROM messages m
		WHERE m.account_id = r.account_id AND m.conversation_id = r.conversation_id
			AND m.message_type = 'incoming' AND NOT m.private
			AND m.id <= r.inbound_message_id
			AND m.id > COALESCE((SELECT max(p.inbound_message_id) FROM replies p
				WHERE p.account_id = r.account_id AND p.conversation_id = r.conversation_id
					AND p.inbound_message_id < r.inbound_message_id), 0))`

// Gaps is the Knowledge gaps page's data.
type Gaps struct {
	Days      int
	From      time.Time
	Questions int // grouped
	Capped    bool
	Groups    []Gap
}

// ReadGaps groups the questions handed off in the window because nothing
// in the guest's data answered them (GapReasons).
func ReadGaps(ctx context.Context, db *pgxpool.Pool, now time.Time, days int) (*Gaps, error) {
	g := &Gaps{Days: days, From: utcDay(now).AddDate(0, 0, -(days - 1))}
	rows, err := db.Query(ctx, `SELECT r.id::text, COALESCE(`+burstSQL+`, ''), COALESCE(r.language, ''), r.created_at
		FROM replies r
		WHERE r.mode = 'handoff' AND r.created_at >= $1 AND btrim(r.handoff_reason) = ANY($2)
		ORDER BY r.created_at DESC, r.id
		LIMIT $3`, g.From, GapReasons, maxGapQuestions+1)
	if err != nil {
		return nil, fmt.Errorf("read knowledge gaps: %w", err)
	}
	qs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Question, error) {
		var q Question
		var at time.Time
		err := r.Scan(&q.Reply, &q.Text, &q.Language, &at)
		q.At = at.Unix()
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("read knowledge gaps: %w", err)
	}
	if len(qs) > maxGapQuestions {
		qs, g.Capped = qs[:maxGapQuestions], true
	}
	g.Questions = len(qs)
	g.Groups = Group(qs)
	return g, nil
}
