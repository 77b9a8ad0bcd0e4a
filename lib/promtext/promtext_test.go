package promtext

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"concierge":  `"concierge"`,
		`a\b`:        `"a\\b"`,
		`say "hi"`:   `"say \"hi\""`,
		"two\nlines": `"two\nlines"`,
		"":           `""`,
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestHeader(t *testing.T) {
	var b strings.Builder
	Header(&b, "concierge_x", "What x is.", "gauge")
	if want := "# HELP concierge_x What x is.\n# TYPE concierge_x gauge\n"; b.String() != want {
		t.Errorf("Header = %q, want %q", b.String(), want)
	}
}
