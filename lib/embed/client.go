package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

const (
	// defaultBatchSize keeps a request well under the input limits of the
	// providers we know (Cloudflare Workers AI takes 100 texts per call).
	defaultBatchSize = 64
	// defaultMaxAttempts bounds one call; the job outbox retries later.
	defaultMaxAttempts = 5
	// defaultMaxWait is the longest Retry-After we sit out in-process; a
	// longer one fails the call as Unavailable and the outbox comes back.
	defaultMaxWait = 30 * time.Second
	// maxResponseBytes: 64 vectors of 3072 floats as JSON text is ~5 MB.
	maxResponseBytes = 64 << 20
	// requestTimeout applies when the caller brings no *http.Client.
	requestTimeout = 60 * time.Second
)

// retryPolicy is the wait when the provider gives no Retry-After: from half
// a second, doubling, at most 8 s, ±20% so replicas spread out. New adds
// MaxWait and the clock.
var retryPolicy = backoff.Backoff{Base: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: backoff.Within20Percent}

// Options configure a Client. BaseURL and Model are required.
type Options struct {
	// BaseURL is the API root, e.g. http://localhost:11434/v1; a URL that
	// already ends in /embeddings is used as is.
	BaseURL string
	Model   string
	// APIKey is sent as a bearer token when set. It never appears in logs
	// or errors.
	APIKey string
	// Dimensions, when set, is checked against every response; otherwise
	// the first response teaches it.
	Dimensions int
	// BatchSize is the number of texts per request (default 64).
	BatchSize int
	// MaxAttempts bounds the tries per request (default 5).
	MaxAttempts int
	// MaxWait is the longest single wait before a retry (default 30s).
	MaxWait    time.Duration
	HTTPClient *http.Client
	// Sleep waits for d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now reads the clock for Retry-After dates; tests replace it.
	Now func() time.Time
}

// Client calls an OpenAI-compatible embeddings endpoint, in batches, retrying
// 429 and 5xx answers with back-off that honours Retry-After.
type Client struct {
	endpoint    string
	model       string
	key         string
	dims        atomic.Int64
	fixedDims   bool
	batchSize   int
	maxAttempts int
	http        *http.Client
	retry       backoff.Backoff
}

// New checks o and returns a Client.
func New(o Options) (*Client, error) {
	if o.Model == "" {
		return nil, fault.Field("model", "required")
	}
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fault.Field("base_url", "not an absolute http(s) URL")
	}
	if !strings.HasSuffix(u.Path, "/embeddings") {
		u.Path += "/embeddings"
	}
	c := &Client{
		endpoint:    u.String(),
		model:       o.Model,
		key:         o.APIKey,
		fixedDims:   o.Dimensions > 0,
		batchSize:   o.BatchSize,
		maxAttempts: o.MaxAttempts,
		http:        o.HTTPClient,
		retry:       retryPolicy,
	}
	c.dims.Store(int64(max(o.Dimensions, 0)))
	if c.batchSize <= 0 {
		c.batchSize = defaultBatchSize
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = defaultMaxAttempts
	}
	c.retry.MaxWait, c.retry.Sleep, c.retry.Now = o.MaxWait, o.Sleep, o.Now
	if c.retry.MaxWait <= 0 {
		c.retry.MaxWait = defaultMaxWait
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: requestTimeout}
	}
	return c, nil
}

// Dimensions is the vector size: configured, or learned from the first
// response (0 before that).
func (c *Client) Dimensions() int { return int(c.dims.Load()) }

// Model is the configured model name.
func (c *Client) Model() string { return c.model }

// Embed returns one vector per text, in order, calling the API once per
// batch. Empty texts are sent as a single space: several providers refuse
// empty input.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += c.batchSize {
		batch := texts[start:min(start+c.batchSize, len(texts))]
		vecs, err := c.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type request struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type response struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// httpError is one refused attempt.
type httpError struct {
	status     int
	msg        string
	retryAfter time.Duration
	hasRetry   bool
}

func (e *httpError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("embeddings: HTTP %d", e.status)
	}
	return fmt.Sprintf("embeddings: HTTP %d: %s", e.status, e.msg)
}

// RetryDelay is the provider's Retry-After, so the vectorize job waits as
// long as asked once this client gives up (fault.RetryAfter).
func (e *httpError) RetryDelay() time.Duration {
	if !e.hasRetry {
		return 0
	}
	return e.retryAfter
}

func (e *httpError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status >= 500
}

