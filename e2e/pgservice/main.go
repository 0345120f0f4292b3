// Command pgservice is the service of e2e's PostgreSQL test
// (TestPostgresPoolExhausted): a handler that leaks rows on an early
// return, against a real PostgreSQL server through pgx's database/sql
// driver and guardsql, with a small pool and a hold threshold.
//
// It is a module of its own, not a package of e2e's: the e2e module builds
// Jaeger v1.76.0 with the dependency versions Jaeger pins, and otelguard's
// would move them (OpenTelemetry v1.47's go.opentelemetry.io/otel/log, which
// Jaeger's go.opentelemetry.io/otel/sdk/log v0.14 does not build with). For
// the same reason it starts the PostgreSQL server itself, with the
// repository's internal/pgtest (a temporary data directory, a free port of
// 127.0.0.1), and stops it when it exits: e2e starts and stops the process.
//
//	GET  /items/{id}  an item's name; the handler returns early without
//	                  closing its rows when the item is disabled, and their
//	                  query is detached from the request: they hold their
//	                  connection forever, the pool one connection smaller
//	GET  /items       every item's name, queried with the request's context:
//	                  it waits for a connection until its client gives up
//	GET  /debug/pool  the pool's sql.DBStats, as JSON
//	POST /debug/gc    runs a collection and waits for the leaks it finds to
//	                  be reported; answers the Tracker's leak count
//
// e2e runs it with GOGC=off, so that nothing but /debug/gc collects: the
// leaked rows are then found by the hold threshold first, and by leak
// detection when the test asks, in that order every time.
//
// It prints "listening on http://ADDR", then the Tracker's warnings, one
// JSON object a line (log/slog). Spans go over OTLP/HTTP as the OTEL_*
// variables say. SIGTERM or SIGINT (or, with -watch-stdin, the end of its
// standard input) shut it down in order: the server, the Tracker, the
// spans' flush, the database, PostgreSQL.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/bridge"
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
	hold := flag.Duration("hold", 500*time.Millisecond, "the database's hold threshold")
	pool := flag.Int("pool", 2, "the most connections the pool opens (SetMaxOpenConns)")
	watch := flag.Bool("watch-stdin", false, "shut down when standard input closes, as on SIGTERM")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watch {
		// e2e holds the pipe open: should the test binary die (a test
		// timeout's panic), it closes, and PostgreSQL is stopped all the
		// same instead of running on.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	pg, err := pgtest.New()
	if errors.Is(err, pgtest.ErrNoServer) {
		fmt.Fprintln(os.Stderr, "pgservice:", err)
		os.Exit(exitNoServer)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgservice:", err)
		os.Exit(1)
	}
	err = run(ctx, pg.DSN, *hold, *pool, os.Stdout)
	if serr := pg.Stop(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgservice:", err)
		os.Exit(1)
	}
}

type server struct {
	tracker *otelguard.Tracker
	db      *sql.DB
}

func run(ctx context.Context, dsn string, hold time.Duration, pool int, out io.Writer) error {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("otelguard-pgservice")),
		resource.WithFromEnv())
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp),
		otelguard.WithLogger(slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))))

	db, err := guardsql.Open("pgx", dsn, guardsql.WithTracker(tracker), guardsql.WithHoldThreshold(hold))
	if err != nil {
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	db.SetMaxOpenConns(pool)
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, disabled bool NOT NULL);
		INSERT INTO items VALUES (1, 'one', false), (2, 'two', false), (9, 'nine', true)`); err != nil {
		return errors.Join(err, db.Close(), tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	s := &server{tracker: tracker, db: db}

	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tp)))
	}
	handle("GET /items/{id}", s.handleItem)
	handle("GET /items", s.handleItems)
	mux.HandleFunc("GET /debug/pool", s.handlePool)
	mux.HandleFunc("POST /debug/gc", s.handleGC)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errors.Join(err, db.Close(), tracker.Shutdown(ctx), tp.Shutdown(ctx))
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
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	return errors.Join(err, tracker.Shutdown(sctx), tp.Shutdown(sctx), db.Close())
}

// handleItem looks an item up, and returns early for a disabled one without
// closing its rows: the bug. Its query is detached from the request
// (context.WithoutCancel keeps the request's span and otelguard Request, but
// never ends), as code is that must not be cut short by a client going
// away, so database/sql never closes the rows: they hold their connection
// until the garbage collector finds them, and even then database/sql counts
// it in use for good.
func (s *server) handleItem(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithoutCancel(r.Context())
	rows, err := s.db.QueryContext(ctx, "SELECT name, disabled FROM items WHERE id = $1", r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !rows.Next() {
		rows.Close()
		http.Error(w, "no such item", http.StatusNotFound)
		return
	}
	var name string
	var disabled bool
	if err := rows.Scan(&name, &disabled); err != nil {
		rows.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if disabled {
		http.Error(w, "item "+name+" is disabled", http.StatusGone)
		return // rows.Close forgotten on the early return: the bug
	}
	if err := rows.Close(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, name)
}

// handleItems lists the items, with the request's context: with the pool
// exhausted, it waits for a connection until its client gives up.
func (s *server) handleItems(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), "SELECT name FROM items ORDER BY id")
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

func (s *server) handlePool(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.db.Stats())
}

// handleGC runs a collection, which queues the cleanups of what became
// garbage; the runtime runs them, and the Tracker reports the leaks, on
// goroutines of their own: Flush waits for the reports already queued.
// It answers the Tracker's leak count.
func (s *server) handleGC(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	if err := s.tracker.Flush(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, bridge.LeakCount(s.tracker))
}
