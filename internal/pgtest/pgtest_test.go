package pgtest_test

import (
	"bufio"
	"encoding/binary"
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
