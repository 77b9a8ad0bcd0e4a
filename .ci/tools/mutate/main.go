// Command mutate runs gremlins (mutation testing) over the packages that
// guard guests and data, one package at a time, and decides the verdict
// itself: gremlins counts every surviving mutant, while some mutants are
// equivalent (no behaviour changes, so no test can kill them); those are
// written down with their reason in equivalent.txt and left out of the
// score here. Each package has its own minimum score in packages.txt.
//
//	go run . -root ../../.. -gremlins ../../../bin/gremlins
//
// The run works on a snapshot of the work tree (the files git tracks or
// would track), so nothing outside it is copied per package (a 90 MB
// binary, .data) and edits made meanwhile do not leak into a run. Test
// binaries get a temporary folder of the run's own; PostgreSQL clusters a
// killed or panicking test binary leaves behind there (dbtest stops its
// cluster only when the tests return) are shut down after each package.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "repository root")
	flag.StringVar(&o.config, "config", ".ci/mutate/packages.txt", "packages, minimum scores and scopes (relative to -root)")
	flag.StringVar(&o.equivalent, "equivalent", ".ci/mutate/equivalent.txt", "equivalent mutants and their reasons (relative to -root)")
	flag.StringVar(&o.gremlins, "gremlins", "bin/gremlins", "gremlins binary (relative to -root unless absolute)")
	flag.StringVar(&o.out, "out", "bin/mutate", "folder for the gremlins JSON and logs and score.json (relative to -root)")
	flag.StringVar(&o.only, "only", "", "comma-separated packages to run (default all in -config)")
	flag.IntVar(&o.coefficient, "timeout-coefficient", 3, "gremlins --timeout-coefficient: a mutant's test run may take this many times the coverage run (which includes compiling)")
	flag.BoolVar(&o.report, "report", false, "do not run gremlins: score the JSON already in -out")
	flag.Parse()
	start := time.Now()
	code, err := run(o, os.Stdout)
	fmt.Printf("\nmutate: wall time %s\n", time.Since(start).Round(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

type options struct {
	root, config, equivalent, gremlins, out, only string
	coefficient                                   int
	report                                        bool
}

// pkgConfig is one line of packages.txt.
type pkgConfig struct {
	Path     string // lib/guests
	MinScore float64
	// Scope maps a file (relative to the package) to the functions in
	// scope; a nil slice means the whole file. Empty Scope: every file of
	// the package (subpackages never).
	Scope map[string][]string
}

// equivalent is one line of equivalent.txt.
type equivalent struct {
	File, Type, Source, Reason string
	// Column, when the type is written TYPE:column, picks one operator of
	// a line that has several.
	Column int
	Line   int // in equivalent.txt
	used   bool
}

// mutant is one mutation of the gremlins JSON, placed in the source.
type mutant struct {
	File   string `json:"file"` // relative to the repository
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Func   string `json:"func,omitempty"`
	Source string `json:"source"`
	// Equivalent is the reason given in equivalent.txt.
	Equivalent string `json:"equivalent,omitempty"`
	// Note says why this program, not gremlins, judged it.
	Note string `json:"note,omitempty"`
}

// Gremlins statuses.
const (
	killed     = "KILLED"
	lived      = "LIVED"
	notCovered = "NOT COVERED"
	timedOut   = "TIMED OUT"
	notViable  = "NOT VIABLE"
	// notRun is this program's: a mutant gremlins calls NOT COVERED
	// because it cannot measure it, which complete has not run.
	notRun = "NOT RUN"
)

// score is a package's verdict.
type score struct {
	Package    string  `json:"package"`
	Killed     int     `json:"killed"`
	Lived      int     `json:"lived"`
	NotCovered int     `json:"not_covered"`
	TimedOut   int     `json:"timed_out"`
	NotViable  int     `json:"not_viable"`
	Equivalent int     `json:"equivalent"`
	OutOfScope int     `json:"out_of_scope"`
	NotRun     int     `json:"not_run"`  // package-level: no coverage block, never run
	Efficacy   float64 `json:"efficacy"` // killed / (killed + lived), as gremlins computes it
	// Score is detected / (detected + survivors): timed-out mutants count
	// as detected (the suite would hang), not-covered ones as survivors.
	Score    float64  `json:"score"`
	MinScore float64  `json:"min_score"`
	Pass     bool     `json:"pass"`
	Seconds  float64  `json:"seconds"`
	Mutants  []mutant `json:"mutants"`
}

func run(o options, w io.Writer) (int, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return 0, err
	}
	o.root = root
	pkgs, err := readConfig(filepath.Join(o.root, o.config))
	if err != nil {
		return 0, err
	}
	eqs, err := readEquivalents(filepath.Join(o.root, o.equivalent))
	if err != nil {
		return 0, err
	}
	if o.only != "" {
		want := map[string]bool{}
		for _, p := range strings.Split(o.only, ",") {
			want[strings.Trim(strings.TrimSpace(p), "./")] = true
		}
		var sel []pkgConfig
		for _, p := range pkgs {
			if want[p.Path] {
				sel = append(sel, p)
				delete(want, p.Path)
			}
		}
		for p := range want {
			return 0, fmt.Errorf("-only %s: not in %s", p, o.config)
		}
		pkgs = sel
	}
	out := filepath.Join(o.root, o.out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	src := o.root
	if !o.report {
		snap, err := snapshot(o.root)
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(snap)
		src = snap
		gremlins := o.gremlins
		if !filepath.IsAbs(gremlins) {
			gremlins = filepath.Join(o.root, gremlins)
		}
		tmp, err := os.MkdirTemp("", "concierge-mutate-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(tmp)
		// dbtest's clusters live under TMPDIR; as root the postgres user
		// must be able to enter it.
		if err := os.Chmod(tmp, 0o755); err != nil {
			return 0, err
		}
		for _, p := range pkgs {
			fmt.Fprintf(w, "==> %s\n", p.Path)
			t0 := time.Now()
			err := unleash(gremlins, src, tmp, out, p, o.coefficient, w)
			stopLeftovers(tmp, w)
			if err == nil {
				err = complete(src, tmp, out, p, o.coefficient, w)
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %w", p.Path, err)
			}
			fmt.Fprintf(w, "    %s in %s\n", p.Path, time.Since(t0).Round(time.Second))
		}
	}
	var scores []score
	for _, p := range pkgs {
		s, err := assess(src, out, p, eqs)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Path, err)
		}
		scores = append(scores, s)
	}
	code := 0
	var table strings.Builder
	printScores(io.MultiWriter(w, &table), scores)
	var stale []string
	run := map[string]bool{}
	for _, p := range pkgs {
		run[p.Path] = true
	}
	for _, e := range eqs {
		if !e.used && run[filepath.Dir(e.File)] {
			stale = append(stale, fmt.Sprintf("equivalent.txt:%d: %s %s %q matches no surviving mutant: remove it (or fix it if the line changed)", e.Line, e.File, e.Type, e.Source))
		}
	}
	for _, s := range stale {
		fmt.Fprintln(io.MultiWriter(w, &table), "STALE", s)
		code = 1
	}
	if err := os.WriteFile(filepath.Join(out, "score.txt"), []byte(table.String()), 0o644); err != nil {
		return 0, err
	}
	for _, s := range scores {
		if !s.Pass {
			code = 1
		}
	}
	summary := struct {
		Packages []score `json:"packages"`
		Stale    []string
	}{scores, stale}
	b, _ := json.MarshalIndent(summary, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "score.json"), append(b, '\n'), 0o644); err != nil {
		return 0, err
	}
	return code, nil
}

