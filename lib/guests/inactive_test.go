package guests

import "testing"

// The statuses SQL and Go read are one list: the SQL form is the list the
// queries were written with, and the Go check agrees with it.
func TestInactiveStatuses(t *testing.T) {
	if want := "('canceled', 'cancelled', 'declined', 'expired', 'closed')"; InactiveSQL != want {
		t.Errorf("InactiveSQL = %s, want %s", InactiveSQL, want)
	}
	for _, s := range []string{"canceled", "cancelled", "declined", "expired", "closed"} {
		if !Inactive(s) {
			t.Errorf("%q is active", s)
		}
	}
	for _, s := range []string{"confirmed", "reserved", "checked_in", "inquiry", "", "Cancelled"} {
		if Inactive(s) {
			t.Errorf("%q is inactive", s)
		}
	}
}
