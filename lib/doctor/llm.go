package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/llm"
)

func (d *Doctor) llmModel(ctx context.Context, cfg *config.Config) Result {
	if !configured(cfg, llm.APIKey) {
		return LocalDefault("the offline answerer, quoting the best passages (GROQ_API_KEY unset)")
	}
	base, key, model := cfg.URL(llm.BaseURL), cfg.String(llm.APIKey), cfg.String(llm.Model)
	if err := cfg.Err(); err != nil {
		return settingsFailed(err)
	}
	// No retries: the doctor reports a 429 rather than waiting it out.
	client := llm.New(llm.Options{BaseURL: base, APIKey: key, Model: model, Timeout: DefaultTimeout, HTTPClient: d.o.HTTPClient})
	err := client.CheckModel(ctx)
	if err == nil {
		return Pass("model %s listed by %s", client.Name(), hostOf(base))
	}
	var ce *llm.ConfigError
	if errors.As(err, &ce) {
		switch ce.Setting {
		case llm.APIKey.Name:
			return Failed(ce.Error(), "GROQ_API_KEY (secret groq-api-key): a key of the endpoint at LLM_BASE_URL")
		case llm.BaseURL.Name:
			return Failed(ce.Error(), "LLM_BASE_URL: the OpenAI-compatible root, e.g. https://api.groq.com/openai/v1")
		}
		fix := "LLM_MODEL: a model the endpoint lists, by its full id"
		if len(ce.Available) > 0 {
			fix = fmt.Sprintf("LLM_MODEL: a model the endpoint lists, by its full id (e.g. %s)", ce.Available[0])
		}
		return Failed(ce.Error(), fix)
	}
	return Failed(err.Error(), fmt.Sprintf("LLM_BASE_URL: check that %s answers from here", hostOf(base)))
}
