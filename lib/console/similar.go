package console

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Grouping the questions nothing answered. Done here rather than with
// PostgreSQL's pg_trgm: grouping is clustering, not one similarity, the
// questions of a window are few (the newest maxGapQuestions), and an
// extension in the schema would be one more thing every restore and the
// backup verification must carry.
//
// A question becomes its content words: lower-cased, accents removed, the
// function words of the six languages the assistant speaks and the verbs
// every request uses ("bring", "allowed") dropped, and a plural or an
// -ing/-ed ending cut (so "parking" meets "park"). Two questions are
// alike when those words overlap (Jaccard), when their words share their
// letter trigrams (as pg_trgm compares, so "kayaks" meets "kayak rental"),
// or when the words written together do (so "hair dryer" meets
// "hairdryer" and "wifi" meets "wi-fi"). The threshold is high: two
// different gaps shown as one would hide one, while two groups of one gap
// still both show.

// similarEnough is the similarity at which a question joins a group.
const similarEnough = 0.5

// stopWords are function words and question fillers in English, Spanish,
// French, German, Italian and Portuguese (accents removed).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		a an the and or but if of to in on at by for from with about into over after before under is are was were be been being
		am do does did have has had can could will would shall should may might must i me my we our us you your he she it its
		they them their this that these those there here what which who whom whose when where why how any some no not yes
		please hi hello hey thanks thank there's it's i'm we're what's how's where's can't don't dont im also just
		get got there any anything something tell know want like need let lets ok okay much many more very too so
		bring allowed allow possible available find use provide provided borrow nearby near around close somewhere
		anywhere apartment house home place stay property
		el la los las un una unos unas y o pero si de del al en con por para sin sobre es son esta estan hay que como cuando
		donde quien cual cuanto cuanta mi mis tu tus su sus nos nuestro nuestra lo le les se me te yo tengo tenemos puedo
		podemos hola gracias por favor muy mas
		le la les un une des et ou mais si de du au aux en avec pour par sans sur est sont il elle ils elles nous vous je tu
		que qui quoi quand comment ou est-ce ce cette ces mon ma mes ton ta tes notre votre leur y a bonjour merci svp peut
		peux pouvons avez avons ai
		der die das ein eine einen einem einer und oder aber wenn von zu im in an auf mit fur ohne uber ist sind gibt es
		ich du er sie wir ihr mein meine unser unsere wie was wann wo wer welche kann konnen bitte hallo danke haben habe
		il lo la gli le un uno una e o ma se di da del della in con per su senza e sono c'e ce io tu noi voi mio mia nostro
		come cosa quando dove chi quale posso possiamo ciao grazie avete abbiamo
		o a os as um uma uns umas e ou mas se de do da dos das em no na nos nas com por para sem sobre sao esta estao tem
		eu voce nos meu minha nosso nossa como quando onde quem qual posso podemos ola obrigado obrigada
	`) {
		m[w] = true
	}
	return m
}()

// words returns the content words of q, in order.
func words(q string) []string {
	q = strings.ToLower(norm.NFD.String(q))
	var b strings.Builder
	for _, r := range q {
		switch {
		case unicode.Is(unicode.Mn, r):
			// an accent, split off by NFD
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	var out []string
	for _, w := range strings.Fields(b.String()) {
		w = strings.Trim(w, "'")
		if w == "" || stopWords[w] {
			continue
		}
		if w = stem(w); stopWords[w] {
			continue
		}
		out = append(out, w)
	}
	return out
}

// stem cuts an English plural or -ing/-ed ending (and a Romance plural
// -s) off a word long enough to keep its meaning.
func stem(w string) string {
	n := len([]rune(w))
	switch {
	case n >= 6 && strings.HasSuffix(w, "ing"):
		return strings.TrimSuffix(w, "ing")
	case n >= 6 && strings.HasSuffix(w, "ed"):
		return strings.TrimSuffix(w, "ed")
	case n >= 4 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return strings.TrimSuffix(w, "s")
	}
	return w
}

// shape is what similarity compares of one question.
type shape struct {
	words    map[string]bool
	trigrams map[string]bool // of each word, padded as pg_trgm pads
	joined   map[string]bool // of the words written together
}

func trigrams(into map[string]bool, w string) {
	r := []rune("  " + w + " ")
	for i := 0; i+3 <= len(r); i++ {
		into[string(r[i:i+3])] = true
	}
}

func shapeOf(q string) shape {
	ws := words(q)
	s := shape{words: map[string]bool{}, trigrams: map[string]bool{}, joined: map[string]bool{}}
	if len(ws) == 0 {
		return s
	}
	for _, w := range ws {
		s.words[w] = true
		trigrams(s.trigrams, w)
	}
	trigrams(s.joined, strings.Join(ws, ""))
	return s
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	in := 0
	for k := range a {
		if b[k] {
			in++
		}
	}
	return float64(in) / float64(len(a)+len(b)-in)
}

// similarity of two questions, from 0 to 1.
func similarity(a, b shape) float64 {
	return max(jaccard(a.words, b.words), jaccard(a.trigrams, b.trigrams), jaccard(a.joined, b.joined))
}

// Similarity is how alike two questions are, from 0 to 1.
func Similarity(a, b string) float64 { return similarity(shapeOf(a), shapeOf(b)) }

// Question is one question nothing answered.
type Question struct {
	Text string
	// Reply is the reply (the hand-off) it got, for the conversation page.
	Reply    string
	Language string
	Listing  string
	At       int64 // Unix seconds
}

// Gap is a group of alike questions.
type Gap struct {
	Examples []Question // newest first
	Count    int
	Words    []string // the content words most of them share
	Last     int64
}

// maxExamples bounds the examples a group shows.
const maxExamples = 5

// Group puts alike questions together, the largest group first. qs are
// newest first; each question joins the group whose first question it is
// most alike, if alike enough, else starts one. The order of qs decides
// ties, so the result is the same for the same input.
func Group(qs []Question) []Gap {
	type group struct {
		gap   Gap
		head  shape
		words map[string]int
	}
	var gs []*group
	for _, q := range qs {
		s := shapeOf(q.Text)
		if len(s.words) == 0 {
			continue
		}
		var best *group
		bestSim := similarEnough
		for _, g := range gs {
			if sim := similarity(s, g.head); sim >= bestSim {
				best, bestSim = g, sim
				if sim == 1 {
					break
				}
			}
		}
		if best == nil {
			best = &group{head: s, words: map[string]int{}, gap: Gap{Last: q.At}}
			gs = append(gs, best)
		}
		best.gap.Count++
		if len(best.gap.Examples) < maxExamples {
			best.gap.Examples = append(best.gap.Examples, q)
		}
		for w := range s.words {
			best.words[w]++
		}
		best.gap.Last = max(best.gap.Last, q.At)
	}
	out := make([]Gap, len(gs))
	for i, g := range gs {
		for w, n := range g.words {
			if 2*n >= g.gap.Count {
				g.gap.Words = append(g.gap.Words, w)
			}
		}
		sort.Slice(g.gap.Words, func(a, b int) bool {
			wa, wb := g.gap.Words[a], g.gap.Words[b]
			if g.words[wa] != g.words[wb] {
				return g.words[wa] > g.words[wb]
			}
			return wa < wb
		})
		out[i] = g.gap
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Last > out[j].Last
	})
	return out
}
