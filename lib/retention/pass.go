package retention

import (
	"context"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/logging"
)

// passSlack is what a scheduled pass's context allows beyond
// RETENTION_BUDGET: a batch started just before the budget ran out
// finishes, and the pass is recorded.
const passSlack = 10 * time.Second

// Pass is purge's scheduled pass: Run within the policy's budget (and
// passSlack), its figures logged in one line.
func (p *Purger) Pass(ctx context.Context, now time.Time) (Result, error) {
	run, cancel := context.WithTimeout(ctx, p.Policy.Budget+passSlack)
	defer cancel()
	res, err := p.Run(run, now)
	log := logging.From(ctx)
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	d := ev.Bool("complete", res.Complete).Int("batches", res.Batches).Dur("longest_batch", res.LongestBatch).
		Dur("elapsed", res.Elapsed).Int64("voice_bytes", res.Bytes)
	for k, n := range res.Removed {
		d = d.Int64(k, n)
	}
	d.Msg("retention pass")
	return res, err
}

// AnyAccount deletes messages in any account with one client's token
// (chatwoot.Client.ForAccount): an agent's or administrator's, since
// Chatwoot refuses the bot's.
type AnyAccount struct{ Client *chatwoot.Client }

// DeleteMessage implements Chatwoot.
func (a AnyAccount) DeleteMessage(ctx context.Context, account, conversation, message int64) error {
	return a.Client.ForAccount(account).DeleteMessage(ctx, conversation, message)
}
