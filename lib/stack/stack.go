// Package stack reads the parts of an OpenFaaS stack.yml that the local
// runner honours: the functions, their environment, secrets and annotations.
package stack

import (
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Function is one entry under functions:.
type Function struct {
	Lang        string            `yaml:"lang"`
	Handler     string            `yaml:"handler"`
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Cron returns the schedule of a function invoked by cron-connector.
func (f Function) Cron() (string, bool) {
	if f.Annotations["topic"] != "cron-function" || f.Annotations["schedule"] == "" {
		return "", false
	}
	return f.Annotations["schedule"], true
}

// Stack is a parsed stack.yml.
type Stack struct {
	Functions map[string]Function `yaml:"functions"`
}

// Names returns the function names in order.
func (s *Stack) Names() []string {
	out := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Load parses the file at path.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack: %w", err)
	}
	return Parse(b)
}

// Parse parses stack.yml content (anchors and merge keys included).
func Parse(b []byte) (*Stack, error) {
	var s Stack
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse stack: %w", err)
	}
	if len(s.Functions) == 0 {
		return nil, fmt.Errorf("parse stack: no functions")
	}
	return &s, nil
}
