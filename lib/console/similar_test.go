package console_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/console"
)

// readGroups reads testdata/gaps.txt: the groups a person would make.
func readGroups(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("testdata/gaps.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var groups [][]string
	var cur []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			if len(cur) > 0 {
				groups, cur = append(groups, cur), nil
			}
		default:
			cur = append(cur, line)
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

func TestGroupsAlikeQuestions(t *testing.T) {
	want := readGroups(t)
	var qs []console.Question
	for _, g := range want {
		for _, q := range g {
			qs = append(qs, console.Question{Text: q, Reply: q})
		}
	}
	got := console.Group(qs)
	var gotSets [][]string
	for _, g := range got {
		var texts []string
		for _, e := range g.Examples {
			texts = append(texts, e.Text)
		}
		if g.Count != len(g.Examples) {
			t.Errorf("group %q counts %d, shows %d", texts, g.Count, len(g.Examples))
		}
		slices.Sort(texts)
		gotSets = append(gotSets, texts)
	}
	for _, w := range want {
		w = slices.Clone(w)
		slices.Sort(w)
		if !slices.ContainsFunc(gotSets, func(g []string) bool { return slices.Equal(g, w) }) {
			t.Errorf("want the group %q; got %q", w, gotSets)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d groups, want %d", len(got), len(want))
	}
	// Largest first.
	for i := 1; i < len(got); i++ {
		if got[i].Count > got[i-1].Count {
			t.Errorf("group %d (%d) after a smaller one (%d)", i, got[i].Count, got[i-1].Count)
		}
	}
}

func TestSimilarity(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		alike bool
	}{
		{"Is there a hair dryer?", "Do you have a hairdryer?", true},
		{"wifi password?", "What is the wi-fi password", true},
		{"Where can I park?", "Is there parking?", true},
		{"Can I bring my dog?", "Can I bring my bike?", false},
		{"Is there a hair dryer?", "Is there a kayak?", false},
		{"What time is checkout?", "Where is the beach?", false},
		{"hello?", "thanks!", false}, // no content words
	} {
		s := console.Similarity(c.a, c.b)
		if (s >= 0.5) != c.alike {
			t.Errorf("Similarity(%q, %q) = %.2f, want alike %v", c.a, c.b, s, c.alike)
		}
	}
}
