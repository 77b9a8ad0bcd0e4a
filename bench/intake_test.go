// Package bench holds the load benchmarks behind `make bench`. Each prints
// its figure beside a baseline measured in the same run on the same
// database.
package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	aircallhook "github.com/harborstays/concierge/functions/aircall-hook"
	guestyhook "github.com/harborstays/concierge/functions/guesty-hook"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fixtures"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	concurrency  = 32
	throughputN  = 8000 // requests per closed-loop run
	targetRate   = 1000 // requests per second for the latency run
	latencyRunN  = 5000
	latencyLimit = 10 * time.Millisecond
)

// request is one prepared delivery: distinct ids, so every request writes.
type request struct {
	body   []byte
	header http.Header
}

func aircallRequests(n int) []request {
	tmpl := string(fixtures.Read("aircall/call.ended.json"))
	out := make([]request, n)
	for i := range out {
		b := strings.Replace(tmpl, `"id": 1843377012`, `"id": `+strconv.Itoa(2000000000+i), 1)
		b = strings.Replace(b, `"timestamp": 1752868932`, `"timestamp": `+strconv.Itoa(1752868932+i), 1)
		out[i] = request{body: []byte(b), header: http.Header{"Content-Type": {"application/json"}}}
	}
	return out
}

func guestyRequests(n int) []request {
	tmpl := string(fixtures.Read("guesty/reservation.new.json"))
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(fixtures.GuestySecret, "whsec_"))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	out := make([]request, n)
	for i := range out {
		b := strings.Replace(tmpl, `"_id": "6701a2b3c4d5e6f708192a3b"`, fmt.Sprintf(`"_id": "bench%019d"`, i), 1)
		id := "msg_bench_" + strconv.Itoa(i)
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.%s", id, ts, b)
		h := http.Header{"Content-Type": {"application/json"}}
		h.Set("svix-id", id)
		h.Set("svix-timestamp", ts)
		h.Set("svix-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		out[i] = request{body: []byte(b), header: h}
	}
	return out
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
	// cpu is the CPU time per request of the throughput run: this process
	// (client, server, in-process gateway) and the PostgreSQL server. On
	// a shared machine it is steadier than req/s, which others' load moves.
	cpu, pgCPU time.Duration
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

func send(url string, r request) (time.Duration, bool) {
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.body))
	req.Header = r.header.Clone()
	res, err := client.Do(req)
	if err != nil {
		return time.Since(start), false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return time.Since(start), res.StatusCode == http.StatusOK
}

// closedLoop sends reqs with `concurrency` workers as fast as they answer.
func closedLoop(url string, reqs []request) result {
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) {
					return
				}
				if _, ok := send(url, reqs[i]); !ok {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return result{rps: float64(len(reqs)) / time.Since(start).Seconds(), errors: errs.Load()}
}

// openLoop sends reqs at a fixed rate and measures latency from each
// request's scheduled time, so a stall is not hidden by the sender waiting.
func openLoop(url string, reqs []request, rate int) result {
	lat := make([]time.Duration, len(reqs))
	var errs atomic.Int64
	interval := time.Second / time.Duration(rate)
	work := make(chan int, len(reqs))
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency*2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				due := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				_, ok := send(url, reqs[i])
				lat[i] = time.Since(due)
				if !ok {
					errs.Add(1)
				}
			}
		}()
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{
		rps: float64(len(reqs)) / time.Since(start).Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], errors: errs.Load(),
	}
}

func serveHook(b *testing.B, d *dbtest.DB, name string, ctor faas.Constructor, env map[string]string) string {
	// The hooks invoke vectorize through a gateway, as deployed: a local one
	// that answers 202 like the OpenFaaS gateway's async route.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(gw.Close)
	// The hooks sign the invocations they send (benchKey: voice_functions_test.go).
	vars := map[string]string{"SECRETS_DIR": b.TempDir(), "LOG_LEVEL": "info", "JOB_SIGNING_KEY": benchKey}
	for k, v := range env {
		vars[k] = v
	}
	h, e, err := faas.Build(context.Background(), faas.Options{
		Name: name, Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		LogOutput: io.Discard, DB: d.Pool, Invoker: faas.NewGateway(gw.URL),
	}, ctor)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(faas.Handler(h, e.MaxBody))
	b.Cleanup(srv.Close)
	return srv.URL
}

