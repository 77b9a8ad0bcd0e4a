package speech

import (
	"strings"
	"unicode"
)

// Words splits s into lower-case words without punctuation; an apostrophe
// inside a word stays ("don't").
func Words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// WER is the word error rate of hypothesis against reference: the
// substitutions, deletions and insertions of the shortest edit (Levenshtein
// over words) divided by the reference's word count. An empty reference
// gives 0 for an empty hypothesis and 1 otherwise.
func WER(reference, hypothesis string) float64 {
	ref, hyp := Words(reference), Words(hypothesis)
	if len(ref) == 0 {
		if len(hyp) == 0 {
			return 0
		}
		return 1
	}
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(hyp)]) / float64(len(ref))
}
