package indexer

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/fusion"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
)

// Settings of retrieval.
var (
	KnowledgeDir = config.Register(config.Setting{Name: "KNOWLEDGE_DIR", Default: "knowledge",
		Help: "folder of Markdown files (policies, FAQ) indexed as shared knowledge", Used: "vectorize"})
)

// OpenIndex returns the retrieval index the configuration selects: with
// QDRANT_URL, PostgreSQL full text and Qdrant fused (lib/retrieval/fusion),
// else PostgreSQL full text alone. Search (llm-query) and indexing
// (vectorize) must agree on it, so both call this.
func OpenIndex(ctx context.Context, cfg *config.Config, db *pgxpool.Pool) (retrieval.Index, error) {
	text := pgindex.New(db)
	if cfg.URL(qdrant.SettingURL) == "" {
		return text, nil
	}
	emb, err := embed.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	open := func(ctx context.Context) (*qdrant.Index, error) { return qdrant.FromConfig(ctx, cfg, emb) }
	var dense retrieval.Index
	idx, err := open(ctx)
	switch {
	case err == nil:
		dense = idx
	case fault.KindOf(err) == fault.Unavailable:
		// Qdrant (or the embeddings provider learning the size) is down
		// now: start on full text and connect on a later use.
		logging.From(ctx).Warn().Err(err).Msg("qdrant unreachable at start: searching PostgreSQL full text until it answers")
		dense = newLazyDense(open)
	default:
		return nil, err
	}
	return fusion.New(text, dense, fusion.Options{OnDegraded: degradedIncident(db)}), nil
}

// codeSearchDegraded is the incident code of a search answered from full
// text alone because the dense side failed.
const codeSearchDegraded = "search_degraded"

// degradedIncident records each degraded search as an incident of the
// provider that failed, so the operator's metrics endpoint (redrive's GET)
// shows it: functions run where nobody scrapes them. The fusion index has
// already logged the error.
func degradedIncident(db *pgxpool.Pool) func(ctx context.Context, err error) {
	return func(ctx context.Context, err error) {
		in := incidents.Incident{Provider: "qdrant", Setting: qdrant.SettingURL.Name, Code: codeSearchDegraded,
			Message: "a search was answered from PostgreSQL full text alone: " + err.Error()}
		if errors.Is(err, qdrant.ErrEmbed) {
			in.Provider, in.Setting = "embeddings", embed.SettingURL.Name
		}
		if err := incidents.Record(ctx, db, in); err != nil {
			logging.From(ctx).Warn().Err(err).Msg("could not record the degraded search")
		}
	}
}

// FromConfig builds the Indexer the configuration selects.
func FromConfig(ctx context.Context, cfg *config.Config, db *pgxpool.Pool) (*Indexer, error) {
	fields, err := documents.ParseCustomFields(cfg.String(documents.SettingCustomFields))
	if err != nil {
		return nil, err
	}
	index, err := OpenIndex(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	return &Indexer{
		DB:           db,
		Index:        index,
		Docs:         &documents.Builder{DB: db, CustomFields: fields},
		KnowledgeDir: cfg.String(KnowledgeDir),
	}, cfg.Err()
}
