package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rehearsal's image of each function template is its ship stage line
// for line: only FROM, the build-stage copies and (on a Debian base) the
// RUN commands change.
func TestShipKeepsTheTemplatesFinalStage(t *testing.T) {
	for _, tc := range []struct {
		template string
		base     string
		wantRun  []string // substrings of the RUN commands written out
	}{
		{"concierge-go", "scratch", nil},
		{"concierge-go-speech", "rehearsal/debian-speech:k", []string{"pocketsphinx-en-us", "useradd --system --uid 65532"}},
		{"concierge-go-pg", "rehearsal/debian-pg:k", []string{"postgresql-client-${PG_MAJOR}", "groupadd --system --gid 65532 nonroot"}},
	} {
		t.Run(tc.template, func(t *testing.T) {
			src := filepath.Join("..", "..", "..", "template", tc.template, "Dockerfile")
			dir := t.TempDir()
			out, runOut := filepath.Join(dir, "Dockerfile"), filepath.Join(dir, "run")
			args := []string{"-dockerfile", src, "-base", tc.base, "-out", out, "-run-out", runOut}
			if err := ship(args); err != nil {
				t.Fatal(err)
			}
			df := read(t, out)
			lines := strings.Split(strings.TrimSpace(df), "\n")
			if lines[0] != "FROM "+tc.base {
				t.Errorf("first line %q, want FROM %s", lines[0], tc.base)
			}
			if hasRootfs := strings.Contains(df, "COPY rootfs/ /"); hasRootfs != (tc.base == "scratch") {
				t.Errorf("rootfs copied: %v on base %s", hasRootfs, tc.base)
			}
			for _, want := range []string{"COPY fwatchdog ./fwatchdog", "COPY handler ./handler", "USER 65532:65532",
				`HEALTHCHECK --interval=5s --timeout=3s CMD ["/home/nonroot/fwatchdog", "--run-healthcheck"]`,
				`CMD ["./fwatchdog"]`, `healthcheck_interval="5s"`, "WORKDIR /home/nonroot"} {
				if !strings.Contains(df, want) {
					t.Errorf("%s: missing %q in\n%s", tc.template, want, df)
				}
			}
			for _, bad := range []string{"--from=build", "RUN ", " AS ship"} {
				if strings.Contains(df, bad) {
					t.Errorf("%s: %q left in\n%s", tc.template, bad, df)
				}
			}
			run := read(t, runOut)
			for _, want := range tc.wantRun {
				if !strings.Contains(run, want) {
					t.Errorf("RUN commands lack %q:\n%s", want, run)
				}
			}
			if tc.wantRun == nil && strings.TrimSpace(run) != "" {
				t.Errorf("a scratch stage with RUN commands: %s", run)
			}
		})
	}
}

// A RUN in a stage built FROM scratch cannot be honoured: ship refuses it
// instead of dropping it.
func TestShipRefusesRunWithoutRunOut(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(src, []byte("FROM golang AS build\nRUN make\nFROM debian:bookworm-slim AS ship\nRUN apt-get update \\\n  && apt-get install -y curl\nCMD [\"x\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := ship([]string{"-dockerfile", src, "-out", filepath.Join(dir, "out")})
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y curl") {
		t.Fatalf("want an error naming the RUN, got %v", err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
