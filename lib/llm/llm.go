// Package llm asks an OpenAI-compatible chat-completions endpoint (Groq by
// default; Ollama or any compatible server works) for one JSON answer.
//
// It speaks the two calls it needs (POST /chat/completions in JSON mode,
// GET /models) over net/http. It used the official openai-go client until
// the rehearsal weighed the images: that SDK is about 35 MB of a 59 MB
// llm-query binary (and of stt's) for two requests. The retry rules it
// applied are kept (see do): 408, 409, 429, 5xx and transport errors
// retried with exponential back-off, retry-after-ms / Retry-After honoured
// up to a minute.
//
// Refusals are told apart by what fixes them: a passing outage (429, 5xx,
// timeouts) is fault.Unavailable; a model id the provider no longer serves
// or does not know, or a rejected key, is a *ConfigError naming the setting
// to change (errors.Is(err, ErrMisconfigured)); output the provider's JSON
// mode rejected is an *OutputError carrying what the model wrote, so the
// caller can ask for a repair.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

// DefaultModel is a Groq production model, by its full id. Groq
// decommissioned llama-3.3-70b-versatile, the earlier default, on
// 2026-08-16 (https://console.groq.com/docs/deprecations).
const DefaultModel = "openai/gpt-oss-120b"

// Settings of the model endpoint.
var (
	BaseURL = config.Register(config.Setting{Name: "LLM_BASE_URL", Default: "https://api.groq.com/openai/v1",
		Help: "OpenAI-compatible chat completions base URL (Groq, Ollama's http://localhost:11434/v1, ...)", Used: "llm-query"})
	Model = config.Register(config.Setting{Name: "LLM_MODEL", Default: DefaultModel,
		Help: "chat model, by the provider's full id; providers retire models (Groq: console.groq.com/docs/deprecations)", Used: "llm-query"})
	APIKey = config.Register(config.Setting{Name: "GROQ_API_KEY", Secret: "groq-api-key",
		Help: "API key of the chat endpoint; unset selects the offline answerer", Used: "llm-query"})
	Timeout = config.Register(config.Setting{Name: "LLM_TIMEOUT", Default: "20s",
		Help: "time budget of one completion, retries included", Used: "llm-query"})
	Retries = config.Register(config.Setting{Name: "LLM_RETRIES", Default: "2",
		Help: "retries on 429 and 5xx (retry-after honoured)", Used: "llm-query"})
)

// Provider error codes this package acts on (Groq's, which are OpenAI's
// where OpenAI has one).
const (
	CodeDecommissioned = "model_decommissioned" // 400: the model was retired
	CodeModelNotFound  = "model_not_found"      // 404: no such model, or no access
	CodeInvalidKey     = "invalid_api_key"      // 401
	CodeJSONValidate   = "json_validate_failed" // 400: JSON mode rejected the model's output
	// CodeNotListed is CheckModel's: the model is absent from GET /models.
	CodeNotListed = "model_not_listed"
	// codeUnknownURL is Groq's 404 for a path it does not serve.
	codeUnknownURL = "unknown_url"
)

// ErrMisconfigured matches (errors.Is) every *ConfigError: the provider
// refused the configuration, not this request, so no guest's message can
// succeed until a setting changes.
var ErrMisconfigured = errors.New("the model endpoint is misconfigured")

