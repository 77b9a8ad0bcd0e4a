// Package answer decides how Concierge replies to a guest: by code, the
// policy (hand-offs for people, restricted topics, secrets outside the
// stay); then from the guest's own data, with a model when one is
// configured or with the offline answerer. Every reply is in the guest's
// language (lib/lang). The common questions are recognised by an intent
// lexicon in six languages and answered from the most specific source:
// the guest's reservation, then the home's listing, then the shared
// policies. Any error ends in a hand-off, never in silence.
package answer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/retrieval"
)

// PromptVersion is recorded with every reply: change it with the prompt.
// 2: the guest's language is in the data, and the stay facts reach the
// model even when no passage was found.
const PromptVersion = "concierge-answer/2"

// Searcher finds passages within a scope (retrieval.Index satisfies it).
type Searcher interface {
	Search(ctx context.Context, scope retrieval.Scope, query string, limit int) ([]retrieval.Hit, error)
}

// Model completes chat messages into a JSON object (llm.Client satisfies it).
type Model interface {
	CompleteJSON(ctx context.Context, msgs []llm.Message) (string, error)
	Name() string
}

// Turn is an earlier message of the conversation.
type Turn struct {
	From string // guest, agent or assistant
	Text string
}

// Request is what to answer.
type Request struct {
	// Question holds the guest's unanswered messages, oldest first.
	Question string
	History  []Turn
	Access   guests.Access
	Now      time.Time
	// MayRetry: the job will run again, so a passing outage of the model
	// or the index is returned (Result.Retry) rather than handed off; on
	// the last attempt it hands off.
	MayRetry bool
	// Unverified: nobody proved this contact is the guest (trust.Identify).
	// Access is then a stranger's, and a question about the stay asks for
	// the confirmation code and last name instead of being answered.
	Unverified bool
	// Identity is a line for the hand-off note: how the contact is known.
	Identity string
	// Language is the conversation's language (lib/lang: detected from
	// the guest's messages, kept per conversation). Empty: detected from
	// Question alone, else English.
	Language string
}

// Citation names a passage an answer used.
type Citation struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Provenance records where a reply came from.
type Provenance struct {
	PromptVersion string            `json:"prompt_version"`
	Model         string            `json:"model"`
	ChunkIDs      []string          `json:"chunk_ids"`
	Reservation   map[string]string `json:"reservation,omitempty"`
	Restricted    bool              `json:"restricted"`
	Policy        string            `json:"policy,omitempty"`
}

// Result is the decision.
type Result struct {
	Text      string
	Language  string
	Citations []Citation
	Handoff   bool
	// Reason says why a person takes over (for the private note).
	Reason     string
	Provenance Provenance
	// Retry, when set, is a passing failure (model or index unavailable)
	// to retry instead of answering; only with Request.MayRetry.
	Retry error
	// Verify: Text asks the guest to prove who they are before anything
	// about a stay is answered.
	Verify bool
}

// VerifyPrompt asks an unverified contact for proof of the booking, in
// English; lang.VerifyPrompt has it in every language.
var VerifyPrompt = lang.VerifyPrompt.In(lang.EN)

// Engine answers requests.
type Engine struct {
	Index  Searcher
	Model  Model // nil: the offline answerer
	Policy Policy
	// DiscloseBefore is how long before check-in secrets may be shared.
	DiscloseBefore time.Duration
	// MaxPassages bounds what one answer reads.
	MaxPassages int
	// RecordIncident records a refusal of the model endpoint that only a
	// configuration change fixes, durably, so it is a metric
	// (incidents.Record with the pool); nil only logs it.
	RecordIncident func(ctx context.Context, in incidents.Incident) error
}

// Handoff reasons.
const (
	ReasonPerson    = "the guest asked for a person"
	ReasonNothing   = "nothing in the guest's data answers this"
	ReasonNotInData = "the model found no answer in the guest's data"
	ReasonError     = "the assistant failed"
	ReasonBadOutput = "the model's answer was invalid twice"
	// ReasonMisconfigured: the model endpoint refused a setting (a retired
	// model id, a rejected key); the hand-off reason names the setting.
	ReasonMisconfigured = "the assistant is misconfigured"
	reasonTopicFmt      = "restricted topic: %s"
	defaultPassages     = 6
	maxQuestionRunes    = 2000
)

