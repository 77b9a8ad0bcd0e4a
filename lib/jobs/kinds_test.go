package jobs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/stack"
)

func TestParseReplySubject(t *testing.T) {
	for subject, ok := range map[string]bool{
		"reply:0b6f5a5e-3c1d-4d7a-9d61-2f0c2a8e9b1d": true,
		"reply:":                 false,
		"guest:66a1f0c2e4b0a1b2": false,
		"reply:1; DROP TABLE":    false,
	} {
		_, err := jobs.ParseReplySubject(subject)
		if (err == nil) != ok {
			t.Errorf("%q: %v", subject, err)
		}
		if err != nil && fault.Retryable(err) {
			t.Errorf("%q: a malformed subject must not be retried", subject)
		}
	}
}

// Every declared kind is whole: a unique name, a function that exists, a
// policy that retries, and a lease that outlasts its time budget (else
// redrive would start a second attempt beside a running one).
func TestKindsAreDeclaredWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range jobs.All() {
		if k.Name == "" || seen[k.Name] {
			t.Errorf("kind %q: empty or declared twice", k.Name)
		}
		seen[k.Name] = true
		if _, err := os.Stat(filepath.Join("..", "..", "functions", k.Function, "handler.go")); err != nil {
			t.Errorf("kind %s: function %q: %v", k.Name, k.Function, err)
		}
		p := k.Policy
		if p.MaxAttempts < 1 || p.Base <= 0 || p.Max < p.Base || p.Lease <= 0 {
			t.Errorf("kind %s: policy %+v", k.Name, p)
		}
		if k.Budget >= p.Lease {
			t.Errorf("kind %s: budget %s not inside its lease %s", k.Name, k.Budget, p.Lease)
		}
	}
}

// A budget is what lets an attempt end on its own terms (record its
// outcome, keep what it finished) before the watchdog kills it: the kinds
// whose work can outrun their function's timeout carry one, and it stays
// inside stack.yml's write_timeout with room for that bookkeeping.
func TestBudgetsSitInsideTheirFunctionsTimeout(t *testing.T) {
	st, err := stack.Load(filepath.Join("..", "..", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Waits on Chatwoot's retries, speech services, recordings and
	// Guesty's rate limit: each can take longer than the function has.
	bounded := map[string]bool{
		"contact-sync": true, "reply": true, "urgent-call": true,
		"transcribe": true, "synthesize": true, "transcribe-call": true,
		"guesty-reconcile": true,
	}
	const bookkeeping = 5 * time.Second
	for _, k := range jobs.All() {
		fn, ok := st.Functions[k.Function]
		if !ok {
			t.Errorf("kind %s: function %q not in stack.yml", k.Name, k.Function)
			continue
		}
		timeout, err := time.ParseDuration(fn.Environment["write_timeout"])
		if err != nil {
			t.Errorf("kind %s: %s's write_timeout: %v", k.Name, k.Function, err)
			continue
		}
		if bounded[k.Name] && k.Budget <= 0 {
			t.Errorf("kind %s: no budget, so %s's %s timeout ends it unrecorded", k.Name, k.Function, timeout)
		}
		if k.Budget > 0 && k.Budget > timeout-bookkeeping {
			t.Errorf("kind %s: budget %s leaves less than %s of %s's %s timeout", k.Name, k.Budget, bookkeeping, k.Function, timeout)
		}
	}
}

func TestSubjectsRoundTrip(t *testing.T) {
	if a, c, err := jobs.ParseConversationSubject(jobs.ConversationSubject(3, 41)); err != nil || a != 3 || c != 41 {
		t.Errorf("conversation: %d %d %v", a, c, err)
	}
	if a, m, err := jobs.ParseMessageSubject(jobs.MessageSubject(3, 42)); err != nil || a != 3 || m != 42 {
		t.Errorf("message: %d %d %v", a, m, err)
	}
	if id, err := jobs.ParseCallSubject(jobs.CallSubject(43)); err != nil || id != 43 {
		t.Errorf("call: %d %v", id, err)
	}
	if id, err := jobs.ParseGuestSubject(jobs.GuestSubject("66a1f0c2e4b0a1b2")); err != nil || id != "66a1f0c2e4b0a1b2" {
		t.Errorf("guest: %q %v", id, err)
	}
	const reply = "0b6f5a5e-3c1d-4d7a-9d61-2f0c2a8e9b1d"
	if id, err := jobs.ParseReplySubject(jobs.ReplySubject(reply)); err != nil || id != reply {
		t.Errorf("reply: %q %v", id, err)
	}
	for _, bad := range []string{"", "conversation:1", "message:0:1", "call:-1", "guest:", "reply:x"} {
		_, _, e1 := jobs.ParseConversationSubject(bad)
		_, _, e2 := jobs.ParseMessageSubject(bad)
		_, e3 := jobs.ParseCallSubject(bad)
		_, e4 := jobs.ParseGuestSubject(bad)
		_, e5 := jobs.ParseReplySubject(bad)
		if e1 == nil || e2 == nil || e3 == nil || e4 == nil || e5 == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRedriveOptionsValidate(t *testing.T) {
	ok := jobs.DefaultRedrive
	for _, tt := range []struct {
		name string
		edit func(*jobs.RedriveOptions)
		want string
	}{
		{"defaults", func(*jobs.RedriveOptions) {}, ""},
		{"zero grace", func(o *jobs.RedriveOptions) { o.Grace = 0 }, ""},
		{"negative grace", func(o *jobs.RedriveOptions) { o.Grace = -time.Second }, "REDRIVE_GRACE"},
		{"one invocation", func(o *jobs.RedriveOptions) { o.MaxInvocations = 1 }, ""},
		{"no invocation", func(o *jobs.RedriveOptions) { o.MaxInvocations = 0 }, "REDRIVE_MAX_INVOCATIONS"},
		{"batch of one", func(o *jobs.RedriveOptions) { o.Batch = 1 }, ""},
		{"empty batch", func(o *jobs.RedriveOptions) { o.Batch = 0 }, "REDRIVE_BATCH"},
	} {
		o := ok
		tt.edit(&o)
		err := o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestGuestSubjectBound(t *testing.T) {
	if _, err := jobs.ParseGuestSubject(jobs.GuestSubject(strings.Repeat("a", 128))); err != nil {
		t.Errorf("a 128-character id: %v", err)
	}
	if _, err := jobs.ParseGuestSubject(jobs.GuestSubject(strings.Repeat("a", 129))); err == nil {
		t.Error("a 129-character id accepted")
	}
}
