package llmtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/llm/llmtest"
)

// The fake's answers, byte for byte where Groq's are known (public issue
// threads quote them).
func TestAnswers(t *testing.T) {
	s := llmtest.New(t, "gsk_k")
	s.AddModel("openai/gpt-oss-120b", llmtest.Reply{Content: `{"a":1}`, Reasoning: "thinking"},
		llmtest.JSONValidateFailed(`{"a":`), llmtest.RateLimited("2"))
	s.Decommission("llama-3.3-70b-versatile")
	chat := func(model, content string, extra string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"` + content + `"}` + extra + `],"response_format":{"type":"json_object"}}`
	}
	tests := []struct {
		name, method, path, key, body string
		status                        int
		want                          string // in the body
		header                        string // retry-after
	}{
		{"no key", "GET", "/models", "", "", 401, `{"error":{"code":"invalid_api_key","message":"Invalid API Key","type":"invalid_request_error"}}`, ""},
		{"wrong key", "POST", "/chat/completions", "gsk_x", chat("openai/gpt-oss-120b", "json", ""), 401, `"code":"invalid_api_key"`, ""},
		{"models", "GET", "/models", "gsk_k", "", 200, `{"data":[{"active":true,"context_window":131072,"created":1754408224,"id":"openai/gpt-oss-120b","max_completion_tokens":65536,"object":"model","owned_by":"openai","public_apps":null}],"object":"list"}`, ""},
		{"decommissioned", "POST", "/chat/completions", "gsk_k", chat("llama-3.3-70b-versatile", "json", ""), 400,
			`{"error":{"code":"model_decommissioned","message":"The model ` + "`llama-3.3-70b-versatile`" + ` has been decommissioned and is no longer supported. Please refer to https://console.groq.com/docs/deprecations for a recommendation on which model to use instead.","type":"invalid_request_error"}}`, ""},
		{"unknown", "POST", "/chat/completions", "gsk_k", chat("gpt-oss-120b", "json", ""), 404,
			`{"error":{"code":"model_not_found","message":"The model ` + "`gpt-oss-120b`" + ` does not exist or you do not have access to it.","type":"invalid_request_error"}}`, ""},
		{"JSON mode without the word", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "hi", ""), 400, `must contain the word 'json'`, ""},
		{"reasoning sent back", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "json", `,{"role":"assistant","content":"{}","reasoning":"x"}`), 400, `property 'reasoning' is unsupported`, ""},
		{"completion", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "json", ""), 200, `"message":{"content":"{\"a\":1}","reasoning":"thinking","role":"assistant"}`, ""},
		{"json_validate_failed", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "JSON", ""), 400,
			`{"error":{"code":"json_validate_failed","failed_generation":"{\"a\":","message":"Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.","type":"invalid_request_error"}}`, ""},
		{"rate limited", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "json", ""), 429, `"code":"rate_limit_exceeded"`, "2"},
		{"script exhausted", "POST", "/chat/completions", "gsk_k", chat("openai/gpt-oss-120b", "json", ""), 500, `no scripted reply left`, ""},
		{"unknown path", "POST", "/chat/completion", "gsk_k", "{}", 404, `"code":"unknown_url"`, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, s.URL()+tt.path, strings.NewReader(tt.body))
		if tt.key != "" {
			req.Header.Set("Authorization", "Bearer "+tt.key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || !strings.Contains(string(b), tt.want) || res.Header.Get("Retry-After") != tt.header {
			t.Errorf("%s: %d %s (retry-after %q); want %d with %s", tt.name, res.StatusCode, b, res.Header.Get("Retry-After"), tt.status, tt.want)
		}
		if !json.Valid(b) {
			t.Errorf("%s: body is not JSON: %s", tt.name, b)
		}
	}
	reqs := s.Requests()
	if len(reqs) != len(tests) || reqs[0].Auth != llmtest.AuthNone || reqs[1].Auth != llmtest.AuthInvalid || reqs[3].Model != "llama-3.3-70b-versatile" || reqs[3].Status != 400 {
		t.Errorf("recorded %+v", reqs)
	}
	for _, r := range reqs {
		if strings.Contains(r.Path, "gsk_") || strings.Contains(string(r.Auth), "gsk_") {
			t.Error("the key was recorded")
		}
	}
}
