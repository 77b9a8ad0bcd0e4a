package console

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/logging"
)

// EngineFromConfig builds the answer engine from the bot's own settings
// (HANDOFF_TOPICS and the other policy words, SECRETS_DISCLOSE_BEFORE, the
// retrieval index, the model), as bot.FromConfig builds llm-query's, so
// the playground decides with what the answer job decides with. It is
// built here rather than through bot.FromConfig because that one also
// builds the Chatwoot intake, which would give the console the webhook
// secret it has no use for.
func EngineFromConfig(ctx context.Context, c *config.Config, db *pgxpool.Pool) (*answer.Engine, error) {
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
		logging.From(ctx).Info().Msg("no LLM key configured: the playground uses the offline answerer, as llm-query does")
	}
	return engine, nil
}
