//go:build faults

package faults

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// privatePostgres is a PostgreSQL server of the test's own, in a temporary directory, so that
// the test can stop and start it without failing every other test that uses the shared server
// at the same time. It is always stopped and removed when the test ends, however it ends.
type privatePostgres struct {
	bin  string
	dir  string
	port string
	as   *syscall.Credential // the postgres user's, when the test runs as root
	log  *testenv.LockedBuffer

	cmd    *exec.Cmd
	exited chan struct{}
}

// startPrivatePostgres makes a fresh cluster (initdb) and starts it on a free port.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	pg := &privatePostgres{bin: postgresBinDir(t), log: &testenv.LockedBuffer{}}
	dir, err := os.MkdirTemp("", "entitle-faults-postgres-")
	require.NoError(t, err)
	pg.dir = dir
	t.Cleanup(func() {
		if pg.running() {
			pg.stop(t)
		}
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres user.
		pg.as = postgresUser(t)
		require.NoError(t, os.Chown(dir, int(pg.as.Uid), int(pg.as.Gid)))
	}
	initdb := pg.command("initdb", "-D", pg.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	_, pg.port, err = net.SplitHostPort(testenv.FreeAddress(t))
	require.NoError(t, err)
	pg.start(t)
	return pg
}

// URL is the connection URL of the cluster's postgres database.
func (pg *privatePostgres) URL() string {
	return "postgres://postgres@127.0.0.1:" + pg.port + "/postgres?sslmode=disable"
}

func (pg *privatePostgres) dataDir() string { return filepath.Join(pg.dir, "data") }

func (pg *privatePostgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	if pg.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.as}
	}
	return cmd
}

// start runs the server and returns once it accepts connections.
func (pg *privatePostgres) start(t *testing.T) {
	t.Helper()
	cmd := pg.command("postgres", "-D", pg.dataDir(), "-p", pg.port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+pg.dir)
	cmd.Stdout, cmd.Stderr = pg.log, pg.log
	require.NoError(t, cmd.Start(), "start postgres")
	pg.cmd, pg.exited = cmd, make(chan struct{})
	exited := pg.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	db, err := sql.Open("pgx", pg.URL())
	require.NoError(t, err)
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		if !pg.running() || time.Now().After(deadline) {
			t.Fatalf("postgres did not start: %v\nlog:\n%s", err, pg.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts the server down the way `pg_ctl stop -m fast` does: SIGINT, which rolls back
// open transactions, disconnects every client and checkpoints.
func (pg *privatePostgres) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, pg.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-pg.exited:
	case <-time.After(30 * time.Second):
		_ = pg.cmd.Process.Kill()
		<-pg.exited
		t.Fatalf("postgres did not stop within 30s\nlog:\n%s", pg.log.String())
	}
}

func (pg *privatePostgres) running() bool {
	if pg.exited == nil {
		return false
	}
	select {
	case <-pg.exited:
		return false
	default:
		return true
	}
}

// postgresBinDir is where initdb and postgres are: TEST_POSTGRES_BINDIR, else what
// `pg_config --bindir` says.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("TEST_POSTGRES_BINDIR"); dir != "" {
		return dir
	}
	out, err := exec.Command("pg_config", "--bindir").Output()
	require.NoError(t, err, "pg_config --bindir (set TEST_POSTGRES_BINDIR to PostgreSQL's bin directory instead)")
	return strings.TrimSpace(string(out))
}

func postgresUser(t *testing.T) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("postgres")
	require.NoError(t, err, "running as root, the private PostgreSQL needs the postgres user")
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	require.NoError(t, err)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// sharedPostgresDatabase is a fresh database on the shared PostgreSQL server (removed when the
// test ends), for tests that do not stop the server.
func sharedPostgresDatabase(t *testing.T) string {
	t.Helper()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name, fmt.Sprintf("testenv.Databases()[1] is %s, not postgres", db.Name))
	return db.NewConfig(t).PostgresURL
}