// readConfig reads packages.txt: "path min-score [file[:func,func]...]",
// # comments.
func readConfig(name string) ([]pkgConfig, error) {
	lines, err := readLines(name)
	if err != nil {
		return nil, err
	}
	var pkgs []pkgConfig
	for _, l := range lines {
		f := strings.Fields(l.text)
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: want \"package min-score [file[:func,...] ...]\"", name, l.n)
		}
		min, err := strconv.ParseFloat(f[1], 64)
		if err != nil || min < 0 || min > 100 {
			return nil, fmt.Errorf("%s:%d: min score %q is not a percentage", name, l.n, f[1])
		}
		p := pkgConfig{Path: strings.Trim(f[0], "./"), MinScore: min, Scope: map[string][]string{}}
		for _, s := range f[2:] {
			file, funcs, ok := strings.Cut(s, ":")
			if ok {
				p.Scope[file] = strings.Split(funcs, ",")
			} else {
				p.Scope[file] = nil
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// readEquivalents reads equivalent.txt: "file | TYPE[:column] | source
// line | reason".
func readEquivalents(name string) ([]*equivalent, error) {
	lines, err := readLines(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var eqs []*equivalent
	for _, l := range lines {
		f := strings.SplitN(l.text, " | ", 4)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: want \"file | TYPE[:column] | source line | reason\"", name, l.n)
		}
		e := &equivalent{Line: l.n}
		for i, p := range []*string{&e.File, &e.Type, &e.Source, &e.Reason} {
			*p = strings.TrimSpace(f[i])
		}
		if e.Reason == "" {
			return nil, fmt.Errorf("%s:%d: an equivalent mutant needs its reason", name, l.n)
		}
		if typ, col, ok := strings.Cut(e.Type, ":"); ok {
			c, err := strconv.Atoi(col)
			if err != nil || c < 1 {
				return nil, fmt.Errorf("%s:%d: %q: want TYPE or TYPE:column", name, l.n, e.Type)
			}
			e.Type, e.Column = typ, c
		}
		eqs = append(eqs, e)
	}
	return eqs, nil
}

type line struct {
	n    int
	text string
}

// readLines returns the non-blank lines without # comments; a line
// ending in \ continues on the next.
func readLines(name string) ([]line, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	n := 0
	var cont *line
	for sc.Scan() {
		n++
		t := sc.Text()
		if cont == nil && strings.HasPrefix(strings.TrimSpace(t), "#") {
			continue
		}
		more := strings.HasSuffix(t, "\\")
		t = strings.TrimSuffix(t, "\\")
		if cont != nil {
			cont.text += " " + strings.TrimSpace(t)
		} else if strings.TrimSpace(t) != "" || more {
			out = append(out, line{n, strings.TrimSpace(t)})
			cont = &out[len(out)-1]
		}
		if !more {
			cont = nil
		}
	}
	return out, sc.Err()
}

// snapshot copies the files git tracks or would track (not ignored) into
// a temporary folder.
func snapshot(root string) (string, error) {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Stderr = os.Stderr
	list, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files: %w", err)
	}
	dir, err := os.MkdirTemp("", "concierge-mutate-src-")
	if err != nil {
		return "", err
	}
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		from := filepath.Join(root, name)
		fi, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			return dir, err
		}
		to := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return dir, err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(from)
			if err != nil {
				return dir, err
			}
			err = os.Symlink(target, to)
			if err != nil {
				return dir, err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(from)
			if err != nil {
				return dir, err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return dir, err
			}
		}
	}
	return dir, nil
}

