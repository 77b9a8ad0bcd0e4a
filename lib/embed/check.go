package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ProbeText is what Probe embeds: short, so the probe costs next to nothing.
const ProbeText = "dimension probe"

// DimensionsError is a model whose vectors are not as long as
// EMBEDDINGS_DIMENSIONS says.
type DimensionsError struct {
	Model           string
	Got, Configured int
}

func (e *DimensionsError) Error() string {
	return fmt.Sprintf("embeddings: model %s returns %d-dimension vectors, EMBEDDINGS_DIMENSIONS is %d", e.Model, e.Got, e.Configured)
}

// Probe embeds ProbeText once, without retries, and returns the model's
// vector size. When EMBEDDINGS_DIMENSIONS is set and differs, it returns
// the size and a *DimensionsError. For `concierge doctor`.
func (c *Client) Probe(ctx context.Context) (int, error) {
	// A client of its own, so the configured size neither refuses the
	// answer before it is measured nor is learned by c.
	p, err := New(Options{BaseURL: c.endpoint, Model: c.model, APIKey: c.key, HTTPClient: c.http, MaxAttempts: 1})
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(request{Model: c.model, Input: []string{ProbeText}})
	if err != nil {
		return 0, err
	}
	vecs, err := p.once(ctx, body, 1)
	if err != nil {
		return 0, err
	}
	dims := len(vecs[0])
	if c.fixedDims && int64(dims) != c.dims.Load() {
		return dims, &DimensionsError{Model: c.model, Got: dims, Configured: int(c.dims.Load())}
	}
	return dims, nil
}

// HTTPStatus is the status of the provider's refusal in err, or 0 when err
// is not an HTTP answer (a transport failure, a malformed answer).
func HTTPStatus(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}
