package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	testSecret = &Setting{Name: "TEST_TOKEN", Secret: "test-token"}
	testPlain  = &Setting{Name: "TEST_PLAIN", Default: "dflt"}
	testDur    = &Setting{Name: "TEST_DUR"}
)

func TestSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test-token"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := New(FromMap(map[string]string{"SECRETS_DIR": dir}))
	if got := c.String(testSecret); got != "from-file" {
		t.Errorf("secret file: %q", got)
	}
	if got := c.String(testPlain); got != "dflt" {
		t.Errorf("default: %q", got)
	}
	c = New(FromMap(map[string]string{"SECRETS_DIR": dir, "TEST_TOKEN": "from-env"}))
	if got := c.String(testSecret); got != "from-env" {
		t.Errorf("env overrides the file: %q", got)
	}
	if vals := c.SecretValues(); len(vals) != 1 || vals[0] != "from-env" {
		t.Errorf("secret values for the redactor: %v", vals)
	}
	if err := c.Err(); err != nil {
		t.Error(err)
	}
}

// A secret file holding "none" leaves the setting unset (Swarm secrets
// cannot be empty): the default applies and nothing reaches the redactor.
func TestNoneSecretIsUnset(t *testing.T) {
	for _, content := range []string{"none", "NONE\n", " None "} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "test-token"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c := New(FromMap(map[string]string{"SECRETS_DIR": dir}))
		if got := c.String(testSecret); got != "" {
			t.Errorf("%q: got %q, want unset", content, got)
		}
		if vals := c.SecretValues(); len(vals) != 0 {
			t.Errorf("%q: redactor got %v", content, vals)
		}
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	c := New(FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "TEST_DUR": "ten minutes"}))
	c.Require(testSecret)
	if d := c.Duration(testDur); d != 0 {
		t.Errorf("bad duration parsed as %s", d)
	}
	err := c.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"test-token", "TEST_TOKEN", "missing", "TEST_DUR", "not a duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEveryRegisteredSettingIsDocumented(t *testing.T) {
	for _, s := range All() {
		if s.Help == "" || s.Used == "" {
			t.Errorf("%s: help and used-by are required for the README table", s.Name)
		}
	}
}