// unleash runs gremlins over one package of the snapshot src, one worker.
func unleash(gremlins, src, tmp, out string, p pkgConfig, coefficient int, w io.Writer) error {
	name := strings.ReplaceAll(p.Path, "/", "_")
	args := []string{"unleash",
		"--workers", "1",
		"--timeout-coefficient", strconv.Itoa(coefficient),
		"--invert-logical", // && <-> ||: the guards are boolean conditions
		"--output", filepath.Join(out, name+".json"),
		"--output-statuses", "lct", // print what did not die; the JSON has all
		// Only the package itself, never its subpackages (fakes such as
		// aircalltest are not guards).
		"--exclude-files", "/",
	}
	if len(p.Scope) > 0 {
		entries, err := os.ReadDir(filepath.Join(src, p.Path))
		if err != nil {
			return err
		}
		for _, e := range entries {
			n := e.Name()
			if _, in := p.Scope[n]; !in && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				args = append(args, "--exclude-files", "^"+regexp.QuoteMeta(n)+"$")
			}
		}
	}
	args = append(args, filepath.Join(src, p.Path))
	log, err := os.Create(filepath.Join(out, name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(gremlins, args...)
	cmd.Dir = src
	cmd.Stdout = io.MultiWriter(w, log)
	cmd.Stderr = io.MultiWriter(w, log)
	cmd.Env = append(os.Environ(),
		"TMPDIR="+tmp,
		// The coverage run's time sets every mutant's timeout: it must
		// not come from the test cache. go test's vet step is off: a
		// mutant such as `r == '-' && r == '*'` fails vet's "suspect and",
		// and gremlins would count that failure as a kill by the tests.
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -count=1 -vet=off"),
	)
	// Reap, as the run goes, the clusters of test binaries that are gone
	// (a timed-out mutant's), rather than let a package's leftovers pile
	// up. Not "all but the newest": the coverage run tests the package's
	// subpackages too, several binaries at once.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				reap(tmp, false, w)
			}
		}
	}()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gremlins: %w (log: %s)", err, log.Name())
	}
	return nil
}

