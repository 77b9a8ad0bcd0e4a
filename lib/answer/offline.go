package answer

import (
	"maps"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/retrieval"
)

// stop words of the offline answerer's sentence scoring (English; other
// languages still score on their content words).
var stop = map[string]bool{}

func init() {
	// Greetings and filler carry no question; nor do the words for the
	// home itself ("is there a washer in the apartment?" asks about a
	// washer), nor "check" ("can you check?" is not about check-in), nor
	// days and times ("on Saturday" must not quote a call on a Saturday).
	for _, w := range strings.Fields("a an and are as at be can could do does for from have how i in is it me my of on or our please the there to us we what when where which who will with would you your hi hello hey thanks thank quick question " +
		"apartment house flat home place property check " +
		"today tonight tomorrow yesterday morning afternoon evening night week weekend monday tuesday wednesday thursday friday saturday sunday") {
		stop[w] = true
	}
}

func words(s string) []string {
	var out []string
	for _, w := range strings.Fields(normalize(strings.ReplaceAll(s, "-", " "))) {
		if content(w) {
			out = append(out, w)
		}
	}
	return out
}

func content(w string) bool { return !stop[w] && len(w) > 1 }

// modifiers maps each content word of the question to the content word
// right before it ("hair" of "dryer" in "a hair dryer"). A quote answers
// the word only if it also answers its modifier: "Amenities: Dryer" is no
// answer to a hair dryer. The head noun may go unmatched ("washing
// machine" is a Washer), so a coffee maker still answers a coffee grinder.
func modifiers(s string) map[string]string {
	m := map[string]string{}
	prev := ""
	for _, w := range strings.Fields(normalize(strings.ReplaceAll(s, "-", " "))) {
		if !content(w) {
			prev = ""
			continue
		}
		if prev != "" {
			m[w] = prev
		}
		prev = w
	}
	return m
}

