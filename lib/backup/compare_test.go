package backup

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The verification's comparison: every difference is named (a table
// missing from the restore, one the snapshot did not have, a count that
// differs), sorted, at most five and a count of the rest. Written for
// `make mutate`.
// Kills: compareCounts' `!ok` and `g != n` negated, the second loop's
// `!ok` negated, `len(diffs) == 0` negated, `len(diffs) > 5` made >= or
// negated, `len(diffs)-5` made +.
func TestCompareCounts(t *testing.T) {
	want := map[string]int64{"public.guests": 500, "public.jobs": 3, "public.calls": 0}
	same := map[string]int64{"public.guests": 500, "public.jobs": 3, "public.calls": 0}
	if err := compareCounts(want, same); err != nil {
		t.Fatalf("equal counts: %v", err)
	}
	if err := compareCounts(nil, nil); err != nil {
		t.Fatalf("no tables: %v", err)
	}
	for _, c := range []struct {
		name string
		got  map[string]int64
		msg  string
	}{
		{"a row lost", map[string]int64{"public.guests": 499, "public.jobs": 3, "public.calls": 0},
			"public.guests has 499 rows, want 500"},
		{"a table missing", map[string]int64{"public.guests": 500, "public.jobs": 3},
			"public.calls missing"},
		{"a table more", map[string]int64{"public.guests": 500, "public.jobs": 3, "public.calls": 0, "public.extra": 1},
			"public.extra unexpected"},
		{"sorted", map[string]int64{"public.guests": 501, "public.jobs": 2},
			"public.calls missing; public.guests has 501 rows, want 500; public.jobs has 2 rows, want 3"},
	} {
		err := compareCounts(want, c.got)
		if !errors.Is(err, ErrMismatch) || err.Error() != ErrMismatch.Error()+": "+c.msg {
			t.Errorf("%s: %v, want %q", c.name, err, c.msg)
		}
	}
	// Five differences are all named; from six on, five and the rest
	// counted.
	many := func(n int) (map[string]int64, map[string]int64) {
		w, g := map[string]int64{}, map[string]int64{}
		for i := range n {
			w[fmt.Sprintf("t%d", i)] = 1
		}
		return w, g
	}
	for n, msg := range map[int]string{
		5: "t0 missing; t1 missing; t2 missing; t3 missing; t4 missing",
		6: "t0 missing; t1 missing; t2 missing; t3 missing; t4 missing; and 1 more",
		8: "t0 missing; t1 missing; t2 missing; t3 missing; t4 missing; and 3 more",
	} {
		w, g := many(n)
		if err := compareCounts(w, g); err == nil || err.Error() != ErrMismatch.Error()+": "+msg {
			t.Errorf("%d differences: %v, want %q", n, err, msg)
		}
	}
}

// A failure's text is kept whole up to 2000 bytes, cut there with an
// ellipsis beyond. Kills: `len(msg) > 2000` made >= or negated.
func TestErrorTextBound(t *testing.T) {
	exact := strings.Repeat("e", 2000)
	if got := errorText(errors.New(exact)); got != exact {
		t.Errorf("a 2000-byte error became %d bytes", len(got))
	}
	if got := errorText(errors.New(exact + "f")); got != exact+"…" {
		t.Errorf("a 2001-byte error became %q…", got[len(got)-8:])
	}
	if got := errorText(errors.New("pg_dump: exit status 1")); got != "pg_dump: exit status 1" {
		t.Errorf("a short error became %q", got)
	}
}
