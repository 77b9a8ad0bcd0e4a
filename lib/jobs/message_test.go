package jobs

import (
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
)

// The job message is checked by hand (not by validator tags: see Check);
// each missing or malformed field is named as a 400 names it.
func TestMessageCheck(t *testing.T) {
	ok := Message{JobID: "0b6c3f4e-3f0a-4c1e-9a51-2f7d1b9e8c11", Kind: "vectorize", Subject: "listing:L1"}
	tests := []struct {
		name  string
		edit  func(*Message)
		field string // "" : valid
	}{
		{"valid", func(*Message) {}, ""},
		{"upper-case uuid", func(m *Message) { m.JobID = strings.ToUpper(m.JobID) }, ""},
		{"no job id", func(m *Message) { m.JobID = "" }, "job_id"},
		{"job id not a uuid", func(m *Message) { m.JobID = "42" }, "job_id"},
		{"uuid with a tail", func(m *Message) { m.JobID += "0" }, "job_id"},
		{"no kind", func(m *Message) { m.Kind = "" }, "kind"},
		{"no subject", func(m *Message) { m.Subject = "" }, "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Check()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Check() = %v, want an Invalid fault naming %s", err, tt.field)
			}
		})
	}
}
