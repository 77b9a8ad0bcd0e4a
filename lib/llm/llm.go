// Package llm asks an OpenAI-compatible chat-completions endpoint (Groq by
// default; Ollama or any compatible server works) for one JSON answer.
//
// It wraps the official openai-go client: it is maintained, speaks the
// protocol Groq implements, and already retries 429 and 5xx with back-off
// that honours retry-after (seconds, HTTP date, or retry-after-ms).
//
// Refusals are told apart by what fixes them: a passing outage (429, 5xx,
// timeouts) is fault.Unavailable; a model id the provider no longer serves
// or does not know, or a rejected key, is a *ConfigError naming the setting
// to change (errors.Is(err, ErrMisconfigured)); output the provider's JSON
// mode rejected is an *OutputError carrying what the model wrote, so the
// caller can ask for a repair.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retryafter"
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
	c       openai.Client
	model   string
	timeout time.Duration
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
	opts := []option.RequestOption{
		option.WithBaseURL(o.BaseURL), option.WithAPIKey(o.APIKey), option.WithMaxRetries(o.Retries),
		// Per attempt; the context carries the whole budget.
		option.WithRequestTimeout(o.Timeout / time.Duration(o.Retries+1)),
	}
	if o.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(o.HTTPClient))
	}
	return &Client{c: openai.NewClient(opts...), model: o.Model, timeout: o.Timeout}
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
	params := openai.ChatCompletionNewParams{
		Model:       c.model,
		Temperature: openai.Float(0.2),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONObject: &shared.ResponseFormatJSONObjectParam{},
		},
	}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case "assistant":
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		}
	}
	res, err := c.c.Chat.Completions.New(ctx, params)
	if err != nil {
		return "", c.refusal("chat completion", err)
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
	page, err := c.c.Models.List(ctx)
	if err != nil {
		return nil, c.refusal("list models", err)
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

// refusal classifies an error of the openai client.
func (c *Client) refusal(op string, err error) error {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("%s: %w", op, err), "model unavailable")
	}
	status, code := apiErr.StatusCode, apiErr.Code
	msg := apiErr.Message
	if r := []rune(msg); len(r) > maxProviderMessage {
		msg = string(r[:maxProviderMessage]) + "…"
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		ue := &unavailableError{op: op, status: status, code: code}
		if apiErr.Response != nil {
			ue.retryAfter = retryAfter(apiErr.Response.Header, time.Now())
		}
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
		var body struct {
			FailedGeneration string `json:"failed_generation"`
		}
		_ = json.Unmarshal([]byte(apiErr.RawJSON()), &body)
		return fault.Wrap(fault.Permanent, &OutputError{Code: code, Output: body.FailedGeneration}, "the model's answer was invalid")
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
	d, _ := retryafter.Parse(h.Get("Retry-After"), now)
	return d
}
