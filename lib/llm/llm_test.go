package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/llm/llmtest"
)

const key = "gsk_test_key_0123456789"

// old is the default this package shipped until Groq retired it.
const old = "llama-3.3-70b-versatile"

func groq(t *testing.T) *llmtest.Server {
	t.Helper()
	s := llmtest.New(t, key)
	s.AddModel(llm.DefaultModel)
	s.AddModel("openai/gpt-oss-20b")
	s.AddModel("qwen/qwen3-32b")
	s.AddModel("whisper-large-v3")
	s.Decommission(old)
	return s
}

func client(s *llmtest.Server, model, apiKey string) *llm.Client {
	return llm.New(llm.Options{BaseURL: s.URL(), APIKey: apiKey, Model: model, Timeout: 5 * time.Second})
}

func TestDefaultModelIsCurrent(t *testing.T) {
	if llm.Model.Default != "openai/gpt-oss-120b" || llm.Model.Default == old {
		t.Fatalf("LLM_MODEL default = %q", llm.Model.Default)
	}
}

func TestCompleteJSON(t *testing.T) {
	s := groq(t)
	s.AddModel(llm.DefaultModel, llmtest.Reply{Content: `{"answer":"From 3 PM."}`, Reasoning: "The guest asks about check-in; the passage says 3 PM."})
	out, err := client(s, llm.DefaultModel, key).CompleteJSON(context.Background(), []llm.Message{
		{Role: "system", Content: "Reply with only this JSON object"}, {Role: "user", Content: "when?"},
		{Role: "assistant", Content: "{}"}, {Role: "user", Content: "again"},
	})
	if err != nil || out != `{"answer":"From 3 PM."}` {
		t.Fatalf("CompleteJSON = %q, %v; want the content without the reasoning", out, err)
	}
	chats := s.Chats()
	if len(chats) != 1 {
		t.Fatalf("%d chat requests", len(chats))
	}
	c := chats[0]
	if c.Auth != llmtest.AuthOK || c.Model != llm.DefaultModel || c.ResponseFormat != "json_object" || len(c.Messages) != 4 || c.Messages[2].Role != "assistant" {
		t.Errorf("request = %+v", c)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		apiKey  string
		base    string // replaces the base URL's path
		reply   *llmtest.Reply
		setting string // a *ConfigError naming it; "" for none
		code    string
		kind    fault.Kind
		wait    time.Duration
		output  string // an *OutputError with this text
	}{
		{name: "decommissioned model", model: old, setting: "LLM_MODEL", code: "model_decommissioned", kind: fault.Permanent},
		{name: "unknown model", model: "gpt-oss-120b", setting: "LLM_MODEL", code: "model_not_found", kind: fault.Permanent},
		{name: "rejected key", model: llm.DefaultModel, apiKey: "gsk_wrong", setting: "GROQ_API_KEY", code: "invalid_api_key", kind: fault.Permanent},
		{name: "wrong base URL", model: llm.DefaultModel, base: "/openai", setting: "LLM_BASE_URL", code: "unknown_url", kind: fault.Permanent},
		{name: "JSON mode rejected the output", model: llm.DefaultModel, reply: ptr(llmtest.JSONValidateFailed(`Sure! {"answer": "3 PM"`)),
			kind: fault.Permanent, output: `Sure! {"answer": "3 PM"`},
		{name: "rate limited", model: llm.DefaultModel, reply: ptr(llmtest.RateLimited("7")), kind: fault.Unavailable, wait: 7 * time.Second},
		{name: "server error", model: llm.DefaultModel, reply: ptr(llmtest.ServerError(500)), kind: fault.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := groq(t)
			if tt.reply != nil {
				s.AddModel(tt.model, *tt.reply)
			}
			apiKey := key
			if tt.apiKey != "" {
				apiKey = tt.apiKey
			}
			base := s.URL()
			if tt.base != "" {
				base = s.Server.URL + tt.base
			}
			c := llm.New(llm.Options{BaseURL: base, APIKey: apiKey, Model: tt.model, Timeout: 5 * time.Second})
			_, err := c.CompleteJSON(context.Background(), []llm.Message{{Role: "system", Content: "Reply in JSON"}, {Role: "user", Content: "hi"}})
			if err == nil {
				t.Fatal("no error")
			}
			if k := fault.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
			var ce *llm.ConfigError
			if got := errors.As(err, &ce); got != (tt.setting != "") || errors.Is(err, llm.ErrMisconfigured) != got {
				t.Fatalf("ConfigError = %v, errors.Is(ErrMisconfigured) = %v; want %v (%v)", got, errors.Is(err, llm.ErrMisconfigured), tt.setting != "", err)
			}
			if ce != nil {
				if ce.Setting != tt.setting || ce.Code != tt.code || ce.Model != tt.model {
					t.Errorf("ConfigError = %+v", ce)
				}
				if !strings.HasPrefix(err.Error(), "the assistant is misconfigured: "+tt.setting) {
					t.Errorf("error text %q does not name %s first", err, tt.setting)
				}
			}
			if strings.Contains(err.Error(), "gsk_") {
				t.Errorf("error holds the key: %v", err)
			}
			var oe *llm.OutputError
			if errors.As(err, &oe) != (tt.output != "") || (oe != nil && oe.Output != tt.output) {
				t.Errorf("OutputError = %+v, want output %q", oe, tt.output)
			}
			if oe != nil && strings.Contains(err.Error(), "3 PM") {
				t.Errorf("the error text quotes the model's output: %v", err)
			}
			if d := fault.RetryAfter(err); d != tt.wait {
				t.Errorf("RetryAfter = %v, want %v", d, tt.wait)
			}
		})
	}
}

