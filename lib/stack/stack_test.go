package stack

import (
	"strings"
	"testing"
)

func TestRepositoryStack(t *testing.T) {
	s, err := Load("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aircall-hook", "guesty-hook", "vectorize", "llm-query", "stt", "tts", "chatwoot-reply", "backup", "redrive", "purge"}
	for _, name := range want {
		f, ok := s.Functions[name]
		if !ok {
			t.Errorf("stack.yml lacks %s", name)
			continue
		}
		if f.Handler != "./functions/"+name || f.Lang == "" || f.Image == "" {
			t.Errorf("%s: handler %q lang %q image %q", name, f.Handler, f.Lang, f.Image)
		}
		if f.Labels["com.openfaas.scale.min"] == "" || f.Labels["com.openfaas.scale.max"] == "" {
			t.Errorf("%s: no scaling labels", name)
		}
		if f.Environment["write_timeout"] == "" || f.Environment["write_timeout"] != f.Environment["exec_timeout"] {
			t.Errorf("%s: write_timeout %q and exec_timeout %q must be set and agree", name, f.Environment["write_timeout"], f.Environment["exec_timeout"])
		}
	}
	// The merge key copies the intake environment into guesty-hook.
	if s.Functions["guesty-hook"].Environment["MAX_BODY_BYTES"] == "" {
		t.Error("guesty-hook did not inherit the intake environment")
	}
	for _, name := range []string{"aircall-hook", "guesty-hook"} {
		if s.Functions[name].Labels["com.openfaas.scale.min"] == "0" || s.Functions[name].Labels["com.openfaas.scale.zero"] != "false" {
			t.Errorf("%s: intake functions never scale to zero", name)
		}
	}
	for _, name := range []string{"backup", "redrive", "purge"} {
		if _, ok := s.Functions[name].Cron(); !ok {
			t.Errorf("%s: no cron-function schedule", name)
		}
	}
}

// The runner sees what faas-cli deploy sees: ${VAR:-default} expanded from
// the environment, set or not.
func TestEnvironmentIsSubstituted(t *testing.T) {
	t.Setenv("AZURE_SPEECH_REGION", "westeurope")
	t.Setenv("R2_BUCKET", "")
	s, err := Load("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Functions["stt"].Environment["AZURE_SPEECH_REGION"]; got != "westeurope" {
		t.Errorf("stt AZURE_SPEECH_REGION = %q, want westeurope", got)
	}
	if got := s.Functions["backup"].Environment["BACKUP_S3_BUCKET"]; got != "concierge-backups" {
		t.Errorf("backup BACKUP_S3_BUCKET = %q, want the default", got)
	}
	for name, f := range s.Functions {
		for k, v := range f.Environment {
			if strings.Contains(v, "${") {
				t.Errorf("%s %s = %q: not substituted", name, k, v)
			}
		}
		if strings.Contains(f.Image, "${") {
			t.Errorf("%s image %q: not substituted", name, f.Image)
		}
	}
	if _, err := Parse([]byte("functions:\n  a:\n    lang: go\n")); err == nil {
		t.Error("a stack without provider openfaas parsed")
	}
}
