package guardsql

import "testing"

// The walk tells sites from database/sql's package path and the exported
// methods a user calls — never from the name of an unexported function,
// which any Go release may change (issue 22).
func TestClassifyKnowsOnlyTheAPI(t *testing.T) {
	for fn, want := range map[string]uint16{
		"database/sql.(*DB).Conn":                     fKnown | fInternal | fDBConn,
		"database/sql.(*Conn).QueryContext":           fKnown | fInternal | fSQLConn,
		"database/sql.(*Conn).Close-fm":               fKnown | fInternal | fSQLConn,
		"database/sql.(*DB).Conn.func1":               fKnown | fInternal, // a closure: never next to the user's frame
		"database/sql.(*Conn).QueryContext.func1":     fKnown | fInternal,
		"database/sql.(*Conn).grabConn":               fKnown | fInternal, // unexported
		"database/sql.(*Rows).awaitDone":              fKnown | fInternal,
		"database/sql.(*DB).queryDC":                  fKnown | fInternal,
		"database/sql.(*DB).connectionOpener":         fKnown | fInternal,
		"database/sql.(*DB).QueryContext":             fKnown | fInternal,
		pkgPath + ".(*conn).QueryContext":             fKnown | fInternal,
		pkgPath + "_test.TestX":                       fKnown,
		"runtime.goexit":                              fKnown | fRuntime,
		"runtime/debug.Stack":                         fKnown,
		"main.main":                                   fKnown,
		"github.com/jmoiron/sqlx.(*DB).QueryxContext": fKnown,
	} {
		if got := classify(fn); got != want {
			t.Errorf("classify(%q) = %#x, want %#x", fn, got, want)
		}
	}
}
