package aircall

import (
	"testing"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
)

// FuzzDecode checks that any body either decodes or fails as invalid input
// (a 400), never with a panic or an internal error.
func FuzzDecode(f *testing.F) {
	for _, name := range fixtures.List("aircall") {
		f.Add(fixtures.Read(name))
	}
	f.Add(fixtures.Read("local/aircall.contact.created.json"))
	f.Add(fixtures.Read("local/aircall.transcription.created.json"))
	f.Add(fixtures.Read("local/aircall.summary.created.json"))
	f.Add([]byte(`{"resource":"conversation_intelligence","event":"transcription.created","timestamp":1,"data":{"call_id":"1","content":{"utterances":[{"text":"hi"}]}}}`))
	f.Add([]byte(`{"resource":"call","event":"call.ended","timestamp":1,"data":{"id":-1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Decode(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("error of kind %s for %q: %v", k, body, err)
			}
			return
		}
		if ev.Event == "" || ev.Resource == "" || ev.Timestamp <= 0 {
			t.Fatalf("accepted an envelope without event, resource or timestamp: %q", body)
		}
		p, err := check(ev)
		key := dedupeKey(p)
		// A body stored unparsed keeps the key it would have decoded with.
		if env, ok := looseEnvelope(body); err == nil && (!ok || looseKey(env) != key) {
			t.Fatalf("loose key %q (read %v), dedupe key %q for %q", looseKey(env), ok, key, body)
		}
	})
}
