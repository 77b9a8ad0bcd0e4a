package aircall

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
)

func aircallFixtures() []string {
	names := fixtures.List("aircall")
	for _, n := range []string{"contact.created", "transcription.created", "summary.created", "sentiment.created", "user.created"} {
		names = append(names, "local/aircall."+n+".json")
	}
	return names
}

// Whether a delivery decoded does not change its dedupe key: a body stored
// unparsed and the same body decoded (by a fixed decoder, or as a retry)
// are one event.
func TestLooseKeyIsTheDedupeKey(t *testing.T) {
	for _, name := range aircallFixtures() {
		body := fixtures.Read(name)
		p, err := decode(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		env, ok := looseEnvelope(body)
		if !ok {
			t.Fatalf("%s: not read loosely", name)
		}
		if got, want := looseKey(env), dedupeKey(p); got != want {
			t.Errorf("%s: loose key %q, dedupe key %q", name, got, want)
		}
	}
}

func TestKnown(t *testing.T) {
	for event, want := range map[string]bool{
		"call.ended": true, "call.comm_assets_generated": true, "contact.deleted": true,
		EventTranscription: true, EventSummary: true,
		"sentiment.created": false, "user.created": false, "": false, "calls.ended": false,
	} {
		if Known(event) != want {
			t.Errorf("Known(%q) = %v", event, !want)
		}
	}
}

// AI Assist content: the shapes read, including objects that wrap the text
// (which the first decoder refused), and the ones that hold no text.
func TestInsightContent(t *testing.T) {
	utterances := `[{"text":"Hello, Harbor Stays.","participant_type":"internal"},{"text":"Hi, it's Jordan.","participant_type":"external"}]`
	for _, tt := range []struct {
		name, content string
		transcript    bool
		text, lang    string
		err           string
	}{
		{name: "string", content: `" The guest lands at noon. "`, text: "The guest lands at noon."},
		{name: "utterances", content: `{"language":"en-US","utterances":` + utterances + `}`, transcript: true,
			text: "Agent: Hello, Harbor Stays.\nGuest: Hi, it's Jordan.", lang: "en-US"},
		{name: "bare utterance list", content: utterances, transcript: true, text: "Agent: Hello, Harbor Stays.\nGuest: Hi, it's Jordan."},
		{name: "summary field", content: `{"summary":"Early check-in asked."}`, text: "Early check-in asked."},
		{name: "summary wrapped in an object", content: `{"summary":{"text":"Early check-in asked."}}`, text: "Early check-in asked."},
		{name: "transcription wrapped in an object", content: `{"transcription":{"language":"fr-FR","utterances":` + utterances + `}}`,
			transcript: true, text: "Agent: Hello, Harbor Stays.\nGuest: Hi, it's Jordan.", lang: "fr-FR"},
		{name: "a field of another type beside the text", content: `{"language":7,"utterances":` + utterances + `,"content":{"x":1}}`,
			transcript: true, text: "Agent: Hello, Harbor Stays.\nGuest: Hi, it's Jordan."},
		{name: "utterance text of another type", content: `{"utterances":[{"text":5},{"text":"Thanks.","participant_type":"external"}]}`,
			transcript: true, text: "Guest: Thanks."},
		{name: "missing", content: ``, err: "data.content: is required"},
		{name: "null", content: `null`, err: "data.content: is required"},
		{name: "number", content: `42`, err: "data.content: holds no text"},
		{name: "empty object", content: `{}`, err: "data.content: holds no text"},
		{name: "unrelated object", content: `{"score":0.8}`, err: "data.content: holds no text"},
		{name: "too deep", content: `{"content":{"content":{"content":{"content":{"content":"x"}}}}}`, err: "data.content: holds no text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			event := EventSummary
			if tt.transcript {
				event = EventTranscription
			}
			in := Insight{CallID: json.RawMessage(`"1843377012"`)}
			if tt.content != "" {
				in.Content = json.RawMessage(tt.content)
			}
			err := in.check(event)
			if tt.err != "" {
				if err == nil || fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.text != tt.text || in.lang != tt.lang {
				t.Errorf("read %q (%q), want %q (%q)", in.text, in.lang, tt.text, tt.lang)
			}
		})
	}
}
