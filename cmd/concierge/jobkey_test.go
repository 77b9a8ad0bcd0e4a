package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/stack"
)

// stack.yml mounts the job-signing-key secret on exactly the functions that
// refuse to start without it (those that run or invoke jobs): a function
// missing it would never start in production, and one that does not need
// it should not hold it.
func TestStackMountsTheJobKeyWhereNeeded(t *testing.T) {
	st, err := stack.Load("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.New(t)
	secrets, err := seedSecrets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	build := func(name string, ctor faas.Constructor, fn stack.Function, key string) error {
		vars := map[string]string{"SECRETS_DIR": secrets, "KNOWLEDGE_DIR": "../../knowledge", "CHATWOOT_URL": "",
			"BACKUP_DIR": t.TempDir(), "DATABASE_URL": d.URL, "LOG_LEVEL": "warn", "JOB_SIGNING_KEY": key}
		_, _, err := faas.Build(context.Background(), faas.Options{Name: name, Lookup: config.Layered(config.FromMap(vars), config.FromMap(fn.Environment)),
			LogOutput: io.Discard, DB: d.Pool, Invoker: &fntest.Recorder{}}, ctor)
		return err
	}
	needers := 0
	for _, name := range st.Names() {
		ctor, ok := builtin[name]
		if !ok {
			continue
		}
		fn := st.Functions[name]
		t.Run(name, func(t *testing.T) {
			if err := build(name, ctor, fn, jobs.RandomKey()); err != nil {
				t.Fatalf("with a key: %v", err)
			}
			err := build(name, ctor, fn, "")
			needs := err != nil && strings.Contains(err.Error(), "job-signing-key")
			if err != nil && !needs {
				t.Fatalf("without a key: %v", err)
			}
			if mounts := slices.Contains(fn.Secrets, "job-signing-key"); needs != mounts {
				t.Errorf("needs the key: %v, stack.yml mounts it: %v", needs, mounts)
			}
			if needs {
				needers++
			}
		})
	}
	if needers == 0 {
		t.Error("no function needs the job-signing key")
	}
}