// Answer decides the reply to req. It does not fail: errors become a
// hand-off with the reason.
func (e *Engine) Answer(ctx context.Context, req Request) Result {
	q := Clean(req.Question)
	if r := []rune(q); len(r) > maxQuestionRunes {
		q = string(r[len(r)-maxQuestionRunes:])
	}
	l := lang.Normalize(req.Language)
	if l == "" {
		l, _ = lang.Choose(q, "", "")
	}
	prov := Provenance{PromptVersion: PromptVersion, Model: "offline", Reservation: stayFields(req.Access.Stay)}
	if e.Model != nil {
		prov.Model = e.Model.Name()
	}
	// A hand-off's text is the private note for the team (English); its
	// language is the guest's, for the acknowledgement they read.
	handoff := func(reason string) Result {
		return Result{Handoff: true, Reason: reason, Text: note(reason, req), Language: l, Provenance: prov}
	}
	if strings.TrimSpace(q) == "" {
		return handoff(ReasonNothing)
	}
	if e.Policy.AsksForPerson(q) {
		prov.Policy = "person"
		return handoff(ReasonPerson)
	}
	if topic, ok := e.Policy.Topic(q); ok {
		prov.Policy = "topic:" + topic
		return handoff(fmt.Sprintf(reasonTopicFmt, topic))
	}
	intents, rest := match(DefaultIntents, q, l)
	secret := e.Policy.AsksForSecret(q) || asksSecret(intents)
	if req.Unverified && (secret || e.Policy.AsksForStay(q) || asksStay(intents)) {
		prov.Policy = "verify"
		return Result{Text: lang.VerifyPrompt.In(l), Language: l, Verify: true, Provenance: prov}
	}
	stay := req.Access.Stay
	allowed := stay.Window(req.Now, e.DiscloseBefore)
	prov.Restricted = allowed
	if !allowed && secret {
		prov.Policy = "secret-later"
		return Result{Text: secretLater(l, stay, e.DiscloseBefore, req.Now), Language: l, Provenance: prov}
	}
	scope := req.Access.Scope
	scope.Restricted = allowed
	hits, err := e.search(ctx, scope, q, intents)
	if err != nil {
		logging.From(ctx).Warn().Err(err).Msg("retrieval failed")
		if req.MayRetry && fault.Retryable(err) {
			return Result{Retry: err}
		}
		return handoff(ReasonError)
	}
	for _, h := range hits {
		prov.ChunkIDs = append(prov.ChunkIDs, h.ID)
	}
	if e.Model == nil {
		// The intents need no passage when the reservation answers them.
		res, ok := offline(l, intents, rest, stay, req.Now, hits)
		if !ok {
			return handoff(ReasonNothing)
		}
		res.Provenance = prov
		return res
	}
	// Nothing retrieved is no reason to hand off a guest with a stay: the
	// model reads the stay's facts and decides (it may still hand off).
	if len(hits) == 0 && stay == nil {
		return handoff(ReasonNothing)
	}
	res, err := e.ask(ctx, q, l, req, hits)
	var ce *llm.ConfigError
	if errors.As(err, &ce) {
		e.misconfigured(ctx, ce)
		// Every guest's answer fails alike until the setting changes: the
		// job retries as in an outage, so a quick fix saves the pending
		// answers, and hands off on its last attempt.
		if req.MayRetry {
			return Result{Retry: err}
		}
		return handoff(ReasonMisconfigured + ": check " + ce.Setting)
	}
	if err != nil {
		logging.From(ctx).Warn().Err(err).Msg("model answer failed")
		if errors.Is(err, errBadOutput) {
			return handoff(ReasonBadOutput)
		}
		// A 20 s outage of the model must not hand the conversation off
		// for good: the job retries, and hands off on its last attempt.
		if req.MayRetry && fault.Retryable(err) {
			return Result{Retry: err}
		}
		return handoff(ReasonError)
	}
	if res.Handoff {
		if t, ok := e.Policy.Topic(res.Reason); ok {
			res.Reason = fmt.Sprintf(reasonTopicFmt, t)
		}
		return handoff(res.Reason)
	}
	res.Provenance = prov
	return res
}