func TestModelsAndCheckModel(t *testing.T) {
	tests := []struct {
		name      string
		model     string
		apiKey    string
		setting   string
		code      string
		available string // CheckModel's error lists it
	}{
		{name: "listed", model: llm.DefaultModel},
		{name: "decommissioned", model: old, setting: "LLM_MODEL", code: "model_not_listed", available: llm.DefaultModel},
		{name: "absent", model: "openai/gpt-oss-240b", setting: "LLM_MODEL", code: "model_not_listed", available: "openai/gpt-oss-20b"},
		{name: "rejected key", model: llm.DefaultModel, apiKey: "gsk_wrong", setting: "GROQ_API_KEY", code: "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := groq(t)
			apiKey := key
			if tt.apiKey != "" {
				apiKey = tt.apiKey
			}
			c := client(s, tt.model, apiKey)
			ids, err := c.Models(context.Background())
			if tt.apiKey == "" {
				want := "openai/gpt-oss-120b,openai/gpt-oss-20b,qwen/qwen3-32b,whisper-large-v3"
				if err != nil || strings.Join(ids, ",") != want {
					t.Fatalf("Models = %v, %v; want %s", ids, err, want)
				}
			}
			err = c.CheckModel(context.Background())
			if tt.setting == "" {
				if err != nil {
					t.Fatalf("CheckModel = %v", err)
				}
				return
			}
			var ce *llm.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, llm.ErrMisconfigured) || ce.Setting != tt.setting || ce.Code != tt.code {
				t.Fatalf("CheckModel = %v (%+v); want %s %s", err, ce, tt.setting, tt.code)
			}
			if !strings.Contains(err.Error(), tt.setting) || !strings.Contains(err.Error(), tt.available) {
				t.Errorf("error %q does not name %s and %q", err, tt.setting, tt.available)
			}
			if strings.Contains(err.Error(), "whisper") {
				t.Errorf("a speech model offered as a chat model: %v", err)
			}
			for _, r := range s.Requests() {
				if r.Method != "GET" || r.Path != "/models" {
					t.Errorf("CheckModel sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The retry rules openai-go applied, kept when the SDK went: 429 and 5xx
// are tried again up to LLM_RETRIES times, with the provider's wait when it
// fits the budget; a refusal no retry can fix is not retried; a wait longer
// than what is left of the budget ends the call at once with that wait,
// for the job's back-off, instead of sleeping past the deadline.
func TestRetries(t *testing.T) {
	ok := llmtest.Completion(`{"answer":"ok"}`)
	tests := []struct {
		name    string
		replies []llmtest.Reply
		retries int
		timeout time.Duration
		chats   int // requests the fake saw
		fails   bool
		wait    time.Duration // the error's RetryAfter
	}{
		{name: "429 then answer", replies: []llmtest.Reply{llmtest.RateLimited("0"), ok}, retries: 2, chats: 2},
		{name: "503 twice then answer", replies: []llmtest.Reply{llmtest.ServerError(503), llmtest.ServerError(502), ok}, retries: 2, chats: 3},
		{name: "retries exhausted", replies: []llmtest.Reply{llmtest.ServerError(500), llmtest.ServerError(500), ok}, retries: 1, chats: 2, fails: true},
		{name: "not retried: JSON mode refusal", replies: []llmtest.Reply{llmtest.JSONValidateFailed("x"), ok}, retries: 2, chats: 1, fails: true},
		{name: "wait beyond the budget", replies: []llmtest.Reply{llmtest.RateLimited("30"), ok}, retries: 2, timeout: 3 * time.Second,
			chats: 1, fails: true, wait: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := groq(t)
			s.AddModel(llm.DefaultModel, tt.replies...)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			c := llm.New(llm.Options{BaseURL: s.URL(), APIKey: key, Model: llm.DefaultModel, Timeout: timeout, Retries: tt.retries})
			out, err := c.CompleteJSON(context.Background(), []llm.Message{{Role: "system", Content: "Reply in JSON"}, {Role: "user", Content: "hi"}})
			if tt.fails != (err != nil) || (!tt.fails && out != `{"answer":"ok"}`) {
				t.Fatalf("CompleteJSON = %q, %v", out, err)
			}
			if n := len(s.Chats()); n != tt.chats {
				t.Errorf("%d chat requests, want %d", n, tt.chats)
			}
			if d := fault.RetryAfter(err); err != nil && d != tt.wait {
				t.Errorf("RetryAfter = %v, want %v", d, tt.wait)
			}
		})
	}
}
