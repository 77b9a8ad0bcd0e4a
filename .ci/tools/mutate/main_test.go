package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const window = `package guests

import "time"

const before = 2 * time.Hour

func Window(now, in, out time.Time) bool {
	return !now.Before(in.Add(-before)) && !now.After(out)
}

func count(xs []int) int {
	n := 0
	for range xs {
		n++
	}
	return n
}

func other(a, b int) bool { return a < b }
`

type gm struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// fixture writes a repository with one package, its gremlins output and
// the two lists.
func fixture(t *testing.T, config, equivalents string, muts []gm) string {
	t.Helper()
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lib/guests/guests.go", window)
	write(".ci/mutate/packages.txt", config)
	write(".ci/mutate/equivalent.txt", equivalents)
	out := map[string]any{"files": []map[string]any{{"file_name": "guests.go", "mutations": muts}}, "elapsed_time": 12.5}
	b, _ := json.Marshal(out)
	write("bin/mutate/lib_guests.json", string(b))
	return root
}

func score1(t *testing.T, root string) (int, score, string) {
	t.Helper()
	var out strings.Builder
	code, err := run(options{root: root, config: ".ci/mutate/packages.txt", equivalent: ".ci/mutate/equivalent.txt", out: "bin/mutate", report: true}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	b, err := os.ReadFile(filepath.Join(root, "bin/mutate/score.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Packages []score }
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Packages) != 1 {
		t.Fatalf("packages %+v", s.Packages)
	}
	return code, s.Packages[0], out.String()
}

var mutants = []gm{
	{"INVERT_NEGATIVES", "KILLED", 8, 29},           // -before
	{"INVERT_LOGICAL", "LIVED", 8, 38},              // && in Window
	{"INCREMENT_DECREMENT", "TIMED OUT", 14, 4},     // n++ in count
	{"CONDITIONALS_BOUNDARY", "LIVED", 19, 37},      // a < b in other
	{"CONDITIONALS_NEGATION", "KILLED", 19, 37},     // a < b in other
	{"ARITHMETIC_BASE", "NOT COVERED", 5, 23},       // const before: not run
	{"ARITHMETIC_BASE", "NOT COVERED", 16, 2},       // in count
	{"CONDITIONALS_BOUNDARY", "NOT VIABLE", 19, 37}, // left out of every count
}

func TestScore(t *testing.T) {
	const config = "# comment\nlib/guests 50\n"
	code, s, out := score1(t, fixture(t, config, "", mutants))
	if code != 0 || !s.Pass {
		t.Errorf("exit %d, pass %v at 50%%:\n%s", code, s.Pass, out)
	}
	if s.Killed != 2 || s.Lived != 2 || s.NotCovered != 1 || s.TimedOut != 1 || s.NotViable != 1 || s.Equivalent != 0 || s.NotRun != 1 {
		t.Errorf("counts %+v", s)
	}
	// Timed out counts as detected, not covered as a survivor, the
	// package-level constant gremlins cannot run as neither: 3 of 6.
	if s.Score != 50 || s.Efficacy != 50 {
		t.Errorf("score %.1f efficacy %.1f, want 50 and 50", s.Score, s.Efficacy)
	}
	for _, want := range []string{
		"LIVED       lib/guests/guests.go:8:38 INVERT_LOGICAL in Window: return !now.Before(in.Add(-before)) && !now.After(out)",
		"NOT RUN     lib/guests/guests.go:5:23 ARITHMETIC_BASE in : const before = 2 * time.Hour",
		"NOT COVERED lib/guests/guests.go:16:2 ARITHMETIC_BASE in count: return n",
		"lib/guests",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "8:29") {
		t.Errorf("a killed mutant is listed:\n%s", out)
	}

	code, s, out = score1(t, fixture(t, "lib/guests 50.1\n", "", mutants))
	if code != 1 || s.Pass || !strings.Contains(out, "FAIL") {
		t.Errorf("exit %d, pass %v below the minimum:\n%s", code, s.Pass, out)
	}
}

func TestEquivalents(t *testing.T) {
	const eq = "# file | type | line | reason\n" +
		"lib/guests/guests.go | CONDITIONALS_BOUNDARY | func other(a, b int) bool { return a < b } | a == b never reaches other\n"
	code, s, out := score1(t, fixture(t, "lib/guests 60\n", eq, mutants))
	if code != 0 || s.Equivalent != 1 || s.Lived != 1 || s.Score != 60 {
		t.Errorf("exit %d, %+v:\n%s", code, s, out)
	}
	if strings.Contains(out, "19:37 CONDITIONALS_BOUNDARY") {
		t.Errorf("an equivalent mutant is listed as a survivor:\n%s", out)
	}
	// A column picks one operator of the line: another column is not it.
	col := "lib/guests/guests.go | INVERT_LOGICAL:38 | return !now.Before(in.Add(-before)) && !now.After(out) | only this one\n"
	if code, s, out := score1(t, fixture(t, "lib/guests 0\n", col, mutants)); code != 0 || s.Equivalent != 1 {
		t.Errorf("column 38: exit %d, %+v:\n%s", code, s, out)
	}
	col = strings.Replace(col, ":38", ":10", 1)
	if code, s, out := score1(t, fixture(t, "lib/guests 0\n", col, mutants)); code != 1 || s.Equivalent != 0 || !strings.Contains(out, "STALE") {
		t.Errorf("column 10: exit %d, %+v:\n%s", code, s, out)
	}
	// An entry that matches no surviving mutant (this one was killed)
	// fails the run: the list must not excuse what tests catch.
	stale := eq + "lib/guests/guests.go | INVERT_NEGATIVES | return !now.Before(in.Add(-before)) && !now.After(out) | wrong\n"
	code, _, out = score1(t, fixture(t, "lib/guests 0\n", stale, mutants))
	if code != 1 || !strings.Contains(out, "STALE equivalent.txt:3") {
		t.Errorf("exit %d for a stale entry:\n%s", code, out)
	}
}

func TestScope(t *testing.T) {
	code, s, out := score1(t, fixture(t, "lib/guests 50 guests.go:Window,count\n", "", mutants))
	if code != 0 || s.Killed != 1 || s.Lived != 1 || s.TimedOut != 1 || s.NotCovered != 1 || s.OutOfScope != 4 {
		t.Errorf("exit %d, %+v:\n%s", code, s, out)
	}
	_, s, _ = score1(t, fixture(t, "lib/guests 0 other.go\n", "", mutants))
	if s.OutOfScope != len(mutants) || s.Score != 100 {
		t.Errorf("a file out of scope counted: %+v", s)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ config, eq string }{
		{"lib/guests\n", ""},
		{"lib/guests 101\n", ""},
		{"lib/guests many\n", ""},
		{"lib/guests 0\n", "lib/guests/guests.go | LIVED | x\n"},
		{"lib/guests 0\n", "lib/guests/guests.go | LIVED | x | \n"},
		{"lib/guests 0\n", "lib/guests/guests.go | LIVED:x | x | y\n"},
	} {
		root := fixture(t, c.config, c.eq, mutants)
		if _, err := run(options{root: root, config: ".ci/mutate/packages.txt", equivalent: ".ci/mutate/equivalent.txt", out: "bin/mutate", report: true}, &strings.Builder{}); err == nil {
			t.Errorf("config %q, equivalents %q: no error", c.config, c.eq)
		}
	}
}

// The snapshot holds what git tracks or would track, not what it ignores.
func TestSnapshot(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		".gitignore": "/big\n", "tracked.go": "package x\n", "new/untracked.go": "package y\n", "big": "ignored",
	} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", ".gitignore", "tracked.go"}} {
		if out, err := exec.Command("git", append([]string{"-C", root}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	dir, err := snapshot(root)
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"tracked.go": true, "new/untracked.go": true, "big": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s in the snapshot: %v, want %v", name, got, want)
		}
	}
}

const switchy = `package p

const limit = 2 * 3

func F(x int) bool {
	switch {
	case x > limit:
		return true
	}
	return false
}

func G(a, b string) string { return a + b }

func H(x int) int { return -x }
`

func TestSourceMutations(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "p.go")
	if err := os.WriteFile(name, []byte(switchy), 0o644); err != nil {
		t.Fatal(err)
	}
	sf, err := readSource(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line, col int
		typ       string
		inCase    bool
		want      string // the mutated line
	}{
		{3, 17, "ARITHMETIC_BASE", false, "const limit = 2 / 3"},
		{7, 9, "CONDITIONALS_BOUNDARY", true, "case x >= limit:"},
		{7, 9, "CONDITIONALS_NEGATION", true, "case x <= limit:"},
		{13, 39, "ARITHMETIC_BASE", false, "func G(a, b string) string { return a - b }"},
		{15, 28, "INVERT_NEGATIVES", false, "func H(x int) int { return +x }"},
	} {
		if got := sf.inCase(c.line, c.col); got != c.inCase {
			t.Errorf("%d:%d inCase = %v", c.line, c.col, got)
		}
		b, err := sf.mutate(c.line, c.col, c.typ)
		if err != nil {
			t.Errorf("%d:%d %s: %v", c.line, c.col, c.typ, err)
			continue
		}
		if got := strings.TrimSpace(strings.Split(string(b), "\n")[c.line-1]); got != c.want {
			t.Errorf("%d:%d %s: %q, want %q", c.line, c.col, c.typ, got, c.want)
		}
	}
	if _, err := sf.mutate(3, 15, "ARITHMETIC_BASE"); err == nil {
		t.Error("mutated a position with no operator")
	}
	if _, err := sf.mutate(7, 9, "INVERT_LOGICAL"); err == nil {
		t.Error("applied a mutation that does not fit the operator")
	}
}

