package infratest

// A rehearsal of the PostgreSQL pair (issue 19, part 5; docs/failover.md)
// with the members' own entrypoint, stack "data"'s pg-member.sh, and its
// one-shot postgres-setup.sh, on the PostgreSQL binaries of this machine.
// Two data directories stand for the two nodes' volumes; a small script
// stands for the image's docker-entrypoint.sh (initdb once, then the server);
// client authentication is the stack's pg_hba.conf without its localhost
// trust lines, so the replication login really uses its password file.
//
// The story: the primary starts and gets its logins; the standby clones
// itself and streams; a second server on the same volume is refused; the
// standby stops, the primary takes writes the standby never sees, then
// crashes; the standby is declared primary and promotes itself; the old
// primary may not start as a second primary; declared standby, it rewinds
// onto the new primary, drops what it alone had, and streams; with its
// volume lost it clones itself again; an empty primary refuses to start
// beside a standby that has the data.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/pgcluster"
	"github.com/harborstays/concierge/lib/testenv"
)

const dataStack = stacksDir + "/data"

// member is one PostgreSQL service of the pair on its "node".
type member struct {
	name, slot string
	volume     string // what the node mounts at /srv/postgres/data
	port       int
	cmd        *exec.Cmd
	out        *os.File // the member's output (a file: its server outlives pipes)
	done       chan struct{}
}

// output is what the member's last run printed.
func (m *member) output() string {
	if m.out == nil {
		return ""
	}
	b, _ := os.ReadFile(m.out.Name())
	return string(b)
}

func (m *member) pgdata() string { return filepath.Join(m.volume, "pgdata") }

// rehearsal holds the machine side: binaries, folders, the postgres user.
type rehearsal struct {
	t       *testing.T
	bin     string
	root    string
	sock    string
	hba     string
	pgpass  string
	secrets string
	entry   string
	runAs   string // command prefix for the postgres user ("" when not root)
	path    string
	owner   *user.User
}

func newRehearsal(t *testing.T) *rehearsal {
	bin, err := pgcluster.BinDir()
	if err != nil {
		testenv.Skip(t, "%v", err)
	}
	testenv.NeedTools(t, "apt-get install util-linux bash", "flock", "bash")
	for _, tool := range []string{"pg_basebackup", "pg_rewind", "pg_ctl", "psql", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			testenv.Skip(t, "%s not in %s (Debian's postgresql package)", tool, bin)
		}
	}
	r := &rehearsal{t: t, bin: bin, path: bin + ":/usr/sbin:/usr/bin:/sbin:/bin"}
	// Not t.TempDir: the postgres user must be able to enter it.
	r.root, err = os.MkdirTemp("", "pg-pair-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(r.root) })
	if err := os.Chmod(r.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		testenv.NeedTools(t, "apt-get install util-linux", "runuser")
		r.owner, err = user.Lookup("postgres")
		if err != nil {
			testenv.Skip(t, "running as root needs the postgres user (Debian's postgresql package)")
		}
		r.runAs = "runuser -u postgres -- env PATH=" + r.path
	}
	r.sock = r.dir("sock", 0o755)
	r.secrets = r.dir("secrets", 0o700)
	r.write(filepath.Join(r.secrets, "postgres-superuser-password"), "superuser-not-used-over-the-socket", 0o600)
	r.write(filepath.Join(r.secrets, "postgres-replication-password"), "repl-0a1b2c3d4e5f", 0o600)
	r.write(filepath.Join(r.secrets, "postgres-exporter-password"), "exporter-9f8e7d6c", 0o600)
	// The same line the platform role renders (templates/postgres-replication.pgpass.j2).
	r.pgpass = filepath.Join(r.root, "postgres-replication.pgpass")
	r.write(r.pgpass, "*:*:*:replicator:repl-0a1b2c3d4e5f\n", 0o400)
	r.chown(r.pgpass)
	// The stack's pg_hba.conf, less the localhost trust: every TCP login here
	// comes from 127.0.0.1, and the replication login must need its password.
	hba, err := os.ReadFile(dataStack + "/pg_hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(hba), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "host" && (f[3] == "127.0.0.1/32" || f[3] == "::1/128") {
			continue
		}
		kept = append(kept, line)
	}
	if !strings.Contains(strings.Join(kept, "\n"), "host    replication  replicator  all            scram-sha-256") {
		t.Fatal("pg_hba.conf has no scram-sha-256 line for the replication login")
	}
	r.hba = filepath.Join(r.root, "pg_hba.conf")
	r.write(r.hba, strings.Join(kept, "\n"), 0o644)
	// Stands for the image's docker-entrypoint.sh.
	r.entry = filepath.Join(r.root, "entrypoint.sh")
	r.write(r.entry, `#!/bin/bash
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  $PG_RUN_AS initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
fi
shift
exec $PG_RUN_AS postgres -D "$PGDATA" "$@"
`, 0o755)
	return r
}