// answers is the set of question words qw that text answers: a word it
// shares (see related) whose modifier, if any, it shares too.
func answers(text string, qw []string, mods map[string]string) map[string]bool {
	tw := words(text)
	has := func(x string) bool {
		for _, w := range tw {
			if related(w, x) {
				return true
			}
		}
		return false
	}
	out := map[string]bool{}
	for _, x := range qw {
		if has(x) && (mods[x] == "" || has(mods[x])) {
			out[x] = true
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

// clauses splits a sentence at semicolons, each clause ending like a
// sentence.
func clauses(s string) []string {
	parts := strings.Split(s, "; ")
	if len(parts) == 1 {
		return parts
	}
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(strings.TrimRight(p, ".;"))
		if p == "" {
			continue
		}
		if i > 0 {
			p = strings.ToUpper(p[:1]) + p[1:]
		}
		out = append(out, p+".")
	}
	return out
}

// offlineAnswer is what the offline answerer says.
type offlineAnswer struct {
	parts []string
	cites []Citation
}

func (a *offlineAnswer) add(text string, cs []Citation) {
	a.parts = append(a.parts, text)
	for _, c := range cs {
		dup := false
		for _, o := range a.cites {
			dup = dup || o.ID == c.ID
		}
		if !dup {
			a.cites = append(a.cites, c)
		}
	}
}

// offline answers without a model, in language l: each intent the
// question asks from its most specific source (the reservation, else the
// listing, else the shared policies, never two of them), and the rest of
// the question by quoting the passages' best sentences. ok is false when a
// part of the question is not answered: a person should answer it.
func offline(l string, intents []*Intent, rest []string, st *guests.Stay, now time.Time, hits []retrieval.Hit) (Result, bool) {
	var a offlineAnswer
	for _, x := range intents {
		text, cs, ok := x.answer(l, st, now, hits)
		if !ok {
			return Result{}, false
		}
		a.add(text, cs)
	}
	// The rest, sentence by sentence: each question its own best quote.
	// Greetings and filler ("Hi!", "Quick question") have no content word.
	for _, s := range rest {
		if len(words(s)) == 0 {
			continue
		}
		text, cs, ok := quoteBest(s, l, hits)
		switch {
		case ok:
			a.add(text, cs)
		case isQuestion(s):
			// A question nobody answered: a person should, rather than
			// the guest reading half an answer.
			return Result{}, false
		}
	}
	if len(a.parts) == 0 {
		return Result{}, false
	}
	text := strings.Join(a.parts, "\n\n")
	var src []string
	for _, c := range a.cites {
		title := c.Title
		if c.ID == stayCitation {
			title = reservationTitle.In(l)
		}
		src = append(src, title)
	}
	text += "\n\n" + sourceLine.Format(l, strings.Join(src, "; "))
	return Result{Text: text, Language: l, Citations: a.cites}, true
}

func isQuestion(s string) bool { return strings.ContainsAny(s, "?¿") }

// quoteBest answers text by quoting the sentences of the best passages
// that share the most words with it. A second sentence is quoted only when
// it answers a word of the question the first does not, and only from the
// same kind of source (a listing's sentence is never followed by a shared
// default that may contradict it).
func quoteBest(text, l string, hits []retrieval.Hit) (string, []Citation, bool) {
	qw, mods := words(text), modifiers(text)
	type cand struct {
		text    string
		hit     int
		score   int
		covered map[string]bool
	}
	var best []cand
	for hi, h := range hits {
		for _, s := range sentences(h.Text) {
			c := cand{text: s, hit: hi, covered: map[string]bool{}}
			// A list is judged item by item: its label and the items
			// that answer a word count, the others are pruned.
			label, items, isList := list(s)
			if isList {
				var kept []string
				for _, it := range items {
					if a := answers(it, qw, mods); len(a) > 0 {
						kept = append(kept, it)
						maps.Copy(c.covered, a)
					}
				}
				if len(kept) > 0 {
					c.text = label + ": " + strings.Join(kept, ", ") + "."
				}
				// Asked for the label ("which amenities?"): the whole list.
				maps.Copy(c.covered, answers(label, qw, mods))
			} else {
				c.covered = answers(s, qw, mods)
			}
			if c.score = len(c.covered); c.score > 0 {
				best = append(best, c)
			}
		}
	}
	if len(best) == 0 {
		return "", nil, false
	}
	better := func(a, b cand) bool { return a.score > b.score || (a.score == b.score && a.hit < b.hit) }
	top := best[0]
	for _, c := range best[1:] {
		if better(c, top) {
			top = c
		}
	}
	chosen := []cand{top}
	var second *cand
	for i, c := range best {
		if c.text == top.text || hits[c.hit].Kind != hits[top.hit].Kind || c.score < top.score-1 {
			continue
		}
		adds := false
		for x := range c.covered {
			adds = adds || !top.covered[x]
		}
		if adds && (second == nil || better(c, *second)) {
			second = &best[i]
		}
	}
	if second != nil {
		chosen = append(chosen, *second)
	}
	var quoted []string
	var cites []Citation
	seen := map[int]bool{}
	for _, c := range chosen {
		quoted = append(quoted, c.text)
		if !seen[c.hit] {
			seen[c.hit] = true
			cites = append(cites, Citation{ID: hits[c.hit].ID, Title: hits[c.hit].Title})
		}
	}
	body := strings.Join(quoted, " ")
	if l == lang.EN {
		return body, cites, true
	}
	return restLead.In(l) + " " + quoteMarks(l, body), cites, true
}

// list splits a long list ("Amenities: Wireless Internet, Kitchen,
// Washer, ...") into its label and items; ok is false for other sentences.
func list(s string) (label string, items []string, ok bool) {
	label, rest, ok := strings.Cut(s, ": ")
	if !ok || strings.Count(rest, ", ") < 3 {
		return "", nil, false
	}
	return label, strings.Split(strings.TrimSuffix(rest, "."), ", "), true
}

// prune keeps, of a long list, the label and the items keep accepts; other
// sentences, and a list none of whose items keep accepts, are returned as
// they are.
func prune(s string, keep func(item string) bool) string {
	label, items, ok := list(s)
	if !ok {
		return s
	}
	var kept []string
	for _, it := range items {
		if keep(it) {
			kept = append(kept, it)
		}
	}
	if len(kept) == 0 {
		return s
	}
	return label + ": " + strings.Join(kept, ", ") + "."
}

// stayCitation is the citation id of the reservation's facts, as the model
// cites them.
const stayCitation = "stay"

// quote is what one source says for an intent.
type quote struct {
	listing   string // listing id; "" for shared knowledge
	name      string // the listing's name
	section   string // the first section that answered
	sentences []string
	cites     []Citation
}

// answer answers intent x in language l from the most specific source.
func (x *Intent) answer(l string, st *guests.Stay, now time.Time, hits []retrieval.Hit) (string, []Citation, bool) {
	listing := x.quotes(hits, "listing", st)
	if t, tmpl := x.stayFact(st); !t.IsZero() {
		text := tmpl.Format(l, lang.OnDay(l, t, t.Year() != now.In(t.Location()).Year()), lang.Clock(l, t))
		cites := []Citation{{ID: stayCitation, Title: "Your reservation"}}
		// The listing's own sentence is cited when it states the same
		// time (the reservation took it from there); one that differs is
		// older or newer policy and is neither quoted nor cited.
		for _, q := range listing {
			if q.listing == st.ListingID && containsClock(strings.Join(q.sentences, " "), t) {
				cites = append(cites, q.cites...)
			}
		}
		return text, cites, true
	}
	// Without a stay the homes are named: a stranger asks about several,
	// and "No parties" is one home's rule, not every home's.
	named := st == nil
	if len(listing) > 0 {
		return x.render(l, listing, listingLead, named), allCites(listing), true
	}
	if x.Shared {
		if shared := x.quotes(hits, "knowledge", nil); len(shared) > 0 {
			return x.render(l, shared, sharedLead, false), allCites(shared), true
		}
	}
	return "", nil, false
}

func (x *Intent) stayFact(st *guests.Stay) (time.Time, lang.Text) {
	if st == nil {
		return time.Time{}, nil
	}
	// The stay's local day and clock, never the instant read in UTC: a
	// reservation stored before its listing has no time zone to read it in.
	switch x.Fact {
	case checkInFact:
		if t, ok := st.Arrival(); ok {
			return t, checkInText
		}
	case checkOutFact:
		if t, ok := st.Departure(); ok {
			return t, checkOutText
		}
	}
	return time.Time{}, nil
}

func containsClock(s string, t time.Time) bool {
	return strings.Contains(s, t.Format("15:04")) || strings.Contains(s, t.Format("3:04 PM"))
}

func location(tz string) *time.Location {
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.UTC
}

func allCites(qs []quote) []Citation {
	var out []Citation
	for _, q := range qs {
		out = append(out, q.cites...)
	}
	return out
}

// maxListings bounds how many homes one answer to a stranger quotes.
const maxListings = 3

// quotes collects, per listing (or for the shared knowledge), the
// sentences of hits of kind that answer the intent. A guest with a stay
// hears about the stay's home only, when the index has it.
func (x *Intent) quotes(hits []retrieval.Hit, kind string, st *guests.Stay) []quote {
	var cands []retrieval.Hit
	for _, h := range hits {
		if h.Kind != kind || (kind == "listing" && rank(x.Sections, h.Section) < 0) {
			continue
		}
		cands = append(cands, h)
	}
	if kind == "knowledge" && len(x.cues) == 0 {
		// Without cues every shared sentence would "answer".
		return nil
	}
	if st != nil && kind == "listing" {
		var own []retrieval.Hit
		for _, h := range cands {
			if h.Owner.ListingID == st.ListingID {
				own = append(own, h)
			}
		}
		if len(own) > 0 {
			cands = own
		}
	}
	// Sections in the intent's order, then as the index ranked them.
	order := func(h retrieval.Hit) int {
		if kind == "listing" {
			return rank(x.Sections, h.Section)
		}
		return 0
	}
	var out []quote
	byListing := map[string]int{}
	for pass := 0; pass < len(x.Sections)+1; pass++ {
		for _, h := range cands {
			if order(h) != pass {
				continue
			}
			key := h.Owner.ListingID
			i, ok := byListing[key]
			if !ok {
				if len(out) == maxListings {
					continue
				}
				i = len(out)
				byListing[key] = i
				out = append(out, quote{listing: key, name: listingName(h.Title)})
			}
			q := &out[i]
			if !x.AllSections && q.section != "" && q.section != h.Section {
				// This home answered from a better section already.
				continue
			}
			added := false
			for _, s := range sentences(h.Text) {
				units := []string{s}
				if x.Clauses {
					units = clauses(s)
				}
				for _, u := range units {
					if x.Max > 0 && len(q.sentences) >= x.Max {
						break
					}
					if !x.answers(u) || contains(q.sentences, u) {
						continue
					}
					q.sentences = append(q.sentences, prune(u, x.answers))
					added = true
				}
			}
			if added {
				q.section = h.Section
				q.cites = append(q.cites, Citation{ID: h.ID, Title: h.Title})
			}
		}
	}
	kept := out[:0]
	for _, q := range out {
		if len(q.sentences) > 0 {
			kept = append(kept, q)
		}
	}
	return kept
}

func rank(sections []string, s string) int {
	for i, x := range sections {
		if x == s {
			return i
		}
	}
	return -1
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// listingName is a listing chunk title's listing part ("Harbor View Loft
// — House rules" → "Harbor View Loft").
func listingName(title string) string {
	name, _, _ := strings.Cut(title, " — ")
	return strings.TrimSpace(name)
}

// render presents quoted sentences in language l: as they are in English,
// inside a localized frame elsewhere (the listing's own English words are
// quoted, never translated), one line per home, named, when several
// answer or when named.
func (x *Intent) render(l string, qs []quote, lead lang.Text, named bool) string {
	named = named || len(qs) > 1
	var lines []string
	for _, q := range qs {
		body := strings.Join(q.sentences, " ")
		if x.Frame != nil {
			body = strings.Join(q.sentences, "\n")
		} else if l != lang.EN {
			body = quoteMarks(l, body)
		}
		if named && q.name != "" {
			body = "- " + q.name + ": " + body
		}
		lines = append(lines, body)
	}
	sep := " "
	if named || x.Frame != nil {
		sep = "\n"
	}
	body := strings.Join(lines, sep)
	switch {
	case x.Frame != nil:
		return x.Frame.Format(l, body)
	case l == lang.EN:
		return body
	}
	return lead.Format(l, x.Topic.In(l)) + sep + body
}

func quoteMarks(l, s string) string {
	switch l {
	case lang.DE:
		return "„" + s + "“"
	case lang.FR:
		return "« " + s + " »"
	}
	return "«" + s + "»"
}