// ConfigError is a refusal that only a configuration change fixes.
type ConfigError struct {
	// Setting is what to change: LLM_MODEL, GROQ_API_KEY or LLM_BASE_URL.
	Setting string
	// Model is the configured model id.
	Model string
	// Status is the HTTP status of the refusal (0 for CheckModel's).
	Status int
	// Code is the provider's error code (model_decommissioned, ...).
	Code string
	// Message is the provider's explanation when it cannot hold a secret
	// (empty for key refusals, which some providers answer with part of
	// the key).
	Message string
	// Available lists a few model ids the endpoint serves (CheckModel).
	Available []string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	switch e.Setting {
	case APIKey.Name:
		fmt.Fprintf(&b, "%s: the model endpoint rejected the API key", e.Setting)
	case BaseURL.Name:
		fmt.Fprintf(&b, "%s: the model endpoint has no such path", e.Setting)
	default:
		fmt.Fprintf(&b, "%s: the model endpoint refused model %q", e.Setting, e.Model)
	}
	if e.Status != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.Status != 0 {
			fmt.Fprintf(&b, "HTTP %d", e.Status)
			if e.Code != "" {
				b.WriteString(" ")
			}
		}
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Available) > 0 {
		b.WriteString("; available: " + strings.Join(e.Available, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrMisconfigured) true.
func (e *ConfigError) Is(target error) bool { return target == ErrMisconfigured }

// OutputError is the provider refusing the model's own output: Groq's JSON
// mode answers 400 json_validate_failed with the text in
// failed_generation. A new try of the same request may well succeed, so
// the caller treats it as invalid output and asks for a repair. Output is
// the model's text (it may quote the guest's data: never log it).
type OutputError struct {
	Code   string
	Output string
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("the model endpoint rejected the model's output (%s, %d bytes)", e.Code, len(e.Output))
}

// unavailableError is a passing refusal (429, 5xx) and the wait the
// provider asked for, which job back-off honours (fault.RetryAfter).
type unavailableError struct {
	op         string
	status     int
	code       string
	retryAfter time.Duration
}

func (e *unavailableError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.op, e.status)
	if e.code != "" {
		s += " " + e.code
	}
	return s
}

// RetryDelay is the provider's Retry-After.
func (e *unavailableError) RetryDelay() time.Duration { return e.retryAfter }

// Client asks one model for JSON answers.
type Client struct {
	http    *http.Client
	base    string
	key     string
	model   string
	timeout time.Duration // the whole call, retries included
	retries int
}

// Options configure a Client.
type Options struct {
	BaseURL    string
	APIKey     string
	Model      string
	Timeout    time.Duration
	Retries    int
	HTTPClient *http.Client
}

// New returns a Client, or nil when no key is configured (the caller then
// uses the offline answerer).
func New(o Options) *Client {
	if o.APIKey == "" {
		return nil
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Model == "" {
		o.Model = DefaultModel
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{http: hc, base: strings.TrimRight(o.BaseURL, "/"), key: o.APIKey, model: o.Model,
		timeout: o.Timeout, retries: max(o.Retries, 0)}
}

// FromConfig reads the settings; nil means no LLM is configured.
func FromConfig(c *config.Config) *Client {
	return New(Options{
		BaseURL: c.URL(BaseURL), APIKey: c.String(APIKey), Model: c.String(Model),
		Timeout: c.Duration(Timeout), Retries: c.Int(Retries),
	})
}

// Name is the model's name, for provenance.
func (c *Client) Name() string { return c.model }

// Message is one chat turn.
type Message struct {
	Role    string // system, user or assistant
	Content string
}

// CompleteJSON sends messages in JSON object mode and returns the model's
// JSON object text. Errors are fault.Unavailable when a later try may work
// (timeouts, 429, 5xx after retries; with the provider's Retry-After), a
// *ConfigError when a setting must change (decommissioned or unknown
// model, rejected key), an *OutputError when JSON mode rejected the
// model's text, and fault.Permanent otherwise.
//
// Reasoning models (openai/gpt-oss-*, qwen3) are asked nothing special:
// in JSON mode Groq returns their reasoning in message.reasoning, apart
// from the content, and only the content is read. An assistant turn sent
// back carries only its content (Groq rejects a reasoning property there).
func (c *Client) CompleteJSON(ctx context.Context, msgs []Message) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	req := struct {
		Model          string            `json:"model"`
		Messages       []message         `json:"messages"`
		Temperature    float64           `json:"temperature"`
		ResponseFormat map[string]string `json:"response_format"`
	}{Model: c.model, Temperature: 0.2, ResponseFormat: map[string]string{"type": "json_object"}}
	for _, m := range msgs {
		role := m.Role
		if role != "system" && role != "assistant" {
			role = "user"
		}
		req.Messages = append(req.Messages, message{Role: role, Content: m.Content})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fault.Wrap(fault.Permanent, err, "model request")
	}
	var res struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := c.do(ctx, "chat completion", http.MethodPost, "/chat/completions", body, &res); err != nil {
		return "", err
	}
	if len(res.Choices) == 0 {
		return "", fault.New(fault.Unavailable, "model returned no choices")
	}
	return res.Choices[0].Message.Content, nil
}

// Models lists the ids GET {base}/models returns, sorted. A rejected key
// is a *ConfigError naming GROQ_API_KEY.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := c.do(ctx, "list models", http.MethodGet, "/models", nil, &page); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// shownModels bounds how many available ids a CheckModel error lists.
const shownModels = 8

// CheckModel says whether the endpoint lists the configured model: nil if
// it does; a *ConfigError naming LLM_MODEL with a few available ids if it
// does not (a decommissioned model is no longer listed); Models' errors
// otherwise (GROQ_API_KEY for a rejected key). For `concierge doctor`.
func (c *Client) CheckModel(ctx context.Context) error {
	ids, err := c.Models(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id == c.model {
			return nil
		}
	}
	return fault.Wrap(fault.Permanent, &ConfigError{Setting: Model.Name, Model: c.model, Code: CodeNotListed,
		Message: "the endpoint does not list it", Available: suggest(ids, c.model)}, "the assistant is misconfigured")
}

// suggest picks a few ids to offer instead of model: chat models first
// (not speech, guard or embedding models), those of the same publisher
// ("openai/") before others.
func suggest(ids []string, model string) []string {
	notChat := []string{"whisper", "tts", "orpheus", "guard", "embed"}
	publisher, _, _ := strings.Cut(model, "/")
	var same, other []string
	for _, id := range ids {
		skip := false
		for _, w := range notChat {
			if strings.Contains(strings.ToLower(id), w) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		if p, _, ok := strings.Cut(id, "/"); ok && p == publisher {
			same = append(same, id)
		} else {
			other = append(other, id)
		}
	}
	out := append(same, other...)
	if len(out) == 0 {
		out = ids
	}
	return out[:min(len(out), shownModels)]
}

// maxProviderMessage bounds the provider's explanation kept in an error.
const maxProviderMessage = 300

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// apiError is a non-2xx answer: its status, headers and the OpenAI-style
// {"error":{...}} body (Groq adds failed_generation to it).
type apiError struct {
	Status           int
	Header           http.Header
	Code             string
	Message          string
	FailedGeneration string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Code) }

func readAPIError(res *http.Response) *apiError {
	e := &apiError{Status: res.StatusCode, Header: res.Header}
	var body struct {
		Error struct {
			Message          string          `json:"message"`
			Code             json.RawMessage `json:"code"`
			FailedGeneration string          `json:"failed_generation"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if json.Unmarshal(b, &body) == nil {
		e.Message, e.FailedGeneration = body.Error.Message, body.Error.FailedGeneration
		// Codes are strings at Groq and OpenAI; a number is kept as text.
		if err := json.Unmarshal(body.Error.Code, &e.Code); err != nil && len(body.Error.Code) > 0 && string(body.Error.Code) != "null" {
			e.Code = string(body.Error.Code)
		}
	}
	return e
}

// retryPolicy is the back-off between attempts, as openai-go computed it:
// 0.5 s doubling to at most 8 s, minus up to a quarter of jitter.
var retryPolicy = backoff.Backoff{Base: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: backoff.UpperQuarter}

// maxProviderWait: a provider's wait of up to a minute is taken as asked;
// a longer one is not sat out (the error carries it to the job).
const maxProviderWait = time.Minute

// retryable says whether an attempt that ended so may be tried again.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusConflict ||
		status == http.StatusTooManyRequests || status >= 500
}

// do sends one request, retried up to c.retries times on what retryable
// allows and on transport errors, each attempt with its share of the
// budget, and decodes a 2xx answer into out. A wait the remaining budget
// cannot hold ends the call with the provider's delay, for the job's
// back-off to honour: never a sleep past the deadline.
func (c *Client) do(ctx context.Context, op, method, path string, body []byte, out any) error {
	perAttempt := c.timeout / time.Duration(c.retries+1)
	for attempt := 0; ; attempt++ {
		apiErr, err := c.attempt(ctx, perAttempt, method, path, body, out)
		if err == nil && apiErr == nil {
			return nil
		}
		last := c.refusal(op, apiErr, err)
		if ctx.Err() != nil || attempt >= c.retries || (apiErr != nil && !retryable(apiErr.Status)) {
			return last
		}
		if apiErr != nil && apiErr.Header.Get("X-Should-Retry") == "false" {
			return last
		}
		var ra time.Duration
		if apiErr != nil {
			ra = retryAfter(apiErr.Header, time.Now())
		}
		wait, stop := retryPolicy.Next(ctx, attempt+1, ra, ra > 0 && ra <= maxProviderWait)
		if stop != nil || retryPolicy.Wait(ctx, wait) != nil {
			return last
		}
	}
}

// attempt is one request: an *apiError for a non-2xx answer, an error for
// what never got one (or a 2xx body that did not decode).
func (c *Client) attempt(ctx context.Context, timeout time.Duration, method, path string, body []byte, out any) (*apiError, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return readAPIError(res), nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("decode the answer: %w", err)
	}
	return nil, nil
}

// refusal classifies what an attempt ended with.
func (c *Client) refusal(op string, apiErr *apiError, err error) error {
	if apiErr == nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("%s: %w", op, err), "model unavailable")
	}
	status, code := apiErr.Status, apiErr.Code
	msg := apiErr.Message
	if r := []rune(msg); len(r) > maxProviderMessage {
		msg = string(r[:maxProviderMessage]) + "…"
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		ue := &unavailableError{op: op, status: status, code: code, retryAfter: retryAfter(apiErr.Header, time.Now())}
		return fault.Wrap(fault.Unavailable, ue, "model unavailable")
	case status == http.StatusUnauthorized || code == CodeInvalidKey:
		return fault.Wrap(fault.Permanent, &ConfigError{Setting: APIKey.Name, Model: c.model, Status: status, Code: code},
			"the assistant is misconfigured")
	case code == codeUnknownURL:
		return fault.Wrap(fault.Permanent, &ConfigError{Setting: BaseURL.Name, Model: c.model, Status: status, Code: code, Message: msg},
			"the assistant is misconfigured")
	case code == CodeDecommissioned || code == CodeModelNotFound ||
		(status == http.StatusNotFound && code == "" && strings.Contains(strings.ToLower(msg), "model")):
		// Ollama answers an unknown model with 404 and no code.
		return fault.Wrap(fault.Permanent, &ConfigError{Setting: Model.Name, Model: c.model, Status: status, Code: code, Message: msg},
			"the assistant is misconfigured")
	case status == http.StatusNotFound:
		// A server without this path: the base URL.
		return fault.Wrap(fault.Permanent, &ConfigError{Setting: BaseURL.Name, Model: c.model, Status: status, Code: code, Message: msg},
			"the assistant is misconfigured")
	case code == CodeJSONValidate:
		return fault.Wrap(fault.Permanent, &OutputError{Code: code, Output: apiErr.FailedGeneration}, "the model's answer was invalid")
	case status == http.StatusRequestTimeout || status == http.StatusConflict:
		return fault.Wrap(fault.Unavailable, &unavailableError{op: op, status: status, code: code}, "model unavailable")
	}
	return fault.Wrap(fault.Permanent, fmt.Errorf("%s: HTTP %d %s", op, status, code), "model refused the request")
}

// retryAfter reads the provider's wait: retry-after-ms (OpenAI's), else
// Retry-After in seconds or as an HTTP date; 0 when absent.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	d, _ := backoff.ParseRetryAfter(h.Get("Retry-After"), now)
	return d
}