// serveBaseline is the floor: a bare net/http handler doing one pgx INSERT
// of the raw body.
func serveBaseline(b *testing.B, d *dbtest.DB) string {
	if _, err := d.Pool.Exec(context.Background(), "CREATE TABLE baseline_raw (id bigserial PRIMARY KEY, payload jsonb NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, err := d.Pool.Exec(r.Context(), "INSERT INTO baseline_raw (payload) VALUES ($1)", body); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkIntake prints throughput at concurrency 32 and latency at
// 1,000 requests/s for each hook beside the baseline. Run with -benchtime 1x:
// the benchmark drives its own fixed load.
func BenchmarkIntake(b *testing.B) {
	type target struct {
		name string
		url  func(*dbtest.DB) string
		reqs func(int) []request
	}
	targets := []target{
		{"baseline (net/http + 1 INSERT)", func(d *dbtest.DB) string { return serveBaseline(b, d) }, aircallRequests},
		{"aircall-hook", func(d *dbtest.DB) string {
			return serveHook(b, d, aircallhook.Name, aircallhook.New, map[string]string{"AIRCALL_WEBHOOK_TOKEN": fixtures.AircallToken})
		}, aircallRequests},
		{"guesty-hook", func(d *dbtest.DB) string {
			return serveHook(b, d, guestyhook.Name, guestyhook.New, map[string]string{"GUESTY_WEBHOOK_SECRET": fixtures.GuestySecret})
		}, guestyRequests},
	}
	results := make([]result, len(targets))
	for n := 0; n < b.N; n++ {
		for i, t := range targets {
			d := dbtest.New(b)
			url := t.url(d)
			// Warm connections and caches.
			closedLoop(url, t.reqs(200))
			truncate(b, d)
			reqs := t.reqs(throughputN)
			pg := serverPIDs()
			self0, pg0 := processCPU(os.Getpid()), processesCPU(pg)
			thr := closedLoop(url, reqs)
			self1, pg1 := processCPU(os.Getpid()), processesCPU(pg)
			truncate(b, d)
			lat := openLoop(url, t.reqs(latencyRunN), targetRate)
			results[i] = result{rps: thr.rps, p50: lat.p50, p99: lat.p99, errors: thr.errors + lat.errors,
				cpu: (self1 - self0) / throughputN}
			if pg != nil {
				results[i].pgCPU = (pg1 - pg0) / throughputN
			}
		}
	}
	base := results[0]
	fmt.Printf("\nIntake over loopback HTTP into PostgreSQL (%s)\n", durability())
	fmt.Printf("%-32s %12s %10s %12s %12s %8s %18s\n", "", "req/s @c=32", "x base", "p50@1000/s", "p99@1000/s", "errors", "cpu/req go+pg")
	for i, t := range targets {
		r := results[i]
		pgCPU := "-"
		if r.pgCPU > 0 {
			pgCPU = fmt.Sprint(r.pgCPU.Round(time.Microsecond))
		}
		fmt.Printf("%-32s %12.0f %9.2fx %12s %12s %8d %18s\n", t.name, r.rps, r.rps/base.rps, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors,
			fmt.Sprintf("%s+%s", r.cpu.Round(time.Microsecond), pgCPU))
		b.ReportMetric(r.rps, strings.Fields(t.name)[0]+"-req/s")
	}
	for i, t := range targets[1:] {
		verdict, why := intakeVerdict(results[i+1], base)
		fmt.Printf("%s %s the target (>= %.1fx baseline throughput, p99 <= %s at %d/s, no errors)%s\n", t.name, verdict, minThroughputRatio, latencyLimit, targetRate, why)
	}
}

// minThroughputRatio is the hooks' throughput target against the baseline.
const minThroughputRatio = 0.8

// intakeVerdict judges a hook's result against the baseline's. An error is
// a delivery not stored (a sender would retry it, Aircall would count it
// toward disabling the webhook): any error misses the target, and the
// figures of a run with errors do not count, since a refused request
// answers faster than a stored one. A baseline with errors compares
// with nothing. why lists what missed.
func intakeVerdict(r, base result) (verdict, why string) {
	var miss []string
	if r.errors > 0 {
		miss = append(miss, fmt.Sprintf("%d errors", r.errors))
	}
	if base.errors > 0 {
		miss = append(miss, fmt.Sprintf("the baseline had %d errors", base.errors))
	}
	if base.rps <= 0 || r.rps < minThroughputRatio*base.rps {
		miss = append(miss, fmt.Sprintf("%.0f req/s is below %.1fx the baseline's %.0f", r.rps, minThroughputRatio, base.rps))
	}
	if r.p99 > latencyLimit {
		miss = append(miss, fmt.Sprintf("p99 %s", r.p99.Round(10*time.Microsecond)))
	}
	if len(miss) == 0 {
		return "meets", ""
	}
	return "MISSES", ": " + strings.Join(miss, "; ")
}

// truncate empties what a run wrote, so the next run writes as much.
func truncate(b *testing.B, d *dbtest.DB) {
	b.Helper()
	if _, err := d.Pool.Exec(context.Background(), "TRUNCATE webhook_events, calls, reservations, guests, listings, jobs"); err != nil {
		b.Fatal(err)
	}
}

func durability() string {
	switch {
	case dbtest.Cluster() == nil:
		return "server of CONCIERGE_TEST_DATABASE_URL, with its own fsync setting"
	case os.Getenv("CONCIERGE_TEST_DURABLE") != "":
		return "fsync on"
	}
	return "fsync off, as in tests; CONCIERGE_TEST_DURABLE=1 for fsync on"
}

// serverPIDs lists the processes of the PostgreSQL cluster dbtest started
// (the postmaster, found by its port, and its children), or nil when the
// tests run against another server or /proc is not there. Backends that
// connect later are not counted; the warm-up run has opened the pool's.
func serverPIDs() []int {
	c := dbtest.Cluster()
	if c == nil {
		return nil
	}
	port := strconv.Itoa(c.Port())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	master, parent := 0, map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil {
			args := strings.Split(string(cmd), "\x00")
			for i := 0; i+1 < len(args); i++ {
				if args[i] == "-p" && args[i+1] == port && strings.HasSuffix(args[0], "postgres") {
					master = pid
				}
			}
		}
		if f := statFields(pid); len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	if master == 0 {
		return nil
	}
	pids := []int{master}
	for pid, pp := range parent {
		if pp == master {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// processCPU is the user and system time pid has used; clock ticks are
// taken as 100 per second, Linux's USER_HZ.
func processCPU(pid int) time.Duration {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func processesCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		total += processCPU(pid)
	}
	return total
}
