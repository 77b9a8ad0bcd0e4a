package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var testKind = jobs.Kind{Name: "test-index", Function: "test-fn"}

// recorder is a jobs.Invoker that records the job ids it was asked to run.
type recorder struct {
	mu   sync.Mutex
	jobs []string
}

func (r *recorder) Async(_ context.Context, _ string, _ []byte, h http.Header) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, h.Get(jobs.JobIDHeader))
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// batches records the size of every batch a Store runs.
type batches struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batches) add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, n)
}

func (b *batches) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

func setup(t *testing.T) (*Store, *recorder, *batches, *pgxpool.Pool) {
	t.Helper()
	d := dbtest.New(t)
	if _, err := d.Pool.Exec(context.Background(), `CREATE TABLE items (
		id text PRIMARY KEY, v integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	rec, obs := &recorder{}, &batches{}
	return &Store{DB: d.Pool, Invoker: rec, observe: obs.add}, rec, obs, d.Pool
}

// item is a delivery that upserts items(id) to v unless a larger v is
// stored, and queues a job for the item; a nil v fails (NOT NULL).
func item(key, id string, v *int) Delivery {
	return Delivery{
		Source: "test", EventType: "item.updated", DedupeKey: key, Payload: []byte(`{"id":"` + id + `"}`),
		Writes: []Write{{
			Name: "item",
			SQL: `INSERT INTO items (id, v) SELECT @id, @v WHERE EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, updated_at = now() WHERE items.v <= EXCLUDED.v
			RETURNING 'item:' || id AS subject`,
			Args: pgx.NamedArgs{"id": id, "v": v},
			Jobs: []JobFrom{{Kind: testKind, Column: "subject"}},
		}},
	}
}

func intp(v int) *int { return &v }

func ctx() context.Context { return logging.WithTrace(context.Background(), "trace-webhook-test") }

func count(t *testing.T, pool *pgxpool.Pool, table, cond string) int {
	t.Helper()
	return dbtest.Count(t, pool, table, cond)
}

// hold opens a transaction that has inserted the event with dedupe key key,
// so a delivery with that key waits on it; release rolls it back.
func hold(t *testing.T, pool *pgxpool.Pool, key string) (release func()) {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled)
		VALUES ('test', 'hold', $1, '{}', false)`, key); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(context.Background()) }) }
	t.Cleanup(release)
	return release
}

// queueBehind starts a delivery that blocks on a held event, then n more
// deliveries from make while the only flush slot is busy, and waits until
// all n are queued: the next flush takes them as one batch.
func queueBehind(t *testing.T, s *Store, pool *pgxpool.Pool, n int, mk func(i int) Delivery) (results []error, outcomes []Outcome, wait func()) {
	t.Helper()
	s.MaxFlushes = 1
	release := hold(t, pool, "blocker")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := s.Receive(ctx(), item("blocker", "blocker", intp(1))); err != nil {
			t.Errorf("blocker: %v", err)
		}
	}()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.active == 1 && len(s.queue) == 0
	})
	results, outcomes = make([]error, n), make([]Outcome, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i], results[i] = s.Receive(ctx(), mk(i))
		}()
	}
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == n
	})
	release()
	return results, outcomes, wg.Wait
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

func hasBatchOf(sizes []int, n int) bool {
	for _, s := range sizes {
		if s == n {
			return true
		}
	}
	return false
}

// Identical deliveries that land in one transaction store the event once,
// write once and queue one job; the others are duplicates.
func TestIdenticalDeliveriesInOneBatchStoreOnce(t *testing.T) {
	s, rec, obs, pool := setup(t)
	const n = 8
	errs, outs, wait := queueBehind(t, s, pool, n, func(int) Delivery { return item("same", "a", intp(5)) })
	wait()
	if !hasBatchOf(obs.get(), n) {
		t.Fatalf("batch sizes %v: the %d deliveries did not share a batch", obs.get(), n)
	}
	stored := 0
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		switch outs[i] {
		case Stored:
			stored++
		case Duplicate:
		default:
			t.Errorf("delivery %d: %s", i, outs[i])
		}
	}
	if stored != 1 {
		t.Errorf("stored %d times, want once (outcomes %v)", stored, outs)
	}
	if c := count(t, pool, "webhook_events", "dedupe_key = 'same'"); c != 1 {
		t.Errorf("events = %d, want 1", c)
	}
	if c := count(t, pool, "jobs", "subject = 'item:a'"); c != 1 {
		t.Errorf("jobs = %d, want 1", c)
	}
	// One for the blocker, one for the stored delivery.
	if c := rec.count(); c != 2 {
		t.Errorf("invocations = %d, want 2", c)
	}
}

