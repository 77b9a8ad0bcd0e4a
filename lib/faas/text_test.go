package faas

import (
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, body, want string // want: "" accepted, else the public message
	}{
		{"plain", `{"data":{"content":"hello é 🙂"}}`, ""},
		{"escaped backslash is text", `{"data":{"content":"C:\\u0000dir"}}`, ""},
		{"other escapes", `{"a":"\u0001\u00e9"}`, ""},
		{"NUL in a value", `{"event":"x","data":{"content":"hi\u0000there"}}`, "data.content: must not contain NUL"},
		{"NUL in an array", `{"data":{"tags":["ok","b\u0000d"]}}`, "data.tags[1]: must not contain NUL"},
		{"NUL in an object in an array", `{"list":[{"a":1},{"b":"x\u0000"}]}`, "list[1].b: must not contain NUL"},
		{"NUL in a key", `{"data":{"k\u0000":"v"}}`, "data: keys must not contain NUL"},
		{"NUL at the top", `"\u0000"`, "body: must not contain NUL"},
		{"raw NUL byte", "{\"a\":\"x\x00\"}", "body: must not contain NUL"},
		{"invalid UTF-8 in a value", "{\"data\":{\"content\":\"caf\xe9\"}}", "data.content: must be UTF-8"},
		{"invalid UTF-8 after valid fields", "{\"a\":1,\"b\":[true,null,\"\xff\"]}", "b[2]: must be UTF-8"},
		{"invalid UTF-8 outside JSON", "\xff\xfe", "body: must be UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Text([]byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
				return
			case err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			}
			if fault.KindOf(err) != fault.Invalid || fault.Public(err) != tt.want {
				t.Errorf("got %s %q, want invalid %q", fault.KindOf(err), fault.Public(err), tt.want)
			}
		})
	}
}

func TestErrorCarriesCauseOf5xxOnly(t *testing.T) {
	res := Error(fault.Wrap(fault.Unavailable, errString("dial tcp 10.0.0.5:5432: connection refused\nmore"), "database unavailable"))
	if res.StatusCode != 503 || res.Header.Get(CauseKindHeader) != "unavailable" {
		t.Fatalf("status %d kind %q", res.StatusCode, res.Header.Get(CauseKindHeader))
	}
	if c := res.Header.Get(CauseHeader); !strings.Contains(c, "connection refused") || strings.ContainsAny(c, "\n\r") {
		t.Errorf("cause %q", c)
	}
	if strings.Contains(string(res.Body), "10.0.0.5") {
		t.Errorf("internal text in the body: %s", res.Body)
	}
	if res := Error(fault.Field("x", "bad")); res.Header.Get(CauseHeader) != "" {
		t.Errorf("a 400 carries a cause")
	}
	long := Error(errString(strings.Repeat("é", 2000)))
	if c := long.Header.Get(CauseHeader); len(c) > maxCause+len("…") {
		t.Errorf("cause of %d bytes", len(c))
	}
}
