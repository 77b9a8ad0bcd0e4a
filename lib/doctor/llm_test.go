package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/llm/llmtest"
)

func TestLLMModel(t *testing.T) {
	const key = "gsk_test_0123456789abcdef"
	fake := llmtest.New(t, key)
	fake.AddModel("openai/gpt-oss-120b")
	fake.AddModel("openai/gpt-oss-20b")
	fake.AddModel("whisper-large-v3")
	fake.Decommission("llama-3.3-70b-versatile")
	env := func(model, k string) map[string]string {
		return map[string]string{"LLM_BASE_URL": fake.URL(), "GROQ_API_KEY": k, "LLM_MODEL": model}
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		state      State
		found, fix string
	}{
		{"listed", env("openai/gpt-oss-120b", key), OK, "model openai/gpt-oss-120b listed by 127.0.0.1", ""},
		{"decommissioned", env("llama-3.3-70b-versatile", key), Fail, "llama-3.3-70b-versatile", "LLM_MODEL: a model the endpoint lists, by its full id (e.g. openai/gpt-oss-120b)"},
		{"absent", env("gpt-oss-120b", key), Fail, "gpt-oss-120b", "LLM_MODEL"},
		{"key refused", env("openai/gpt-oss-120b", "gsk_wrong_0123456789"), Fail, "rejected the API key", "GROQ_API_KEY"},
		{"wrong base URL", map[string]string{"LLM_BASE_URL": fake.Server.URL + "/v1", "GROQ_API_KEY": key}, Fail, "no such path", "LLM_BASE_URL"},
		{"unreachable", map[string]string{"LLM_BASE_URL": "http://127.0.0.1:1/v1", "GROQ_API_KEY": key}, Fail, "", "LLM_BASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := report(t, tc.env, Options{})
			want(t, res, "llm model", tc.state, tc.found, tc.fix)
			if r := res["llm model"]; containsStr(r.Found+r.Fix, tc.env["GROQ_API_KEY"]) {
				t.Fatalf("key shown: %q", r.Found)
			}
		})
	}
	for _, r := range fake.Chats() {
		t.Errorf("the doctor asked for a completion: %+v", r)
	}
}