// intentPassages is how many passages an intent's own search reads: every
// section of a home and the shared policies fit.
const intentPassages = 12

// search finds the passages for q in scope: what the question's words
// find, then what each intent's English query finds (a question in
// Spanish shares no word with an English listing), without duplicates,
// in that order.
func (e *Engine) search(ctx context.Context, scope retrieval.Scope, q string, intents []*Intent) ([]retrieval.Hit, error) {
	limit := e.MaxPassages
	if limit <= 0 {
		limit = defaultPassages
	}
	hits, err := e.Index.Search(ctx, scope, q, limit)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, h := range hits {
		seen[h.ID] = true
	}
	for _, x := range intents {
		more, err := e.Index.Search(ctx, scope, x.Query, max(limit, intentPassages))
		if err != nil {
			return nil, fmt.Errorf("search for %s: %w", x.Name, err)
		}
		for _, h := range more {
			if !seen[h.ID] {
				seen[h.ID] = true
				hits = append(hits, h)
			}
		}
	}
	return hits, nil
}

// misconfigured logs a configuration refusal once, at error level with the
// setting to change (never the key), and records it as an incident.
func (e *Engine) misconfigured(ctx context.Context, ce *llm.ConfigError) {
	log := logging.From(ctx)
	log.Error().Str("setting", ce.Setting).Str("model", ce.Model).Int("status", ce.Status).Str("provider_code", ce.Code).
		Str("provider_message", ce.Message).Msg("the model endpoint refused the configuration: change " + ce.Setting)
	if e.RecordIncident == nil {
		return
	}
	in := incidents.Incident{Provider: "llm", Setting: ce.Setting, Code: ce.Code, Message: ce.Error()}
	if err := e.RecordIncident(ctx, in); err != nil {
		log.Warn().Err(err).Str("setting", ce.Setting).Msg("could not record the incident")
	}
}

// note is the private note of a hand-off: the reason and a short summary.
func note(reason string, req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Concierge handed this conversation to a person: %s.\n", reason)
	q := strings.TrimSpace(Clean(req.Question))
	if r := []rune(q); len(r) > 300 {
		q = string(r[:300]) + "…"
	}
	fmt.Fprintf(&b, "Guest wrote: %q\n", q)
	if s := req.Access.Stay; s != nil {
		fmt.Fprintf(&b, "Stay: %s at %s, %s, check-in %s, check-out %s.\n", s.ConfirmationCode, s.ListingTitle, s.Status,
			local(s.CheckIn, s.Timezone), local(s.CheckOut, s.Timezone))
	} else if req.Access.GuestID == "" {
		b.WriteString("The contact is not linked to a Guesty guest.\n")
	}
	if req.Identity != "" {
		b.WriteString(req.Identity + "\n")
	}
	return b.String()
}

