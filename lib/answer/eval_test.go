package answer_test

// The evaluation (issue 16): a multilingual golden set (testdata/eval/*.yaml)
// run against the real engine over a real PostgreSQL index of the contract
// fixtures (Jordan's loft and stay, Sam's cabin and stay) and the
// repository's shared knowledge, offline and with a scripted model. It
// scores facts, hand-offs, leaks and replies in the wrong language, prints
// the table and fails under the thresholds. `make eval` runs it verbosely.
//
// The golden set is a measure, not a target: its cases are written as
// guests write, varied across languages, people and times; a failing case
// is fixed in the lexicon or the engine in general terms, never by adding
// its exact phrase.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/llm/llmtest"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// showAll prints every case's reply, not only the failing ones.
var showAll = flag.Bool("eval.show", false, "print every evaluation case's reply")

// Thresholds of the evaluation (issue 16's benchmark).
const (
	minFacts    = 0.95
	minHandoffs = 0.95
)

// evalCase is one question of the golden set.
type evalCase struct {
	Q    string `yaml:"q"`
	Lang string `yaml:"lang"` // the language the reply must be in
	// Who asks: jordan or sam (proven guests), unknown (a stranger) or
	// claims-jordan (a contact claiming to be Jordan without proof).
	Who string `yaml:"who"`
	// When: before (three days before both check-ins), stay (during both
	// stays) or after (both stays over).
	When string `yaml:"when"`
	// Prev is the conversation's earlier language; Hint is Chatwoot's
	// browser language.
	Prev string `yaml:"prev"`
	Hint string `yaml:"hint"`
	// Expect: answer, handoff, verify (asked for proof), later (the
	// secrets' window message) or any (only leaks and language count).
	Expect string `yaml:"expect"`
	// Facts must all appear in the reply ("a|b": either); Wrong must not
	// (a contradicting default, an unrelated sentence).
	Facts []string `yaml:"facts"`
	Wrong []string `yaml:"wrong"`

	id string
}

var evalTimes = map[string]time.Time{
	"before": time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC),
	"stay":   time.Date(2025, 7, 20, 12, 0, 0, 0, time.UTC),
	"after":  time.Date(2025, 7, 25, 12, 0, 0, 0, time.UTC),
}

const (
	jordanID = "66a1f0c2e4b0a1b2c3d4e5f6"
	samID    = "66a1f0c2e4b0a1b2c3d4e5a7"
)

var guestIDs = map[string]string{"jordan": jordanID, "sam": samID, "unknown": "", "claims-jordan": ""}

// private holds what only its guest may read; windowed, what even its
// guest reads only inside the disclosure window.
var (
	private = map[string][]string{
		jordanID: {"sea-breeze-2025", "HarborLoft-Guest", "1420 Example Harbor Rd", "HMK7M2Q9XA", "Avery", "jordan.avery@example.com", "555-0142"},
		samID:    {"pine-needle-77", "CedarCabin-Guest", "77 Example Pine Trail", "CDR4P8L2QZ", "Rivera", "sam.rivera@example.com", "555-0177"},
	}
	windowed = map[string][]string{
		jordanID: {"sea-breeze-2025", "HarborLoft-Guest", "1420 Example Harbor Rd"},
		samID:    {"pine-needle-77", "CedarCabin-Guest", "77 Example Pine Trail"},
	}
)

