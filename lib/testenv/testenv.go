// Package testenv reports what a test needs from the machine, the way Go's
// own internal/testenv does: on a developer's machine a missing tool skips
// the test with the command that installs it; with CI set it fails the
// test, so CI never goes green over tests that did not run.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run in CI (the CI variable is set).
func CI() bool { return os.Getenv("CI") != "" }

// Skip skips t, or fails it in CI.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI must run every test, but: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}

// NeedTools skips t (fails it in CI) unless every named program is on
// PATH; install says how to get them.
func NeedTools(t testing.TB, install string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Skip(t, "%s not installed (%s)", n, install)
			return
		}
	}
}
