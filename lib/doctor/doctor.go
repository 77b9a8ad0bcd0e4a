// Package doctor checks a deployment's providers for real: the database,
// the retrieval index, Azure Speech, the backup bucket, the model, Chatwoot
// and the Aircall API, each with a cheap, read-only probe (the backup
// bucket's probe writes one small object and deletes it). It is the
// operator's first command after a deploy (`make doctor`).
//
// A Check is a name and a function returning a Result: ok, fail (with what
// to change) or skip (the provider is not configured, so its embedded local
// default is in use). Run runs checks concurrently, each within its own
// time budget, and returns their outcomes in the order given, so the report
// reads the same on every run.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// State is a check's verdict.
type State int

// States of a Result.
const (
	// Skip: nothing to check (a provider left at its local default, or a
	// check that depends on one that failed).
	Skip State = iota
	// OK: the provider answered as this build needs.
	OK
	// Fail: something must change before the functions can work.
	Fail
)

// Symbol is the mark the text report prints for s.
func (s State) Symbol() string {
	switch s {
	case OK:
		return "✓"
	case Fail:
		return "✗"
	}
	return "–"
}

func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	}
	return "skip"
}

// MarshalJSON writes the state as its name.
func (s State) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Result is what one check found.
type Result struct {
	State State
	// Found says what the check saw: a version, a count, an error.
	Found string
	// Fix, for a failure, says what to change, naming the setting.
	Fix string
}

// Pass is an OK result.
func Pass(format string, args ...any) Result {
	return Result{State: OK, Found: fmt.Sprintf(format, args...)}
}

// Failed is a failing result: what was found and what to change.
func Failed(found, fix string) Result { return Result{State: Fail, Found: found, Fix: fix} }

// Skipped is a check that did not run, and why.
func Skipped(format string, args ...any) Result {
	return Result{State: Skip, Found: fmt.Sprintf(format, args...)}
}

// LocalDefault is the skip of a provider that is not configured.
func LocalDefault(format string, args ...any) Result {
	return Skipped("local default in use: "+format, args...)
}

// Check is one probe.
type Check struct {
	Name string
	// Setting names what to look at when the check gets no answer in time
	// (the URL or host setting of the provider).
	Setting string
	// Timeout overrides Run's per-check budget (0: the default).
	Timeout time.Duration
	Run     func(ctx context.Context) Result
}

// Outcome is a check's result as Run reports it.
type Outcome struct {
	Name string `json:"name"`
	Result
	Elapsed time.Duration `json:"-"`
}

// MarshalJSON writes {"name","state","found","fix","ms"}.
func (o Outcome) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name  string `json:"name"`
		State State  `json:"state"`
		Found string `json:"found,omitempty"`
		Fix   string `json:"fix,omitempty"`
		MS    int64  `json:"ms"`
	}{o.Name, o.State, o.Found, o.Fix, o.Elapsed.Milliseconds()})
}

// DefaultTimeout bounds one check: every probe is one or a few small
// requests, so ten seconds without an answer means unreachable, not slow.
const DefaultTimeout = 10 * time.Second

// Run runs checks concurrently, each within timeout (DefaultTimeout when
// 0, or the check's own), and returns the outcomes in the order of checks.
// A check that does not return in time is a failure; one that panics is a
// failure naming the panic.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Outcome {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	out := make([]Outcome, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			budget := timeout
			if c.Timeout > 0 {
				budget = c.Timeout
			}
			start := time.Now()
			out[i] = Outcome{Name: c.Name, Result: runOne(ctx, c, budget)}
			out[i].Elapsed = time.Since(start)
		}()
	}
	wg.Wait()
	return out
}

func runOne(ctx context.Context, c Check, budget time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Failed(fmt.Sprintf("check crashed: %v", p), "report this as a bug of concierge doctor")
			}
		}()
		done <- c.Run(ctx)
	}()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		// The check ignored its context; its goroutine ends on its own.
		fix := "check that the provider is reachable from here"
		if c.Setting != "" {
			fix = "check that " + c.Setting + " is reachable from here"
		}
		return Failed(fmt.Sprintf("no answer within %s", budget), fix)
	}
}

// Failures counts the failed outcomes.
func Failures(outs []Outcome) int {
	n := 0
	for _, o := range outs {
		if o.State == Fail {
			n++
		}
	}
	return n
}

// WriteText prints one line per outcome: mark, name, what was found, and
// for a failure the fix.
func WriteText(w io.Writer, outs []Outcome) error {
	width := 0
	for _, o := range outs {
		width = max(width, len(o.Name))
	}
	for _, o := range outs {
		line := fmt.Sprintf("%s %-*s  %s", o.State.Symbol(), width, o.Name, oneLine(o.Found))
		if o.State == Fail && o.Fix != "" {
			line += " — fix: " + oneLine(o.Fix)
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints {"ok": bool, "failures": n, "checks": [...]}.
func WriteJSON(w io.Writer, outs []Outcome) error {
	if outs == nil {
		outs = []Outcome{}
	}
	for i := range outs {
		outs[i].Found, outs[i].Fix = oneLine(outs[i].Found), oneLine(outs[i].Fix)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		OK       bool      `json:"ok"`
		Failures int       `json:"failures"`
		Checks   []Outcome `json:"checks"`
	}{Failures(outs) == 0, Failures(outs), outs})
}

// oneLine keeps a report line one line: providers' messages may carry
// newlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
