package archtest

import (
	"errors"
	"flag"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the package map's imports column in docs/architecture.md (and add missing packages with floor ?)")

const (
	module  = "github.com/harborstays/concierge/"
	docPath = "../../docs/architecture.md"
	libDir  = "../../lib"
	// section is the heading of the package map in docPath.
	section = "## Package map"
)

// knownCrossings are imports the floors forbid but that are tolerated for
// now, each with its reason; a listed edge that no longer happens fails the
// test, so the list only shrinks. Empty since the runtime became lib/faas
// and the domain took what it uses (issue 17).
var knownCrossings = map[string]string{}

// runtime is the function runtime; only its own subpackages (the local
// gateway, the function test harness) import it under lib/.
const runtime = "lib/faas"

// pkg is a package under lib/ as the code has it.
type pkg struct {
	path    string   // lib/...
	imports []string // lib/... packages, sorted
	doc     string   // synopsis, for a package the map does not name yet
}

// row is a line of the map.
type row struct {
	path, floor, what string
	imports           []string
}

// packages reads every package under lib/: non-test files only, as the
// build sees them on this platform.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	out := map[string]pkg{}
	err := filepath.WalkDir(libDir, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if n := d.Name(); dir != libDir && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
			return filepath.SkipDir
		}
		bp, err := build.Default.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		rel, _ := filepath.Rel(filepath.Dir(libDir), dir)
		p := pkg{path: filepath.ToSlash(rel), doc: bp.Doc}
		for _, imp := range bp.Imports {
			if strings.HasPrefix(imp, module+"lib/") {
				p.imports = append(p.imports, strings.TrimPrefix(imp, module))
			}
		}
		sort.Strings(p.imports)
		out[p.path] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("read only %d packages under %s", len(out), libDir)
	}
	return out
}

var (
	// | `lib/x` | floor | what | imports |
	pkgRow = regexp.MustCompile("^\\| `(lib/[^`]+)` \\| ([^|]+) \\| ([^|]*) \\| ([^|]*) \\|$")
	// | `floor` | what it holds | `a`, `b` |
	floorRow = regexp.MustCompile("^\\| `([a-z?]+)` \\| ([^|]*) \\| ([^|]*) \\|$")
	quoted   = regexp.MustCompile("`([^`]+)`")
)

// readMap returns the map's section of the document (start and end line
// indexes), its package rows and its floors with what each may import.
func readMap(t *testing.T, lines []string) (start, end int, rows map[string]row, floors map[string][]string) {
	t.Helper()
	start = slices.Index(lines, section)
	if start < 0 {
		t.Fatalf("%s has no %q section", docPath, section)
	}
	end = len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	rows, floors = map[string]row{}, map[string][]string{}
	for _, l := range lines[start:end] {
		if m := pkgRow.FindStringSubmatch(l); m != nil {
			r := row{path: m[1], floor: strings.Trim(strings.TrimSpace(m[2]), "`"), what: strings.TrimSpace(m[3])}
			for _, q := range quoted.FindAllStringSubmatch(m[4], -1) {
				r.imports = append(r.imports, "lib/"+q[1])
			}
			if _, dup := rows[r.path]; dup {
				t.Errorf("the package map names %s twice", r.path)
			}
			rows[r.path] = r
		} else if m := floorRow.FindStringSubmatch(l); m != nil {
			var may []string
			for _, q := range quoted.FindAllStringSubmatch(m[3], -1) {
				may = append(may, q[1])
			}
			floors[m[1]] = may
		}
	}
	if len(floors) == 0 {
		t.Fatalf("the package map of %s has no floors table", docPath)
	}
	return start, end, rows, floors
}

