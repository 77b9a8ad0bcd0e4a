package answer

// Tests of the hand-off policy's parts, written for `make mutate`: each
// names the gremlins mutants of policy.go it kills.

import (
	"fmt"
	"slices"
	"testing"
)

// A topic needs a name and keywords; empty parts are skipped.
// Kills: ParsePolicy's `!ok || name == "" || kws == ""` with either ||
// made && (a topic without keywords or without a name accepted), and
// `part == ""` negated.
func TestParsePolicyTopics(t *testing.T) {
	for _, bad := range []string{"refund", ":refund*", "refund:", "refund: ", " :refund", "a:x;refund"} {
		if _, err := ParsePolicy(bad, "", "", ""); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
	p, err := ParsePolicy(" ; refund : Refund*|Money back ;; damage:broken; ", "Human", "Wi-Fi", "My Stay")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Topics) != 2 || p.Topics[0].Name != "refund" || !slices.Equal(p.Topics[0].Keywords, []string{"refund*", "money back"}) ||
		p.Topics[1].Name != "damage" || !slices.Equal(p.Topics[1].Keywords, []string{"broken"}) {
		t.Errorf("topics %+v", p.Topics)
	}
	if !slices.Equal(p.Person, []string{"human"}) || !slices.Equal(p.Secrets, []string{"wi-fi"}) || !slices.Equal(p.Stay, []string{"my stay"}) {
		t.Errorf("lists %q %q %q", p.Person, p.Secrets, p.Stay)
	}
}

// normalize keeps letters, digits, hyphens and the keyword star, drops
// accents, and makes everything else one space.
// Kills: each comparison of normalize's letter case negated, its ||
// made && (a digit, hyphen or star turned into a space, or punctuation
// kept).
func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Wi-Fi?":                  "wi-fi",
		"Café   CRÈME":            "cafe creme",
		"Room 12, floor 3.":       "room 12 floor 3",
		"refund*":                 "refund*",
		"l'adresse":               "l adresse",
		"check-in: 15h!":          "check-in 15h",
		"¿Dónde está la llave?":   "donde esta la llave",
		"a/b\\c_d":                "a b c d",
		"\t\n":                    "",
		"Schlüssel-Box":           "schlussel-box",
		"2 + 2 = 4":               "2 2 4",
		"what's the wifi-code??!": "what s the wifi-code",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// Keywords match whole words; a trailing * matches any ending; a later
// occurrence counts when an earlier one is only part of a word.
// Kills: the search loop's `j < 0` negated and its advance `i + j + 1`
// changed (the search restarts or skips), `padded[end] == ' '` negated
// (a keyword matched inside a longer word), `prefix ||` made &&.
func TestMatchesWholeWords(t *testing.T) {
	for _, c := range []struct {
		text, kw string
		want     bool
	}{
		{"cancel my booking", "cancel", true},
		{"i want to cancel", "cancel", true},
		{"cancellation", "cancel", false},
		{"cancellation", "cancel*", true},
		{"precancel", "cancel*", false},
		{"cancelled it and now cancel", "cancel", true},
		{"cancelled it and cancellation", "cancel", false},
		{"cancelled it and cancellation", "cancel*", true},
		{"the door code please", "door code", true},
		{"the door codes please", "door code", false},
		{"the door codes please", "door code*", true},
		{"", "cancel", false},
		{"cancel", "", false},
		{"a b a b c", "b c", true},
	} {
		if got := matches(c.text, c.kw); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.text, c.kw, got, c.want)
		}
	}
}

// A hyphen and a space are the same to a keyword, whichever side has it;
// spans are whole words (a prefix keyword's runs to the end of its word),
// never repeated, and at most max of them.
// Kills: `flat != text || flatKw != kw` with || made && or either
// comparison negated (the German compound and "check in" lose their
// match); `!dup && (max == 0 || len(out) < max)` with && made ||, max == 0
// negated or < made <= (a span twice, or more than max); the prefix span's
// `end++` made end-- (a span that ends inside its word); spansExact's stop
// `max > 0 && len(out) == max` with > made <=, == made != or && made ||
// (all spans where max asks for one, or one where it asks for two).
func TestSpansAcrossHyphens(t *testing.T) {
	for _, c := range []struct {
		text, kw string
		max      int
		want     [][2]int
	}{
		{"wie ist das wlan-passwort", "wlan", 0, [][2]int{{12, 16}}},
		{"when can we check in", "check-in", 0, [][2]int{{12, 20}}},
		{"check-in check in", "check in", 0, [][2]int{{9, 17}, {0, 8}}},
		{"check-in check in", "check in", 1, [][2]int{{9, 17}}},
		{"parkplatz gebuhr", "park*", 0, [][2]int{{0, 9}}},
		{"free parking here", "park*", 0, [][2]int{{5, 12}}},
		{"cancel and cancel again", "cancel", 0, [][2]int{{0, 6}, {11, 17}}},
		{"cancel and cancel again", "cancel", 1, [][2]int{{0, 6}}},
		{"cancel cancel cancel", "cancel", 2, [][2]int{{0, 6}, {7, 13}}},
	} {
		got := spans(c.text, c.kw, c.max)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("spans(%q, %q, %d) = %v, want %v", c.text, c.kw, c.max, got, c.want)
		}
	}
	if !matches(normalize("Wie ist das WLAN-Passwort?"), "wlan") {
		t.Error("the German compound WLAN-Passwort does not match wlan")
	}
}
