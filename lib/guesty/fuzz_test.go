package guesty

import (
	"testing"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
)

// FuzzParse checks that any body either parses or fails as invalid input
// (a 400), never with a panic or an internal error.
func FuzzParse(f *testing.F) {
	for _, name := range append(fixtures.List("guesty"), fixtures.List("local")...) {
		f.Add(fixtures.Read(name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		event, err := Parse(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("error of kind %s for %q: %v", k, body, err)
			}
			return
		}
		if event == "" {
			t.Fatalf("accepted a body without event: %q", body)
		}
	})
}
