// Command pgxservice is the service of e2e's pgx test
// (TestPgxPoolExhausted): a small HTTP service on pgxpool, watched by
// guardpgx, whose pool of two connections two handlers hold until told to
// let go, so that a third request's acquire times out and guardpgx emits
// its pool_exhausted finding, naming both holders.
//
// It is a module of its own, as pgservice is and for the same reasons (its
// doc says them): otelguard's dependencies would move the versions Jaeger
// pins in the e2e module, and it starts the PostgreSQL server itself, with
// the repository's internal/pgtest, stopping it when it exits.
//
//	GET  /export         takes a pool connection (Pool.Acquire), answers
//	                     202 at once, and holds the connection until POST
//	                     /debug/release (or its client goes away)
//	GET  /report         begins a transaction (Pool.Begin), answers 202, and
//	                     holds it, and its connection, the same way
//	GET  /items          every item's name, its query's acquire bounded by
//	                     -acquire-timeout: with both connections held, the
//	                     acquire times out, guardpgx emits a pool_exhausted
//	                     finding, and the answer is 503
//	POST /debug/release  lets the holders go
//
// The finding is a span of the service's TracerProvider (guardpgx's
// WithTracerProvider, the provider of the Tracker's lifetimes too) and a
// Warn record of its logger. It prints "listening on http://ADDR", then
// the Warn records, one JSON object a line (log/slog). Spans go over
// OTLP/HTTP as the OTEL_* variables say. SIGTERM or SIGINT (or, with
// -watch-stdin, the end of its standard input) shut it down in order: the
// server, the Tracker, the spans' flush, the pool, PostgreSQL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/internal/pgtest"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// exitNoServer is the exit status when there is no PostgreSQL server to
// start (pgtest.ErrNoServer): e2e tells it from a failure.
const exitNoServer = 3

// shutdownTimeout bounds each step of the shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	pool := flag.Int("pool", 2, "the most connections the pool opens (pool_max_conns)")
	acquire := flag.Duration("acquire-timeout", time.Second, "how long GET /items waits for a connection")
	watch := flag.Bool("watch-stdin", false, "shut down when standard input closes, as on SIGTERM")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watch {
		// e2e holds the pipe open: should the test binary die, it
		// closes, and PostgreSQL is stopped all the same.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	pg, err := pgtest.New()
	if errors.Is(err, pgtest.ErrNoServer) {
		fmt.Fprintln(os.Stderr, "pgxservice:", err)
		os.Exit(exitNoServer)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgxservice:", err)
		os.Exit(1)
	}
	err = run(ctx, pg.DSN, *pool, *acquire, os.Stdout)
	if serr := pg.Stop(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgxservice:", err)
		os.Exit(1)
	}
}

type server struct {
	pool    *pgxpool.Pool
	acquire time.Duration

	release  chan struct{} // closed by POST /debug/release
	released sync.Once
}

func run(ctx context.Context, dsn string, poolSize int, acquire time.Duration, out io.Writer) error {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("otelguard-pgxservice")),
		resource.WithFromEnv())
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLogger(logger))

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	cfg.MaxConns = int32(poolSize)
	// The finding spans come from guardpgx's own provider option: the
	// service's, so that they reach the same backend as the lifetimes.
	guardpgx.ConfigurePool(cfg, guardpgx.WithTracker(tracker), guardpgx.WithTracerProvider(tp), guardpgx.WithLogger(logger))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO items VALUES (1, 'one'), (2, 'two')`); err != nil {
		pool.Close()
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	s := &server{pool: pool, acquire: acquire, release: make(chan struct{})}

	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tp)))
	}
	handle("GET /export", s.handleExport)
	handle("GET /report", s.handleReport)
	handle("GET /items", s.handleItems)
	mux.HandleFunc("POST /debug/release", s.handleRelease)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	srv := &http.Server{Handler: guardhttp.NewHandler(mux, guardhttp.WithTracker(tracker)), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	s.let() // holders still holding give their connections back
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	err = errors.Join(err, tracker.Shutdown(sctx), tp.Shutdown(sctx))
	pool.Close()
	return err
}

// handleExport takes a connection for an export and holds it until told
// to let go: one of the two holders the finding names, by this line.
func (s *server) handleExport(w http.ResponseWriter, r *http.Request) {
	conn, err := s.pool.Acquire(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer conn.Release()
	s.hold(w, r)
}

// handleReport begins a transaction for a report and holds it until told
// to let go: the other holder.
func (s *server) handleReport(w http.ResponseWriter, r *http.Request) {
	tx, err := s.pool.Begin(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer tx.Rollback(context.WithoutCancel(r.Context()))
	s.hold(w, r)
}

// hold answers 202 at once, so that the client knows the connection is
// held, then waits until POST /debug/release or the client goes away.
func (s *server) hold(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusAccepted)
	_ = http.NewResponseController(w).Flush()
	select {
	case <-s.release:
		fmt.Fprintln(w, "released")
	case <-r.Context().Done():
	}
}

// handleItems lists the items, waiting for a connection at most
// s.acquire: with the pool held, its acquire times out.
func (s *server) handleItems(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.acquire)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT name FROM items ORDER BY id")
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, name)
	}
	if err := rows.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (s *server) handleRelease(w http.ResponseWriter, r *http.Request) {
	s.let()
	w.WriteHeader(http.StatusNoContent)
}

// let lets the holders go, once.
func (s *server) let() { s.released.Do(func() { close(s.release) }) }
