package backup

// Tests of verification and retention details, written for `make mutate`:
// each names the gremlins mutants it kills.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
)

// Two runs that started in the same second are ordered by id: the later
// row is the newer backup, the one retention keeps.
// Kills: Plan's tie-break `rs[i].ID > rs[j].ID` negated or made >=.
func TestPlanSameSecond(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC)
	recs := []Record{
		{ID: 7, Key: "a", Status: StatusVerified, StartedAt: at},
		{ID: 9, Key: "b", Status: StatusVerified, StartedAt: at},
		{ID: 8, Key: "c", Status: StatusVerified, StartedAt: at},
	}
	keep, drop := Plan(recs, Policy{Daily: 1})
	if len(keep) != 1 || keep[0].ID != 9 {
		t.Errorf("kept %+v, want only id 9", keep)
	}
	if len(drop) != 2 {
		t.Errorf("dropped %+v, want ids 7 and 8", drop)
	}
}

// The scratch database's name stays within PostgreSQL's 63 bytes: a
// source name is cut at 40 bytes, not before.
// Kills: scratchName's `len(database) > 40` made >= or negated.
func TestScratchName(t *testing.T) {
	forty := strings.Repeat("d", 40)
	if got := scratchName(forty); got != forty+"_backup_verify" {
		t.Errorf("scratchName(40 bytes) = %q", got)
	}
	if got := scratchName(forty + "xyz"); got != forty+"_backup_verify" {
		t.Errorf("scratchName(43 bytes) = %q", got)
	}
	if got := scratchName("concierge"); got != "concierge_backup_verify" {
		t.Errorf("scratchName(concierge) = %q", got)
	}
}

// A restore checks the object against the sha256 and size in its
// metadata: an object without them (an interrupted upload) is refused
// before anything is created.
// Kills: Restore's `err != nil || info.Metadata["sha256"] == ""` made &&
// or either side negated.
func TestRestoreNeedsChecksumMetadata(t *testing.T) {
	d := dbtest.New(t)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, nil)
	ctx := context.Background()
	for key, meta := range map[string]map[string]string{
		"concierge/concierge-20260305T031700Z.dump.zst": {"size": "4"},
		"concierge/concierge-20260305T031800Z.dump.zst": {"sha256": strings.Repeat("ab", 32)},
		"concierge/concierge-20260305T031900Z.dump.zst": {"sha256": strings.Repeat("ab", 32), "size": "four"},
	} {
		if _, err := s.Store.Put(ctx, key, strings.NewReader("data"), func() map[string]string { return meta }); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Restore(ctx, key, "restored_"+strings.ToLower(strings.TrimSuffix(key[len("concierge/concierge-"):], ".dump.zst")))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no sha256 and size metadata") {
			t.Errorf("Restore of %s (metadata %v) = %+v, %v; want ErrCorrupt", key, meta, rep, err)
		}
	}
	if n := dbtest.Count(t, d.Pool, "pg_database", "datname LIKE 'restored_%'"); n != 0 {
		t.Errorf("%d databases created", n)
	}
}
