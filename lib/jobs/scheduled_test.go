package jobs

import (
	"testing"
	"time"
)

func TestScheduleSubject(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 17, 42, 5, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		part, want string
	}{
		{"", "schedule:2026-12-06T02:17Z"},
		{"databases", "schedule:2026-12-06T02:17Z:databases"},
	} {
		s := ScheduleSubject(at, c.part)
		if s != c.want {
			t.Errorf("ScheduleSubject(%q) = %q, want %q", c.part, s, c.want)
		}
		slot, part, err := ParseScheduleSubject(s)
		if err != nil || !slot.Equal(at.Truncate(time.Minute)) || part != c.part {
			t.Errorf("ParseScheduleSubject(%q) = %s %q %v", s, slot, part, err)
		}
	}
	// Calls a second apart in one minute share the slot; the next minute does not.
	if ScheduleSubject(at, "") != ScheduleSubject(at.Add(17*time.Second), "") || ScheduleSubject(at, "") == ScheduleSubject(at.Add(18*time.Second), "") {
		t.Error("slots are not minutes")
	}
	for _, bad := range []string{"", "schedule:", "schedule:2026-12-06", "reply:2026-12-06T02:17Z", "schedule:2026-12-06T02:17Z:", "schedule:2026-12-06T02:17Zdatabases", "schedule:2026-13-06T02:17Z"} {
		if _, _, err := ParseScheduleSubject(bad); err == nil {
			t.Errorf("ParseScheduleSubject(%q) accepted", bad)
		}
	}
}
