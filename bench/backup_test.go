package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/objstore/s3test"
	"github.com/harborstays/concierge/lib/stack"
	"github.com/jackc/pgx/v5"
)

// Backup benchmark settings (environment):
//
//	BENCH_BACKUP_MB   size of the generated database, default 1024; the
//	                  flatness run uses a quarter of it
//	BENCH_BACKUP_S3=0 skip the run against the S3 server (versitygw)
const (
	backupDefaultMB = 1024
	backupTimeRatio = 1.2      // target: dump+upload within 1.2x pg_dump -Fc > file
	backupRSSLimit  = 64 << 20 // target: the function's peak RSS
)

// backupReport is the function's JSON answer (lib/backup.Report).
type backupReport struct {
	Status        string  `json:"status"`
	Error         string  `json:"error"`
	Bytes         int64   `json:"bytes"`
	DumpBytes     int64   `json:"dump_bytes"`
	DumpSeconds   float64 `json:"dump_seconds"`
	VerifySeconds float64 `json:"verify_seconds"`
}

type backupRun struct {
	report backupReport
	wall   time.Duration // the whole request: dump, upload, verify, retention
	vmHWM  int64         // the function process's peak RSS
	tools  map[string]int64
}

// BenchmarkBackup generates a database, times `pg_dump -Fc > file` on it,
// then runs the backup function's own binary (built like `make build`) in a
// child process and reads its peak RSS (VmHWM) from /proc before it exits.
// Two sizes show whether the function's memory stays flat as data grows.
func BenchmarkBackup(b *testing.B) {
	mb := backupDefaultMB
	if v := os.Getenv("BENCH_BACKUP_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 {
			b.Fatalf("BENCH_BACKUP_MB=%q: want a number of megabytes >= 8", v)
		}
		mb = n
	}
	if dbtest.Cluster() == nil {
		b.Skip("needs the PostgreSQL cluster the test harness starts (not CONCIERGE_TEST_DATABASE_URL)")
	}
	bin := buildBackupFunction(b)
	pgDump := filepath.Join(dbtest.Cluster().BinDir(), "pg_dump")
	fmt.Printf("\nThe backup function's own binary, with its stack.yml environment (GOMEMLIMIT=%s), in a child process\n",
		backupStackEnv(b)["GOMEMLIMIT"])

	type store struct {
		name string
		env  func(b *testing.B) map[string]string
	}
	stores := []store{{"local folder", func(b *testing.B) map[string]string {
		return map[string]string{"BACKUP_DIR": b.TempDir()}
	}}}
	if os.Getenv("BENCH_BACKUP_S3") != "0" {
		stores = append(stores, store{"S3 (versitygw, loopback)", func(b *testing.B) map[string]string {
			srv := s3test.Start(b)
			return srv.Env(srv.Bucket(b))
		}})
	}

	for n := 0; n < b.N; n++ {
		var flat []string
		for _, size := range []int{mb / 4, mb} {
			d := dbtest.New(b)
			onDisk := generateBackupData(b, d, size)
			file := filepath.Join(b.TempDir(), "baseline.dump")
			start := time.Now()
			cmd := exec.Command(pgDump, "-Fc", "-f", file, "--dbname="+d.URL)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			w := watchRSS(cmd.Process.Pid)
			if err := cmd.Wait(); err != nil {
				b.Fatalf("pg_dump: %v\n%s", err, out.String())
			}
			baseRSS := w.stop()["pg_dump"]
			base := time.Since(start)
			st, _ := os.Stat(file)
			fmt.Printf("\nBackup of a generated database: %d MB asked, %d MB on disk (pg_database_size)\n", size, onDisk>>20)
			fmt.Printf("%-44s %9s %8s %10s  %s\n", "", "wall", "x base", "object", "peak RSS")
			fmt.Printf("%-44s %8.1fs %7.2fx %7d MB  pg_dump %d MB\n", "baseline: pg_dump -Fc > file", base.Seconds(), 1.0, st.Size()>>20, baseRSS>>20)
			for _, s := range stores {
				r := runBackupFunction(b, bin, d.URL, s.env(b))
				rep := r.report
				ratio := rep.DumpSeconds / base.Seconds()
				verdict := "meets"
				if ratio > backupTimeRatio || r.vmHWM > backupRSSLimit {
					verdict = "MISSES"
				}
				fmt.Printf("%-44s %8.1fs %7.2fx %7d MB  function %d MB, pg_dump %d MB\n", "backup to "+s.name+": dump+zstd+upload",
					rep.DumpSeconds, ratio, rep.Bytes>>20, r.vmHWM>>20, r.tools["pg_dump"]>>20)
				fmt.Printf("%-44s %8.1fs %8s %10s  pg_restore %d MB\n", "  then verify (read back, pg_restore, count)", rep.VerifySeconds, "", "", r.tools["pg_restore"]>>20)
				fmt.Printf("%-44s %8.1fs\n", "  whole run (HTTP request)", r.wall.Seconds())
				fmt.Printf("  %s the target (dump+upload <= %.1fx pg_dump -Fc, function peak RSS <= %d MB)\n", verdict, backupTimeRatio, backupRSSLimit>>20)
				flat = append(flat, fmt.Sprintf("%s at %d MB: %d MB", s.name, onDisk>>20, r.vmHWM>>20))
				b.ReportMetric(ratio, "x-pg_dump")
				b.ReportMetric(float64(r.vmHWM>>20), "MB-peak-rss")
			}
		}
		fmt.Printf("\nFunction peak RSS by database size: %s\n", strings.Join(flat, "; "))
	}
}

