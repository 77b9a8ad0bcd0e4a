package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
)

const fullTextIndex = "the PostgreSQL full-text index (QDRANT_URL unset)"

const noEmbeddings = "none, the PostgreSQL full-text index needs no embeddings (QDRANT_URL unset)"

type embedInfo struct {
	dims   int
	model  string
	local  bool // the offline hashing embedder
	result Result
}

// embedder asks the configured embedder for one vector, once for the
// embeddings and Qdrant checks.
func (d *Doctor) embedder(ctx context.Context) embedInfo {
	return d.embedding.get(func() embedInfo {
		cfg := config.New(d.o.Lookup)
		e, err := embed.FromConfig(cfg)
		if err != nil {
			return embedInfo{result: settingsFailed(err)}
		}
		client, ok := e.(*embed.Client)
		if !ok {
			dims := e.Dimensions()
			return embedInfo{dims: dims, model: e.Model(), local: true,
				result: LocalDefault("offline hashing embedder, %d dimensions (EMBEDDINGS_URL unset)", dims)}
		}
		dims, err := client.Probe(ctx)
		if err != nil {
			return embedInfo{result: embedFailed(err, client.Model())}
		}
		found := fmt.Sprintf("model %s answers %d-dimension vectors", client.Model(), dims)
		if cfg.Int(embed.SettingDimensions) > 0 {
			found += " (= EMBEDDINGS_DIMENSIONS)"
		}
		return embedInfo{dims: dims, model: client.Model(), result: Pass("%s", found)}
	})
}

func embedFailed(err error, model string) Result {
	var fe *fault.Error
	var de *embed.DimensionsError
	switch s := embed.HTTPStatus(err); {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Failed(err.Error(), "EMBEDDINGS_API_KEY (secret embeddings-api-key): the provider refused it")
	case s == http.StatusNotFound || s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		return Failed(err.Error(), fmt.Sprintf("EMBEDDINGS_MODEL: %s may not be a model of this provider (or EMBEDDINGS_URL is not its API root)", model))
	case s != 0:
		return Failed(err.Error(), "EMBEDDINGS_URL: the provider answered with an error; try again, or check its status")
	case errors.As(err, &de):
		return Failed(err.Error(), "EMBEDDINGS_DIMENSIONS: set it to the model's size, or leave it empty to learn it")
	case errors.As(err, &fe):
		return Failed(err.Error(), "EMBEDDINGS_URL: an OpenAI-compatible /v1 root whose /embeddings answers")
	}
	return Failed(err.Error(), "EMBEDDINGS_URL: check that it is reachable from here")
}

func (d *Doctor) embeddings(ctx context.Context, cfg *config.Config) Result {
	if !configured(cfg, qdrant.SettingURL) {
		return LocalDefault(noEmbeddings)
	}
	return d.embedder(ctx).result
}

type qdrantInfo struct {
	in     qdrant.Inspection
	result *Result // set when the collection could not be read
}

// qdrantInspect reads the collection once for both Qdrant checks.
func (d *Doctor) qdrantInspect(ctx context.Context) qdrantInfo {
	return d.inspect.get(func() qdrantInfo {
		cfg := config.New(d.o.Lookup)
		url := cfg.URL(qdrant.SettingURL)
		key := cfg.String(qdrant.SettingAPIKey)
		collection := cfg.String(qdrant.SettingCollection)
		if err := cfg.Err(); err != nil {
			r := settingsFailed(err)
			return qdrantInfo{result: &r}
		}
		client, err := qdrant.Dial(url, key)
		if err != nil {
			r := Failed(err.Error(), "QDRANT_URL: Qdrant's gRPC endpoint, e.g. http://qdrant:6334")
			return qdrantInfo{result: &r}
		}
		defer client.Close()
		in, err := qdrant.Inspect(ctx, client, collection)
		if err != nil {
			r := Failed(err.Error(), "QDRANT_URL: check that Qdrant's gRPC port (6334) is reachable from here")
			if qdrant.AuthFailed(err) {
				r.Fix = "QDRANT_API_KEY (secret qdrant-api-key): Qdrant refused it"
			}
			return qdrantInfo{result: &r}
		}
		return qdrantInfo{in: in}
	})
}

func (d *Doctor) qdrantCollection(ctx context.Context, cfg *config.Config) Result {
	if !configured(cfg, qdrant.SettingURL) {
		return LocalDefault("%s", fullTextIndex)
	}
	q := d.qdrantInspect(ctx)
	if q.result != nil {
		return *q.result
	}
	in := q.in
	if !in.Exists {
		return Failed(fmt.Sprintf("no collection %s", in.Collection),
			"vectorize and llm-query create it when they start: deploy them; or set QDRANT_COLLECTION to the collection that holds the chunks")
	}
	shape := fmt.Sprintf("collection %s: %d points, %d-dimension %s vectors", in.Collection, in.Points, in.Size, in.Distance)
	if !in.Unnamed {
		shape = fmt.Sprintf("collection %s: %d points, named vectors", in.Collection, in.Points)
	}
	e := d.embedder(ctx)
	if e.result.State == Fail {
		return Skipped("%s; size not compared: the embedder did not answer (see embeddings)", shape)
	}
	if m := in.VectorsMismatch(e.dims, e.model); m != "" {
		return Failed(m, "QDRANT_COLLECTION: name a new collection for this embedder (the functions create it; then make reindex), or re-create this one")
	}
	return Pass("%s, as the embedder makes", shape)
}

func (d *Doctor) qdrantIndexes(ctx context.Context, cfg *config.Config) Result {
	if !configured(cfg, qdrant.SettingURL) {
		return Skipped("not checked: QDRANT_URL unset")
	}
	q := d.qdrantInspect(ctx)
	switch {
	case q.result != nil:
		return Skipped("not checked: the collection could not be read (see qdrant collection)")
	case !q.in.Exists:
		return Skipped("not checked: no collection %s (see qdrant collection)", q.in.Collection)
	case len(q.in.Missing) > 0:
		return Failed(fmt.Sprintf("collection %s lacks %s", q.in.Collection, strings.Join(q.in.Missing, ", ")),
			"vectorize and llm-query create missing payload indexes when they start: redeploy them (Qdrant's strict mode refuses filters on unindexed keys)")
	}
	return Pass("all %d present: %s", len(q.in.Indexed), strings.Join(q.in.Indexed, ", "))
}
