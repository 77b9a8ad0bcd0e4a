package answer

import (
	"strings"

	"github.com/harborstays/concierge/lib/retrieval"
)

// stop words of the offline answerer's sentence scoring (English; other
// languages still score on their content words).
var stop = map[string]bool{}

func init() {
	// Greetings and filler carry no question.
	for _, w := range strings.Fields("a an and are as at be can could do does for from have how i in is it me my of on or our please the there to us we what when where which who will with would you your hi hello hey thanks thank quick question") {
		stop[w] = true
	}
}

func words(s string) []string {
	var out []string
	for _, w := range strings.Fields(normalize(strings.ReplaceAll(s, "-", " "))) {
		if !stop[w] && len(w) > 1 {
			out = append(out, w)
		}
	}
	return out
}

// related treats words sharing a 4-letter stem as the same ("parking",
// "park"; "checkout", "check").
func related(a, b string) bool {
	if a == b {
		return true
	}
	n := 4
	if len(a) < n || len(b) < n {
		return false
	}
	return a[:n] == b[:n]
}

func sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			if (line[i] == '.' || line[i] == '!' || line[i] == '?') && (i+1 == len(line) || line[i+1] == ' ') {
				if s := strings.TrimSpace(line[start : i+1]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
		if s := strings.TrimSpace(line[start:]); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// offline answers by quoting the sentences of the best passages that share
// the most words with the question, with their sources. It answers only
// when some sentence shares a content word; otherwise a person should.
func offline(q string, hits []retrieval.Hit) (Result, bool) {
	qw := words(q)
	type cand struct {
		text  string
		hit   int
		score int
	}
	var best []cand
	for hi, h := range hits {
		for _, s := range sentences(h.Text) {
			score := 0
			for _, w := range words(s) {
				for _, x := range qw {
					if related(w, x) {
						score++
						break
					}
				}
			}
			if score > 0 {
				best = append(best, cand{s, hi, score})
			}
		}
	}
	if len(best) == 0 {
		return Result{}, false
	}
	// The two best sentences, ties to the better-ranked passage, shown in
	// passage order.
	top := best[0]
	for _, c := range best[1:] {
		if c.score > top.score || (c.score == top.score && c.hit < top.hit) {
			top = c
		}
	}
	chosen := []cand{top}
	var second *cand
	for i, c := range best {
		if c.text == top.text {
			continue
		}
		if second == nil || c.score > second.score || (c.score == second.score && c.hit < second.hit) {
			second = &best[i]
		}
	}
	if second != nil && second.score >= top.score-1 {
		chosen = append(chosen, *second)
	}
	var b strings.Builder
	seen := map[int]bool{}
	var cites []Citation
	for _, c := range chosen {
		b.WriteString(c.text)
		b.WriteByte(' ')
		if !seen[c.hit] {
			seen[c.hit] = true
			cites = append(cites, Citation{ID: hits[c.hit].ID, Title: hits[c.hit].Title})
		}
	}
	text := strings.TrimSpace(b.String())
	var src []string
	for _, c := range cites {
		src = append(src, c.Title)
	}
	text += "\n\n(Source: " + strings.Join(src, "; ") + ")"
	return Result{Text: text, Language: "en", Citations: cites}, true
}