// One delivery that fails in a batch fails alone: the batch rolls back and
// every delivery is retried on its own, leaving no trace of the bad one.
func TestFailingDeliveryDoesNotFailItsBatch(t *testing.T) {
	s, rec, obs, pool := setup(t)
	const n, bad = 6, 3
	errs, outs, wait := queueBehind(t, s, pool, n, func(i int) Delivery {
		d := item(fmt.Sprintf("k%d", i), fmt.Sprintf("i%d", i), intp(i))
		if i == bad {
			d.Writes[0].Args["v"] = nil
		}
		return d
	})
	wait()
	sizes := obs.get()
	if !hasBatchOf(sizes, n) {
		t.Fatalf("batch sizes %v: the %d deliveries did not share a batch", sizes, n)
	}
	for i := range errs {
		if i == bad {
			if errs[i] == nil {
				t.Errorf("bad delivery stored: %s", outs[i])
			}
			continue
		}
		if errs[i] != nil || outs[i] != Stored {
			t.Errorf("delivery %d: %s %v", i, outs[i], errs[i])
		}
	}
	if c := count(t, pool, "webhook_events", "dedupe_key = 'k3'"); c != 0 {
		t.Errorf("the bad delivery left its event")
	}
	if c := count(t, pool, "webhook_events", "dedupe_key LIKE 'k%'"); c != n-1 {
		t.Errorf("events = %d, want %d", c, n-1)
	}
	if c := count(t, pool, "items", "id <> 'blocker'"); c != n-1 {
		t.Errorf("items = %d, want %d", c, n-1)
	}
	if c := count(t, pool, "jobs", "subject LIKE 'item:i%'"); c != n-1 {
		t.Errorf("jobs = %d, want %d", c, n-1)
	}
	if c := rec.count(); c != n {
		t.Errorf("invocations = %d, want %d (blocker and the good ones)", c, n)
	}
}

