// Package stack reads the parts of an OpenFaaS stack.yml that the local
// runner and the doctor honour: the functions, their environment, secrets,
// labels and annotations.
//
// It parses with github.com/openfaas/go-sdk/stack, the parser faas-cli
// itself uses, so `${VAR:-default}` is expanded from the environment exactly
// as `faas-cli deploy` expands it, and the runner never sees a literal
// "${AZURE_SPEECH_REGION:-}".
package stack

import (
	"fmt"
	"os"
	"sort"

	sdk "github.com/openfaas/go-sdk/stack"
)

// Function is one entry under functions:.
type Function struct {
	Lang        string
	Handler     string
	Image       string
	Environment map[string]string
	Secrets     []string
	Labels      map[string]string
	Annotations map[string]string
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
	Functions map[string]Function
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

// Parse parses stack.yml content (anchors and merge keys included), with
// the process environment substituted as faas-cli does.
func Parse(b []byte) (*Stack, error) {
	svc, err := sdk.ParseYAMLData(b, "", "", true)
	if err != nil {
		return nil, fmt.Errorf("parse stack: %w", err)
	}
	if len(svc.Functions) == 0 {
		return nil, fmt.Errorf("parse stack: no functions")
	}
	s := &Stack{Functions: make(map[string]Function, len(svc.Functions))}
	for name, f := range svc.Functions {
		s.Functions[name] = Function{
			Lang: f.Language, Handler: f.Handler, Image: f.Image,
			Environment: f.Environment, Secrets: f.Secrets,
			Labels: deref(f.Labels), Annotations: deref(f.Annotations),
		}
	}
	return s, nil
}

func deref(m *map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}