// generateBackupData fills d with about mb megabytes: a message-like table
// (hex text that compresses about 2:1, a jsonb column, a primary key and a
// second index), in 100,000-row batches. It returns pg_database_size.
func generateBackupData(b *testing.B, d *dbtest.DB, mb int) int64 {
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE bench_messages (
		id bigint PRIMARY KEY, conversation_id bigint NOT NULL, created_at timestamptz NOT NULL,
		body text NOT NULL, meta jsonb NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	const batch = 20_000
	var size int64
	for from := 1; ; from += batch {
		if _, err := d.Pool.Exec(ctx, `
			INSERT INTO bench_messages
			SELECT i, i / 20, timestamptz '2026-01-01' + i * interval '1 second',
			       encode(sha512(int8send(i)), 'hex') || ' ' || encode(sha512(int8send(-i)), 'hex') || ' ' ||
			       encode(sha512(int8send(i * 7)), 'hex'),
			       jsonb_build_object('channel', 'whatsapp', 'author', 'guest-' || (i % 5000), 'seq', i,
			                          'tag', encode(sha256(int8send(i)), 'hex'))
			FROM generate_series($1::bigint, $2::bigint) i`, from, from+batch-1); err != nil {
			b.Fatal(err)
		}
		if err := d.Pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
			b.Fatal(err)
		}
		if size >= int64(mb)<<20 {
			break
		}
	}
	for _, q := range []string{"CREATE INDEX ON bench_messages (conversation_id)", "VACUUM ANALYZE bench_messages"} {
		if _, err := d.Pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
		b.Fatal(err)
	}
	return size
}

// buildBackupFunction builds the function's image binary the way `make
// build` does: the template's main.go pointed at functions/backup.
func buildBackupFunction(b *testing.B) string {
	main, err := os.ReadFile("../template/concierge-go/main.go")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join("..", "build", "main", "backup")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	src := bytes.ReplaceAll(main, []byte(`concierge/functions/handler"`), []byte(`concierge/functions/backup"`))
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "backup")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./build/main/backup")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the backup function: %v\n%s", err, out)
	}
	return bin
}

// runBackupFunction runs one backup through the function's own binary and
// reads its peak RSS before it stops.
func runBackupFunction(b *testing.B, bin, dbURL string, env map[string]string) backupRun {
	p := startBackupFunction(b, bin, dbURL, env)
	defer p.stop()
	w := watchRSS(p.cmd.Process.Pid)
	var rep backupReport
	wall := p.run(b, "", &rep)
	return backupRun{report: rep, wall: wall, vmHWM: vmHWM(b, p.cmd.Process.Pid), tools: w.stop()}
}

// backupProcess is the backup function's binary started as of-watchdog
// would start it, with its stack.yml environment.
type backupProcess struct {
	cmd   *exec.Cmd
	url   string
	dbURL string
	logs  *bytes.Buffer
	keys  *jobs.Keys
}

