package logging

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	tests := []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"secret", `{"msg":"token d4a6c1f28e3b47c9a0f5e7b2c8d1a3f6 bad"}`, []string{"d4a6c1f28e3b47c9a0f5e7b2c8d1a3f6"}, []string{"bad"}},
		{"email", `{"msg":"from Jordan.Avery@Example.com"}`, []string{"Jordan.Avery@Example.com"}, []string{"from"}},
		{"e164", `{"phone":"+15555550142"}`, []string{"+15555550142"}, []string{"phone"}},
		{"formatted", `{"msg":"call +1 (555) 555-0142 now"}`, []string{"555-0142"}, []string{"now"}},
		{"national", `{"msg":"(555) 555-0142"}`, []string{"555-0142"}, nil},
		{"ids and times survive", `{"aircall_call_id":1843377012,"ts":1752868932,"time":"2026-11-22T01:59:20.1+00:00"}`, nil, []string{"1843377012", "1752868932", "2026-11-22T01:59:20.1+00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := NewRedactor(&buf, "d4a6c1f28e3b47c9a0f5e7b2c8d1a3f6", "abc")
			if _, err := r.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, g := range tt.gone {
				if strings.Contains(out, g) {
					t.Errorf("%q still in %s", g, out)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(out, k) {
					t.Errorf("%q lost from %s", k, out)
				}
			}
		})
	}
}

func TestLoggerScrubsFields(t *testing.T) {
	var buf bytes.Buffer
	l := New("aircall-hook", &buf, "info", "s3cr3t-value")
	l.Info().Str("email", "jordan.avery@example.com").Str("token", "s3cr3t-value").Msg("hello")
	out := buf.String()
	if strings.Contains(out, "jordan.avery@example.com") || strings.Contains(out, "s3cr3t-value") {
		t.Fatalf("leaked: %s", out)
	}
	if !strings.Contains(out, `"fn":"aircall-hook"`) || !strings.Contains(out, "hello") {
		t.Fatalf("missing fields: %s", out)
	}
}

func TestTraceID(t *testing.T) {
	h := http.Header{}
	h.Set(TraceHeader, "abc-123")
	if got := TraceID(h); got != "abc-123" {
		t.Errorf("kept trace id = %q", got)
	}
	h.Set(TraceHeader, "bad value\nwith newline")
	if got := TraceID(h); got == "bad value\nwith newline" || len(got) != 32 {
		t.Errorf("malformed trace id replaced by %q", got)
	}
	if a, b := TraceID(http.Header{}), TraceID(http.Header{}); a == b {
		t.Error("trace ids repeat")
	}
}

// The pre-check that skips the phone expression never skips a line the
// expression would change.
func TestPhonePrecheckIsExact(t *testing.T) {
	alphabet := []byte("0123456789+() .-x\"@")
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		b := make([]byte, 1+rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if !mayHoldPhone(b) && phoneRe.Match(b) {
			t.Fatalf("pre-check skips %q, which the expression matches", b)
		}
	}
	for _, line := range []string{
		`{"level":"info","fn":"aircall-hook","trace_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","time":"2026-11-22T02:35:57.123456789Z","method":"POST","status":200,"elapsed":1.234,"message":"request"}`,
		`{"aircall_call_id":1843377012,"ts":1752868932}`,
	} {
		if mayHoldPhone([]byte(line)) {
			t.Errorf("pre-check does not skip an ordinary line: %s", line)
		}
	}
}

func BenchmarkRedactorWrite(b *testing.B) {
	r := NewRedactor(io.Discard, "d4a6c1f28e3b47c9a0f5e7b2c8d1a3f6")
	line := []byte(`{"level":"info","fn":"aircall-hook","trace_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","event":"call.ended","time":"2026-11-22T02:35:57.123456789Z","method":"POST","status":200,"elapsed":1.234,"message":"request"}` + "\n")
	for b.Loop() {
		_, _ = r.Write(line)
	}
}
