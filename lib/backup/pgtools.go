package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// connInfo is DATABASE_URL as the libpq tools get it: the URL without its
// password on the command line (other processes can read command lines) and
// the password in PGPASSWORD.
type connInfo struct {
	u        url.URL
	password string
}

func parseConnInfo(s string) (connInfo, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parse error can echo the URL, password included.
		return connInfo{}, errors.New("DATABASE_URL: backups need a postgres:// URL")
	}
	c := connInfo{u: *u}
	if p, ok := u.User.Password(); ok {
		c.password = p
		c.u.User = url.User(u.User.Username())
	}
	q := c.u.Query()
	if p := q.Get("password"); p != "" {
		c.password = p
		q.Del("password")
		c.u.RawQuery = q.Encode()
	}
	return c, nil
}

// withDatabase is the same server and role, another database.
func (c connInfo) withDatabase(name string) connInfo {
	c.u.Path = "/" + name
	c.u.RawPath = ""
	return c
}

// String is the URL without the password, for --dbname.
func (c connInfo) String() string { return c.u.String() }

// full is the URL with the password, for pgx.
func (c connInfo) full() string {
	u := c.u
	if c.password != "" {
		u.User = url.UserPassword(u.User.Username(), c.password)
	}
	return u.String()
}

// env is the tools' environment: ours plus the password (the URL's
// parameters take precedence over other PG* variables).
func (c connInfo) env() []string {
	out := append(os.Environ(), "PGAPPNAME=concierge-backup")
	if c.password != "" {
		out = append(out, "PGPASSWORD="+c.password)
	}
	return out
}

// tools are pg_dump and pg_restore of the server's major version, and
// pg_dumpall beside them (checked when the globals are dumped: a folder
// without it still makes and restores dumps).
type tools struct {
	major     int
	pgDump    string
	pgRestore string
	pgDumpall string
}

var toolVersion = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// findTools picks the client of the server's major version: PG_BINDIR when
// set, else Debian's /usr/lib/postgresql/MAJOR/bin, else the one on PATH. A
// pg_dump older than the server refuses to dump it, and a newer one writes
// archives an older pg_restore cannot read, so the majors must be equal.
func findTools(ctx context.Context, serverVersionNum int, override string) (tools, error) {
	major := serverVersionNum / 10000
	var dirs []string
	if override != "" {
		dirs = []string{override}
	} else {
		dirs = append(dirs, fmt.Sprintf("/usr/lib/postgresql/%d/bin", major))
		if p, err := exec.LookPath("pg_dump"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	var seen []string
	for _, dir := range dirs {
		t := tools{pgDump: filepath.Join(dir, "pg_dump"), pgRestore: filepath.Join(dir, "pg_restore"), pgDumpall: filepath.Join(dir, "pg_dumpall")}
		if _, err := os.Stat(t.pgRestore); err != nil {
			seen = append(seen, dir+": no pg_restore")
			continue
		}
		out, err := exec.CommandContext(ctx, t.pgDump, "--version").Output()
		if err != nil {
			seen = append(seen, dir+": no pg_dump")
			continue
		}
		m := toolVersion.FindSubmatch(out)
		if m == nil {
			seen = append(seen, fmt.Sprintf("%s: unrecognised pg_dump version %q", dir, bytes.TrimSpace(out)))
			continue
		}
		t.major, _ = strconv.Atoi(string(m[1]))
		if t.major != major {
			seen = append(seen, fmt.Sprintf("%s: pg_dump %d", dir, t.major))
			continue
		}
		return t, nil
	}
	return tools{}, fmt.Errorf("no pg_dump/pg_restore for PostgreSQL %d (%s): install postgresql-client-%d or set PG_BINDIR",
		major, strings.Join(seen, "; "), major)
}

// stderrTail keeps the end of a tool's stderr for error messages. Lines that
// can quote data (DETAIL, CONTEXT of a COPY, statements) are dropped: the
// message is logged and must not carry personal data.
type stderrTail struct {
	buf bytes.Buffer
}

const stderrKeep = 64 << 10

func (s *stderrTail) Write(p []byte) (int, error) {
	s.buf.Write(p)
	if s.buf.Len() > 2*stderrKeep {
		b := s.buf.Bytes()[s.buf.Len()-stderrKeep:]
		s.buf.Reset()
		s.buf.Write(b)
	}
	return len(p), nil
}

// summary is the last few safe lines.
func (s *stderrTail) summary() string {
	var keep []string
	for _, line := range strings.Split(s.buf.String(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || unsafeLine(line) {
			continue
		}
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		keep = append(keep, line)
	}
	if len(keep) > 4 {
		keep = keep[len(keep)-4:]
	}
	return strings.Join(keep, "; ")
}

func unsafeLine(line string) bool {
	for _, p := range []string{"DETAIL:", "CONTEXT:", "HINT:", "Command was:", "QUERY:", "LINE "} {
		if strings.Contains(line, p) {
			return true
		}
	}
	return false
}

// toolError is a pg_dump or pg_restore that failed.
type toolError struct {
	tool   string
	err    error
	stderr string
}

func (e *toolError) Error() string {
	if e.stderr == "" {
		return e.tool + ": " + e.err.Error()
	}
	return e.tool + ": " + e.err.Error() + ": " + e.stderr
}

func (e *toolError) Unwrap() error { return e.err }
