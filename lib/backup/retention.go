package backup

import (
	"fmt"
	"sort"
	"time"
)

// Policy is how many backups retention keeps.
type Policy struct {
	// Daily keeps the newest verified backup of each of the last Daily UTC
	// days that have one.
	Daily int
	// Weekly keeps the newest verified backup of each of the last Weekly ISO
	// weeks that have one.
	Weekly int
}

// Record is a backup as retention sees it.
type Record struct {
	ID        int64
	Key       string
	Status    string
	StartedAt time.Time
}

// Verified reports whether a restore of the backup was checked.
func (r Record) Verified() bool { return r.Status == StatusVerified }

// Plan splits records into those to keep and those to delete.
//
// Verified backups are kept by calendar bucket, as restic's --keep-daily and
// --keep-weekly do: walking from the newest, a backup is kept when it is the
// first seen of its day (or ISO week) and that rule still has days (weeks)
// left. Days without a backup do not count, so an outage of the backup never
// ages the remaining backups out. The newest verified backup is always kept.
//
// A backup that was never verified (failed, interrupted) is deleted once a
// newer verified backup exists; a running one is never deleted. With no
// verified backup at all, nothing is deleted.
func Plan(records []Record, p Policy) (keep, drop []Record) {
	rs := append([]Record(nil), records...)
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].StartedAt.Equal(rs[j].StartedAt) {
			return rs[i].StartedAt.After(rs[j].StartedAt)
		}
		return rs[i].ID > rs[j].ID
	})
	var newest *Record
	for i := range rs {
		if rs[i].Verified() {
			newest = &rs[i]
			break
		}
	}
	if newest == nil {
		return rs, nil
	}
	kept := map[int64]bool{newest.ID: true}
	bucket := func(n int, key func(time.Time) string) {
		last := ""
		for _, r := range rs {
			if n <= 0 {
				return
			}
			if !r.Verified() {
				continue
			}
			if k := key(r.StartedAt.UTC()); k != last {
				kept[r.ID] = true
				last = k
				n--
			}
		}
	}
	bucket(p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.Weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	for _, r := range rs {
		switch {
		case kept[r.ID]:
			keep = append(keep, r)
		case r.Verified():
			drop = append(drop, r)
		case r.Status == StatusRunning || !r.StartedAt.Before(newest.StartedAt):
			keep = append(keep, r)
		default:
			drop = append(drop, r)
		}
	}
	// Delete the oldest first: an interrupted retention leaves the newest.
	sort.SliceStable(drop, func(i, j int) bool { return drop[i].StartedAt.Before(drop[j].StartedAt) })
	return keep, drop
}
