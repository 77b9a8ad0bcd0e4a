package endpoint

import (
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
)

type payload struct {
	Event string `json:"event" validate:"required"`
	Data  struct {
		ID    int    `json:"id" validate:"required,gt=0"`
		Kind  string `json:"kind" validate:"omitempty,oneof=a b"`
		Count int    `json:"count"`
	} `json:"data"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		body, status, field string
	}{
		{`{"event":"x","data":{"id":1}}`, "", ""},
		{`{"data":{"id":1}}`, "400", "event"},
		{`{"event":"x","data":{}}`, "400", "data.id"},
		{`{"event":"x","data":{"id":1,"kind":"c"}}`, "400", "data.kind"},
		{`{"event":"x","data":{"id":1,"count":"many"}}`, "400", "data.count"},
		{`{"event":"x"`, "400", ""},
		{`{"event":"x","data":{"id":1}} trailing`, "400", ""},
		{``, "400", ""},
	}
	for _, tt := range tests {
		var p payload
		err := Decode([]byte(tt.body), &p)
		if tt.status == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.body, err)
			}
			continue
		}
		if Status(err) != http.StatusBadRequest {
			t.Errorf("%s: status %d (%v)", tt.body, Status(err), err)
		}
		if tt.field != "" && !strings.HasPrefix(fault.Public(err), tt.field+":") {
			t.Errorf("%s: message %q does not start with the field %s", tt.body, fault.Public(err), tt.field)
		}
	}
}

func TestStatusAndPublicMessage(t *testing.T) {
	internal := Error(errString("pq: password authentication failed for user x"))
	if internal.StatusCode != 500 || strings.Contains(string(internal.Body), "password") {
		t.Errorf("internal error leaked: %d %s", internal.StatusCode, internal.Body)
	}
	down := Error(fault.Wrap(fault.Unavailable, errString("dial tcp 10.0.0.5:5432"), "database unavailable"))
	if down.StatusCode != 503 || down.Header.Get("Retry-After") == "" || strings.Contains(string(down.Body), "10.0.0.5") {
		t.Errorf("unavailable: %d %v %s", down.StatusCode, down.Header, down.Body)
	}
	if err := Method(handler.Request{Method: "GET"}, "POST"); Status(err) != 405 {
		t.Errorf("method: %v", err)
	}
	if err := Size(handler.Request{Body: make([]byte, 11)}, 10); Status(err) != 413 {
		t.Errorf("size: %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
