package payload

import (
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
)

type sample struct {
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
		var p sample
		err := Decode([]byte(tt.body), &p)
		if tt.status == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.body, err)
			}
			continue
		}
		if fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: kind %v, want Invalid (%v)", tt.body, fault.KindOf(err), err)
		}
		if tt.field != "" && !strings.HasPrefix(fault.Public(err), tt.field+":") {
			t.Errorf("%s: message %q does not start with the field %s", tt.body, fault.Public(err), tt.field)
		}
	}
}
