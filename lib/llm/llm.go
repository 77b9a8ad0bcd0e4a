// Package llm asks an OpenAI-compatible chat-completions endpoint (Groq by
// default; Ollama or any compatible server works) for one JSON answer.
//
// It wraps the official openai-go client: it is maintained, speaks the
// protocol Groq implements, and already retries 429 and 5xx with back-off
// that honours retry-after (seconds, HTTP date, or retry-after-ms).
package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

// Settings of the model endpoint.
var (
	BaseURL = config.Register(config.Setting{Name: "LLM_BASE_URL", Default: "https://api.groq.com/openai/v1",
		Help: "OpenAI-compatible chat completions base URL (Groq, Ollama's http://localhost:11434/v1, ...)", Used: "llm-query"})
	Model = config.Register(config.Setting{Name: "LLM_MODEL", Default: "llama-3.3-70b-versatile",
		Help: "chat model; check the provider's current list", Used: "llm-query"})
	APIKey = config.Register(config.Setting{Name: "GROQ_API_KEY", Secret: "groq-api-key",
		Help: "API key of the chat endpoint; unset selects the offline answerer", Used: "llm-query"})
	Timeout = config.Register(config.Setting{Name: "LLM_TIMEOUT", Default: "20s",
		Help: "time budget of one completion, retries included", Used: "llm-query"})
	Retries = config.Register(config.Setting{Name: "LLM_RETRIES", Default: "2",
		Help: "retries on 429 and 5xx (retry-after honoured)", Used: "llm-query"})
)

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

// CompleteJSON sends messages and returns the model's JSON object text.
// Errors are fault.Unavailable when a later try may work (timeouts, 429,
// 5xx after retries) and fault.Permanent otherwise (401, 400).
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
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			if apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500 {
				return "", fault.Wrap(fault.Unavailable, fmt.Errorf("chat completion: HTTP %d", apiErr.StatusCode), "model unavailable")
			}
			return "", fault.Wrap(fault.Permanent, fmt.Errorf("chat completion: HTTP %d", apiErr.StatusCode), "model refused the request")
		}
		return "", fault.Wrap(fault.Unavailable, fmt.Errorf("chat completion: %w", err), "model unavailable")
	}
	if len(res.Choices) == 0 {
		return "", fault.New(fault.Unavailable, "model returned no choices")
	}
	return res.Choices[0].Message.Content, nil
}
