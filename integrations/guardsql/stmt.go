//lint:file-ignore SA1019 the deprecated driver interfaces are what database/sql falls back to for drivers that have only them, and stmt passes them through.

package guardsql

import (
	"context"
	"database/sql/driver"

	"github.com/otelguard/otelguard-go/otelguard"
)

// stmt wraps a driver statement. A statement the caller prepared
// (DB.Prepare, Tx.Prepare, Conn.Prepare, Tx.Stmt, and database/sql's
// re-preparation of a *sql.Stmt on another connection) is a db.stmt
// lifetime, from its preparation on one connection to the driver's Close of
// it there. One *sql.Stmt can thus be several db.stmt lifetimes, one per
// connection it was prepared on: what the server holds. A statement
// database/sql prepares for one Exec or Query, on a driver without the
// context forms, is not watched: its rows are.
//
// stmt always implements the optional interfaces of driver.Stmt, with the
// answers database/sql gives when the driver lacks one, except
// driver.ColumnConverter, which changes how database/sql converts
// arguments: ccStmt adds it only when the driver's statement has it.
type stmt struct {
	s   driver.Stmt
	c   *conn
	res *otelguard.Resource[*ending] // nil: not watched
	e   *ending

	execCtx  driver.StmtExecContext
	queryCtx driver.StmtQueryContext
	nvc      driver.NamedValueChecker
	query    string
}

// ccStmt is a stmt whose driver statement has ColumnConverter.
type ccStmt struct{ *stmt }

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = ccStmt{}
)

func (c *conn) startStmt(ctx context.Context, s driver.Stmt, query string, oneShot bool) driver.Stmt {
	ws := &stmt{s: s, c: c, query: query}
	ws.execCtx, _ = s.(driver.StmtExecContext)
	ws.queryCtx, _ = s.(driver.StmtQueryContext)
	ws.nvc, _ = s.(driver.NamedValueChecker)
	if !oneShot {
		ws.e = &ending{stmt: s}
		ws.res = c.begin(ctx, SpanStmt, ws.e, kStmt, query)
	}
	if _, ok := s.(driver.ColumnConverter); ok {
		return ccStmt{ws}
	}
	return ws
}

// Close is database/sql's call that ends the statement on its connection:
// at the *sql.Stmt's Close (or the transaction's end) once the connection
// is idle, or when the connection is closed.
func (s *stmt) Close() error {
	if s.res == nil {
		return s.s.Close()
	}
	return finish(s.res, s.e, byNone, false, false)
}

func (s *stmt) NumInput() int { return s.s.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.s.Exec(args)
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.s.Query(args)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if !s.c.out {
		s.c.checkout(ctx, walkCaller())
	}
	if s.execCtx != nil {
		return s.execCtx.ExecContext(ctx, args)
	}
	dargs, err := legacyArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return s.s.Exec(dargs)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if !s.c.out {
		s.c.checkout(ctx, walkCaller())
	}
	var r driver.Rows
	var err error
	if s.queryCtx != nil {
		r, err = s.queryCtx.QueryContext(ctx, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err != nil {
			return nil, err
		}
		r, err = s.s.Query(dargs)
	}
	if err != nil {
		return nil, err
	}
	return s.c.startRows(ctx, r, s.query), nil
}

// CheckNamedValue answers as database/sql would without it: the driver
// statement's checker, else the driver connection's, else ErrSkip (the
// default conversion).
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	switch {
	case s.nvc != nil:
		return s.nvc.CheckNamedValue(nv)
	case s.c.nvc != nil:
		return s.c.nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s ccStmt) ColumnConverter(idx int) driver.ValueConverter {
	return s.s.(driver.ColumnConverter).ColumnConverter(idx)
}