// stopLeftovers shuts down the PostgreSQL clusters test binaries started
// under tmp and did not stop (a panic or a timeout ends a test binary
// before dbtest's TestMain stops its cluster), and removes their folders.
func stopLeftovers(tmp string, w io.Writer) { reap(tmp, true, w) }

// reap stops the clusters under tmp: all of them, or only those whose
// test binary has exited (dbtest writes its pid to the cluster folder's
// "owner" file; a folder without one is still being made).
func reap(tmp string, all bool, w io.Writer) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "concierge-pg-*"))
	if !all {
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return !ownerGone(d) })
	}
	for _, d := range dirs {
		pidFile := filepath.Join(d, "data", "postmaster.pid")
		if b, err := os.ReadFile(pidFile); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 1 {
				// The pid file is the cluster's own: its first line is
				// the postmaster. SIGINT is PostgreSQL's fast shutdown.
				if err := syscall.Kill(pid, syscall.SIGINT); err == nil {
					fmt.Fprintf(w, "    stopped a PostgreSQL cluster a test binary left running (%s)\n", filepath.Base(d))
					for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
						time.Sleep(100 * time.Millisecond)
					}
				}
			}
		}
		_ = os.RemoveAll(d)
	}
}

// ownerGone reports whether the test binary that made cluster folder d has
// exited.
func ownerGone(d string) bool {
	b, err := os.ReadFile(filepath.Join(d, "owner"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// gremlinsOutput is the part of gremlins' --output JSON used here.
type gremlinsOutput struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	Elapsed float64 `json:"elapsed_time"`
}

// assess scores one package from its gremlins JSON.
func assess(src, out string, p pkgConfig, eqs []*equivalent) (score, error) {
	s := score{Package: p.Path, MinScore: p.MinScore}
	name := strings.ReplaceAll(p.Path, "/", "_")
	g, err := readGremlins(filepath.Join(out, name+".json"))
	if err != nil {
		return s, err
	}
	ovs, err := readOverrides(filepath.Join(out, name+".mutate.json"))
	if err != nil {
		return s, err
	}
	byPos := map[string]override{}
	for _, o := range ovs {
		byPos[fmt.Sprintf("%s:%d:%d:%s", o.File, o.Line, o.Column, o.Type)] = o
	}
	s.Seconds = g.Elapsed
	srcs := map[string]*sourceFile{}
	for _, f := range g.Files {
		file := filepath.ToSlash(filepath.Join(p.Path, f.Name))
		sf, ok := srcs[file]
		if !ok {
			if sf, err = readSource(filepath.Join(src, file)); err != nil {
				return s, err
			}
			srcs[file] = sf
		}
		for _, m := range f.Mutations {
			mu := mutant{File: file, Line: m.Line, Column: m.Column, Type: m.Type, Status: m.Status,
				Func: sf.funcAt(m.Line), Source: sf.line(m.Line)}
			if !inScope(p, f.Name, mu.Func) {
				s.OutOfScope++
				continue
			}
			if o, ok := byPos[fmt.Sprintf("%s:%d:%d:%s", f.Name, m.Line, m.Column, m.Type)]; ok {
				mu.Status, mu.Note = o.Status, o.Why
			}
			if mu.Status == lived || mu.Status == notCovered {
				for _, e := range eqs {
					if e.File == mu.File && e.Type == mu.Type && e.Source == mu.Source && (e.Column == 0 || e.Column == mu.Column) {
						e.used = true
						mu.Equivalent = e.Reason
						break
					}
				}
			}
			if mu.Status == notCovered && (mu.Func == "" || sf.inCase(m.Line, m.Column) || sf.afterLit(m.Line, m.Column)) {
				// Gremlins cannot tell whether it is covered and complete
				// did not run it (a -report of an older run): listed, not
				// scored.
				mu.Status = notRun
			}
			switch {
			case mu.Status == notRun:
				s.NotRun++
			case mu.Equivalent != "":
				s.Equivalent++
			case mu.Status == killed:
				s.Killed++
			case mu.Status == lived:
				s.Lived++
			case mu.Status == notCovered:
				s.NotCovered++
			case mu.Status == timedOut:
				s.TimedOut++
			case mu.Status == notViable:
				s.NotViable++
			}
			s.Mutants = append(s.Mutants, mu)
		}
	}
	sort.Slice(s.Mutants, func(i, j int) bool {
		a, b := s.Mutants[i], s.Mutants[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if s.Killed+s.Lived > 0 {
		s.Efficacy = 100 * float64(s.Killed) / float64(s.Killed+s.Lived)
	}
	detected := s.Killed + s.TimedOut
	if total := detected + s.Lived + s.NotCovered; total > 0 {
		s.Score = 100 * float64(detected) / float64(total)
	} else {
		s.Score = 100
	}
	s.Pass = s.Score >= s.MinScore
	return s, nil
}

func inScope(p pkgConfig, file, fn string) bool {
	if strings.Contains(file, "/") {
		return false
	}
	if len(p.Scope) == 0 {
		return true
	}
	funcs, ok := p.Scope[file]
	if !ok {
		return false
	}
	if funcs == nil {
		return true
	}
	for _, f := range funcs {
		if f == fn {
			return true
		}
	}
	return false
}

// sourceFile is a Go file: its lines, its functions' line ranges, its
// operators by offset and the spans of its case expressions.
type sourceFile struct {
	src       []byte
	lines     []string
	lineStart []int // offset of each line
	funcs     []funcRange
	tokens    map[int]token.Token // operator at offset
	cases     [][2]int            // offsets [from, to) of case clauses' expressions
	afterLits [][2]int            // offsets [from, to) a statement holds from its first function literal on
	litBodies [][2]int            // offsets [from, to) of function literals' bodies
}

type funcRange struct {
	name       string
	start, end int
}

func readSource(name string) (*sourceFile, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, b, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	sf := &sourceFile{src: b, lines: strings.Split(string(b), "\n"), tokens: map[int]token.Token{}}
	off := 0
	for _, l := range sf.lines {
		sf.lineStart = append(sf.lineStart, off)
		off += len(l) + 1
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			sf.funcs = append(sf.funcs, funcRange{fd.Name.Name, fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			sf.tokens[fset.Position(n.OpPos).Offset] = n.Op
		case *ast.UnaryExpr:
			sf.tokens[fset.Position(n.OpPos).Offset] = n.Op
		case *ast.IncDecStmt:
			sf.tokens[fset.Position(n.TokPos).Offset] = n.Tok
		case *ast.CaseClause:
			if len(n.List) > 0 {
				sf.cases = append(sf.cases, [2]int{fset.Position(n.List[0].Pos()).Offset, fset.Position(n.List[len(n.List)-1].End()).Offset})
			}
		case *ast.FuncLit:
			sf.litBodies = append(sf.litBodies, [2]int{fset.Position(n.Body.Pos()).Offset, fset.Position(n.Body.End()).Offset})
		case ast.Stmt:
			if from, to := afterFuncLit(n); from.IsValid() {
				sf.afterLits = append(sf.afterLits, [2]int{fset.Position(from).Offset, fset.Position(to).Offset})
			}
		}
		return true
	})
	return sf, nil
}

// afterFuncLit is the part of statement s that cmd/cover leaves in no
// block: it ends a block at a statement's first function literal
// (statementBoundary in cmd/cover/cover.go), so what follows the literal
// up to the statement's body (`}); err != nil {`) is counted by nothing,
// though it runs whenever the statement does. The literal's own body has
// blocks of its own. from is invalid when s holds no literal there.
func afterFuncLit(s ast.Stmt) (from, to token.Pos) {
	var header []ast.Node
	to = s.End()
	switch s := s.(type) {
	case *ast.BlockStmt, *ast.LabeledStmt, *ast.CaseClause, *ast.CommClause, *ast.SelectStmt:
		return token.NoPos, token.NoPos // their statements are judged one by one
	case *ast.IfStmt:
		header, to = []ast.Node{s.Init, s.Cond}, s.Body.Pos()
	case *ast.ForStmt:
		header, to = []ast.Node{s.Init, s.Cond, s.Post}, s.Body.Pos()
	case *ast.RangeStmt:
		header, to = []ast.Node{s.X}, s.Body.Pos()
	case *ast.SwitchStmt:
		header, to = []ast.Node{s.Init, s.Tag}, s.Body.Pos()
	case *ast.TypeSwitchStmt:
		header, to = []ast.Node{s.Init, s.Assign}, s.Body.Pos()
	default:
		header = []ast.Node{s}
	}
	for _, n := range header {
		if n == nil {
			continue
		}
		ast.Inspect(n, func(n ast.Node) bool {
			if lit, ok := n.(*ast.FuncLit); ok && !from.IsValid() {
				from = lit.Pos()
			}
			return !from.IsValid()
		})
		if from.IsValid() {
			return from, to
		}
	}
	return token.NoPos, token.NoPos
}

// offset is the byte offset of line:col (both from 1), or -1.
func (f *sourceFile) offset(line, col int) int {
	if line < 1 || line > len(f.lineStart) || col < 1 {
		return -1
	}
	return f.lineStart[line-1] + col - 1
}

// tokenAt is the operator at line:col, or token.ILLEGAL.
func (f *sourceFile) tokenAt(line, col int) token.Token {
	if t, ok := f.tokens[f.offset(line, col)]; ok {
		return t
	}
	return token.ILLEGAL
}

// inCase reports whether line:col is in a case clause's expressions.
func (f *sourceFile) inCase(line, col int) bool {
	off := f.offset(line, col)
	for _, c := range f.cases {
		if c[0] <= off && off < c[1] {
			return true
		}
	}
	return false
}

// afterLit reports whether line:col is in the part of a statement after
// its first function literal (see afterFuncLit), outside any literal's body.
func (f *sourceFile) afterLit(line, col int) bool {
	off := f.offset(line, col)
	for _, a := range f.afterLits {
		if off < a[0] || off >= a[1] {
			continue
		}
		inBody := false
		for _, b := range f.litBodies {
			if b[0] >= a[0] && b[0] <= off && off < b[1] {
				inBody = true
				break
			}
		}
		if !inBody {
			return true
		}
	}
	return false
}

// mutate returns the source with the mutation typ applied at line:col.
func (f *sourceFile) mutate(line, col int, typ string) ([]byte, error) {
	old := f.tokenAt(line, col)
	to, ok := mutations[typ][old]
	if !ok {
		return nil, fmt.Errorf("no %s mutation of %q there", typ, old)
	}
	off := f.offset(line, col)
	out := append([]byte{}, f.src[:off]...)
	out = append(out, to.String()...)
	return append(out, f.src[off+len(old.String()):]...), nil
}

func (f *sourceFile) line(n int) string {
	if n < 1 || n > len(f.lines) {
		return ""
	}
	return strings.TrimSpace(f.lines[n-1])
}

// funcAt names the function declared around line n ("" at package level).
func (f *sourceFile) funcAt(n int) string {
	for _, r := range f.funcs {
		if r.start <= n && n <= r.end {
			return r.name
		}
	}
	return ""
}

func printScores(w io.Writer, scores []score) {
	for _, s := range scores {
		for _, m := range s.Mutants {
			if m.Equivalent != "" || (m.Status != lived && m.Status != notCovered && m.Status != timedOut && m.Status != notRun) {
				continue
			}
			note := ""
			if m.Note != "" {
				note = " (" + m.Note + ")"
			}
			fmt.Fprintf(w, "%-11s %s:%d:%d %s in %s: %s%s\n", m.Status, m.File, m.Line, m.Column, m.Type, m.Func, m.Source, note)
		}
	}
	fmt.Fprintf(w, "\n%-14s %6s %6s %6s %6s %6s %6s %6s %9s %7s %5s\n", "package", "killed", "lived", "n/cov", "t/out", "equiv", "n/viab", "n/run", "efficacy", "score", "min")
	for _, s := range scores {
		verdict := "ok"
		if !s.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-14s %6d %6d %6d %6d %6d %6d %6d %8.1f%% %6.1f%% %4.0f%% %s\n",
			s.Package, s.Killed, s.Lived, s.NotCovered, s.TimedOut, s.Equivalent, s.NotViable, s.NotRun, s.Efficacy, s.Score, s.MinScore, verdict)
	}
}
