package indexer

import (
	"context"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
)

// Settings of retrieval.
var (
	KnowledgeDir = config.Register(config.Setting{Name: "KNOWLEDGE_DIR", Default: "knowledge",
		Help: "folder of Markdown files (policies, FAQ) indexed as shared knowledge", Used: "vectorize"})
	CustomFields = config.Register(config.Setting{Name: "LISTING_CUSTOM_FIELDS",
		Default: "650000000000000000000001=Wi-Fi network!,650000000000000000000002=Wi-Fi password!",
		Help:    "Guesty listing custom fields to index: id=Label, with ! for secrets shared only during a stay", Used: "vectorize"})
)

// OpenIndex returns the retrieval index the configuration selects: Qdrant
// when QDRANT_URL is set, else PostgreSQL full text. Search (llm-query) and
// indexing (vectorize) must agree on it, so both call this.
func OpenIndex(ctx context.Context, env *fnenv.Env) (retrieval.Index, error) {
	if env.Config.URL(qdrant.SettingURL) == "" {
		return pgindex.New(env.DB), nil
	}
	emb, err := embed.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	return qdrant.FromConfig(ctx, env.Config, emb)
}

// FromEnv builds the Indexer the configuration selects.
func FromEnv(ctx context.Context, env *fnenv.Env) (*Indexer, error) {
	fields, err := documents.ParseCustomFields(env.Config.String(CustomFields))
	if err != nil {
		return nil, err
	}
	index, err := OpenIndex(ctx, env)
	if err != nil {
		return nil, err
	}
	return &Indexer{
		DB:           env.DB,
		Index:        index,
		Docs:         &documents.Builder{DB: env.DB, CustomFields: fields},
		KnowledgeDir: env.Config.String(KnowledgeDir),
	}, env.Config.Err()
}
