// Package embed turns text into vectors for the Qdrant retrieval index.
//
// Two embedders: Client speaks the OpenAI-compatible POST /v1/embeddings
// (Ollama, Cloudflare Workers AI, OpenAI, Hugging Face TEI...; Groq has no
// embeddings endpoint), and Hashing is an offline, deterministic, lexical
// embedder for tests and for running without an embeddings provider.
package embed

import (
	"context"
	"fmt"

	"github.com/harborstays/concierge/lib/config"
)

// Settings read by FromConfig.
var (
	SettingURL        = config.Register(config.Setting{Name: "EMBEDDINGS_URL", Help: "base URL of an OpenAI-compatible embeddings API, e.g. http://localhost:11434/v1 (empty: offline lexical hashing embedder)", Used: "vectorize, llm-query"})
	SettingModel      = config.Register(config.Setting{Name: "EMBEDDINGS_MODEL", Help: "embeddings model, e.g. nomic-embed-text or @cf/baai/bge-base-en-v1.5 (required with EMBEDDINGS_URL)", Used: "vectorize, llm-query"})
	SettingAPIKey     = config.Register(config.Setting{Name: "EMBEDDINGS_API_KEY", Secret: "embeddings-api-key", Help: "bearer token of the embeddings API (empty for a local Ollama)", Used: "vectorize, llm-query"})
	SettingDimensions = config.Register(config.Setting{Name: "EMBEDDINGS_DIMENSIONS", Help: "vector size of the model (empty: learned from the first response)", Used: "vectorize, llm-query"})
)

// Embedder is what FromConfig returns: either a *Client or a *Hashing.
// Consumers declare their own smaller interface.
type Embedder interface {
	// Embed returns one vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dimensions is the vector size, or 0 while still unknown.
	Dimensions() int
	// Model names the vector space: vectors of different models cannot be
	// compared, so an index records it.
	Model() string
}

// FromConfig returns a Client when EMBEDDINGS_URL is set and the offline
// Hashing embedder otherwise. Problems are recorded in c and returned.
func FromConfig(c *config.Config) (Embedder, error) {
	base := c.URL(SettingURL)
	if base == "" {
		if err := c.Err(); err != nil {
			return nil, err
		}
		return NewHashing(HashingDimensions), nil
	}
	model := c.Require(SettingModel)
	key := c.String(SettingAPIKey)
	dims := c.Int(SettingDimensions)
	if err := c.Err(); err != nil {
		return nil, err
	}
	if dims < 0 {
		return nil, fmt.Errorf("configuration: %s: must not be negative", SettingDimensions.Name)
	}
	return New(Options{BaseURL: base, Model: model, APIKey: key, Dimensions: dims})
}