// complete runs what gremlins cannot judge: a constant's and a case
// expression's mutants, and the build of a killed string +.
func TestComplete(t *testing.T) {
	src := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":     "module example.com/m\n\ngo 1.26\n",
		"lib/p/p.go": switchy,
		"lib/p/p_test.go": "package p\n\nimport \"testing\"\n\n" +
			"func TestF(t *testing.T) {\n\tif !F(7) || F(6) {\n\t\tt.Fatal(\"F\")\n\t}\n}\n\n" +
			"func TestG(t *testing.T) {\n\tif G(\"a\", \"b\") != \"ab\" {\n\t\tt.Fatal(\"G\")\n\t}\n}\n",
	} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	g := map[string]any{"files": []map[string]any{{"file_name": "p.go", "mutations": []gm{
		{"ARITHMETIC_BASE", "NOT COVERED", 3, 17},      // 2 / 3 == 0: F(6) is true
		{"CONDITIONALS_BOUNDARY", "NOT COVERED", 7, 9}, // >=: F(6) is true
		{"CONDITIONALS_NEGATION", "NOT COVERED", 7, 9}, // <=: F(7) is false
		{"ARITHMETIC_BASE", "KILLED", 13, 39},          // "a" - "b" does not compile
		{"INVERT_NEGATIVES", "NOT COVERED", 15, 28},    // H is not tested: stays NOT COVERED
	}}}}
	b, _ := json.Marshal(g)
	os.WriteFile(filepath.Join(out, "lib_p.json"), b, 0o644)
	os.WriteFile(filepath.Join(out, "lib_p.log"), []byte("Gathering coverage... done in 2.5s\n"), 0o644)
	p := pkgConfig{Path: "lib/p", Scope: map[string][]string{}}
	var log strings.Builder
	if err := complete(src, t.TempDir(), out, p, 20, &log); err != nil {
		t.Fatalf("complete: %v\n%s", err, log.String())
	}
	ovs, err := readOverrides(filepath.Join(out, "lib_p.mutate.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"3:17:ARITHMETIC_BASE": killed, "7:9:CONDITIONALS_BOUNDARY": killed, "7:9:CONDITIONALS_NEGATION": killed,
		"13:39:ARITHMETIC_BASE": notViable,
	}
	got := map[string]string{}
	for _, o := range ovs {
		got[fmt.Sprintf("%d:%d:%s", o.Line, o.Column, o.Type)] = o.Status
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("overrides %v, want %v\n%s", got, want, log.String())
	}
	if b, _ := os.ReadFile(filepath.Join(src, "lib/p/p.go")); string(b) != switchy {
		t.Error("the source was not put back")
	}
	s, err := assess(src, out, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Killed != 3 || s.NotViable != 1 || s.NotCovered != 1 || s.NotRun != 0 {
		t.Errorf("assessed %+v", s)
	}
}

// A source line with || (Go's or) is one field: the separator is " | ".
func TestEquivalentWithOr(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "equivalent.txt")
	line := "lib/aircall/unparsed.go | INVERT_LOGICAL | if tok, err := dec.Token(); err != nil || tok != json.Delim('{') { | why\n"
	if err := os.WriteFile(name, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	eqs, err := readEquivalents(name)
	if err != nil || len(eqs) != 1 {
		t.Fatalf("readEquivalents: %v %v", eqs, err)
	}
	if want := "if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {"; eqs[0].Source != want || eqs[0].Reason != "why" {
		t.Errorf("source %q reason %q", eqs[0].Source, eqs[0].Reason)
	}
}

// closures is a file whose statements hold function literals in their
// headers, the shape `if _, err := pgx.ForEachRow(rows, …, func() error
// {…}); err != nil {` has.
const closures = `package p

func each(f func() error) error { return f() }

func A(x int) error {
	if err := each(func() error { if x > 1 { return nil }; return nil }); err != nil && x > 0 {
		return err
	}
	y := x + 1
	z := each(func() error { return nil }) != nil || y > 2
	for i := 0; i < y && each(func() error { return nil }) == nil; i++ {
		_ = i - 1
	}
	_ = z
	return nil
}
`

// TestAfterLitAgreesWithCover checks afterLit against cmd/cover itself:
// every operator inside a function is in a block of a real coverage
// profile exactly when afterLit says it is not after a literal.
func TestAfterLitAgreesWithCover(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module p\n\ngo 1.22\n",
		"p.go":      closures,
		"p_test.go": "package p\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) { _ = A(2) }\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-coverprofile=c.out", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	prof, err := os.ReadFile(filepath.Join(dir, "c.out"))
	if err != nil {
		t.Fatal(err)
	}
	type pos struct{ line, col int }
	less := func(a, b pos) bool { return a.line < b.line || a.line == b.line && a.col < b.col }
	var blocks [][2]pos
	for _, l := range strings.Split(string(prof), "\n")[1:] {
		var a, b pos
		var stmts, count int
		if _, err := fmt.Sscanf(strings.TrimPrefix(l, "p/p.go:"), "%d.%d,%d.%d %d %d", &a.line, &a.col, &b.line, &b.col, &stmts, &count); err == nil {
			blocks = append(blocks, [2]pos{a, b})
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("no blocks in the profile:\n%s", prof)
	}
	sf, err := readSource(filepath.Join(dir, "p.go"))
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for off, tok := range sf.tokens {
		line := sort.SearchInts(sf.lineStart, off+1)
		p := pos{line, off - sf.lineStart[line-1] + 1}
		if sf.funcAt(p.line) == "" {
			continue
		}
		inBlock := false
		for _, b := range blocks {
			if !less(p, b[0]) && less(p, b[1]) {
				inBlock = true
			}
		}
		al := sf.afterLit(p.line, p.col)
		if al {
			after++
		}
		if al == inBlock {
			t.Errorf("%s at %d:%d: afterLit %v, in a cover block %v", tok, p.line, p.col, al, inBlock)
		}
	}
	if after < 3 {
		t.Errorf("%d operators after a literal, want the sample's 3 or more", after)
	}
}

// The reaper stops only the clusters whose test binary has exited: the
// coverage run tests subpackages side by side, and a cluster being made
// (no owner yet) or in use must be left alone.
func TestReapLeavesLiveClusters(t *testing.T) {
	tmp := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string]string{
		"concierge-pg-live":  strconv.Itoa(os.Getpid()),
		"concierge-pg-dead":  strconv.Itoa(dead.Process.Pid),
		"concierge-pg-young": "",
	} {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, "owner"), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, "concierge-pg-*"))
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		return m
	}
	reap(tmp, false, io.Discard)
	if got := strings.Join(left(), " "); got != "concierge-pg-live concierge-pg-young" {
		t.Errorf("after reaping the exited: %s", got)
	}
	reap(tmp, true, io.Discard)
	if got := left(); len(got) != 0 {
		t.Errorf("after reaping all: %v", got)
	}
}
