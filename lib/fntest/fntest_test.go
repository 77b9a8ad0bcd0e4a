package fntest

import (
	"testing"

	"github.com/harborstays/concierge/lib/fixtures"
)

func TestLeaksFindsEachForm(t *testing.T) {
	if got := Leaks(`{"fn":"x","msg":"ok","trace_id":"abc"}`); len(got) != 0 {
		t.Errorf("clean log flagged: %v", got)
	}
	for _, v := range append(append([]string{}, fixtures.Secrets...), fixtures.PII...) {
		if got := Leaks(`{"msg":"` + v + `"}`); len(got) == 0 {
			t.Errorf("%q not flagged (%v)", v, got)
		}
	}
}
