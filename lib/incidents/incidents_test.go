package incidents_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/incidents"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestRecordAndWritePrometheus(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	var buf bytes.Buffer
	if err := incidents.WritePrometheus(ctx, d.Pool, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "{") || !strings.Contains(buf.String(), "# TYPE concierge_provider_config_errors_total counter") {
		t.Fatalf("no incidents yet:\n%s", buf.String())
	}

	decommissioned := incidents.Incident{Provider: "llm", Setting: "LLM_MODEL", Code: "model_decommissioned",
		Message: "model \"llama-3.3-70b-versatile\": The model `llama-3.3-70b-versatile` has been decommissioned"}
	for _, in := range []incidents.Incident{
		decommissioned,
		decommissioned,
		{Provider: "llm", Setting: "GROQ_API_KEY", Code: "invalid_api_key", Message: "Incorrect API key provided: gsk_live_abcdef0123456789 for jordan.avery@example.com\n"},
		{Provider: "llm", Setting: "LLM_MODEL", Code: `weird "code" with spaces`},
		{Provider: "llm", Setting: "LLM_BASE_URL"},
	} {
		if err := incidents.Record(ctx, d.Pool, in); err != nil {
			t.Fatalf("Record(%+v): %v", in, err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if err := incidents.Record(ctx, d.Pool, decommissioned); err != nil {
		t.Fatal(err)
	}

	list, err := incidents.List(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]incidents.Incident{}
	for _, in := range list {
		got[in.Setting+"/"+in.Code] = in
	}
	if len(list) != 4 {
		t.Fatalf("incidents = %+v, want 4 rows", list)
	}
	dec := got["LLM_MODEL/model_decommissioned"]
	if dec.Count != 3 || !dec.LastSeen.After(dec.FirstSeen) || !strings.Contains(dec.Message, "decommissioned") {
		t.Errorf("decommissioned = %+v, want count 3 and last_seen after first_seen", dec)
	}
	key := got["GROQ_API_KEY/invalid_api_key"]
	if strings.Contains(key.Message, "gsk_live") || strings.Contains(key.Message, "jordan.avery") || strings.ContainsAny(key.Message, "\n") {
		t.Errorf("secrets or PII kept: %q", key.Message)
	}
	if _, ok := got["LLM_MODEL/other"]; !ok {
		t.Errorf("a code that is no identifier should be stored as other: %+v", list)
	}
	if _, ok := got["LLM_BASE_URL/unknown"]; !ok {
		t.Errorf("a missing code should be stored as unknown: %+v", list)
	}

	buf.Reset()
	if err := incidents.WritePrometheus(ctx, d.Pool, &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `concierge_provider_config_errors_total{provider="llm",setting="LLM_MODEL",code="model_decommissioned"} 3`+"\n") {
		t.Errorf("total missing:\n%s", out)
	}
	last := regexp.MustCompile(`(?m)^concierge_provider_config_error_last_seen_timestamp_seconds\{provider="llm",setting="LLM_MODEL",code="model_decommissioned"\} (\d+\.\d{3})$`)
	if m := last.FindStringSubmatch(out); m == nil {
		t.Errorf("last-seen gauge missing:\n%s", out)
	}
	// Every sample line is name{labels} value.
	sample := regexp.MustCompile(`^[a-z_]+\{provider="[^"]*",setting="[^"]*",code="[^"]*"\} [0-9.]+$`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Errorf("malformed line %q", line)
		}
	}
}

func TestRecordRefusesLabelsThatAreNotIdentifiers(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	for _, in := range []incidents.Incident{{Setting: "LLM_MODEL", Code: "x"}, {Provider: "llm", Setting: "LLM MODEL\n", Code: "x"}} {
		if err := incidents.Record(context.Background(), d.Pool, in); fault.KindOf(err) != fault.Invalid {
			t.Errorf("Record(%+v) = %v, want invalid", in, err)
		}
	}
}
