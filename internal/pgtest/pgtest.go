// Package pgtest starts a throwaway PostgreSQL server for a test: a
// temporary data directory, a free port on 127.0.0.1, trust
// authentication, stopped and removed when the test ends.
//
// It needs the server's binaries (initdb, pg_ctl, postgres), from
// Debian's postgresql package (apt-get install -y postgresql: they land in
// /usr/lib/postgresql/<version>/bin, which Server looks in) or on $PATH;
// GUARDSQL_PG_BIN names their directory explicitly (the name predates the
// harness's move here; .ci and e2e's scripts read it too). PostgreSQL
// refuses to run as root: run as root, the server runs as the postgres
// user the package creates.
//
// A skip is never silent, and never an accident where the server is
// expected. Without the binaries a test is skipped, saying what to
// install; under CI=true (.ci/run installs them) it fails instead. The
// PostgreSQL tests are switched off on purpose with
// OTELGUARD_SKIP_POSTGRES=1 (make check sets it, and says so): New then
// starts nothing, and a test skips naming the switch, in CI too.
//
// Start is for one test; New and Stop for a server shared by a TestMain.
// It is the harness of the PostgreSQL tests of every module of the
// repository — integrations/guardsql, integrations/guardpgx, e2e's
// pgservice — which import it from here (an internal package of the root
// module, importable by every module whose path is under
// github.com/otelguard/otelguard-go/); it is no module's API. It imports
// the standard library only, so the root module's go.mod does not grow
// with it.
package pgtest

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
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Server is a PostgreSQL server started by Start.
type Server struct {
	// DSN connects to the database postgres as the superuser postgres,
	// over TCP on 127.0.0.1, without TLS, for pgx and lib/pq.
	DSN  string
	Port int

	bin  string // the binaries' directory
	dir  string // the temporary directory: data, socket, log
	cred *syscall.Credential
}

// startTimeout bounds initdb, the server's start and its stop: a few
// seconds on a loaded machine.
const startTimeout = 2 * time.Minute

// ErrNoServer is returned, wrapped, by New when the server's binaries, or
// the postgres user to run them as root, are missing, or when SkipEnv
// switches the PostgreSQL tests off: the reason to skip (see Missing).
var ErrNoServer = errors.New("pgtest: no PostgreSQL server to start")

// errSwitchedOff is ErrNoServer by SkipEnv's choice, not by a lack.
var errSwitchedOff = fmt.Errorf("%w: the PostgreSQL tests are switched off by %s=1", ErrNoServer, SkipEnv)

// SkipEnv is the environment variable that switches the PostgreSQL tests
// off on purpose: with a true value (1, true), New starts nothing and
// returns ErrNoServer saying so; any other non-empty value that is not
// false is an error. make check sets it, to need no server.
const SkipEnv = "OTELGUARD_SKIP_POSTGRES"

// switchedOff reads SkipEnv.
func switchedOff() (bool, error) {
	v := os.Getenv(SkipEnv)
	if v == "" {
		return false, nil
	}
	off, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("pgtest: %s=%q: want 1 (switch the PostgreSQL tests off) or 0", SkipEnv, v)
	}
	return off, nil
}

// inCI tells whether the environment says it is CI (CI=true, as GitHub
// Actions, GitLab CI and most others set it; .ci/run sets it too).
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Missing ends t, which needed a server New could not start for err (an
// error wrapping ErrNoServer; any other error fails t). It skips t, saying
// why and what to install — unless CI=true, where .ci/run installs the
// server and its absence is a failure, not a skip. When SkipEnv switched
// the tests off, it skips t naming the switch, in CI too: an announced
// choice, not an accident. Call it from the test's goroutine, as t.Skip.
func Missing(t testing.TB, err error) {
	t.Helper()
	switch {
	case errors.Is(err, errSwitchedOff):
		t.Skip(err)
	case !errors.Is(err, ErrNoServer):
		t.Fatal(err)
	case inCI():
		t.Fatalf("%v; CI=true, where .ci/run installs PostgreSQL (e2e/scripts/postgres.sh): a missing server fails, it does not skip", err)
	default:
		t.Skipf("%v (apt-get install -y postgresql, or set GUARDSQL_PG_BIN)", err)
	}
}

// Start starts a server for t and stops it (and removes its files) when t
// ends. If New returns ErrNoServer, Missing skips t (or fails it in CI);
// if the server does not start, t fails.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if err != nil {
		Missing(t, err)
		return nil // not reached with a *testing.T: Missing skips or fails t
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// New starts a server, for code that outlives one test (a TestMain, an
// end-to-end harness), which must call Stop.
func New() (*Server, error) {
	switch off, err := switchedOff(); {
	case err != nil:
		return nil, err
	case off:
		return nil, errSwitchedOff
	}
	bin, err := binDir()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root, and no postgres user to run the server as: %v", ErrNoServer, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	return s, nil
}

func (s *Server) start() error {
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := s.run(ctx, "initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// A port that was free a moment ago can be taken before the server
	// binds it: try a few.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Port = port
		out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-l", s.log(), "-w", "-t", "60", "start",
			"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20", s.Port, s.dir))
		if err == nil {
			return nil
		}
		if attempt == 2 {
			return fmt.Errorf("pgtest: pg_ctl start: %v\n%s\nserver log:\n%s", err, out, s.Log())
		}
	}
}

// Stop stops the server at once (its data is thrown away) and removes its
// files.
func (s *Server) Stop() error {
	defer os.RemoveAll(s.dir)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }
func (s *Server) log() string  { return filepath.Join(s.dir, "server.log") }

// Log returns what the server has logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log())
	return string(b)
}

// run runs one of the server's binaries, as the postgres user when
// running as root.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(os.Environ(), "HOME="+s.dir, "USER=postgres", "LOGNAME=postgres")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// binDir finds the directory of initdb, pg_ctl and postgres.
func binDir() (string, error) {
	if d := os.Getenv("GUARDSQL_PG_BIN"); d != "" {
		return d, hasBinaries(d)
	}
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return version(versions[i]) > version(versions[j]) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		if hasBinaries(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb, pg_ctl and postgres are not in one directory of $PATH or /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasBinaries(dir string) error {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return err
		}
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// A Shared is one server for a package's tests, started by the first test
// that asks for it (starting one costs a second or two) and stopped by
// the package's TestMain. Its zero value is ready to use.
type Shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Get returns the shared server, starting it on the first call. Without
// one it ends t as Missing says: a skip that says why, or a failure under
// CI=true or when the server did not start.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() { sh.s, sh.err = New() })
	if sh.err != nil {
		Missing(t, sh.err)
	}
	return sh.s
}

// Stop stops the server if one was started: a TestMain calls it after
// m.Run.
func (sh *Shared) Stop() error {
	if sh.s == nil {
		return nil
	}
	return sh.s.Stop()
}
