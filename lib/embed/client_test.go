package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

const testKey = "sk-test-0123456789abcdef"

// provider is a scripted OpenAI-compatible embeddings server: each request
// takes the next step; when the script runs out it answers normally. It
// checks what the client sends and records it.
type provider struct {
	t      *testing.T
	mu     sync.Mutex
	steps  []func(w http.ResponseWriter) bool // true: handled
	inputs [][]string
	dims   int
	// shuffle answers data in reverse order, as the spec allows.
	shuffle bool
}

func newProvider(t *testing.T, dims int, steps ...func(w http.ResponseWriter) bool) (*provider, *httptest.Server) {
	p := &provider{t: t, dims: dims, steps: steps}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		p.t.Errorf("request %s %s, want POST /v1/embeddings", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		p.t.Errorf("Authorization %q", got)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		p.t.Errorf("Content-Type %q", ct)
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		p.t.Errorf("body: %v", err)
	}
	if req.Model != "nomic-embed-text" {
		p.t.Errorf("model %q", req.Model)
	}
	p.mu.Lock()
	p.inputs = append(p.inputs, req.Input)
	var step func(http.ResponseWriter) bool
	if len(p.steps) > 0 {
		step, p.steps = p.steps[0], p.steps[1:]
	}
	p.mu.Unlock()
	if step != nil && step(w) {
		return
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	for i, text := range req.Input {
		v := make([]float32, p.dims)
		v[0] = float32(len(text))
		v[1] = float32(i)
		data[i] = item{"embedding", i, v}
	}
	if p.shuffle {
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			data[i], data[j] = data[j], data[i]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model, "usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

func status(code int, header ...string) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"message":"status %d for key %s","type":"test"}}`, code, testKey)
		return true
	}
}

// clock records sleeps instead of sleeping.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func newClient(t *testing.T, srv *httptest.Server, clk *clock, o Options) *Client {
	t.Helper()
	o.BaseURL = srv.URL + "/v1"
	o.Model = "nomic-embed-text"
	o.APIKey = testKey
	o.Sleep = clk.Sleep
	o.Now = clk.Now
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEmbedBatchesInOrder(t *testing.T) {
	p, srv := newProvider(t, 4)
	p.shuffle = true
	clk := &clock{}
	c := newClient(t, srv, clk, Options{BatchSize: 64})
	if c.Dimensions() != 0 {
		t.Errorf("dimensions before the first call: %d", c.Dimensions())
	}
	texts := make([]string, 150)
	for i := range texts {
		texts[i] = strings.Repeat("x", i+1)
	}
	texts[7] = ""
	vecs, err := c.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		want := float32(len(texts[i]))
		if i == 7 {
			want = 1 // sent as " "
		}
		if v[0] != want || int(v[1]) != i%64 {
			t.Errorf("vector %d is %v: out of order", i, v)
		}
	}
	if got := []int{len(p.inputs[0]), len(p.inputs[1]), len(p.inputs[2])}; len(p.inputs) != 3 || got[0] != 64 || got[1] != 64 || got[2] != 22 {
		t.Errorf("batches %v", got)
	}
	if c.Dimensions() != 4 {
		t.Errorf("dimensions learned: %d", c.Dimensions())
	}
	if len(clk.sleeps) != 0 {
		t.Errorf("slept %v without a failure", clk.sleeps)
	}
	if vecs, err := c.Embed(t.Context(), nil); err != nil || len(vecs) != 0 || len(p.inputs) != 3 {
		t.Errorf("no texts: %v %v, %d requests", vecs, err, len(p.inputs))
	}
}

func TestRetries(t *testing.T) {
	start := time.Date(2026, 6, 12, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		steps     []func(http.ResponseWriter) bool
		wantSleep []time.Duration // exact, or ±20% for back-off when jitter is set
		jitter    bool
		wantErr   fault.Kind    // Internal: success
		wantDelay time.Duration // the Retry-After the error carries to the job
		requests  int
	}{
		{
			name:      "429 with Retry-After seconds",
			steps:     []func(http.ResponseWriter) bool{status(429, "Retry-After", "2")},
			wantSleep: []time.Duration{2 * time.Second},
			requests:  2,
		},
		{
			name:      "429 with Retry-After date",
			steps:     []func(http.ResponseWriter) bool{status(429, "Retry-After", start.Add(7*time.Second).Format(http.TimeFormat))},
			wantSleep: []time.Duration{7 * time.Second},
			requests:  2,
		},
		{
			name:      "429 with Retry-After in the past",
			steps:     []func(http.ResponseWriter) bool{status(429, "Retry-After", start.Add(-time.Minute).Format(http.TimeFormat))},
			wantSleep: []time.Duration{0},
			requests:  2,
		},
		{
			name:      "500 then 503 back off",
			steps:     []func(http.ResponseWriter) bool{status(500), status(503)},
			wantSleep: []time.Duration{500 * time.Millisecond, time.Second},
			jitter:    true,
			requests:  3,
		},
		{
			name:      "429 without Retry-After backs off",
			steps:     []func(http.ResponseWriter) bool{status(429, "Retry-After", "soon")},
			wantSleep: []time.Duration{500 * time.Millisecond},
			jitter:    true,
			requests:  2,
		},
		{
			name:      "500 every time gives up",
			steps:     []func(http.ResponseWriter) bool{status(500), status(500), status(500), status(500)},
			wantSleep: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			jitter:    true,
			wantErr:   fault.Unavailable,
			requests:  4,
		},
		{
			name:      "Retry-After beyond the longest wait fails now",
			steps:     []func(http.ResponseWriter) bool{status(429, "Retry-After", "120")},
			wantErr:   fault.Unavailable,
			wantDelay: 120 * time.Second,
			requests:  1,
		},
		{
			name:     "400 is permanent",
			steps:    []func(http.ResponseWriter) bool{status(400)},
			wantErr:  fault.Permanent,
			requests: 1,
		},
		{
			name:     "401 is permanent",
			steps:    []func(http.ResponseWriter) bool{status(401)},
			wantErr:  fault.Permanent,
			requests: 1,
		},
		{
			name:     "404 unknown model is permanent",
			steps:    []func(http.ResponseWriter) bool{status(404)},
			wantErr:  fault.Permanent,
			requests: 1,
		},
		{
			name: "wrong number of vectors is permanent",
			steps: []func(http.ResponseWriter) bool{func(w http.ResponseWriter) bool {
				fmt.Fprint(w, `{"data":[]}`)
				return true
			}},
			wantErr:  fault.Permanent,
			requests: 1,
		},
		{
			name: "cut-off body is retried",
			steps: []func(http.ResponseWriter) bool{func(w http.ResponseWriter) bool {
				fmt.Fprint(w, `{"data":[{"index":0,"embe`)
				return true
			}},
			wantSleep: []time.Duration{500 * time.Millisecond},
			jitter:    true,
			requests:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, srv := newProvider(t, 3, tt.steps...)
			clk := &clock{now: start}
			var logs bytes.Buffer
			ctx := logging.WithLogger(t.Context(), logging.New("test", &logs, "debug"))
			c := newClient(t, srv, clk, Options{MaxAttempts: 4})
			vecs, err := c.Embed(ctx, []string{"quiet hours"})
			if tt.wantErr == fault.Internal {
				if err != nil || len(vecs) != 1 {
					t.Fatalf("want success, got %v %v", vecs, err)
				}
			} else {
				if err == nil {
					t.Fatal("want an error")
				}
				if k := fault.KindOf(err); k != tt.wantErr {
					t.Errorf("kind %s, want %s: %v", k, tt.wantErr, err)
				}
				if got := fault.RetryAfter(err); got != tt.wantDelay {
					t.Errorf("error carries Retry-After %s, want %s", got, tt.wantDelay)
				}
				if fault.Retryable(err) != (tt.wantErr == fault.Unavailable) {
					t.Errorf("retryable %v for %v", fault.Retryable(err), err)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("the error shows the key: %v", err)
				}
			}
			if len(p.inputs) != tt.requests {
				t.Errorf("%d requests, want %d", len(p.inputs), tt.requests)
			}
			if len(clk.sleeps) != len(tt.wantSleep) {
				t.Fatalf("slept %v, want %v", clk.sleeps, tt.wantSleep)
			}
			for i, want := range tt.wantSleep {
				got := clk.sleeps[i]
				lo, hi := want, want
				if tt.jitter {
					lo, hi = want*8/10, want*12/10
				}
				if got < lo || got > hi {
					t.Errorf("sleep %d: %s, want %s..%s", i, got, lo, hi)
				}
			}
			if strings.Contains(logs.String(), testKey) {
				t.Errorf("the key reached the log: %s", logs.String())
			}
			if len(tt.wantSleep) > 0 && !strings.Contains(logs.String(), "retrying") {
				t.Errorf("retries not logged: %q", logs.String())
			}
		})
	}
}

