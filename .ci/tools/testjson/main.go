// Command testjson reads `go test -json` on stdin and prints what plain
// `go test ./...` prints (a line per package, the output of failed tests),
// then the tests that were skipped. It exits non-zero when a test or a
// package failed, or, with -fail-on-skip, when any test was skipped: in CI
// a missing tool must fail the run, not turn a package silently green.
//
//	go test -json ./... | go run . -fail-on-skip
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	failOnSkip := flag.Bool("fail-on-skip", false, "exit non-zero when a test was skipped")
	flag.Parse()
	code, err := run(os.Stdin, os.Stdout, *failOnSkip)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testjson:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(in *os.File, out *os.File, failOnSkip bool) (int, error) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	outputs := map[string][]string{} // package/test -> output lines
	var skipped, failed []string
	var pkgFailed, passed int
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not test2json (a build error printed as text): show it.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			outputs[key] = append(outputs[key], e.Output)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			} else {
				passed++
			}
			delete(outputs, key)
		case "skip":
			if e.Test != "" {
				reason := lastLine(outputs[key])
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason))
			} else if !strings.Contains(strings.Join(outputs[key], ""), "no test files") {
				fmt.Fprintf(w, "?   \t%s\t[skipped]\n", e.Package)
			}
			delete(outputs, key)
		case "fail", "build-fail":
			if e.Test != "" {
				failed = append(failed, e.Package+" "+e.Test)
				for _, o := range outputs[key] {
					fmt.Fprint(w, o)
				}
			} else {
				pkgFailed++
				for _, o := range outputs[key] {
					fmt.Fprint(w, o)
				}
				fmt.Fprintf(w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		return 2, err
	}
	sort.Strings(skipped)
	fmt.Fprintf(w, "\n%d tests passed, %d failed, %d skipped; %d packages failed\n", passed, len(failed), len(skipped), pkgFailed)
	for _, s := range skipped {
		fmt.Fprintln(w, "SKIP", s)
	}
	switch {
	case len(failed) > 0 || pkgFailed > 0:
		return 1, nil
	case failOnSkip && len(skipped) > 0:
		fmt.Fprintln(w, "FAIL: tests were skipped; in CI every test must run (install what they need in .ci/deps)")
		return 1, nil
	}
	return 0, nil
}

func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}
