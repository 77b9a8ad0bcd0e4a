// Package pgcluster starts a throwaway PostgreSQL cluster from the server
// binaries on the machine (Debian's postgresql package), for the local
// runner and the test harness.
//
// As root, initdb and postgres refuse to run, so both run as the postgres
// user through runuser and the data folder is handed to that user.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found: install Debian's postgresql package or set PG_BINDIR")

// Options control the cluster.
type Options struct {
	// Dir holds the data folder; it is created and kept across starts.
	Dir string
	// Port to listen on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb, pg_ctl and postgres; empty finds the newest.
	BinDir string
	// Durable keeps fsync on. Tests turn it off: their data is thrown away.
	Durable bool
}

// Cluster is a running server.
type Cluster struct {
	opts   Options
	binDir string
	runAs  string // "postgres" when we are root
	port   int
}

// BinDir finds the newest /usr/lib/postgresql/N/bin, or PG_BINDIR.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BINDIR %s: no initdb: %w", d, err)
		}
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", ErrNoBinaries
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Start initialises Dir if it holds no cluster yet and starts the server.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = BinDir(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opts: opts, binDir: bin, port: opts.Port}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	if c.runAs != "" {
		if err := chown(opts.Dir, c.runAs); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if _, err := c.run(ctx, "initdb", "-D", opts.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"); err != nil {
			return nil, fmt.Errorf("initdb: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "postmaster.pid")); err == nil {
		// A server left running by a killed runner holds the folder: stop it
		// so this start owns the cluster (and knows its port).
		if _, err := c.run(ctx, "pg_ctl", "-D", opts.Dir, "status"); err == nil {
			if err := c.Stop(ctx); err != nil {
				return nil, fmt.Errorf("stop leftover server in %s: %w", opts.Dir, err)
			}
		}
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Start starts a stopped cluster again on the same port.
func (c *Cluster) Start(ctx context.Context) error {
	if c.port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		c.port = p
	}
	sock := filepath.Join(c.opts.Dir, "sock")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		return err
	}
	if c.runAs != "" {
		if err := chown(sock, c.runAs); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, sock)
	if !c.opts.Durable {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if _, err := c.run(ctx, "pg_ctl", "-D", c.opts.Dir, "-o", opts, "-l", filepath.Join(c.opts.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.opts.Dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s", err, tail(log, 2000))
	}
	return nil
}

// Stop shuts the server down fast (active sessions are rolled back).
func (c *Cluster) Stop(ctx context.Context) error {
	if _, err := c.run(ctx, "pg_ctl", "-D", c.opts.Dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w", err)
	}
	return nil
}

// URL returns a connection string for database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Port is the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// BinDir is the folder of the server binaries in use; pg_dump lives there too.
func (c *Cluster) BinDir() string { return c.binDir }

func (c *Cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.binDir, prog)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// Run from a folder the postgres user can enter.
	cmd.Dir = c.opts.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl's server inherits these pipes; WaitDelay stops Wait from
	// blocking on them once pg_ctl itself has exited.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", prog, err, tail(out.Bytes(), 2000))
	}
	return out.Bytes(), nil
}

func chown(path, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root needs the %s user (Debian's postgresql package creates it): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// Reachable reports whether user name can enter dir: as root, a data folder
// under a 0700 home is not usable by the postgres user.
func Reachable(dir, name string) bool {
	if os.Geteuid() != 0 {
		return true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	parent := filepath.Dir(abs)
	for p := parent; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			parent = p
			break
		}
		if p == "/" {
			break
		}
	}
	return exec.Command("runuser", "-u", name, "--", "test", "-x", parent).Run() == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