func (r *rehearsal) dir(name string, mode os.FileMode) string {
	p := filepath.Join(r.root, name)
	if err := os.MkdirAll(p, mode); err != nil {
		r.t.Fatal(err)
	}
	r.chown(p)
	return p
}

func (r *rehearsal) write(p, content string, mode os.FileMode) {
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rehearsal) chown(p string) {
	if r.owner == nil {
		return
	}
	uid, _ := strconv.Atoi(r.owner.Uid)
	gid, _ := strconv.Atoi(r.owner.Gid)
	if err := os.Chown(p, uid, gid); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rehearsal) newMember(name, slot string) *member {
	port, err := freeTCPPort()
	if err != nil {
		r.t.Fatal(err)
	}
	m := &member{name: name, slot: slot, volume: r.dir(name, 0o755), port: port}
	r.t.Cleanup(func() { r.kill(m) })
	return m
}

// launch runs pg-member.sh for m as its service would, with peer as the
// other member. It returns at once; use ready or exited.
func (r *rehearsal) launch(m, peer *member, role string) {
	r.t.Helper()
	args := []string{filepath.Join(dataStack, "pg-member.sh"), "postgres",
		"-c", "hba_file=" + r.hba,
		"-c", "wal_log_hints=on",
		"-c", "hot_standby_feedback=on",
		"-c", "wal_keep_size=64MB",
		"-c", "max_slot_wal_keep_size=1GB",
		"-c", fmt.Sprintf("primary_conninfo=host=127.0.0.1 port=%d user=replicator application_name=%s", peer.port, m.name),
		"-c", "primary_slot_name=" + m.slot,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(m.port),
		"-c", "unix_socket_directories=" + r.sock,
		"-c", "fsync=off",
	}
	cmd := exec.Command("bash", args...)
	cmd.Env = []string{
		"PATH=" + r.path, "PGDATA=" + m.pgdata(), "PG_ROLE=" + role, "PG_MEMBER=" + m.name,
		"PG_STANDBY_ENABLED=true", "PG_PEER_HOST=127.0.0.1", "PG_PEER_PORT=" + strconv.Itoa(peer.port),
		"PG_SLOT=" + m.slot, "PG_REPLICATION_USER=replicator", "PGPASSFILE=" + r.pgpass,
		"PG_ENTRYPOINT=" + r.entry, "PG_RUN_AS=" + r.runAs, "PG_RETRY_DELAY=0",
	}
	out, err := os.CreateTemp(r.root, m.slot+"-*.log")
	if err != nil {
		r.t.Fatal(err)
	}
	m.out = out
	cmd.Stdout, cmd.Stderr = out, out
	r.t.Logf("start %s as %s", m.name, role)
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.done) }()
}

// ready waits until m accepts connections; a member that exits first fails.
func (r *rehearsal) ready(m *member) {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			r.t.Fatalf("%s exited: %s", m.name, m.output())
		default:
		}
		// Over TCP: while pg-member.sh promotes, its local-only server
		// answers on the socket but must not be taken for the real one.
		if exec.Command(filepath.Join(r.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(m.port)).Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("%s did not start: %s", m.name, m.output())
}

