package retention

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/logging"
)

// voiceMessage is a Chatwoot message that holds voice: a guest's voice
// note Concierge transcribed (messages), or a spoken reply it posted
// (replies, keyed by the reply's id).
type voiceMessage struct {
	table                   string // messages or replies
	account, conv, chatwoot int64
	replyID                 string
}

// chatwootVoice has Chatwoot delete the messages that hold voice once
// VOICE_TTL has passed since they were written. Chatwoot's API has no call
// that removes an attachment alone: Messages#destroy replaces the content
// with "This message was deleted" and destroys the attachments, so a
// spoken reply's text goes from Chatwoot's view with its audio (the text
// stays in replies until RETENTION_REPLIES).
func (ps *pass) chatwootVoice(ctx context.Context) error {
	if ps.p.Chatwoot == nil {
		return nil
	}
	cut := ps.cutoff(ps.p.Policy.Voice)
	rows, err := ps.p.DB.Query(ctx, `
		(SELECT 'messages', account_id, conversation_id, id, '' FROM messages
			WHERE voice_removed_at IS NULL AND (transcript IS NOT NULL OR voice_error IS NOT NULL) AND created_at < $1
			ORDER BY created_at LIMIT $2)
		UNION ALL
		(SELECT 'replies', account_id, conversation_id, chatwoot_message_id, id::text FROM replies
			WHERE voice_removed_at IS NULL AND voice_status = 'ready' AND chatwoot_message_id IS NOT NULL AND posted_at < $1
			ORDER BY posted_at LIMIT $2)`, cut, ps.p.Policy.Batch)
	if err != nil {
		return fmt.Errorf("retention chatwoot voice: %w", err)
	}
	var list []voiceMessage
	for rows.Next() {
		var m voiceMessage
		if err := rows.Scan(&m.table, &m.account, &m.conv, &m.chatwoot, &m.replyID); err != nil {
			rows.Close()
			return fmt.Errorf("retention chatwoot voice: %w", err)
		}
		list = append(list, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("retention chatwoot voice: %w", err)
	}
	cv := &ps.res.ChatwootVoice
	log := logging.From(ctx)
	for i, m := range list {
		if time.Now().After(ps.deadline) {
			cv.Left += int64(len(list) - i)
			return errBudget
		}
		err := ps.p.Chatwoot.DeleteMessage(ctx, m.account, m.conv, m.chatwoot)
		switch st := chatwoot.StatusOf(err); {
		case err == nil:
			cv.Removed++
		case st == http.StatusNotFound:
			// Deleted by a person, or the conversation is gone.
			cv.Gone++
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			// A bot token (4.14.2 allows bots messages#create only) or an
			// agent outside the inbox: no later message will fare better.
			cv.Refused++
			cv.Left += int64(len(list) - i - 1)
			cv.Reason = "Chatwoot refused the delete: CHATWOOT_CONTACTS_TOKEN must be an agent's or administrator's token with access to the inbox (bot tokens may not delete messages)"
			log.Warn().Int("status", st).Int64("account_id", m.account).Int64("conversation_id", m.conv).
				Msg("voice left in Chatwoot: the token may not delete messages")
			return nil
		default:
			cv.Left += int64(len(list) - i)
			log.Warn().Err(err).Int64("account_id", m.account).Int64("conversation_id", m.conv).
				Msg("voice left in Chatwoot for the next pass")
			return nil
		}
		q := `UPDATE messages SET voice_removed_at = now() WHERE account_id = $1 AND id = $2`
		args := []any{m.account, m.chatwoot}
		if m.table == "replies" {
			q, args = `UPDATE replies SET voice_removed_at = now() WHERE id = $1::uuid`, []any{m.replyID}
		}
		if _, err := ps.p.DB.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("retention chatwoot voice: %w", err)
		}
	}
	ps.res.Removed[KindChatwootVoice] += cv.Removed + cv.Gone
	return nil
}
