package aircall

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/payload"
	"github.com/harborstays/concierge/lib/webhook"
)

// Source names Aircall's events in webhook_events.
const Source = "aircall"

// Known reports whether Concierge decodes and acts on event: call and
// contact events and AI Assist's transcript and summary. An authenticated
// delivery of a known event is never refused for its shape (see Receive);
// other events are stored raw and ignored.
func Known(event string) bool {
	return strings.HasPrefix(event, "call.") || strings.HasPrefix(event, "contact.") ||
		event == EventTranscription || event == EventSummary
}

// envelope is a delivery read loosely: enough of a JSON object that did not
// decode as an Event to authenticate it, name its event and derive its
// dedupe key.
type envelope struct {
	Token     string
	Event     string
	Timestamp string // the raw token, compacted: a number when well formed
	Data      json.RawMessage
}

// looseEnvelope reads body field by field, so one field of a wrong type
// does not hide the others; ok is false when body is not a JSON object.
func looseEnvelope(body []byte) (env envelope, ok bool) {
	m, ok := members(body, "token", "event", "timestamp", "data")
	if !ok {
		return env, false
	}
	_ = json.Unmarshal(m["token"], &env.Token)
	_ = json.Unmarshal(m["event"], &env.Event)
	env.Timestamp = compactToken(m["timestamp"])
	env.Data = m["data"]
	return env, true
}

// members reads the named members of the JSON object raw as encoding/json
// fills a struct: names match case-insensitively and a later member wins.
// ok is false when raw is not one JSON object.
func members(raw []byte, names ...string) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		for _, n := range names {
			if strings.EqualFold(key, n) {
				out[n] = v
			}
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return out, true
}

// compactToken is a JSON value as text: a string's content, anything else
// compacted.
func compactToken(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// looseKey is dedupeKey for a body that did not decode: event, the
// resource's id as found (data.call_id for AI Assist, data.id otherwise),
// timestamp and the digest of the compacted data. For a well-formed body it
// equals dedupeKey, so whether a delivery decoded does not change which
// retries count as duplicates.
func looseKey(env envelope) string {
	field := "id"
	if env.Event == EventTranscription || env.Event == EventSummary {
		field = "call_id"
	}
	id := dataID(env.Data, field)
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Data); err != nil {
		compact.Write(env.Data)
	}
	return env.Event + ":" + id + ":" + env.Timestamp + ":" + webhook.BodyKey(compact.Bytes())[:16]
}

// dataID is the member field of the object data as text: a number in its
// canonical form, a string's content, anything else compacted; empty when
// data is no object or has no such member.
func dataID(data json.RawMessage, field string) string {
	m, ok := members(data, field)
	if !ok {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		return ""
	}
	id := compactToken(raw)
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		id = strconv.FormatInt(n, 10)
	}
	return id
}

// storeUnparsed keeps an authenticated delivery of a known event that did
// not decode: raw, with the reason, no domain writes. The reason is the
// public part of the decoding error (field names and expected types, never
// values).
func (h *Hook) storeUnparsed(ctx context.Context, env envelope, body []byte, cause error) (webhook.Outcome, error) {
	reason := fault.Public(cause)
	log := logging.From(ctx).With().Str("event", env.Event).Logger()
	ctx = logging.WithLogger(ctx, log)
	out, err := h.Store.Receive(ctx, webhook.Delivery{
		Source: Source, EventType: env.Event, DedupeKey: looseKey(env), Payload: body, ParseError: reason,
	})
	if err == nil {
		log.Warn().Str("outcome", string(out)).Str("parse_error", reason).
			Msg("aircall event not understood; stored for concierge replay-events")
	}
	return out, err
}

// ReplayedEvent is one stored unparsed event a replay looked at.
type ReplayedEvent struct {
	ID         int64
	EventType  string
	ReceivedAt time.Time
	// ParseError is the error stored with the event, or, for an event
	// still unparseable, the current decoder's.
	ParseError string
	// Outcome of applying it: stored (domain rows written), ignored (no
	// writes for its type), duplicate (resolved meanwhile); empty on a dry
	// run or when it still does not parse.
	Outcome webhook.Outcome
}

// ReplayResult is what ReplayUnparsed did.
type ReplayResult struct {
	// Applied decoded now: written (or, on a dry run, would be) and marked
	// resolved.
	Applied []ReplayedEvent
	// Unparsed still do not decode: left as they were.
	Unparsed []ReplayedEvent
}

// replayPage bounds the events read at once.
const replayPage = 200

// ReplayUnparsed runs the stored, unresolved unparsed Aircall events
// through the current decoder, oldest first. Each one that decodes now gets
// the domain writes and jobs a fresh delivery would have had (the hook's
// Region and TranscribeAfter apply), in one statement that also marks it
// resolved, so replaying again, or two replays at once, apply it once. The
// token is not checked again: it was when the event was stored. Events that
// still do not decode stay as they are. dryRun decodes without writing.
func (h *Hook) ReplayUnparsed(ctx context.Context, dryRun bool) (ReplayResult, error) {
	var res ReplayResult
	var after int64
	for {
		evs, err := webhook.ListUnparsed(ctx, h.Store.DB, Source, after, replayPage)
		if err != nil {
			return res, err
		}
		for _, e := range evs {
			after = e.ID
			r := ReplayedEvent{ID: e.ID, EventType: e.EventType, ReceivedAt: e.ReceivedAt, ParseError: e.ParseError}
			p, err := decode(e.Payload)
			if err != nil {
				r.ParseError = fault.Public(err)
				res.Unparsed = append(res.Unparsed, r)
				continue
			}
			if !dryRun {
				ctx := logging.WithLogger(ctx, logging.From(ctx).With().Str("event", p.Event.Event).Int64("webhook_event_id", e.ID).Logger())
				if r.Outcome, err = h.Store.Resolve(ctx, e.ID, h.delivery(p, e.Payload)); err != nil {
					return res, err
				}
			}
			res.Applied = append(res.Applied, r)
		}
		if len(evs) < replayPage {
			return res, nil
		}
	}
}

// decode parses and validates a stored body.
func decode(body []byte) (parsed, error) {
	var ev Event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return parsed{Event: ev}, err
	}
	return check(ev)
}
