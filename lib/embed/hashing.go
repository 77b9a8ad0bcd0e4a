package embed

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// HashingDimensions is the default size of Hashing vectors: enough buckets
// that the features of a chunk of a few hundred words rarely collide.
const HashingDimensions = 256

// Feature weights. Word stems carry the match; bigrams reward phrases
// ("quiet hours"); character trigrams give partial credit to other
// inflections, compounds and typos ("wifi" ~ "wi-fi", "checkin" ~ "check").
const (
	unigramWeight = 1.0
	bigramWeight  = 0.6
	trigramWeight = 0.3
)

// Hashing is an offline, deterministic embedder: feature hashing of
// normalised, lightly stemmed word unigrams and bigrams and of character
// trigrams, with English stopwords dropped, signed, into a fixed number of
// dimensions, L2-normalised.
//
// It is lexical, not semantic: "car" and "vehicle" share nothing, and the
// language does not matter beyond the shared spelling of words. Use it for
// tests and to run without an embeddings provider; configure a real model
// for answers that need meaning. Its output is part of the stored index:
// changing the algorithm means re-indexing, so Model carries a version.
type Hashing struct {
	dims int
}

// NewHashing returns a Hashing embedder of dims dimensions
// (HashingDimensions when dims <= 0).
func NewHashing(dims int) *Hashing {
	if dims <= 0 {
		dims = HashingDimensions
	}
	return &Hashing{dims: dims}
}

// Dimensions is the vector size.
func (h *Hashing) Dimensions() int { return h.dims }

// Model names the algorithm and its size.
func (h *Hashing) Model() string { return fmt.Sprintf("hashing-v1-%d", h.dims) }

// Embed returns one vector per text. A text without words gives the zero
// vector.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.Vector(t)
	}
	return out, nil
}

// Vector embeds one text.
func (h *Hashing) Vector(text string) []float32 {
	content := withoutStopwords(Words(text))
	// Repeats count sub-linearly: a chunk that says "parking" five times is
	// not five times about parking.
	stemTF := map[string]int{}
	wordTF := map[string]int{}
	bigramTF := map[string]int{}
	prev := ""
	for i, w := range content {
		st := Stem(w)
		stemTF[st]++
		wordTF[w]++
		if i > 0 {
			bigramTF[prev+" "+st]++
		}
		prev = st
	}
	v := make([]float64, h.dims)
	add := func(feature string, weight float64) {
		sum := fnv64a(feature)
		if sum>>63 == 1 {
			weight = -weight
		}
		v[sum%uint64(h.dims)] += weight
	}
	// Sorted, so that float sums and hence vectors are bit-for-bit stable.
	for _, st := range slices.Sorted(maps.Keys(stemTF)) {
		add("w\x00"+st, unigramWeight*(1+math.Log(float64(stemTF[st]))))
	}
	for _, w := range slices.Sorted(maps.Keys(wordTF)) {
		tf := 1 + math.Log(float64(wordTF[w]))
		// A word's trigrams share one weight, so long words do not
		// outweigh short ones.
		tris := trigrams(w)
		tw := trigramWeight * tf / math.Sqrt(float64(len(tris)))
		for _, tri := range tris {
			add("c\x00"+tri, tw)
		}
	}
	for _, b := range slices.Sorted(maps.Keys(bigramTF)) {
		add("b\x00"+b, bigramWeight*(1+math.Log(float64(bigramTF[b]))))
	}
	var norm2 float64
	for _, x := range v {
		norm2 += x * x
	}
	out := make([]float32, h.dims)
	if norm2 == 0 {
		return out
	}
	inv := 1 / math.Sqrt(norm2)
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out
}

// Words splits text into normalised words: Unicode compatibility forms,
// accents removed, lower case, letters and digits only. A hyphenated or
// apostrophised compound also yields its joined form ("wi-fi" gives "wi",
// "fi" and "wifi"; "check-in" gives "check", "in" and "checkin").
func Words(text string) []string {
	var words []string
	var word, compound strings.Builder
	parts := 0
	flushWord := func() {
		if word.Len() > 0 {
			words = append(words, word.String())
			compound.WriteString(word.String())
			parts++
			word.Reset()
		}
	}
	flushCompound := func() {
		flushWord()
		if parts > 1 {
			words = append(words, compound.String())
		}
		compound.Reset()
		parts = 0
	}
	runes := []rune(norm.NFKD.String(text))
	for i, r := range runes {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining accent stripped by NFKD
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		case (r == '-' || r == '\'' || r == '’') && word.Len() > 0 && i+1 < len(runes) && (unicode.IsLetter(runes[i+1]) || unicode.IsDigit(runes[i+1])):
			flushWord()
		default:
			flushCompound()
		}
	}
	flushCompound()
	return words
}

// Stem strips the commonest English inflections, enough for "parking" to
// meet "park" and "hours" to meet "hour": a light cousin of the Snowball
// stemmer PostgreSQL's full-text index uses. Query and chunk go through the
// same function, so consistency matters more than linguistics.
func Stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"):
		return w[:n-2]
	case n >= 6 && strings.HasSuffix(w, "ing") && hasVowel(w[:n-3]):
		return undouble(w[:n-3])
	case n >= 5 && strings.HasSuffix(w, "ed") && hasVowel(w[:n-2]):
		return undouble(w[:n-2])
	case n >= 4 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:n-1]
	}
	return w
}

func hasVowel(s string) bool { return strings.ContainsAny(s, "aeiouy") }

// undouble turns "runn" (from "running") into "run"; "fall" stays.
func undouble(s string) string {
	n := len(s)
	if n >= 3 && s[n-1] == s[n-2] && !strings.ContainsRune("aeioulsz", rune(s[n-1])) {
		return s[:n-1]
	}
	return s
}

// stopwords are frequent English function words; they carry no topic.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but if of to in on at by for from with about as into
		is are was were be been being am do does did doing have has had having will would can could
		shall should may might must i me my mine we us our ours you your yours he him his she her hers
		it its they them their theirs this that these those there here what which who whom whose when
		where why how all any some no not so than too very just also please s t d ll re ve m`) {
		stopwords[w] = true
	}
}

// withoutStopwords drops stopwords unless nothing else is left.
func withoutStopwords(words []string) []string {
	out := make([]string, 0, len(words))
	for _, w := range words {
		if !stopwords[w] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return words
	}
	return out
}

// trigrams of w with boundary marks: "park" gives "^pa", "par", "ark", "rk$".
func trigrams(w string) []string {
	r := []rune("^" + w + "$")
	if len(r) < 3 {
		return []string{string(r)}
	}
	out := make([]string, 0, len(r)-2)
	for i := 0; i+3 <= len(r); i++ {
		out = append(out, string(r[i:i+3]))
	}
	return out
}

// fnv64a is FNV-1a, written out so the vectors never depend on a library's
// choice of hash.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
