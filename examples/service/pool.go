package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

// resetTime is how long a dirty connection takes to be reset before it
// goes back to the pool: the slow release that CloseAsync keeps off the
// request's path.
const resetTime = 150 * time.Millisecond

// conn is a fake database connection.
type conn struct {
	id    int
	dirty bool // holds session state that must be reset before reuse
}

func (c *conn) query(ctx context.Context, sql string) error { return ctx.Err() }

// begin starts a fake transaction.
func (c *conn) begin() *tx { return &tx{c: c} }

type tx struct {
	c    *conn
	done bool
}

func (t *tx) exec(ctx context.Context, sql string) error { return ctx.Err() }

func (t *tx) commit() error {
	if t.done {
		return errors.New("tx: already done")
	}
	t.done = true
	return nil
}

func (t *tx) rollback(context.Context) error {
	if t.done {
		return errors.New("tx: already done")
	}
	t.done = true
	return nil
}

// pool is a fake connection pool whose connections are otelguard
// resources: each checkout is a span named db.conn, a child of the span in
// the caller's context, that ends when the connection goes back.
type pool struct {
	tracker *otelguard.Tracker

	mu   sync.Mutex
	idle []*conn
	made int
}

// get checks a connection out for the request in ctx. Close puts it back.
// A connection dropped without Close is reported leaked_without_close by
// the garbage collector, with the stack of the handler that took it, and
// is put back then (ReleaseOnLeak), as os.File closes a forgotten
// descriptor.
func (p *pool) get(ctx context.Context, opts ...otelguard.AcquireOption) *otelguard.Resource[*conn] {
	p.mu.Lock()
	var c *conn
	if n := len(p.idle); n > 0 {
		c, p.idle = p.idle[n-1], p.idle[:n-1]
	} else {
		p.made++
		c = &conn{id: p.made}
	}
	p.mu.Unlock()
	opts = append(opts, otelguard.WithTracker(p.tracker), otelguard.ReleaseOnLeak())
	return otelguard.Acquire(ctx, "db.conn", c, p.put, opts...)
}

// put is the release: it resets a dirty connection, then returns it to the
// idle list.
func (p *pool) put(ctx context.Context, c *conn) error {
	if c.dirty {
		select {
		case <-time.After(resetTime):
			c.dirty = false
		case <-ctx.Done():
			return ctx.Err() // not reset: drop it
		}
	}
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	return nil
}