func local(t time.Time, tz string) string {
	if t.IsZero() {
		return "not set"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// wall is a stay's moment for the model, its zone named: the instant in
// the listing's zone; without the zone, the listing's clock when the stay
// tells it (guests.Stay.Arrival), else the instant in UTC, so named.
func wall(at func() (time.Time, bool), instant time.Time, tz string) string {
	if _, err := time.LoadLocation(tz); tz == "" || err != nil {
		if t, ok := at(); ok {
			return t.Format("Mon 2 Jan 2006 15:04") + " (the listing's local time)"
		}
	}
	return local(instant, tz)
}

func stayFields(s *guests.Stay) map[string]string {
	if s == nil {
		return nil
	}
	return map[string]string{
		"reservation_id": s.ReservationID, "confirmation_code": s.ConfirmationCode, "status": s.Status,
		"listing_id": s.ListingID, "check_in": wall(s.Arrival, s.CheckIn, s.Timezone), "check_out": wall(s.Departure, s.CheckOut, s.Timezone),
		"guests": fmt.Sprint(s.GuestsCount), "planned_arrival": s.PlannedArrival,
	}
}

// secretLater says, in language l, when the door code, Wi-Fi and address
// will be shared.
func secretLater(l string, s *guests.Stay, before time.Duration, now time.Time) string {
	if s.Ended(now) {
		return lang.SecretsEnded.In(l)
	}
	if !s.Confirmed() || s.CheckIn.IsZero() {
		return lang.SecretsUnconfirmed.In(l)
	}
	loc := location(s.Timezone)
	from := s.CheckIn.Add(-before).In(loc)
	when := lang.At(l, from, from.Year() != now.In(loc).Year()) + " " + from.Format("MST")
	return lang.SecretsFrom.Format(l, when, lang.Duration(l, before))
}

var errBadOutput = errors.New("invalid model output")

// modelReply is the strict JSON the model must return.
type modelReply struct {
	Answer       *string  `json:"answer"`
	Language     *string  `json:"language"`
	Citations    []string `json:"citations"`
	NeedsHandoff *bool    `json:"needs_handoff"`
	Reason       string   `json:"reason"`
}

// ask runs the model with one repair attempt.
func (e *Engine) ask(ctx context.Context, q, l string, req Request, hits []retrieval.Hit) (Result, error) {
	req.Language = l
	msgs := Prompt(q, req, hits)
	titles := map[string]string{stayCitation: "Your reservation"}
	for _, h := range hits {
		titles[h.ID] = h.Title
	}
	for attempt := 0; attempt < 2; attempt++ {
		out, err := e.Model.CompleteJSON(ctx, msgs)
		var verr error
		var oe *llm.OutputError
		switch {
		case errors.As(err, &oe):
			// The provider's JSON mode rejected the model's text (Groq:
			// 400 json_validate_failed): invalid output like any other,
			// and the repair shows the model what it wrote.
			out, verr = oe.Output, fmt.Errorf("not a valid JSON object (%s)", oe.Code)
		case err != nil:
			return Result{}, err
		default:
			var res Result
			if res, verr = validate(out, titles); verr == nil {
				return res, nil
			}
		}
		logging.From(ctx).Info().Err(verr).Int("attempt", attempt+1).Msg("model output rejected")
		if strings.TrimSpace(out) != "" {
			msgs = append(msgs, llm.Message{Role: "assistant", Content: out})
		}
		msgs = append(msgs, llm.Message{Role: "user", Content: fmt.Sprintf(
			"That reply was invalid (%s). Reply again with only the JSON object: "+
				`{"answer": string, "language": string, "citations": [string], "needs_handoff": boolean, "reason": string}.`, verr)})
	}
	return Result{}, errBadOutput
}

func validate(out string, titles map[string]string) (Result, error) {
	var r modelReply
	dec := json.NewDecoder(strings.NewReader(strings.TrimSpace(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Result{}, fmt.Errorf("not the JSON object asked for: %v", err)
	}
	if r.Answer == nil || r.Language == nil || r.NeedsHandoff == nil {
		return Result{}, errors.New("answer, language and needs_handoff are required")
	}
	if *r.NeedsHandoff {
		reason := strings.TrimSpace(r.Reason)
		if reason == "" || reason == "not_in_context" {
			reason = ReasonNotInData
		}
		return Result{Handoff: true, Reason: reason}, nil
	}
	if strings.TrimSpace(*r.Answer) == "" {
		return Result{}, errors.New("answer is empty")
	}
	if l := len(*r.Language); l < 2 || l > 12 {
		return Result{}, errors.New("language must be a BCP 47 code such as en or es")
	}
	if len(r.Citations) == 0 {
		return Result{}, errors.New("citations must name the passages used")
	}
	res := Result{Text: strings.TrimSpace(*r.Answer), Language: *r.Language}
	for _, id := range r.Citations {
		title, ok := titles[id]
		if !ok {
			return Result{}, fmt.Errorf("citation %q is not one of the passages given", id)
		}
		res.Citations = append(res.Citations, Citation{ID: id, Title: title})
	}
	return res, nil
}