// refused runs m and expects pg-member.sh to refuse, saying why.
func (r *rehearsal) refused(m, peer *member, role, why string) {
	r.t.Helper()
	r.launch(m, peer, role)
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		r.t.Fatalf("%s as %s started; it should have refused (%s): %s", m.name, role, why, m.output())
	}
	if m.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(m.output(), why) {
		r.t.Fatalf("%s as %s: exit %d, want a refusal saying %q: %s", m.name, role, m.cmd.ProcessState.ExitCode(), why, m.output())
	}
	m.cmd = nil
}

// stop shuts m down (pg_ctl -m fast, or immediate for a crash).
func (r *rehearsal) stop(m *member, mode string) {
	r.t.Helper()
	if m.cmd == nil {
		return
	}
	if out, err := r.asPostgres("pg_ctl", "-D", m.pgdata(), "-w", "-t", "60", "stop", "-m", mode).CombinedOutput(); err != nil {
		r.t.Fatalf("stop %s: %v: %s", m.name, err, out)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		r.t.Fatalf("%s did not exit after pg_ctl stop", m.name)
	}
	m.cmd = nil
}

func (r *rehearsal) kill(m *member) {
	if m.cmd == nil {
		return
	}
	_ = r.asPostgres("pg_ctl", "-D", m.pgdata(), "-w", "-t", "30", "stop", "-m", "immediate").Run()
	_ = m.cmd.Process.Kill()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		r.t.Errorf("%s did not exit", m.name)
	}
}

func (r *rehearsal) asPostgres(prog string, args ...string) *exec.Cmd {
	full := filepath.Join(r.bin, prog)
	var cmd *exec.Cmd
	if r.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", full}, args...)...)
	} else {
		cmd = exec.Command(full, args...)
	}
	cmd.Env = []string{"PATH=" + r.path}
	return cmd
}

// sql runs q on m as the superuser over the local socket.
func (r *rehearsal) sql(m *member, q string) string {
	r.t.Helper()
	out, err := r.asPostgres("psql", "-h", r.sock, "-p", strconv.Itoa(m.port), "-U", "postgres", "-d", "postgres",
		"-XAtq", "-v", "ON_ERROR_STOP=1", "-c", q).CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s: %s: %v: %s", m.name, q, err, out)
	}
	return strings.TrimSpace(string(out))
}

// eventually polls q on m until it returns want.
func (r *rehearsal) eventually(m *member, q, want string) {
	r.t.Helper()
	var got string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = r.sql(m, q); got == want {
			return
		}
	}
	r.t.Fatalf("%s: %s = %q, want %q\n%s", m.name, q, got, want, m.output())
}

