package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/objstore/s3test"
)

// Attachment benchmark settings (environment):
//
//	BENCH_ATTACHMENTS_N    objects generated, default 5000 (the issue asks
//	                       for 50,000 and 10 GB "or scaled down": a 2-core
//	                       shared machine and a loopback S3 server)
//	BENCH_ATTACHMENTS_KB   mean object size in KiB, default 4 (sizes vary
//	                       from 1/8 to twice that; chat photos are larger,
//	                       but the count, not the bytes, is what costs here)
const (
	attachmentsDefaultN  = 5000
	attachmentsDefaultKB = 4
	attachmentsRSSLimit  = 64 << 20 // target: the function's peak RSS, as for the dumps
)

// BenchmarkAttachmentSync copies a generated bucket into another bucket of
// the same S3 server (versitygw on loopback) four ways and prints wall time
// and peak RSS of each:
//
//   - the backup function's own binary ({"what":"attachments"}), with its
//     stack.yml environment and encryption on, as deployed; then again with
//     nothing changed (the nightly case);
//   - aws s3 sync through a local folder (download, then upload): what the
//     CLI does between two providers, SeaweedFS and R2; then again;
//   - aws s3 sync bucket to bucket (server-side copies, possible only here,
//     where both buckets share a server);
//   - a naive sequential copy in Go (GET then PUT, one object at a time,
//     no state), the floor of a hand-written loop.
func BenchmarkAttachmentSync(b *testing.B) {
	n := envInt(b, "BENCH_ATTACHMENTS_N", attachmentsDefaultN)
	kb := envInt(b, "BENCH_ATTACHMENTS_KB", attachmentsDefaultKB)
	if _, err := exec.LookPath("aws"); err != nil {
		b.Skip("the aws CLI is the baseline: not installed")
	}
	srv := s3test.Start(b)
	source := srv.Bucket(b)
	d := dbtest.New(b)
	bin := buildBackupFunction(b)
	total := generateAttachments(b, srv, source, n, kb)
	fmt.Printf("\nAttachment sync: %d generated objects, %.1f MB, one versitygw on loopback (scaled down from 50,000 / 10 GB)\n", n, float64(total)/1e6)
	fmt.Printf("%-58s %9s %8s %10s\n", "", "wall", "x aws", "peak RSS")

	for i := 0; i < b.N; i++ {
		// aws s3 sync through a folder: the cross-provider baseline.
		dir := b.TempDir()
		viaDir := srv.Bucket(b)
		down, downRSS := timeAWS(b, srv, "s3", "sync", "--only-show-errors", "s3://"+source, dir)
		up, upRSS := timeAWS(b, srv, "s3", "sync", "--only-show-errors", dir, "s3://"+viaDir)
		base := down + up
		fmt.Printf("%-58s %8.1fs %7.2fx %7d MB\n", "baseline: aws s3 sync to a folder, then to the bucket", base.Seconds(), 1.0, max(downRSS, upRSS)>>20)
		again1, _ := timeAWS(b, srv, "s3", "sync", "--only-show-errors", "s3://"+source, dir)
		again2, _ := timeAWS(b, srv, "s3", "sync", "--only-show-errors", dir, "s3://"+viaDir)
		fmt.Printf("%-58s %8.1fs %7.2fx\n", "  again, nothing changed", (again1 + again2).Seconds(), (again1+again2).Seconds()/base.Seconds())
		direct := srv.Bucket(b)
		server, serverRSS := timeAWS(b, srv, "s3", "sync", "--only-show-errors", "s3://"+source, "s3://"+direct)
		fmt.Printf("%-58s %8.1fs %7.2fx %7d MB\n", "aws s3 sync bucket to bucket (server-side copies)", server.Seconds(), server.Seconds()/base.Seconds(), serverRSS>>20)

		naive, naiveN := naiveCopy(b, srv, source, srv.Bucket(b))
		if naiveN != n {
			b.Fatalf("naive copy copied %d of %d", naiveN, n)
		}
		fmt.Printf("%-58s %8.1fs %7.2fx %10s\n", "naive Go loop: GET then PUT, one at a time", naive.Seconds(), naive.Seconds()/base.Seconds(), "-")

		dest := srv.Bucket(b)
		id, err := age.GenerateX25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		secrets := b.TempDir()
		if err := os.WriteFile(filepath.Join(secrets, "backup-age-identity"), []byte(id.String()+"\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		env := srv.Env(dest)
		for k, v := range map[string]string{
			"SECRETS_DIR": secrets, "BACKUP_AGE_RECIPIENTS": id.Recipient().String(),
			"ATTACHMENTS_S3_ENDPOINT": srv.Endpoint, "ATTACHMENTS_BUCKET": source, "ATTACHMENTS_S3_REGION": "auto",
			"ATTACHMENTS_S3_ACCESS_KEY_ID": s3test.AccessKey, "ATTACHMENTS_S3_SECRET_ACCESS_KEY": s3test.SecretKey,
		} {
			env[k] = v
		}
		first := runAttachmentSync(b, bin, d.URL, env)
		if first.report.Copied != int64(n) {
			b.Fatalf("sync copied %d of %d: %+v", first.report.Copied, n, first.report)
		}
		ratio := first.wall.Seconds() / base.Seconds()
		verdict := "meets"
		if ratio > 1 || first.vmHWM > attachmentsRSSLimit {
			verdict = "MISSES"
		}
		fmt.Printf("%-58s %8.1fs %7.2fx %7d MB\n", "backup function, encrypted (age), first run", first.wall.Seconds(), ratio, first.vmHWM>>20)
		second := runAttachmentSync(b, bin, d.URL, env)
		if second.report.Copied != 0 || second.report.Unchanged != int64(n) {
			b.Fatalf("second sync: %+v", second.report)
		}
		fmt.Printf("%-58s %8.1fs %7.2fx %7d MB\n", "  again, nothing changed", second.wall.Seconds(), second.wall.Seconds()/(again1+again2).Seconds(), second.vmHWM>>20)
		fmt.Printf("  (each run also reads back and decrypts %d copies: BACKUP_ATTACHMENTS_VERIFY_SAMPLE)\n", first.report.Verified)
		fmt.Printf("  %s the target (first run no slower than the aws s3 sync baseline, function peak RSS <= %d MB)\n", verdict, attachmentsRSSLimit>>20)
		b.ReportMetric(ratio, "x-aws-sync")
		b.ReportMetric(float64(first.vmHWM>>20), "MB-peak-rss")
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// generateAttachments fills bucket with n objects of random content and
// sizes around kb KiB, keyed like ActiveStorage's (28 random characters),
// 16 uploads at a time. It returns the bytes stored.
func generateAttachments(b *testing.B, srv *s3test.Server, bucket string, n, kb int) int64 {
	src := bucketClient(b, srv, bucket)
	r := rand.New(rand.NewPCG(1, 2))
	type obj struct {
		key  string
		body []byte
	}
	jobs := make(chan obj, 64)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				if err := src.Put(context.Background(), o.key, bytes.NewReader(o.body), int64(len(o.body)), "image/jpeg"); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var total int64
	for range n {
		key := make([]byte, 28)
		for j := range key {
			key[j] = letters[r.IntN(len(letters))]
		}
		size := kb<<7 + r.IntN(kb<<11) // 1/8 to ~2x the mean
		body := make([]byte, size)
		for j := 0; j < size; j += 8 {
			v := r.Uint64()
			for k := 0; k < 8 && j+k < size; k++ {
				body[j+k] = byte(v >> (8 * k))
			}
		}
		total += int64(size)
		jobs <- obj{string(key), body}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return total
}

func bucketClient(b *testing.B, srv *s3test.Server, bucket string) *attachments.Bucket {
	c, err := attachments.NewBucket(attachments.BucketOptions{Endpoint: srv.Endpoint, Region: "auto", Bucket: bucket,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// timeAWS runs the aws CLI against srv and returns its wall time and the
// peak RSS of its process tree.
func timeAWS(b *testing.B, srv *s3test.Server, args ...string) (time.Duration, int64) {
	cmd := exec.Command("aws", append([]string{"--endpoint-url", srv.Endpoint, "--region", "auto"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := watchRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	wall := time.Since(start)
	var peak int64
	for _, v := range w.stop() {
		peak = max(peak, v)
	}
	return wall, peak
}

// naiveCopy copies every object of source into dest, one GET and one PUT
// at a time, buffering each object whole.
func naiveCopy(b *testing.B, srv *s3test.Server, source, dest string) (time.Duration, int) {
	from, to := bucketClient(b, srv, source), bucketClient(b, srv, dest)
	ctx := context.Background()
	start := time.Now()
	copied := 0
	err := from.List(ctx, func(page []attachments.Object) error {
		for _, o := range page {
			rc, info, err := from.Get(ctx, o.Key)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			if err := to.Put(ctx, o.Key, bytes.NewReader(body), int64(len(body)), info.ContentType); err != nil {
				return err
			}
			copied++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start), copied
}

type syncRun struct {
	report attachments.Report
	wall   time.Duration
	vmHWM  int64
}

// runAttachmentSync runs the backup function's binary for
// {"what":"attachments"} (startBackupFunction, backupProcess.run) and reads
// its peak RSS before it stops.
func runAttachmentSync(b *testing.B, bin, dbURL string, env map[string]string) syncRun {
	p := startBackupFunction(b, bin, dbURL, env)
	defer p.stop()
	var ans struct {
		Attachments *attachments.Report `json:"attachments"`
	}
	wall := p.run(b, `{"what":"attachments"}`, &ans)
	if ans.Attachments == nil {
		b.Fatalf("attachment sync: no report\n%s", p.logs.String())
	}
	return syncRun{report: *ans.Attachments, wall: wall, vmHWM: vmHWM(b, p.cmd.Process.Pid)}
}
