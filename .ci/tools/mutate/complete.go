package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Gremlins judges a mutant by two things this program checks again:
//
//   - Coverage. It runs only mutants inside a block the coverage profile
//     counted, and `go test -cover` counts statements: the expressions of a
//     `case` clause and declarations outside functions are in no block, so
//     their mutants are NOT COVERED however well they are tested (every
//     condition of a tagless switch, every constant such as a tolerance).
//     Nor is what follows a function literal in the same statement
//     (`}); err != nil {`). complete runs those mutants itself, as
//     gremlins runs the others.
//   - Exit status. It takes any failing `go test` for a kill, and `go test`
//     fails with status 1 when the mutant does not compile (`"a" - b`, a
//     constant divided by zero): such a mutant tests nothing. complete
//     builds each killed or uncovered arithmetic mutant and calls the ones
//     that do not compile NOT VIABLE (an error message's `"x " + name` on
//     a path no test reaches is no gap in the tests). The other types
//     always compile; vet, which would fail `x == a && x == b`, is off for
//     every run.
//
// Its verdicts go to <package>.mutate.json beside gremlins' JSON, which
// assess reads.

// override is this program's verdict on one mutant.
type override struct {
	File   string `json:"file"` // relative to the package, as gremlins names it
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Why    string `json:"why"`
}

// mutations is gremlins' table (internal/engine/mappings.go, v0.6.0) for
// the mutation types `make mutate` enables.
var mutations = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE":       {token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL, token.REM: token.MUL, token.SUB: token.ADD},
	"CONDITIONALS_BOUNDARY": {token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ},
	"CONDITIONALS_NEGATION": {token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR,
		token.LSS: token.GEQ, token.NEQ: token.EQL},
	"INCREMENT_DECREMENT": {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_LOGICAL":      {token.LAND: token.LOR, token.LOR: token.LAND},
	"INVERT_NEGATIVES":    {token.SUB: token.ADD},
}

// complete judges the mutants gremlins could not (see above) for package
// p of the snapshot src and writes the verdicts.
func complete(src, tmp, out string, p pkgConfig, coefficient int, w io.Writer) error {
	name := strings.ReplaceAll(p.Path, "/", "_")
	g, err := readGremlins(filepath.Join(out, name+".json"))
	if err != nil {
		return err
	}
	timeout := coverageTime(filepath.Join(out, name+".log")) * time.Duration(coefficient)
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	var overrides []override
	for _, f := range g.Files {
		file := filepath.ToSlash(filepath.Join(p.Path, f.Name))
		sf, err := readSource(filepath.Join(src, file))
		if err != nil {
			return err
		}
		for _, m := range f.Mutations {
			fn := sf.funcAt(m.Line)
			if !inScope(p, f.Name, fn) {
				continue
			}
			var why string
			switch {
			case m.Status == notCovered && fn == "":
				why = "package level: no coverage block"
			case m.Status == notCovered && sf.inCase(m.Line, m.Column):
				why = "case expression: no coverage block"
			case m.Status == notCovered && sf.afterLit(m.Line, m.Column):
				why = "after a function literal: no coverage block"
			case (m.Status == killed || m.Status == notCovered) && m.Type == "ARITHMETIC_BASE":
				why = "build check"
			default:
				continue
			}
			mutated, err := sf.mutate(m.Line, m.Column, m.Type)
			if err != nil {
				return fmt.Errorf("%s:%d:%d %s: %w", file, m.Line, m.Column, m.Type, err)
			}
			var status string
			if why == "build check" {
				status, err = buildMutant(src, file, mutated, p.Path)
				if status == killed {
					continue // it compiles: gremlins' verdict (killed, or not covered) stands
				}
				why = "does not compile"
			} else {
				status, err = testMutant(src, tmp, file, mutated, p.Path, timeout)
				reap(tmp, true, w)
			}
			if err != nil {
				return fmt.Errorf("%s:%d:%d %s: %w", file, m.Line, m.Column, m.Type, err)
			}
			fmt.Fprintf(w, "%12s %s at %s:%d:%d (%s; run by mutate)\n", status, m.Type, f.Name, m.Line, m.Column, why)
			overrides = append(overrides, override{File: f.Name, Line: m.Line, Column: m.Column, Type: m.Type, Status: status, Why: why})
		}
	}
	b, _ := json.MarshalIndent(overrides, "", "  ")
	return os.WriteFile(filepath.Join(out, name+".mutate.json"), append(b, '\n'), 0o644)
}

func readGremlins(name string) (gremlinsOutput, error) {
	var g gremlinsOutput
	b, err := os.ReadFile(name)
	if err != nil {
		return g, err
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("%s: %w", name, err)
	}
	return g, nil
}

func readOverrides(name string) ([]override, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o []override
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return o, nil
}

var coverageRe = regexp.MustCompile(`Gathering coverage\.\.\. done in (\S+)`)

// coverageTime is how long gremlins' coverage run took, from its log: the
// base of every mutant's timeout.
func coverageTime(log string) time.Duration {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	m := coverageRe.FindSubmatch(b)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(string(m[1]))
	return d
}

// testMutant runs the package's tests with file replaced by mutated, as
// gremlins runs a mutant (-failfast, a timeout from the coverage run).
func testMutant(src, tmp, file string, mutated []byte, pkg string, timeout time.Duration) (string, error) {
	restore, err := replace(filepath.Join(src, file), mutated)
	if err != nil {
		return "", err
	}
	defer restore()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-vet=off", "-failfast", "-timeout", timeout.String(), "./"+pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.WaitDelay = 10 * time.Second
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	err = cmd.Run()
	output := outb.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil || strings.Contains(output, "panic: test timed out after"):
		return timedOut, nil
	case err == nil:
		return lived, nil
	case strings.Contains(output, "[build failed]") || strings.Contains(output, "[setup failed]"):
		return notViable, nil
	case errors.As(err, &exit):
		return killed, nil
	}
	return "", err
}

// buildMutant compiles the package with file replaced by mutated: killed
// means it compiles (gremlins' verdict stands), NOT VIABLE that it does not.
func buildMutant(src, file string, mutated []byte, pkg string) (string, error) {
	restore, err := replace(filepath.Join(src, file), mutated)
	if err != nil {
		return "", err
	}
	defer restore()
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./"+pkg)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return killed, nil
	case errors.As(err, &exit):
		return notViable, nil
	}
	return "", fmt.Errorf("go build: %w: %s", err, out)
}

// replace writes content to name and returns the function that puts the
// original back.
func replace(name string, content []byte) (func(), error) {
	orig, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(name, content, 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.WriteFile(name, orig, 0o644) }, nil
}
