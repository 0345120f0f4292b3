package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/otelguard/otelguard-go/integrations/guardsql/pgtest"
)

func TestStart(t *testing.T) {
	s := pgtest.Start(t)
	db, err := sql.Open("pgx", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), "select version()").Scan(&v); err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.Log())
	}
	t.Log(v)
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
