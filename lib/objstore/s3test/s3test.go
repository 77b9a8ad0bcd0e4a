// Package s3test starts a real S3-compatible server for tests — versitygw
// over a temporary folder, pinned to the version .ci/deps installs — and
// runs the aws CLI against it, so tests check what was stored with a client
// that is not ours.
//
// When versitygw or aws is missing the test is skipped, except under CI
// (CI set), where it fails: CI installs both.
package s3test

import (
	"bytes"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/testenv"
)

// Version is the versitygw release .ci/deps installs.
const Version = "v1.8.0"

// Credentials of the test server's root account.
const (
	AccessKey = "concierge-test-access"
	SecretKey = "concierge-test-secret-0123456789"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL.
	Endpoint string
	// Root is the folder holding buckets (one sub-folder each).
	Root string
}

var seq atomic.Int64

// need finds tool or skips (fails under CI) the test.
func need(t testing.TB, tool, install string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		gp := filepath.SplitList(build.Default.GOPATH)
		if len(gp) > 0 {
			if p := filepath.Join(gp[0], "bin", tool); isExec(p) {
				return p
			}
		}
		testenv.Skip(t, "%s not installed: %s", tool, install)
	}
	return path
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Start runs a versitygw on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := need(t, "versitygw", "run .ci/deps (go install github.com/versity/versitygw/cmd/versitygw@"+Version+")")
	need(t, "aws", "run .ci/deps (apt-get install awscli)")
	root := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out bytes.Buffer
	// R2 signs with region "auto"; so does this server.
	cmd := exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey, "--region", "auto", "--quiet", "posix", root)
	cmd.Stdout, cmd.Stderr = &out, &out
	// The server dies with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("versitygw exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Server{Endpoint: "http://" + addr, Root: root}
}

// Bucket creates a fresh bucket with the aws CLI and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), seq.Add(1))
	s.AWS(t, "s3api", "create-bucket", "--bucket", name)
	return name
}

// Env returns the settings that point a function or command at bucket.
func (s *Server) Env(bucket string) map[string]string {
	return map[string]string{
		"BACKUP_S3_ENDPOINT":          s.Endpoint,
		"BACKUP_S3_BUCKET":            bucket,
		"BACKUP_S3_REGION":            "auto",
		"BACKUP_S3_ACCESS_KEY_ID":     AccessKey,
		"BACKUP_S3_SECRET_ACCESS_KEY": SecretKey,
	}
}

// AWS runs the aws CLI against the server and returns its stdout; a failure
// fails the test.
func (s *Server) AWS(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := s.TryAWS(args...)
	if err != nil {
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TryAWS runs the aws CLI and returns its stdout, or an error with stderr.
func (s *Server) TryAWS(args ...string) ([]byte, error) {
	cmd := exec.Command("aws", append([]string{"--endpoint-url", s.Endpoint, "--region", "auto", "--output", "json"}, args...)...)
	// Only these credentials: none of the developer's profiles or settings.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+AccessKey, "AWS_SECRET_ACCESS_KEY="+SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