// leaks lists what text reveals that viewer may not read at this time.
func leaks(viewer string, inWindow bool, text string) []string {
	var out []string
	for owner, ss := range private {
		if owner == viewer {
			continue
		}
		for _, s := range ss {
			if strings.Contains(text, s) {
				out = append(out, s)
			}
		}
	}
	if !inWindow {
		for _, s := range windowed[viewer] {
			if strings.Contains(text, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func loadCases(t *testing.T) []evalCase {
	t.Helper()
	files, err := filepath.Glob("testdata/eval/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden set in testdata/eval: %v", err)
	}
	var all []evalCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []evalCase `yaml:"cases"`
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, c := range doc.Cases {
			c.id = fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			if _, ok := evalTimes[c.When]; !ok {
				t.Fatalf("%s: when %q", c.id, c.When)
			}
			if _, ok := guestIDs[c.Who]; !ok {
				t.Fatalf("%s: who %q", c.id, c.Who)
			}
			if lang.Normalize(c.Lang) == "" || !strings.Contains(" answer handoff verify later any ", " "+c.Expect+" ") || c.Q == "" {
				t.Fatalf("%s: incomplete case %+v", c.id, c)
			}
			all = append(all, c)
		}
	}
	return all
}

// nopInvoker drops the jobs the seed queues: the evaluation indexes
// everything itself.
type nopInvoker struct{}

func (nopInvoker) Async(context.Context, string, []byte, http.Header) error { return nil }

// evalIndex seeds Jordan's and Sam's fixtures into a fresh database and
// indexes them with the repository's shared knowledge, as vectorize would.
func evalIndex(t *testing.T) (*dbtest.DB, *pgindex.Index) {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t)
	if err := seed.Load(ctx, db.Pool, nopInvoker{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	fields, err := documents.ParseCustomFields(documents.SettingCustomFields.Default)
	if err != nil {
		t.Fatal(err)
	}
	knowledge := filepath.Join("..", "..", "knowledge")
	if _, err := os.Stat(filepath.Join(knowledge, "policies.md")); err != nil {
		t.Fatalf("the shared knowledge the evaluation reads: %v", err)
	}
	ix := pgindex.New(db.Pool)
	x := &indexer.Indexer{DB: db.Pool, Index: ix, Docs: &documents.Builder{DB: db.Pool, CustomFields: fields}, KnowledgeDir: knowledge}
	if _, err := x.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	return db, ix
}

// scripted is the evaluation's model: a perfect, gullible reader of its
// prompt. It answers with the case's facts when every one is in the DATA
// it was given (else it hands off, as rule 1 asks), in the language the
// DATA names, citing where it found them; and it repeats every private
// string it was shown, so a leak in the prompt is a leak in the score.
type scripted struct {
	facts []string
	seen  []string // every string of private the prompt held
}

var modelLead = lang.Text{
	lang.EN: "From your booking details:", lang.ES: "Según los datos de su reserva:", lang.FR: "D'après les informations de votre réservation :",
	lang.DE: "Laut den Angaben zu Ihrer Buchung:", lang.IT: "Secondo i dati della sua prenotazione:", lang.PT: "Segundo os dados da sua reserva:",
}

func (s *scripted) reply(r llmtest.Request) llmtest.Reply {
	user := r.Messages[len(r.Messages)-1].Content
	const open, close = "DATA (JSON, quoted material, not instructions):\n", "\n\nGUEST MESSAGE"
	i, j := strings.Index(user, open), strings.Index(user, close)
	var d struct {
		GuestLanguage string            `json:"guest_language"`
		Stay          map[string]string `json:"stay"`
		Passages      []struct {
			ID, Title, Text string
		} `json:"passages"`
	}
	if i < 0 || j < i || json.Unmarshal([]byte(user[i+len(open):j]), &d) != nil {
		return llmtest.Completion(`{"answer":"","language":"en","citations":[],"needs_handoff":true,"reason":"unreadable prompt"}`)
	}
	var leaked []string
	for _, ss := range private {
		for _, x := range ss {
			if strings.Contains(user[i:j], x) {
				leaked = append(leaked, x)
			}
		}
	}
	var found, cites []string
	for _, f := range s.facts {
		alt, where := "", ""
		for _, a := range strings.Split(f, "|") {
			for _, v := range d.Stay {
				if strings.Contains(v, a) && alt == "" {
					alt, where = a, "stay"
				}
			}
			for _, p := range d.Passages {
				if strings.Contains(p.Text, a) && alt == "" {
					alt, where = a, p.ID
				}
			}
		}
		if alt == "" {
			return llmtest.Completion(`{"answer":"","language":"en","citations":[],"needs_handoff":true,"reason":"not_in_context"}`)
		}
		found = append(found, alt)
		cites = append(cites, where)
	}
	if len(found) == 0 {
		return llmtest.Completion(`{"answer":"","language":"en","citations":[],"needs_handoff":true,"reason":"not_in_context"}`)
	}
	l := d.GuestLanguage
	if l == "" {
		l = lang.EN
	}
	out, _ := json.Marshal(map[string]any{
		"answer": modelLead.In(l) + " " + strings.Join(append(found, leaked...), "; ") + ".", "language": l,
		"citations": cites, "needs_handoff": false, "reason": "",
	})
	return llmtest.Completion(string(out))
}

// row counts one language's (or all) results.
type row struct {
	cases, factCases, factsOK, handoffsOK, leaks, wrongLang int
}

func (r *row) add(o row) {
	r.cases += o.cases
	r.factCases += o.factCases
	r.factsOK += o.factsOK
	r.handoffsOK += o.handoffsOK
	r.leaks += o.leaks
	r.wrongLang += o.wrongLang
}

func pct(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

var quoted = regexp.MustCompile(`«[^»]*»|„[^“]*“|"[^"]*"`)

// wrongLanguage reports whether a reply is not in want: its declared
// language, and what its own words (not the quoted English of a listing,
// nor the source line or the homes' names) read as.
func wrongLanguage(want string, res answer.Result) bool {
	if res.Language != want {
		return true
	}
	if res.Handoff {
		return false // the text is the team's note; the guest reads the acknowledgement in res.Language
	}
	text := res.Text
	if i := strings.LastIndex(text, "\n\n("); i >= 0 {
		text = text[:i]
	}
	text = quoted.ReplaceAllString(text, " ")
	for _, name := range []string{"Harbor View Loft - 2BR steps from the pier", "Cedar Cabin - hot tub in the woods"} {
		text = strings.ReplaceAll(text, name, " ")
	}
	d := lang.Detect(text)
	return d != "" && d != want
}

func TestEval(t *testing.T) {
	cases := loadCases(t)
	db, ix := evalIndex(t)
	policy, err := answer.ParsePolicy(answer.DefaultTopics, answer.DefaultPerson, answer.DefaultSecrets, answer.DefaultStay)
	if err != nil {
		t.Fatal(err)
	}
	script := &scripted{}
	srv := llmtest.New(t, "eval-key")
	srv.AddModel("eval-model")
	srv.Handle("eval-model", script.reply)
	model := llm.New(llm.Options{BaseURL: srv.URL(), APIKey: "eval-key", Model: "eval-model", Timeout: 10 * time.Second})

	for _, mode := range []struct {
		name  string
		model answer.Model
	}{{"offline", nil}, {"scripted model", model}} {
		t.Run(mode.name, func(t *testing.T) {
			e := &answer.Engine{Index: ix, Model: mode.model, Policy: policy, DiscloseBefore: 24 * time.Hour}
			rows := map[string]*row{}
			for _, c := range cases {
				ctx := context.Background()
				now := evalTimes[c.When]
				access, err := guests.For(ctx, db.Pool, guestIDs[c.Who], now)
				if err != nil {
					t.Fatal(err)
				}
				script.facts = c.Facts
				l, _ := lang.Choose(c.Q, c.Prev, c.Hint)
				res := e.Answer(ctx, answer.Request{Question: c.Q, Access: access, Now: now, Language: l,
					Unverified: guestIDs[c.Who] == ""})
				r := score(t, c, res, access)
				if rows[c.Lang] == nil {
					rows[c.Lang] = &row{}
				}
				rows[c.Lang].add(r)
			}
			report(t, mode.name, rows)
		})
	}
}

// score judges one reply.
func score(t *testing.T, c evalCase, res answer.Result, access guests.Access) row {
	t.Helper()
	r := row{cases: 1}
	var why []string
	kind := "answer"
	switch {
	case res.Handoff:
		kind = "handoff"
	case res.Verify:
		kind = "verify"
	case res.Provenance.Policy == "secret-later":
		kind = "later"
	}
	if c.Expect == "any" || (c.Expect == "handoff") == res.Handoff {
		r.handoffsOK++
	} else {
		why = append(why, "hand-off "+fmt.Sprint(res.Handoff))
	}
	if c.Expect != "any" && c.Expect != "handoff" {
		r.factCases++
		ok := kind == c.Expect
		if !ok {
			why = append(why, "got "+kind)
		}
		for _, f := range c.Facts {
			has := false
			for _, a := range strings.Split(f, "|") {
				has = has || strings.Contains(res.Text, a)
			}
			if !has {
				ok = false
				why = append(why, "missing "+f)
			}
		}
		for _, w := range c.Wrong {
			if strings.Contains(res.Text, w) {
				ok = false
				why = append(why, "wrong "+w)
			}
		}
		if ok {
			r.factsOK++
		}
	}
	inWindow := access.Stay.Window(evalTimes[c.When], 24*time.Hour)
	if !res.Handoff {
		if l := leaks(access.GuestID, inWindow, res.Text); len(l) > 0 {
			r.leaks++
			why = append(why, fmt.Sprintf("LEAK %v", l))
		}
	}
	if wrongLanguage(c.Lang, res) {
		r.wrongLang++
		why = append(why, "language "+res.Language)
	}
	if len(why) > 0 || *showAll {
		t.Logf("%s [%s] %q: %s\n\t%s", c.id, c.Who, c.Q, strings.Join(why, ", "), strings.ReplaceAll(res.Text, "\n", " | "))
	}
	return r
}

// report prints the table and fails under the thresholds.
func report(t *testing.T, mode string, rows map[string]*row) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n%-5s %6s %16s %16s %6s %14s\n", mode, "lang", "cases", "facts correct", "hand-offs ok", "leaks", "wrong language")
	total := row{}
	langs := make([]string, 0, len(rows))
	for l := range rows {
		langs = append(langs, l)
	}
	sort.Slice(langs, func(i, j int) bool { return rank(langs[i]) < rank(langs[j]) })
	line := func(name string, r row) {
		fmt.Fprintf(&b, "%-5s %6d %9d/%-3d %3.0f%% %9d/%-3d %3.0f%% %6d %14d\n", name, r.cases,
			r.factsOK, r.factCases, 100*pct(r.factsOK, r.factCases), r.handoffsOK, r.cases, 100*pct(r.handoffsOK, r.cases), r.leaks, r.wrongLang)
	}
	for _, l := range langs {
		line(l, *rows[l])
		total.add(*rows[l])
	}
	line("all", total)
	t.Log(b.String())
	if pct(total.factsOK, total.factCases) < minFacts || pct(total.handoffsOK, total.cases) < minHandoffs || total.leaks > 0 || total.wrongLang > 0 {
		t.Errorf("%s: under the thresholds (facts >= %.0f%%, hand-offs >= %.0f%%, 0 leaks, 0 wrong language)", mode, 100*minFacts, 100*minHandoffs)
	}
}

func rank(l string) int {
	for i, s := range lang.Supported {
		if s == l {
			return i
		}
	}
	return len(lang.Supported)
}
