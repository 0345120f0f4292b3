package pgtest_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/pgtest"
)

// TestStart starts a server and asks it its version over the DSN's
// address, as the user the DSN names, speaking PostgreSQL's wire protocol
// (version 3.0) directly: this package imports the standard library only,
// so its test does too.
func TestStart(t *testing.T) {
	s := pgtest.Start(t)
	if !strings.Contains(s.DSN, fmt.Sprintf("127.0.0.1:%d", s.Port)) {
		t.Fatalf("DSN %q does not name port %d", s.DSN, s.Port)
	}
	v, err := version(fmt.Sprintf("127.0.0.1:%d", s.Port))
	if err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.Log())
	}
	if !strings.HasPrefix(v, "PostgreSQL ") {
		t.Fatalf("select version() = %q", v)
	}
	t.Log(v)
}

// version runs "select version()" on the server at addr as the user
// postgres (trust authentication) and returns the answer.
func version(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", err
	}
	// StartupMessage: length, protocol 3.0, then name/value pairs.
	body := []byte{0, 3, 0, 0}
	for _, s := range []string{"user", "postgres", "database", "postgres", ""} {
		body = append(append(body, s...), 0)
	}
	if _, err := c.Write(binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))); err != nil {
		return "", err
	}
	if _, err := c.Write(body); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	sent := false
	var answer string
	for {
		typ, msg, err := readMessage(r)
		if err != nil {
			return "", err
		}
		switch typ {
		case 'R': // Authentication: 0 is AuthenticationOk, anything else a challenge
			if code := binary.BigEndian.Uint32(msg); code != 0 {
				return "", fmt.Errorf("the server asks for authentication %d; trust was configured", code)
			}
		case 'E':
			return "", fmt.Errorf("server error: %q", msg)
		case 'D': // DataRow: column count, then length and bytes of each
			if len(msg) < 6 {
				return "", fmt.Errorf("short DataRow %q", msg)
			}
			n := int(binary.BigEndian.Uint32(msg[2:6]))
			if n < 0 || 6+n > len(msg) {
				return "", fmt.Errorf("bad DataRow %q", msg)
			}
			answer = string(msg[6 : 6+n])
		case 'Z': // ReadyForQuery
			if sent {
				if answer == "" {
					return "", fmt.Errorf("no row")
				}
				return answer, nil
			}
			sent = true
			q := append([]byte("select version()"), 0)
			m := append([]byte{'Q'}, binary.BigEndian.AppendUint32(nil, uint32(4+len(q)))...)
			if _, err := c.Write(append(m, q...)); err != nil {
				return "", err
			}
		}
	}
}

// readMessage reads one backend message: its type and its body.
func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("message %q of length %d", head[0], n)
	}
	msg := make([]byte, n-4)
	_, err := io.ReadFull(r, msg)
	return head[0], msg, err
}

// endTB records how Missing ends a test: a skip or a failure, with its
// message. Its other methods are testing.TB's zero value: not called.
type endTB struct {
	testing.TB
	skipped, failed string
}

func (e *endTB) Helper()                           {}
func (e *endTB) Skip(args ...any)                  { e.skipped = fmt.Sprint(args...) }
func (e *endTB) Skipf(format string, args ...any)  { e.skipped = fmt.Sprintf(format, args...) }
func (e *endTB) Fatal(args ...any)                 { e.failed = fmt.Sprint(args...) }
func (e *endTB) Fatalf(format string, args ...any) { e.failed = fmt.Sprintf(format, args...) }

// TestMissing: no server skips a test, saying what to install, except in
// CI, which installs one: there it fails. The switch skips in CI too,
// naming itself; an error that is not about a missing server fails.
func TestMissing(t *testing.T) {
	noBinaries := fmt.Errorf("%w: initdb is not on $PATH", pgtest.ErrNoServer)
	for _, c := range []struct {
		name, ci, skipEnv string
		err               error // nil: New's error
		skip, fail        string
	}{
		{name: "no server, locally", ci: "", err: noBinaries, skip: "apt-get install -y postgresql"},
		{name: "no server, CI", ci: "true", err: noBinaries, fail: "CI=true"},
		{name: "switched off, locally", ci: "", skipEnv: "1", skip: pgtest.SkipEnv + "=1"},
		{name: "switched off, CI", ci: "true", skipEnv: "true", skip: pgtest.SkipEnv + "=1"},
		{name: "switch misspelt", ci: "", skipEnv: "yes", fail: pgtest.SkipEnv + `="yes"`},
		{name: "another error", ci: "", err: errors.New("pgtest: initdb: exit status 1"), fail: "initdb: exit status 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			t.Setenv(pgtest.SkipEnv, c.skipEnv)
			err := c.err
			if err == nil {
				s, nerr := pgtest.New()
				if nerr == nil {
					s.Stop()
					t.Fatalf("New started a server with %s=%s", pgtest.SkipEnv, c.skipEnv)
				}
				err = nerr
			}
			var e endTB
			pgtest.Missing(&e, err)
			if c.skip != "" && (e.failed != "" || !strings.Contains(e.skipped, c.skip)) {
				t.Errorf("skipped %q, failed %q; want a skip saying %q", e.skipped, e.failed, c.skip)
			}
			if c.fail != "" && (e.skipped != "" || !strings.Contains(e.failed, c.fail)) {
				t.Errorf("skipped %q, failed %q; want a failure saying %q", e.skipped, e.failed, c.fail)
			}
		})
	}
}