// setup runs the stack's one-shot postgres-setup.sh against the primary.
func (r *rehearsal) setup(primary *member, standbyEnabled bool) {
	r.t.Helper()
	cmd := exec.Command("bash", filepath.Join(dataStack, "postgres-setup.sh"))
	cmd.Env = []string{"PATH=" + r.path, "PGHOST=" + r.sock, "PGPORT=" + strconv.Itoa(primary.port),
		"SECRETS_DIR=" + r.secrets, "PG_STANDBY_ENABLED=" + strconv.FormatBool(standbyEnabled)}
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("postgres-setup.sh: %v: %s", err, out)
	}
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func TestStandbyFailoverRehearsal(t *testing.T) {
	r := newRehearsal(t)
	a := r.newMember("postgres", "postgres")                 // first manager's volume
	b := r.newMember("postgres-standby", "postgres_standby") // last worker's volume

	// 1. The primary initialises, gets the replication and monitoring logins.
	r.launch(a, b, "primary")
	r.ready(a)
	r.setup(a, true)
	r.sql(a, "CREATE TABLE stays (id int PRIMARY KEY, note text); INSERT INTO stays SELECT g, 'before' FROM generate_series(1, 100) g")
	if got := r.sql(a, "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'"); got != "t" {
		t.Fatalf("replicator has REPLICATION = %q", got)
	}

	// 2. The standby clones itself (pg_basebackup through its slot) and streams.
	r.launch(b, a, "standby")
	r.ready(b)
	r.eventually(a, "SELECT state FROM pg_stat_replication WHERE application_name = 'postgres-standby'", "streaming")
	r.eventually(a, "SELECT active FROM pg_replication_slots WHERE slot_name = 'postgres_standby'", "t")
	r.eventually(b, "SELECT pg_is_in_recovery()", "t")
	r.sql(a, "INSERT INTO stays SELECT g, 'streamed' FROM generate_series(101, 200) g")
	r.eventually(b, "SELECT count(*) FROM stays", "200")
	// What postgres-exporter reads for the lag (pg_stat_replication_pg_wal_lsn_diff).
	r.eventually(a, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication WHERE application_name = 'postgres-standby'", "0")
	if got := r.sql(a, "SELECT pg_has_role('postgres_exporter', 'pg_monitor', 'member')"); got != "t" {
		t.Fatalf("postgres_exporter is not in pg_monitor: %q", got)
	}

	// 3. A second server on the same volume waits for the first to go.
	second := &member{name: "postgres (second task)", slot: a.slot, volume: a.volume, port: a.port + 1}
	r.refused(second, b, "primary", "holds")

	// 4. The standby stops; the primary takes writes it never ships, then crashes.
	r.stop(b, "fast")
	r.sql(a, "INSERT INTO stays SELECT g, 'lost' FROM generate_series(900, 909) g")
	r.stop(a, "immediate")

	// 5. Failover: the standby is declared primary and promotes itself.
	r.launch(b, a, "primary")
	r.ready(b)
	r.eventually(b, "SELECT pg_is_in_recovery()", "f")
	if tl := r.sql(b, "SELECT timeline_id FROM pg_control_checkpoint()"); tl == "1" {
		t.Fatalf("the promoted member is still on timeline 1: %s", b.output())
	}
	if got := r.sql(b, "SELECT count(*) FROM stays"); got != "200" {
		t.Fatalf("the promoted member has %s rows, want the 200 it had streamed", got)
	}
	r.sql(b, "INSERT INTO stays SELECT g, 'after failover' FROM generate_series(201, 250) g")

	// 6. The old primary comes back: never as a second primary...
	r.refused(a, b, "primary", "answers as a primary")
	// ...but declared standby it rewinds onto the new primary and streams.
	r.launch(a, b, "standby")
	r.ready(a)
	if !strings.Contains(a.output(), "pg_rewind") || !strings.Contains(a.output(), "finishing its crash recovery") {
		t.Fatalf("the crashed old primary rejoined without crash recovery and a rewind: %s", a.output())
	}
	r.eventually(b, "SELECT state FROM pg_stat_replication WHERE application_name = 'postgres'", "streaming")
	r.eventually(a, "SELECT count(*) FROM stays", "250")
	if got := r.sql(a, "SELECT count(*) FROM stays WHERE note = 'lost'"); got != "0" {
		t.Fatalf("the rewound member kept %s rows the new primary never had", got)
	}
	if got := r.sql(a, "SELECT count(*) FROM pg_replication_slots"); got != "0" {
		t.Fatalf("the rewound member kept %s replication slots from its time as primary", got)
	}
	r.sql(b, "INSERT INTO stays VALUES (251, 'streamed to the rejoined member')")
	r.eventually(a, "SELECT count(*) FROM stays", "251")

	// 7. Its volume lost, the standby clones itself again.
	r.stop(a, "immediate")
	if err := os.RemoveAll(a.pgdata()); err != nil {
		t.Fatal(err)
	}
	r.launch(a, b, "standby")
	r.ready(a)
	r.eventually(a, "SELECT count(*) FROM stays", "251")

	// 8. An empty primary does not start beside a standby that has the data.
	empty := r.newMember("postgres-empty", "postgres_empty")
	r.refused(empty, a, "primary", "promote that member")
	if _, err := os.Stat(filepath.Join(empty.pgdata(), "PG_VERSION")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused primary initialised a cluster anyway (%v)", err)
	}

	// 9. The standby switched off (postgres_standby_enabled: false): the
	// setup run of that deploy drops its slot, which would pin WAL for nobody.
	r.stop(a, "fast")
	r.eventually(b, "SELECT active FROM pg_replication_slots WHERE slot_name = 'postgres'", "f")
	r.setup(b, false)
	if got := r.sql(b, "SELECT count(*) FROM pg_replication_slots"); got != "0" {
		t.Fatalf("%s slots left after the standby was switched off", got)
	}
}