func TestErrorCarriesProviderMessage(t *testing.T) {
	_, srv := newProvider(t, 3, status(400))
	c := newClient(t, srv, &clock{}, Options{})
	_, err := c.Embed(t.Context(), []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "status 400 for key [redacted]") {
		t.Errorf("error %v", err)
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	_, srv := newProvider(t, 3, status(503, "Retry-After", "5"))
	c, err := New(Options{BaseURL: srv.URL + "/v1", Model: "nomic-embed-text", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Embed(ctx, []string{"x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %s", d)
	}
}

func TestDeadlineShorterThanRetryAfter(t *testing.T) {
	p, srv := newProvider(t, 3, status(429, "Retry-After", "10"))
	clk := &clock{}
	c := newClient(t, srv, clk, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := c.Embed(ctx, []string{"x"})
	if fault.KindOf(err) != fault.Unavailable || len(clk.sleeps) != 0 || len(p.inputs) != 1 {
		t.Errorf("want an immediate Unavailable, got %v after %v", err, clk.sleeps)
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	clk := &clock{}
	c, err := New(Options{BaseURL: url, Model: "m", APIKey: testKey, MaxAttempts: 3, Sleep: clk.Sleep, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Embed(t.Context(), []string{"x"})
	if fault.KindOf(err) != fault.Unavailable || len(clk.sleeps) != 2 {
		t.Errorf("want Unavailable after 3 attempts, got %v, sleeps %v", err, clk.sleeps)
	}
}

func TestDimensionsChecked(t *testing.T) {
	_, srv := newProvider(t, 3)
	c := newClient(t, srv, &clock{}, Options{Dimensions: 768})
	if c.Dimensions() != 768 {
		t.Errorf("configured dimensions: %d", c.Dimensions())
	}
	_, err := c.Embed(t.Context(), []string{"x"})
	if fault.KindOf(err) != fault.Permanent || !strings.Contains(err.Error(), "768") {
		t.Errorf("want a permanent dimension error, got %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		base, want string
	}{
		{"http://localhost:11434/v1", "http://localhost:11434/v1/embeddings"},
		{"http://localhost:11434/v1/", "http://localhost:11434/v1/embeddings"},
		{"https://api.cloudflare.com/client/v4/accounts/abc/ai/v1", "https://api.cloudflare.com/client/v4/accounts/abc/ai/v1/embeddings"},
		{"https://api.openai.com/v1/embeddings", "https://api.openai.com/v1/embeddings"},
		{"localhost:11434", ""},
		{"", ""},
	}
	for _, tt := range tests {
		c, err := New(Options{BaseURL: tt.base, Model: "m"})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%q accepted", tt.base)
		case tt.want != "" && err != nil:
			t.Errorf("%q: %v", tt.base, err)
		case tt.want != "" && c.endpoint != tt.want:
			t.Errorf("%q: endpoint %q, want %q", tt.base, c.endpoint, tt.want)
		}
	}
	if _, err := New(Options{BaseURL: "http://x/v1"}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("no model: %v", err)
	}
}

func TestFromConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string // type
		wantErr string
	}{
		{"nothing set: offline hashing", map[string]string{}, "*embed.Hashing", ""},
		{"Ollama", map[string]string{"EMBEDDINGS_URL": "http://localhost:11434/v1", "EMBEDDINGS_MODEL": "nomic-embed-text", "EMBEDDINGS_DIMENSIONS": "768"}, "*embed.Client", ""},
		{"model missing", map[string]string{"EMBEDDINGS_URL": "http://localhost:11434/v1"}, "", "EMBEDDINGS_MODEL"},
		{"bad URL", map[string]string{"EMBEDDINGS_URL": "localhost:11434"}, "", "EMBEDDINGS_URL"},
		{"bad dimensions", map[string]string{"EMBEDDINGS_URL": "http://x/v1", "EMBEDDINGS_MODEL": "m", "EMBEDDINGS_DIMENSIONS": "many"}, "", "EMBEDDINGS_DIMENSIONS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["SECRETS_DIR"] = t.TempDir()
			tt.env["EMBEDDINGS_API_KEY"] = testKey
			e, err := FromConfig(config.New(config.FromMap(tt.env)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("want an error naming %s, got %v", tt.wantErr, err)
				}
				if err != nil && strings.Contains(err.Error(), testKey) {
					t.Errorf("error shows the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", e); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if c, ok := e.(*Client); ok && (c.Dimensions() != 768 || c.Model() != "nomic-embed-text") {
				t.Errorf("client %d %s", c.Dimensions(), c.Model())
			}
		})
	}
}