// An older delivery batched after a newer one for the same row changes
// nothing, as it would alone.
func TestOlderDeliveryInSameBatchDoesNotRegress(t *testing.T) {
	s, _, obs, pool := setup(t)
	errs, _, wait := queueBehind(t, s, pool, 2, func(i int) Delivery {
		if i == 0 {
			return item("new", "x", intp(9))
		}
		return item("old", "x", intp(2))
	})
	wait()
	if !hasBatchOf(obs.get(), 2) {
		t.Fatalf("batch sizes %v", obs.get())
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := pool.QueryRow(context.Background(), "SELECT v FROM items WHERE id = 'x'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	// The queue order is the order goroutines reached it; either way the
	// newest value wins.
	if v != 9 {
		t.Errorf("v = %d, want 9", v)
	}
}

// Under low load a delivery runs at once in a batch of its own: nothing
// waits for company, so sequential deliveries see no added latency.
func TestLowLoadFlushesAlone(t *testing.T) {
	s, rec, obs, pool := setup(t)
	for i := 0; i < 5; i++ {
		if out, err := s.Receive(ctx(), item(fmt.Sprintf("seq%d", i), fmt.Sprintf("s%d", i), intp(i))); err != nil || out != Stored {
			t.Fatalf("delivery %d: %s %v", i, out, err)
		}
	}
	for _, n := range obs.get() {
		if n != 1 {
			t.Fatalf("batch sizes %v, want all 1", obs.get())
		}
	}
	if c := count(t, pool, "items", ""); c != 5 || rec.count() != 5 {
		t.Errorf("items %d, invocations %d, want 5 and 5", c, rec.count())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != 0 || len(s.queue) != 0 {
		t.Errorf("idle store holds active=%d queue=%d", s.active, len(s.queue))
	}
}

// Many concurrent deliveries, duplicates among them, against the group
// commit with one or several batches in flight: each distinct event is
// stored once with one job, every caller gets an answer, and the store
// ends idle.
func TestConcurrentDeliveries(t *testing.T) {
	for _, tc := range []struct{ flushes, batch int }{{1, 8}, {3, 4}, {0, 0}} {
		t.Run(fmt.Sprintf("flushes=%d,batch=%d", tc.flushes, tc.batch), func(t *testing.T) {
			s, rec, obs, pool := setup(t)
			s.MaxFlushes, s.MaxBatch = tc.flushes, tc.batch
			const n, distinct = 300, 60
			var wg sync.WaitGroup
			var mu sync.Mutex
			stored := 0
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := i % distinct
					out, err := s.Receive(ctx(), item(fmt.Sprintf("c%d", k), fmt.Sprintf("c%d", k), intp(k)))
					if err != nil {
						t.Errorf("delivery %d: %v", i, err)
						return
					}
					if out == Stored {
						mu.Lock()
						stored++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if stored != distinct {
				t.Errorf("stored %d, want %d", stored, distinct)
			}
			if c := count(t, pool, "webhook_events", ""); c != distinct {
				t.Errorf("events = %d, want %d", c, distinct)
			}
			if c := count(t, pool, "jobs", ""); c != distinct || rec.count() != distinct {
				t.Errorf("jobs = %d, invocations = %d, want %d", c, rec.count(), distinct)
			}
			for _, size := range obs.get() {
				if size > s.maxBatch() {
					t.Errorf("batch of %d exceeds MaxBatch %d", size, s.maxBatch())
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.active != 0 || len(s.queue) != 0 {
				t.Errorf("store not idle: active=%d queue=%d", s.active, len(s.queue))
			}
		})
	}
}

// Concurrent batches that update the same rows in crossed orders may
// deadlock; PostgreSQL aborts one, and its deliveries are retried alone, so
// every delivery still lands and the newest value wins.
func TestCrossedBatchesStillLand(t *testing.T) {
	s, _, _, pool := setup(t)
	s.MaxFlushes, s.MaxBatch = 2, 4
	const n = 48
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"p", "q", "r"}[(i*7)%3]
			if _, err := s.Receive(ctx(), item(fmt.Sprintf("x%d", i), id, intp(i))); err != nil {
				t.Errorf("delivery %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if c := count(t, pool, "webhook_events", ""); c != n {
		t.Errorf("events = %d, want %d", c, n)
	}
	for _, id := range []string{"p", "q", "r"} {
		var got, want int
		if err := pool.QueryRow(context.Background(), "SELECT v FROM items WHERE id = $1", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if []string{"p", "q", "r"}[(i*7)%3] == id {
				want = i
			}
		}
		if got != want {
			t.Errorf("%s: v = %d, want the newest %d", id, got, want)
		}
	}
}

// MaxBatch 1 runs every delivery at once on its own, concurrently.
func TestGroupCommitOff(t *testing.T) {
	s, rec, obs, pool := setup(t)
	s.MaxBatch = 1
	release := hold(t, pool, "off0")
	done := make(chan error, 1)
	go func() {
		_, err := s.Receive(ctx(), item("off0", "o0", intp(0)))
		done <- err
	}()
	// The first delivery waits on the held event; the second does not
	// wait behind it.
	waitFor(t, func() bool {
		return count(t, pool, "pg_stat_activity", "wait_event_type = 'Lock' AND datname = current_database()") == 1
	})
	if out, err := s.Receive(ctx(), item("off1", "o1", intp(1))); err != nil || out != Stored {
		t.Fatalf("second delivery: %s %v", out, err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(obs.get()) != 0 || rec.count() != 2 || count(t, pool, "items", "") != 2 {
		t.Errorf("batches %v, invocations %d", obs.get(), rec.count())
	}
}

// With PostgreSQL unreachable every delivery of a batch is Unavailable
// (the hook answers 503) and none is retried alone.
func TestUnavailableBatch(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	obs := &batches{}
	s := &Store{DB: pool, Invoker: &recorder{}, observe: obs.add}
	batch := make([]*pending, 3)
	for i := range batch {
		sql, args := statement(item(fmt.Sprintf("u%d", i), "u", intp(i)))
		args["trace_id"] = "t"
		psql, vals, err := bind(sql, args)
		if err != nil {
			t.Fatal(err)
		}
		batch[i] = &pending{ctx: context.Background(), sql: psql, args: vals, ch: make(chan bool, 2)}
	}
	s.run(batch)
	for i, p := range batch {
		if fault.KindOf(classify(p.err)) != fault.Unavailable {
			t.Errorf("delivery %d: %v, want unavailable", i, p.err)
		}
	}
	if got := obs.get(); len(got) != 1 || got[0] != 3 {
		t.Errorf("batches %v, want one of 3 and no retries", got)
	}
	// Alone, through Receive, as the hooks call it.
	if _, err := s.Receive(ctx(), item("alone", "u", intp(1))); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Receive: %v, want unavailable", err)
	}
}

// A batch outlives a caller that went away while others still wait, and
// stops once nobody waits.
func TestBatchContext(t *testing.T) {
	a, cancelA := context.WithCancel(context.Background())
	b, cancelB := context.WithCancel(context.Background())
	ctx, release := batchContext([]*pending{{ctx: a}, {ctx: b}})
	defer release()
	cancelA()
	select {
	case <-ctx.Done():
		t.Fatal("batch cancelled while a caller still waits")
	case <-time.After(20 * time.Millisecond):
	}
	cancelB()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("batch not cancelled once every caller went away")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("err = %v", ctx.Err())
	}
}

// bind reproduces pgx's named-argument rewrite, cached per statement.
func TestBindMatchesNamedArgs(t *testing.T) {
	d := item("k", "id1", intp(7))
	sql, args := statement(d)
	args["trace_id"] = "tr"
	wantSQL, wantArgs, err := args.RewriteQuery(context.Background(), nil, sql, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // uncached, then cached
		gotSQL, gotArgs, err := bind(sql, args)
		if err != nil {
			t.Fatal(err)
		}
		if gotSQL != wantSQL || fmt.Sprint(gotArgs) != fmt.Sprint(wantArgs) {
			t.Fatalf("round %d: bind = %q %v, want %q %v", round, gotSQL, gotArgs, wantSQL, wantArgs)
		}
	}
	// A statement naming an argument the delivery lacks binds NULL there
	// and is not cached, so a later delivery that has it is not misbound.
	partial := pgx.NamedArgs{"a": 1}
	q := "SELECT @a::int, @b::int"
	if _, vals, _ := bind(q, partial); len(vals) != 2 || vals[1] != nil {
		t.Fatalf("partial bind = %v", vals)
	}
	if _, vals, _ := bind(q, pgx.NamedArgs{"a": 1, "b": 2}); vals[1] != 2 {
		t.Fatalf("full bind after partial = %v", vals)
	}
}
