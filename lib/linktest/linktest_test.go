package linktest

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/harborstays/concierge/"

// rule is a heavy dependency and the functions that may link it. The
// sizes are those of issue 18 (go 1.26, -trimpath -ldflags "-s -w").
type rule struct {
	pkg     string
	why     string
	allowed []string // function names (functions/NAME)
}

// go-playground/validator/v10 is not here: every function links the
// package (lib/faas -> lib/payload), but only the functions that validate
// a payload reach its traversal, whose reflect.Value.MethodByName with a
// computed name turns the linker's method pruning off (1 MB in each, 7 MB
// of S3 client in backup). Package lists cannot tell reached from linked:
// the rehearsal's size check does (and lib/payload builds its validator
// on first use, so that nothing else names it).
var rules = []rule{
	{"google.golang.org/grpc",
		"Qdrant's client with gRPC and protobuf, 3.8 MB, and golang.org/x/net/trace's templates turn the linker's method pruning off: only the functions that open the retrieval index (lib/indexer.OpenIndex)",
		[]string{"console", "llm-query", "purge", "vectorize"}},
	{"github.com/nyaruka/phonenumbers",
		"libphonenumber's metadata, protobuf and golang.org/x/text/language/display (2.3 MB of language names it links for a geocoder nobody calls): 2.5 to 4 MB, only for the functions that normalise phone numbers (lib/identity.Phone: the hooks, and llm-query's lib/guests/trust)",
		[]string{"aircall-hook", "guesty-fetch", "guesty-hook", "guesty-reconcile", "llm-query"}},
	{"text/template",
		"executing a template calls reflect.Value.MethodByName, which turns the linker's method pruning off: the console's pages, the Qdrant functions through gRPC's golang.org/x/net/trace, and purge and redrive through lib/guestdata's export page (parsed at start, executed by neither)",
		[]string{"console", "llm-query", "purge", "redrive", "vectorize"}},
	{"github.com/aws/aws-sdk-go-v2/service/s3",
		"the S3 client, 3 MB of methods once anything turns the linker's method pruning off: the functions that read or write the backup buckets",
		[]string{"backup", "console", "redrive"}},
	{"github.com/go-jose/go-jose/v4",
		"JOSE for the console's sign-in only",
		[]string{"console"}},
}

// tolerated are links the rules forbid that stay for now, "function
// package" to the reason; one that no longer happens fails the test.
var tolerated = map[string]string{
	"redrive github.com/nyaruka/phonenumbers": "lib/scrape reads the reconciliation's figures through lib/guesty (guesty.WritePrometheus), whose hook normalises phones: 6.1 MB of its 18 MB (4 MB once protobuf v1.36.12 no longer turns method pruning off)",
}

// graph is every package the functions link, with its direct imports.
type graph map[string][]string

// functions returns the functions' package graph as the template's build
// sees it.
func functions(t *testing.T) (graph, []string) {
	t.Helper()
	declareInputs(t)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./functions/...")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := graph{}
	var fns []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		g[f[0]] = f[1:]
		if name, ok := strings.CutPrefix(f[0], module+"functions/"); ok && !strings.Contains(name, "/") {
			fns = append(fns, name)
		}
	}
	sort.Strings(fns)
	return g, fns
}

// declareInputs reads what go list reads (the Go files of lib/ and
// functions/, go.mod and go.sum) through this process, so that go test's
// cache, which sees only what the test itself opens, runs the test again
// after any of them changes.
func declareInputs(t *testing.T) {
	t.Helper()
	for _, f := range []string{"../../go.mod", "../../go.sum"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, root := range []string{"../../lib", "../../functions"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			_, err = os.Stat(path)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// chain is the shortest import chain from the package from to target, or
// nil when from does not link target.
func (g graph) chain(from, target string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, strings.TrimPrefix(p, module))
			}
			slices.Reverse(c)
			return c
		}
		for _, q := range g[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

// check returns what breaks the rules: a function linking a dependency it
// is not allowed (with the chain that brings it), an allowed or tolerated
// link that no longer happens.
func check(g graph, fns []string, rules []rule, tolerated map[string]string) []string {
	var errs []string
	seen := map[string]bool{}
	for _, r := range rules {
		for _, fn := range fns {
			c := g.chain(module+"functions/"+fn, r.pkg)
			key := fn + " " + r.pkg
			allowed := slices.Contains(r.allowed, fn)
			_, tol := tolerated[key]
			seen[key] = c != nil
			switch {
			case c != nil && !allowed && !tol:
				errs = append(errs, fmt.Sprintf("%s links %s (%s), which it may not: %s", fn, r.pkg, strings.Join(c, " -> "), r.why))
			case c == nil && allowed:
				errs = append(errs, fmt.Sprintf("%s no longer links %s: take it off that rule's allowed list", fn, r.pkg))
			}
		}
	}
	for key := range tolerated {
		if !seen[key] {
			errs = append(errs, fmt.Sprintf("tolerated %q no longer happens: remove it", key))
		}
	}
	sort.Strings(errs)
	return errs
}

// TestHeavyDependencies: each function links the heavy dependencies its
// work needs and no other.
func TestHeavyDependencies(t *testing.T) {
	g, fns := functions(t)
	if len(fns) < 13 {
		t.Fatalf("found %d functions (%v): the listing missed some", len(fns), fns)
	}
	for _, fn := range fns {
		// The template's main.go imports the function and lib/faas.
		if g.chain(module+"functions/"+fn, module+"lib/faas") == nil {
			t.Errorf("%s does not import lib/faas: the graph misses the template's imports", fn)
		}
	}
	for _, r := range rules {
		for _, fn := range r.allowed {
			if !slices.Contains(fns, fn) {
				t.Errorf("rule %s allows %s, which is not a function", r.pkg, fn)
			}
		}
	}
	for _, e := range check(g, fns, rules, tolerated) {
		t.Error(e)
	}
}

// The check catches what it is for: a new link with its chain, a stale
// allowance and a stale toleration.
func TestCheck(t *testing.T) {
	f := func(name string) string { return module + "functions/" + name }
	g := graph{
		f("a"):           {module + "lib/x"},
		f("b"):           {module + "lib/y"},
		f("c"):           {module + "lib/y"},
		module + "lib/x": {"heavy"},
		module + "lib/y": {"light"},
		"heavy":          nil,
		"light":          nil,
	}
	rules := []rule{{"heavy", "it is heavy", []string{"b"}}}
	got := check(g, []string{"a", "b", "c"}, rules, map[string]string{"c heavy": "gone"})
	want := []string{
		`a links heavy (functions/a -> lib/x -> heavy), which it may not: it is heavy`,
		`b no longer links heavy: take it off that rule's allowed list`,
		`tolerated "c heavy" no longer happens: remove it`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("check =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := check(g, []string{"a"}, rules[:0], nil); len(got) != 0 {
		t.Errorf("no rules: %v", got)
	}
}