// startBackupFunction starts bin with stack.yml's backup environment, then
// the database and store of this run (env), and waits until it listens.
func startBackupFunction(b *testing.B, bin, dbURL string, env map[string]string) *backupProcess {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range backupStackEnv(b) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// BACKUP_DATABASES empty: this run's database only, not stack.yml's list.
	// The scheduled call queues the run and invokes it through GATEWAY_URL;
	// the bench invokes the job itself, signed with this key, and points
	// the gateway at a closed port (the job stays pending for redrive).
	key := jobs.RandomKey()
	keys, err := jobs.NewKeys(key)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "DATABASE_URL="+dbURL, "SECRETS_DIR="+b.TempDir(), "LOG_LEVEL=warn", "BACKUP_DATABASES=",
		"http_upstream_port="+strconv.Itoa(port), "JOB_SIGNING_KEY="+key, "GATEWAY_URL=http://127.0.0.1:1",
		// No watchdog in front: stop at SIGTERM, without the template's
		// grace for the watchdog's own (which defaults to write_timeout).
		"healthcheck_interval=0s")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &backupProcess{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port), dbURL: dbURL, logs: &bytes.Buffer{}, keys: keys}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			b.Fatalf("the function did not listen: %s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *backupProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// run makes the call a schedule (body "") or a person ({"what":...}) makes,
// which queues a job, then invokes that job signed, as the queue-worker
// would, and decodes its report into result. wall is the job's request:
// the run itself. Earlier backup jobs are removed first: a schedule's
// minute runs once, and a bench makes several runs in one minute.
func (p *backupProcess) run(b *testing.B, body string, result any) time.Duration {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.Exec(ctx, "DELETE FROM jobs WHERE kind = $1", jobs.Backup.Name)
	conn.Close(ctx)
	if err != nil {
		b.Fatal(err)
	}
	res, err := http.Post(p.url, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatalf("POST: %v\n%s", err, p.logs.String())
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var queued struct {
		JobID   string `json:"job_id"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(out, &queued); err != nil || res.StatusCode != http.StatusAccepted {
		b.Fatalf("the call: %d %s\n%s", res.StatusCode, out, p.logs.String())
	}
	msg, _ := json.Marshal(jobs.Message{JobID: queued.JobID, Kind: jobs.Backup.Name, Subject: queued.Subject})
	req, _ := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(msg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(jobs.JobIDHeader, queued.JobID)
	p.keys.Sign(req.Header, jobs.Backup.Function, msg)
	start := time.Now()
	res, err = (&http.Client{Timeout: time.Hour}).Do(req)
	if err != nil {
		b.Fatalf("POST the job: %v\n%s", err, p.logs.String())
	}
	out, _ = io.ReadAll(res.Body)
	res.Body.Close()
	wall := time.Since(start)
	done := struct {
		Result any `json:"result"`
	}{Result: result}
	if err := json.Unmarshal(out, &done); err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("the job: %d %s\n%s", res.StatusCode, out, p.logs.String())
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		fmt.Println(p.logs.String())
	}
	return wall
}

// vmHWM is a live process's peak resident set size, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	hwm := procHWM(pid)
	if hwm == 0 {
		b.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	return hwm
}

// backupStackEnv is the backup function's environment in stack.yml.
func backupStackEnv(b *testing.B) map[string]string {
	st, err := stack.Load("../stack.yml")
	if err != nil {
		b.Fatal(err)
	}
	fn, ok := st.Functions["backup"]
	if !ok {
		b.Fatal("stack.yml has no backup function")
	}
	return fn.Environment
}

// rssWatch samples the peak RSS (VmHWM) of a process and its descendants
// by command name. Go starts children with vfork, so a child's rusage
// counts its parent's memory: /proc is the honest source.
type rssWatch struct {
	pid  int
	mu   sync.Mutex
	peak map[string]int64
	quit chan struct{}
	done chan struct{}
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, peak: map[string]int64{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample(w.pid)
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) sample(pid int) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return
	}
	if hwm := procHWM(pid); hwm > 0 {
		name := strings.TrimSpace(string(comm))
		w.mu.Lock()
		w.peak[name] = max(w.peak[name], hwm)
		w.mu.Unlock()
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil {
				w.sample(child)
			}
		}
	}
}

// stop ends the sampling and returns the peaks in bytes.
func (w *rssWatch) stop() map[string]int64 {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
