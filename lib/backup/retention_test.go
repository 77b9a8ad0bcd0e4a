package backup

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	at := func(day int, hour int) time.Time {
		// 2026-03-02 is a Monday; ISO week 10.
		return time.Date(2026, 3, 2+day, hour, 17, 0, 0, time.UTC)
	}
	type rec struct {
		day, hour int
		status    string
	}
	verified := func(days ...int) []rec {
		var out []rec
		for _, d := range days {
			out = append(out, rec{d, 3, StatusVerified})
		}
		return out
	}
	tests := []struct {
		name   string
		policy Policy
		recs   []rec
		keep   []string // "day/hour"
	}{
		{"daily keeps the last N days", Policy{Daily: 3}, verified(0, 1, 2, 3, 4, 5), []string{"5/3", "4/3", "3/3"}},
		{"newest of each day", Policy{Daily: 2},
			[]rec{{0, 3, StatusVerified}, {0, 9, StatusVerified}, {1, 3, StatusVerified}, {1, 15, StatusVerified}},
			[]string{"1/15", "0/9"}},
		{"days without a backup do not count", Policy{Daily: 3}, verified(0, 10, 20, 30), []string{"30/3", "20/3", "10/3"}},
		{"weekly keeps the newest of each ISO week", Policy{Weekly: 3},
			// Weeks: 0-6 (W10), 7-13 (W11), 14-20 (W12), 21-27 (W13).
			verified(1, 5, 7, 8, 15, 22, 23), []string{"23/3", "15/3", "8/3"}},
		{"daily and weekly overlap", Policy{Daily: 2, Weekly: 2}, verified(0, 3, 6, 7, 8, 9),
			[]string{"9/3", "8/3", "6/3"}},
		{"zero keeps only the newest verified", Policy{}, verified(0, 1, 2), []string{"2/3"}},
		{"the newest verified survives a newer failure", Policy{},
			[]rec{{0, 3, StatusVerified}, {1, 3, StatusVerified}, {2, 3, StatusFailed}},
			[]string{"2/3", "1/3"}},
		{"unverified backups older than a verified one go", Policy{Daily: 5},
			[]rec{{0, 3, StatusFailed}, {1, 3, StatusUploaded}, {2, 3, StatusVerified}, {3, 3, StatusFailed}},
			[]string{"3/3", "2/3"}},
		{"a running backup stays", Policy{},
			[]rec{{0, 3, StatusRunning}, {1, 3, StatusVerified}},
			[]string{"1/3", "0/3"}},
		{"nothing is deleted without a verified backup", Policy{},
			[]rec{{0, 3, StatusFailed}, {1, 3, StatusFailed}},
			[]string{"1/3", "0/3"}},
		{"failed backups do not use a day", Policy{Daily: 2},
			[]rec{{0, 3, StatusVerified}, {1, 3, StatusVerified}, {2, 3, StatusVerified}, {2, 9, StatusFailed}},
			[]string{"2/9", "2/3", "1/3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []Record
			for i, r := range tt.recs {
				recs = append(recs, Record{ID: int64(i + 1), Key: fmt.Sprintf("%d/%d", r.day, r.hour), Status: r.status, StartedAt: at(r.day, r.hour)})
			}
			keep, drop := Plan(recs, tt.policy)
			var got []string
			for _, r := range keep {
				got = append(got, r.Key)
			}
			if !slices.Equal(got, tt.keep) {
				t.Errorf("keep %v, want %v", got, tt.keep)
			}
			if len(keep)+len(drop) != len(recs) {
				t.Errorf("keep %d + drop %d != %d records", len(keep), len(drop), len(recs))
			}
			for i := 1; i < len(drop); i++ {
				if drop[i].StartedAt.Before(drop[i-1].StartedAt) {
					t.Errorf("drop not oldest first: %v", drop)
				}
			}
		})
	}
}