func (c *Client) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	input := make([]string, len(batch))
	for i, t := range batch {
		if strings.TrimSpace(t) == "" {
			t = " "
		}
		input[i] = t
	}
	body, err := json.Marshal(request{Model: c.model, Input: input})
	if err != nil {
		return nil, fmt.Errorf("embeddings: encode request: %w", err)
	}
	log := logging.From(ctx)
	for attempt := 1; ; attempt++ {
		vecs, err := c.once(ctx, body, len(batch))
		if err == nil {
			return vecs, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embeddings: %w", ctx.Err())
		}
		var he *httpError
		isHTTP := errors.As(err, &he)
		if isHTTP && !he.retryable() {
			return nil, fault.Wrap(fault.Permanent, err, "embeddings provider refused the request")
		}
		var fe *fault.Error
		if errors.As(err, &fe) {
			// A malformed answer or a dimension mismatch: retrying the same
			// input gets the same answer.
			return nil, err
		}
		if attempt >= c.maxAttempts {
			return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("after %d attempts: %w", attempt, err), "embeddings provider unavailable")
		}
		var asked time.Duration
		if isHTTP && he.hasRetry {
			asked = he.retryAfter
		}
		wait, stop := c.retry.Next(ctx, attempt, asked, isHTTP && he.hasRetry)
		switch {
		case errors.Is(stop, backoff.ErrTooLong):
			return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("provider asks to wait %s: %w", wait, err), "embeddings provider unavailable")
		case stop != nil:
			return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("no time left to wait %s: %w", wait, err), "embeddings provider unavailable")
		}
		ev := log.Debug().Int("attempt", attempt).Dur("wait", wait)
		if isHTTP {
			ev = ev.Int("status", he.status)
		}
		ev.Msg("embeddings: retrying")
		if err := c.retry.Wait(ctx, wait); err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
	}
}

// once makes one request. Errors are *httpError for an HTTP answer other
// than 200, *fault.Error for a malformed answer, anything else for
// transport failures (retried).
func (c *Client) once(ctx context.Context, body []byte, n int) ([][]float32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fault.Wrap(fault.Permanent, err, "embeddings request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := c.http.Do(req)
	if err != nil {
		// The key travels in a header, but scrub it anyway in case a
		// provider's URL scheme carries it.
		if c.key != "" && strings.Contains(err.Error(), c.key) {
			err = errors.New(strings.ReplaceAll(err.Error(), c.key, "[redacted]"))
		}
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		he := &httpError{status: res.StatusCode, msg: c.errorMessage(raw)}
		he.retryAfter, he.hasRetry = c.retry.RetryAfter(res.Header.Get("Retry-After"))
		return nil, he
	}
	var r response
	if err := json.NewDecoder(io.LimitReader(res.Body, maxResponseBytes)).Decode(&r); err != nil {
		// A cut-off body is a transport problem worth retrying.
		return nil, fmt.Errorf("embeddings: decode response: %w", err)
	}
	return c.vectors(r, n)
}

// vectors orders the answer by index and checks its shape.
func (c *Client) vectors(r response, n int) ([][]float32, error) {
	if len(r.Data) != n {
		return nil, fault.New(fault.Permanent, "embeddings: asked for %d vectors, got %d", n, len(r.Data))
	}
	sort.SliceStable(r.Data, func(i, j int) bool { return r.Data[i].Index < r.Data[j].Index })
	out := make([][]float32, n)
	for i, d := range r.Data {
		if d.Index != i {
			return nil, fault.New(fault.Permanent, "embeddings: response indexes are not 0..%d", n-1)
		}
		if len(d.Embedding) == 0 {
			return nil, fault.New(fault.Permanent, "embeddings: empty vector at index %d", i)
		}
		out[i] = d.Embedding
	}
	size := int64(len(out[0]))
	for i, v := range out {
		if int64(len(v)) != size {
			return nil, fault.New(fault.Permanent, "embeddings: vector %d has %d dimensions, vector 0 has %d", i, len(v), size)
		}
	}
	if c.dims.CompareAndSwap(0, size) {
		return out, nil
	}
	if want := c.dims.Load(); want != size {
		what := "earlier responses had"
		if c.fixedDims {
			what = "configured"
		}
		return nil, fault.New(fault.Permanent, "embeddings: model %s returned %d dimensions, %s %d", c.model, size, what, want)
	}
	return out, nil
}

// errorMessage extracts the provider's message ({"error":{"message":...}}
// or {"error":"..."}), short, with the key scrubbed in case it is echoed.
func (c *Client) errorMessage(raw []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(raw, &body) == nil {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(body.Error, &obj) == nil && obj.Message != "":
			msg = obj.Message
		case json.Unmarshal(body.Error, &s) == nil:
			msg = s
		default:
			msg = body.Message
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
	}
	if c.key != "" {
		msg = strings.ReplaceAll(msg, c.key, "[redacted]")
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}
