package bot

import (
	"context"
	"time"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Settings of the bot.
var (
	Burst = config.Register(config.Setting{Name: "BOT_BURST_WINDOW", Default: "4s",
		Help: "wait this long after a guest's latest message for more before answering them together", Used: "llm-query"})
	InboxModes = config.Register(config.Setting{Name: "BOT_INBOX_MODES",
		Help: "per-inbox mode: inbox_id=auto|draft|off, comma-separated", Used: "llm-query"})
	DefaultMode = config.Register(config.Setting{Name: "BOT_DEFAULT_MODE", Default: ModeAuto,
		Help: "mode of inboxes not in BOT_INBOX_MODES: auto (reply), draft (private note) or off", Used: "llm-query"})
	VerifyAttempts = config.Register(config.Setting{Name: "VERIFY_MAX_ATTEMPTS", Default: "3",
		Help: "failed identity checks (confirmation code and last name) one conversation may make before a person takes over", Used: "llm-query"})
	VerifyHourly = config.Register(config.Setting{Name: "VERIFY_MAX_FAILURES_PER_HOUR", Default: "20",
		Help: "failed identity checks per hour across all conversations; beyond it every check goes to a person, so codes cannot be guessed at scale", Used: "llm-query"})
)

// Bot is the intake and the answerer of llm-query.
type Bot struct {
	Intake   *Intake
	Answerer *Answerer
}

// FromConfig builds the bot from configuration: db holds the events and
// jobs, invoker queues the answer jobs, now is the clock (nil: time.Now).
func FromConfig(ctx context.Context, c *config.Config, db *pgxpool.Pool, invoker jobs.Invoker, now func() time.Time) (*Bot, error) {
	if now == nil {
		now = time.Now
	}
	modes, err := ParseModes(c.String(InboxModes))
	if err != nil {
		return nil, err
	}
	policy, err := answer.ParsePolicy(c.String(answer.SettingTopics), c.String(answer.SettingPersonWords), c.String(answer.SettingSecretWords), c.String(answer.SettingStayWords))
	if err != nil {
		return nil, err
	}
	index, err := indexer.OpenIndex(ctx, c, db)
	if err != nil {
		return nil, err
	}
	engine := &answer.Engine{Index: index, Policy: policy, DiscloseBefore: c.Duration(answer.SettingDiscloseBefore),
		RecordIncident: func(ctx context.Context, in incidents.Incident) error { return incidents.Record(ctx, db, in) }}
	if m := llm.FromConfig(c); m != nil {
		engine.Model = m
	} else {
		logging.From(ctx).Info().Msg("no LLM key configured: the offline answerer quotes the best passages")
	}
	v := chatwoot.VerifierFromConfig(c, now)
	in := &Intake{
		Store:          &webhook.Store{DB: db, Invoker: invoker},
		DB:             db,
		DefaultAccount: int64(c.Int(chatwoot.SettingAccountID)),
		Region:         c.String(config.PhoneRegion),
	}
	if v != nil && v.Required() {
		in.Verify = v.Verify
	}
	a := &Answerer{
		DB: db, Engine: engine, Invoker: invoker, Burst: c.Duration(Burst), Modes: modes,
		DefaultMode: c.Enum(DefaultMode, ModeAuto, ModeDraft, ModeOff), Now: now, Sleep: backoff.Sleep, HistoryTurns: 8,
		Verify: VerifyLimits{PerConversation: c.Int(VerifyAttempts), PerHour: c.Int(VerifyHourly)},
	}
	return &Bot{Intake: in, Answerer: a}, c.Err()
}
