package guardsql

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"

	"github.com/otelguard/otelguard-go/otelguard"
)

// rows wraps a driver's rows as a db.rows lifetime, from the query to the
// driver call that closes them. database/sql makes that call when the
// caller closes the rows, when Next or NextResultSet returns false, and
// when the query's (or the transaction's) context ends; Close tells which
// (otelguard.db.closed_by). Rows of a query on the DB itself that leak
// detection finds dropped are closed by the leak's release instead
// (ending.closeDropped).
//
// rows always implements the optional interfaces of driver.Rows, with the
// answers database/sql gives when the driver lacks one.
type rows struct {
	r   driver.Rows
	c   *conn
	res *otelguard.Resource[*ending]
	e   *ending
	ctx context.Context // the query's
	// txCtx is the BeginTx context of the transaction the rows were read
	// in; nil outside one.
	txCtx   context.Context
	watched bool // CloseOnCancel: ctx can end

	nrs    driver.RowsNextResultSet
	ended  bool // Next (or NextResultSet) failed, and database/sql is about to close the rows
	atEOF  bool // Next returned io.EOF; HasNextResultSet decides
	closed bool
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

// startRows starts the db.rows lifetime of r, read by query with ctx.
func (c *conn) startRows(ctx context.Context, r driver.Rows, query string) driver.Rows {
	e := &ending{under: r}
	wr := &rows{r: r, c: c, e: e, ctx: ctx, txCtx: c.txCtx, watched: ctx.Done() != nil}
	wr.nrs, _ = r.(driver.RowsNextResultSet)
	wr.res = c.begin(ctx, SpanRows, e, kRows, query)
	return wr
}

func (r *rows) Columns() []string { return r.r.Columns() }

func (r *rows) Next(dest []driver.Value) error {
	err := r.r.Next(dest)
	switch {
	case err == nil:
	case err == io.EOF:
		r.atEOF = true
	default:
		r.ended = true
	}
	return err
}

func (r *rows) HasNextResultSet() bool {
	has := r.nrs != nil && r.nrs.HasNextResultSet()
	if r.atEOF && !has {
		r.ended = true
	}
	r.atEOF = false
	return has
}

func (r *rows) NextResultSet() error {
	if r.nrs == nil {
		r.ended = true
		return io.EOF
	}
	err := r.nrs.NextResultSet()
	r.ended = err != nil
	return err
}

// Close is database/sql's call that ends the rows: see rows.
func (r *rows) Close() error {
	if r.closed {
		return nil // database/sql closes once; a second call is someone else's
	}
	r.closed = true
	by := byCaller
	switch {
	case r.ended:
		by = byIteration
	case r.ctx.Err() != nil || r.txCtx != nil && r.txCtx.Err() != nil:
		by = byContext
	case r.txCtx != nil:
		// Rows read in a transaction that are still open when it ends
		// are closed by database/sql on a goroutine of its own, as those
		// whose context ends are: no frame of the user's is above this
		// call then, and that tells it from the caller's Close.
		if walkCaller() == siteOwn {
			by = byTransaction
		}
	}
	return finish(r.res, r.e, by, false, r.watched && r.ctx.Err() != nil)
}

func (r *rows) ColumnTypeScanType(index int) reflect.Type {
	if p, ok := r.r.(driver.RowsColumnTypeScanType); ok {
		return p.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}

func (r *rows) ColumnTypeDatabaseTypeName(index int) string {
	if p, ok := r.r.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return p.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *rows) ColumnTypeLength(index int) (int64, bool) {
	if p, ok := r.r.(driver.RowsColumnTypeLength); ok {
		return p.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if p, ok := r.r.(driver.RowsColumnTypeNullable); ok {
		return p.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if p, ok := r.r.(driver.RowsColumnTypePrecisionScale); ok {
		return p.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}
