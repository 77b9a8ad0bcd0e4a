package indexer

import (
	"context"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
)

// Settings of retrieval.
var (
	KnowledgeDir = config.Register(config.Setting{Name: "KNOWLEDGE_DIR", Default: "knowledge",
		Help: "folder of Markdown files (policies, FAQ) indexed as shared knowledge", Used: "vectorize"})
	CustomFields = config.Register(config.Setting{Name: "LISTING_CUSTOM_FIELDS",
		Default: "650000000000000000000001=Wi-Fi network!,650000000000000000000002=Wi-Fi password!",
		Help:    "Guesty listing custom fields to index: id=Label, with ! for secrets shared only during a stay", Used: "vectorize"})
)

// FromEnv builds the Indexer the configuration selects.
func FromEnv(_ context.Context, env *fnenv.Env) (*Indexer, error) {
	fields, err := documents.ParseCustomFields(env.Config.String(CustomFields))
	if err != nil {
		return nil, err
	}
	return &Indexer{
		DB:           env.DB,
		Index:        pgindex.New(env.DB),
		Docs:         &documents.Builder{DB: env.DB, CustomFields: fields},
		KnowledgeDir: env.Config.String(KnowledgeDir),
	}, env.Config.Err()
}