// render is a package row as the map writes it.
func render(r row) string {
	imps := "—"
	if len(r.imports) > 0 {
		var q []string
		for _, i := range r.imports {
			q = append(q, "`"+strings.TrimPrefix(i, "lib/")+"`")
		}
		imps = strings.Join(q, ", ")
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s |", r.path, r.floor, r.what, imps)
}

// TestPackageMap: the map names every package under lib/, and nothing else,
// with the imports it has today. -update rewrites the rows from the code,
// keeping each row's floor and description.
func TestPackageMap(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	start, end, rows, _ := readMap(t, lines)
	pkgs := packages(t)

	var want []string
	for _, p := range sortedKeys(pkgs) {
		r, ok := rows[p]
		if !ok {
			r = row{path: p, floor: "?", what: strings.TrimSuffix(pkgs[p].doc, ".")}
			t.Errorf("the package map does not name %s: run go test ./lib/archtest -update and give it a floor", p)
		}
		r.imports = pkgs[p].imports
		want = append(want, render(r))
		if ok && !slices.Equal(rows[p].imports, r.imports) {
			t.Errorf("%s imports %v, the package map says %v: run go test ./lib/archtest -update", p, r.imports, rows[p].imports)
		}
	}
	for p := range rows {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("the package map names %s, which is not a package under lib/ any more", p)
		}
	}
	if !*update {
		return
	}
	// Replace the package rows (one block) with the rows the code gives.
	first, last := -1, -1
	for i := start; i < end; i++ {
		if pkgRow.MatchString(lines[i]) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		t.Fatalf("the package map has no package rows to replace")
	}
	out := slices.Concat(lines[:first], want, lines[last+1:])
	if err := os.WriteFile(docPath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %d package rows of %s", len(want), docPath)
}

// TestFloors: every import under lib/ goes to a floor the importer's floor
// may import, as the map's floors table says, but for knownCrossings.
func TestFloors(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows, floors := readMap(t, strings.Split(string(raw), "\n"))
	pkgs := packages(t)
	for _, e := range crossings(pkgs, rows, floors, knownCrossings) {
		t.Error(e)
	}
}

// TestOnlyTheRuntimeImportsTheRuntime: under lib/, lib/faas is imported by
// its own subpackages alone. Wiring and test helpers that need a running
// function live there (localrun, faastest); everything else takes
// configuration, a pool and an invoker.
func TestOnlyTheRuntimeImportsTheRuntime(t *testing.T) {
	pkgs := packages(t)
	if _, ok := pkgs[runtime]; !ok {
		t.Fatalf("no package %s: the runtime moved, update this test", runtime)
	}
	for _, e := range runtimeImporters(pkgs) {
		t.Error(e)
	}
}

func runtimeImporters(pkgs map[string]pkg) []string {
	var errs []string
	inRuntime := func(p string) bool { return p == runtime || strings.HasPrefix(p, runtime+"/") }
	for _, p := range sortedKeys(pkgs) {
		if inRuntime(p) {
			continue
		}
		for _, q := range pkgs[p].imports {
			if inRuntime(q) {
				errs = append(errs, fmt.Sprintf("%s imports the runtime %s: take configuration, a pool and a jobs.Invoker instead", p, q))
			}
		}
	}
	return errs
}

func TestRuntimeImportersCatch(t *testing.T) {
	pkgs := map[string]pkg{
		"lib/faas":           {},
		"lib/faas/localrun":  {imports: []string{"lib/faas"}},
		"lib/faas/faastest":  {imports: []string{"lib/faas", "lib/fntest"}},
		"lib/bot":            {imports: []string{"lib/faas", "lib/jobs"}},
		"lib/doctor":         {imports: []string{"lib/faas/localrun"}},
		"lib/faasnotruntime": {imports: []string{"lib/jobs"}},
	}
	got := runtimeImporters(pkgs)
	want := []string{"lib/bot imports the runtime lib/faas", "lib/doctor imports the runtime lib/faas/localrun"}
	if len(got) != len(want) {
		t.Fatalf("findings %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

// crossings returns what breaks the floors: an import a floor may not make
// (unless known), a package without a known floor, and a known crossing
// that no longer happens (so the list only shrinks).
func crossings(pkgs map[string]pkg, rows map[string]row, floors map[string][]string, known map[string]string) []string {
	var errs []string
	seen := map[string]bool{}
	for _, p := range sortedKeys(pkgs) {
		f := rows[p].floor
		may, ok := floors[f]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s has floor %q, which the floors table does not define", p, f))
			continue
		}
		for _, q := range pkgs[p].imports {
			g := rows[q].floor
			if slices.Contains(may, g) {
				continue
			}
			edge := p + " -> " + q
			if _, ok := known[edge]; ok {
				seen[edge] = true
				continue
			}
			errs = append(errs, fmt.Sprintf("%s (floor %s) imports %s (floor %s): a %s package may import only %s", p, f, q, g, f, strings.Join(may, ", ")))
		}
	}
	for _, edge := range sortedKeys(known) {
		if !seen[edge] {
			errs = append(errs, fmt.Sprintf("%s is listed in knownCrossings but no longer happens: remove it", edge))
		}
	}
	return errs
}

// The check catches what it is for: the domain reaching into the runtime,
// a client reaching up into the domain, production code importing a test
// helper, a package without a floor, and a stale exception.
func TestCrossingsCatch(t *testing.T) {
	floors := map[string][]string{
		"base": {"base"}, "client": {"base", "client"}, "domain": {"base", "client", "domain"},
		"runtime": {"base", "runtime"}, "test": {"base", "client", "domain", "runtime", "test"},
	}
	rows := map[string]row{
		"lib/fault": {floor: "base"}, "lib/chatwoot": {floor: "client"}, "lib/bot": {floor: "domain"},
		"lib/step": {floor: "runtime"}, "lib/dbtest": {floor: "test"}, "lib/new": {floor: "?"},
	}
	pkgs := map[string]pkg{
		"lib/fault":    {},
		"lib/chatwoot": {imports: []string{"lib/bot", "lib/fault"}},
		"lib/bot":      {imports: []string{"lib/chatwoot", "lib/dbtest", "lib/step"}},
		"lib/step":     {imports: []string{"lib/fault"}},
		"lib/dbtest":   {imports: []string{"lib/bot", "lib/step"}},
		"lib/new":      {},
	}
	got := crossings(pkgs, rows, floors, map[string]string{"lib/replies -> lib/step": "gone"})
	for _, want := range []string{
		"lib/bot (floor domain) imports lib/step (floor runtime)",
		"lib/bot (floor domain) imports lib/dbtest (floor test)",
		"lib/chatwoot (floor client) imports lib/bot (floor domain)",
		`lib/new has floor "?"`,
		"lib/replies -> lib/step is listed in knownCrossings but no longer happens",
	} {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("not caught: %s\ngot: %q", want, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d findings, want 5: %q", len(got), got)
	}
	// A known crossing is allowed, and only that one.
	got = crossings(pkgs, rows, floors, map[string]string{"lib/bot -> lib/step": "item 3"})
	if slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "lib/bot (floor domain) imports lib/step") }) {
		t.Errorf("a known crossing is reported: %q", got)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
