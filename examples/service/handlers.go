package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
)

// pollTimeout bounds a long poll that its client never gives up on.
const pollTimeout = 10 * time.Second

type server struct {
	tracker *otelguard.Tracker
	db      *pool
}

// routes wraps each handler in otelhttp, so every request is a server span
// named after its route, and the lifetimes a handler acquires with the
// request's context are its children.
func (s *server) routes(tp trace.TracerProvider) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tp)))
	}
	handle("GET /query", s.handleQuery)
	handle("GET /leak", s.handleLeak)
	handle("GET /report", s.handleReport)
	handle("GET /poll", s.handlePoll)
	handle("GET /transfer", s.handleTransfer)
	return mux
}

// handleQuery is the clean request: take a connection, use it, give it
// back. Its db.conn span ends cleaned, trigger close.
func (s *server) handleQuery(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c := s.db.get(ctx)
	defer c.Close(ctx)

	if err := c.Value().query(ctx, "SELECT name FROM users WHERE id = 1"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "query: ok")
}

// handleLeak forgets to give its connection back. Nothing fails here: the
// garbage collector finds the dropped handle later, and its db.conn span
// ends leaked_without_close, trigger gc, with this function in
// code.stacktrace.
func (s *server) handleLeak(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c := s.db.get(ctx) // no Close: the bug this story is about

	if err := c.Value().query(ctx, "SELECT id FROM orders"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "leak: ok (the connection was not given back)")
}

// handleReport runs a heavy query that leaves session state behind, so its
// connection takes resetTime to be reset before reuse. CloseAsync keeps
// that off the request's path: the response goes out at once, and the
// db.conn span, ending after the request's, shows the reset's duration in
// otelguard.cleanup.duration_ms.
func (s *server) handleReport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c := s.db.get(ctx)
	conn := c.Value()
	conn.dirty = true

	if err := conn.query(ctx, "CREATE TEMP TABLE report AS SELECT ..."); err != nil {
		_ = c.Close(ctx)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "report: ok")

	// The request's context is cancelled when the handler returns; the
	// reset must not be, so it gets the context without its cancellation.
	// The outcome is on the span: nobody waits for the channel.
	c.CloseAsync(context.WithoutCancel(ctx))
}

// handlePoll is a long poll: it holds a connection until it has news or
// its client gives up. CloseOnCancel gives the connection back as soon as
// the request's context is cancelled (db.conn ends cleaned, trigger
// cancel): no code path here has to remember it.
func (s *server) handlePoll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c := s.db.get(ctx, otelguard.CloseOnCancel())

	w.WriteHeader(http.StatusAccepted) // the client knows we are waiting
	_ = http.NewResponseController(w).Flush()

	select {
	case <-ctx.Done(): // the client went away: CloseOnCancel released c
	case <-time.After(pollTimeout):
		_ = c.Close(ctx)
	}
}

// handleTransfer runs a transaction. A Guard rolls it back on every way
// out, an early return or a panic, unless the commit disarms it: the
// tx.rollback span ends cleaned (trigger defer) when it rolled back, and
// disarmed when the transaction committed. With ?fail=1 the transfer is
// refused and rolled back.
func (s *server) handleTransfer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c := s.db.get(ctx)
	defer c.Close(ctx)

	tx := c.Value().begin()
	rollback := s.tracker.NewGuard(ctx, "tx.rollback", tx.rollback)
	defer rollback.Run()

	if err := tx.exec(ctx, "UPDATE accounts SET balance = balance - 10 WHERE id = 1"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if r.FormValue("fail") != "" {
		http.Error(w, "transfer: insufficient funds, rolled back", http.StatusConflict)
		return
	}
	rollback.Disarm()
	if err := tx.commit(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "transfer: committed")
}
