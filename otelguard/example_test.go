package otelguard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// exampleTracker returns a Tracker recording into an in-memory recorder.
func exampleTracker(opts ...otelguard.Option) (*otelguard.Tracker, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	return otelguard.New(append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)...), rec
}

// printLifetimes prints name, outcome and trigger of every ended span.
func printLifetimes(rec *tracetest.SpanRecorder) {
	for _, s := range rec.Ended() {
		if s.Name() == "otelguard.finding" {
			continue // a finding is about a lifetime, not one
		}
		var outcome, trigger string
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "otelguard.outcome":
				outcome = kv.Value.AsString()
			case "otelguard.trigger":
				trigger = kv.Value.AsString()
			}
		}
		fmt.Printf("%s: %s (%s)\n", s.Name(), outcome, trigger)
	}
}

func ExampleNew() {
	tracker, rec := exampleTracker(
		otelguard.WithStackDepth(0),
		otelguard.WithStackDepth(16),
	)
	g := otelguard.NewGuard(context.Background(), "cache.unlock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	_ = g.Run()
	printLifetimes(rec)
	// Output:
	// cache.unlock: cleaned (defer)
}

func ExampleNewGuard_rollback() {
	tracker, rec := exampleTracker()
	commit := func(fail bool) error {
		g := otelguard.NewGuard(context.Background(), "tx", func(context.Context) error {
			fmt.Println("rolled back")
			return nil
		}, otelguard.WithTracker(tracker))
		defer g.Run()
		if fail {
			return errors.New("insert failed")
		}
		g.Disarm() // committed: nothing to roll back
		return nil
	}
	_ = commit(true)
	_ = commit(false)
	printLifetimes(rec)
	// Output:
	// rolled back
	// tx: cleaned (defer)
	// tx: disarmed (disarm)
}

func ExampleNewGuard() {
	tracker, rec := exampleTracker()
	// The package-level functions use Default() unless given WithTracker.
	g := otelguard.NewGuard(context.Background(), "lock.release", func(context.Context) error { return nil },
		otelguard.WithTracker(tracker))
	_ = g.Run()
	printLifetimes(rec)
	// Output:
	// lock.release: cleaned (defer)
}

func ExampleGuard_Run() {
	tracker, rec := exampleTracker()
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		g := otelguard.NewGuard(context.Background(), "temp.remove", func(context.Context) error {
			fmt.Println("cleanup ran")
			return nil
		}, otelguard.WithTracker(tracker))
		defer g.Run() // deferred directly: sees the panic and lets it go on
		panic("disk full")
	}()
	printLifetimes(rec)
	// Output:
	// cleanup ran
	// recovered: disk full
	// temp.remove: cleaned (panic)
}

func ExampleGuard_Disarm() {
	tracker, rec := exampleTracker()
	g := otelguard.NewGuard(context.Background(), "undo", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	fmt.Println(g.Disarm(), g.Disarm())
	fmt.Println(g.Run())
	printLifetimes(rec)
	// Output:
	// true false
	// <nil>
	// undo: disarmed (disarm)
}

type exampleConn struct{ id int }

func (c *exampleConn) Close() error { fmt.Println("conn", c.id, "closed"); return nil }

func ExampleAcquire() {
	tracker, rec := exampleTracker()
	r := otelguard.Acquire(context.Background(), "db.conn", &exampleConn{id: 7},
		func(ctx context.Context, c *exampleConn) error { return c.Close() },
		otelguard.WithTracker(tracker))
	defer r.Close(context.Background()) // a second Close is normal: it returns ErrClosed
	fmt.Println("using conn", r.Value().id)
	if err := r.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	printLifetimes(rec)
	// Output:
	// using conn 7
	// conn 7 closed
	// db.conn: cleaned (close)
}

func ExampleTrack() {
	tracker, rec := exampleTracker()
	f, err := os.CreateTemp("", "otelguard-example-*")
	if err != nil {
		panic(err)
	}
	defer os.Remove(f.Name())
	r := otelguard.Track(context.Background(), "tmpfile", f, otelguard.WithTracker(tracker))
	fmt.Fprintln(r.Value(), "hello")
	fmt.Println(r.Close(context.Background()))
	fmt.Println(errors.Is(r.Close(context.Background()), otelguard.ErrClosed))
	printLifetimes(rec)
	// Output:
	// <nil>
	// true
	// tmpfile: cleaned (close)
}

func ExampleResource_Close() {
	tracker, rec := exampleTracker()
	r := otelguard.Acquire(context.Background(), "socket", 1, func(ctx context.Context, _ int) error {
		<-ctx.Done() // a release that honours its ctx: a slow peer
		return ctx.Err()
	}, otelguard.WithTracker(tracker))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(r.Close(ctx)) // runs here, and returns when the release does
	printLifetimes(rec)
	// Output:
	// context deadline exceeded
	// socket: timed_out (close)
}

func ExampleResource_CloseAsync() {
	tracker, rec := exampleTracker()
	hung := make(chan struct{})
	r := otelguard.Acquire(context.Background(), "socket", 1, func(context.Context, int) error {
		<-hung // a release that ignores its ctx
		return nil
	}, otelguard.WithTracker(tracker))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(<-r.CloseAsync(ctx)) // by the deadline; the release goes on
	printLifetimes(rec)
	close(hung)
	_ = tracker.Flush(context.Background()) // wait for the straggler
	// Output:
	// otelguard: gave up waiting for the release of "socket": context deadline exceeded
	// socket: timed_out (close)
}

func ExampleResource_Detach() {
	tracker, rec := exampleTracker()
	r := otelguard.Track(context.Background(), "db.conn", &exampleConn{id: 3}, otelguard.WithTracker(tracker))
	c := r.Detach() // hand the connection back to a pool that closes it itself
	fmt.Println("detached conn", c.id)
	printLifetimes(rec)
	// Output:
	// detached conn 3
	// db.conn: disarmed (disarm)
}

func ExampleCloseOnCancel() {
	tracker, rec := exampleTracker()
	ctx, cancel := context.WithCancel(context.Background())
	otelguard.Acquire(ctx, "job.lease", "lease-1", func(ctx context.Context, lease string) error {
		fmt.Println("released", lease, "with a live ctx:", ctx.Err() == nil)
		return nil
	}, otelguard.WithTracker(tracker), otelguard.CloseOnCancel())
	cancel()                                // the task is cancelled: the lease is released for it
	_ = tracker.Flush(context.Background()) // wait for the library's goroutine
	printLifetimes(rec)
	// Output:
	// released lease-1 with a live ctx: true
	// job.lease: cleaned (cancel)
}

func ExampleWithAttributes() {
	tracker, rec := exampleTracker()
	r := otelguard.Track(context.Background(), "db.conn", &exampleConn{id: 9},
		otelguard.WithTracker(tracker),
		otelguard.WithAttributes(otelguardAttr("db.system.name", "postgresql")))
	_ = r.Close(context.Background())
	for _, kv := range rec.Ended()[0].Attributes() {
		if kv.Key == "db.system.name" {
			fmt.Println(kv.Value.AsString())
		}
	}
	// Output:
	// conn 9 closed
	// postgresql
}

func ExampleNewScope() {
	tracker, rec := exampleTracker()
	scope := otelguard.NewScope(context.Background(), "request", otelguard.WithTracker(tracker))
	scope.Defer("tmp.remove", func(context.Context) error { fmt.Println("tmp removed"); return nil })
	scope.Add(otelguard.Track(context.Background(), "db.conn", &exampleConn{id: 2}, otelguard.WithTracker(tracker)))
	scope.Defer("cache.flush", func(context.Context) error { return errors.New("cache down") })
	fmt.Println(scope.Close(context.Background())) // newest first, every error joined
	printLifetimes(rec)
	// Output:
	// conn 2 closed
	// tmp removed
	// cache down
	// cache.flush: failed (scope)
	// db.conn: cleaned (scope)
	// tmp.remove: cleaned (scope)
	// request: failed (close)
}

func ExampleScope_Disarm() {
	tracker, rec := exampleTracker()
	open := func() (*otelguard.Resource[*exampleConn], error) {
		scope := otelguard.NewScope(context.Background(), "open", otelguard.WithTracker(tracker))
		defer scope.Close(context.Background()) // released on failure, unless disarmed
		scope.Defer("undo.register", func(context.Context) error { fmt.Println("unregistered"); return nil })
		conn := otelguard.Track(context.Background(), "conn", &exampleConn{id: 4}, otelguard.WithTracker(tracker))
		scope.Add(conn)
		scope.Disarm() // success: the caller owns the connection now, still watched
		return conn, nil
	}
	conn, _ := open()
	fmt.Println("caller got conn", conn.Value().id)
	_ = conn.Close(context.Background())
	printLifetimes(rec)
	// Output:
	// caller got conn 4
	// conn 4 closed
	// undo.register: disarmed (disarm)
	// open: disarmed (disarm)
	// conn: cleaned (close)
}

func ExampleTracker_Shutdown() {
	tracker, rec := exampleTracker()
	//otelguard:handoff left open on purpose: the example shows Shutdown's open_at_shutdown
	_ = otelguard.NewGuard(context.Background(), "worker.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	// At exit: report what is still open, and wait for async releases.
	fmt.Println(tracker.Shutdown(context.Background()))
	printLifetimes(rec)
	// Output:
	// <nil>
	// worker.lock: open_at_shutdown (shutdown)
}

func ExampleTracker_CloseAll() {
	tracker, rec := exampleTracker()
	otelguard.Track(context.Background(), "conn.a", &exampleConn{id: 1}, otelguard.WithTracker(tracker))
	otelguard.Track(context.Background(), "conn.b", &exampleConn{id: 2}, otelguard.WithTracker(tracker))
	fmt.Println(tracker.CloseAll(context.Background())) // newest first
	printLifetimes(rec)
	// Output:
	// conn 2 closed
	// conn 1 closed
	// <nil>
	// conn.b: cleaned (shutdown)
	// conn.a: cleaned (shutdown)
}

func ExampleTracker_Live() {
	tracker, _ := exampleTracker()
	g := openLock(tracker)
	for _, l := range tracker.Live() {
		site := strings.SplitN(l.Stack, "\n", 2)[0]
		fmt.Println(l.Name, l.Kind, strings.TrimPrefix(site, "github.com/otelguard/otelguard-go/otelguard_test."))
	}
	g.Disarm()
	fmt.Println(len(tracker.Live()))
	// Output:
	// orders.lock guard openLock(...)
	// 0
}

//go:noinline
func openLock(tracker *otelguard.Tracker) *otelguard.Guard {
	return otelguard.NewGuard(context.Background(), "orders.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
}

// A handle dropped without Close is found by the garbage collector: its
// span ends leaked_without_close, with the acquire stack, and it is a
// missed close (otelguard.missed_close=true).
func Example_leak() {
	tracker, rec := exampleTracker()
	dropHandle(tracker)
	for i := 0; i < 100 && len(rec.Ended()) == 0; i++ {
		runtime.GC() // leaks are found by the garbage collector
		_ = tracker.Flush(context.Background())
	}
	for _, s := range rec.Ended() {
		if s.Name() == "otelguard.finding" {
			continue // Example_finding shows it
		}
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "code.stacktrace":
				site := strings.SplitN(kv.Value.AsString(), "\n", 2)[0]
				fmt.Println(s.Name(), strings.TrimPrefix(site, "github.com/otelguard/otelguard-go/otelguard_test."))
			case "otelguard.missed_close":
				fmt.Println("missed close:", kv.Value.AsBool())
			}
		}
	}
	printLifetimes(rec)
	// Output:
	// missed close: true
	// report.file dropHandle(...)
	// report.file: leaked_without_close (gc)
}

//go:noinline
func dropHandle(tracker *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the example shows the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "report.file", new(bufio.Writer),
		func(_ context.Context, w *bufio.Writer) error { return w.Flush() }, otelguard.WithTracker(tracker))
}

func ExampleContextWithTracker() {
	tracker, rec := exampleTracker()
	// A request's context carries the Tracker: code it calls needs no
	// WithTracker.
	ctx := otelguard.ContextWithTracker(context.Background(), tracker)
	handle(ctx)
	printLifetimes(rec)
	// Output:
	// conn 5 closed
	// db.conn: cleaned (close)
}

// handle is code that knows nothing of the Tracker.
func handle(ctx context.Context) {
	conn := otelguard.Track(ctx, "db.conn", &exampleConn{id: 5})
	defer conn.Close(ctx)
}

func ExampleTrackerFrom() {
	tracker, _ := exampleTracker()
	ctx := otelguard.ContextWithTracker(context.Background(), tracker)
	fmt.Println(otelguard.TrackerFrom(ctx) == tracker)
	fmt.Println(otelguard.TrackerFrom(context.Background()) == nil)
	// Output:
	// true
	// true
}

func ExampleWithCallerSkip() {
	tracker, _ := exampleTracker()
	r := queryRows(tracker) // reports name queryRows, not the helper
	site := strings.SplitN(tracker.Live()[0].Stack, "\n", 2)[0]
	fmt.Println(strings.TrimPrefix(site, "github.com/otelguard/otelguard-go/otelguard_test."))
	_ = r.Close(context.Background())
	// Output:
	// queryRows(...)
	// conn 6 closed
}

// trackRows wraps Acquire: with WithCallerSkip(1) its caller is the one
// named by reports, the live view and AcquiredAt's stack.
func trackRows(tracker *otelguard.Tracker, rows *exampleConn) *otelguard.Resource[*exampleConn] {
	return otelguard.Track(context.Background(), "db.rows", rows,
		otelguard.WithTracker(tracker), otelguard.WithCallerSkip(1))
}

//go:noinline
func queryRows(tracker *otelguard.Tracker) *otelguard.Resource[*exampleConn] {
	return trackRows(tracker, &exampleConn{id: 6})
}

func ExampleWithLeakCheckInterval() {
	// A service that may sit idle: a dropped handle is found within about
	// two intervals, even if the process allocates nothing meanwhile.
	tracker, _ := exampleTracker(otelguard.WithLeakCheckInterval(30 * time.Second))
	conn := otelguard.Track(context.Background(), "db.conn", &exampleConn{id: 7}, otelguard.WithTracker(tracker))
	fmt.Println(conn.Close(context.Background()))
	// Output:
	// conn 7 closed
	// <nil>
}

func ExampleGuard_Name() {
	tracker, _ := exampleTracker()
	g := otelguard.NewGuard(context.Background(), "", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	fmt.Println(g.Name()) // an empty name gets the kind's default
	g.Disarm()
	var nilGuard *otelguard.Guard
	fmt.Printf("%q %v\n", nilGuard.Name(), nilGuard.Disarm()) // a nil handle is inert
	// Output:
	// otelguard.guard
	// "" false
}

func ExampleContextWithRequest() {
	tracker, _ := exampleTracker()
	ctx := otelguard.ContextWithTracker(context.Background(), tracker)

	// What an HTTP middleware does for each request (integrations/guardhttp
	// does it for you): every lifetime acquired with the request's context
	// belongs to the request.
	rctx, req := otelguard.ContextWithRequest(ctx, otelguardAttr("http.request.method", "GET"))
	conn := otelguard.Track(rctx, "db.conn", &exampleConn{id: 8})
	pooled := otelguard.Track(rctx, "pool.conn", &exampleConn{id: 9}, otelguard.OutlivesRequest())
	for _, l := range req.End(otelguardAttr("http.route", "/report")) { // the handler returned
		fmt.Println("outlived its request:", l.Name)
	}
	_ = conn.Close(ctx)
	_ = pooled.Close(ctx) // later, when the pool closes it
	// Output:
	// outlived its request: db.conn
	// conn 8 closed
	// conn 9 closed
}

// exampleTx stands for a database transaction.
type exampleTx struct{}

func (exampleTx) Rollback() error { fmt.Println("rolled back"); return nil }
func (exampleTx) Commit() error   { fmt.Println("committed"); return nil }

func debitAndCredit(_ context.Context, _ exampleTx, fail bool) error {
	if fail {
		return errors.New("insufficient funds")
	}
	return nil
}

// A Guard is Rust's Drop guard for Go's defer: a cleanup that runs unless
// the success path disarms it. (The type's documentation's snippet.)
func ExampleGuard() {
	transfer := func(ctx context.Context, tx exampleTx, fail bool) error {
		debitAndCredit := func(ctx context.Context, tx exampleTx) error { return debitAndCredit(ctx, tx, fail) }
		rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return tx.Rollback() })
		defer rollback.Run()
		if err := debitAndCredit(ctx, tx); err != nil {
			return err // rolled back: outcome cleaned, trigger defer
		}
		rollback.Disarm() // outcome disarmed
		return tx.Commit()
	}
	tracker, rec := exampleTracker()
	ctx := otelguard.ContextWithTracker(context.Background(), tracker)
	fmt.Println(transfer(ctx, exampleTx{}, true))
	fmt.Println(transfer(ctx, exampleTx{}, false))
	printLifetimes(rec)
	// Output:
	// rolled back
	// insufficient funds
	// committed
	// <nil>
	// tx.rollback: cleaned (defer)
	// tx.rollback: disarmed (disarm)
}

func ExampleWithCallerSkipPackages() {
	tracker, _ := exampleTracker()
	// A callback run by a library — here sort, standing for net/http or
	// database/sql behind which an integration acquires: the callback's
	// own frame (WithCallerSkip(1)) and every frame of the library are
	// dropped, and the stack starts at the code that called the library.
	var r *otelguard.Resource[*exampleConn]
	ids := []int{2, 1}
	sort.Slice(ids, func(i, j int) bool {
		if r == nil {
			r = otelguard.Track(context.Background(), "sorted", &exampleConn{id: 10}, otelguard.WithTracker(tracker),
				otelguard.WithCallerSkip(1), otelguard.WithCallerSkipPackages("sort"))
		}
		return ids[i] < ids[j]
	})
	site := strings.SplitN(tracker.Live()[0].Stack, "\n", 2)[0]
	fmt.Println(strings.TrimPrefix(site, "github.com/otelguard/otelguard-go/otelguard_test."))
	_ = r.Close(context.Background())
	// Output:
	// ExampleWithCallerSkipPackages(...)
	// conn 10 closed
}

func ExampleReleaseTrigger() {
	tracker, _ := exampleTracker()
	release := func(ctx context.Context, name string) error {
		trig, _ := otelguard.ReleaseTrigger(ctx)
		fmt.Println("releasing", name, "because of", trig)
		return nil
	}
	r := otelguard.Acquire(context.Background(), "conn", "a", release, otelguard.WithTracker(tracker))
	_ = r.Close(context.Background())
	otelguard.Acquire(context.Background(), "conn", "b", release, otelguard.WithTracker(tracker)) //otelguard:handoff CloseAll releases it
	_ = tracker.CloseAll(context.Background())
	// Output:
	// releasing a because of close
	// releasing b because of shutdown
}

// openConfig stands for any io.Closer a program opens.
func openConfig() io.ReadCloser { return io.NopCloser(strings.NewReader("x")) }

// The README's first example: a Resource, a Guard, and a handle dropped
// without Close, each a span that ends with one outcome.
func Example_firstContact() {
	tracker, rec := exampleTracker()
	func() {
		ctx := otelguard.ContextWithTracker(context.Background(), tracker)

		file := otelguard.Track(ctx, "config.file", openConfig()) // any io.Closer
		defer file.Close(ctx)                                     // span ends: cleaned

		unlock := otelguard.NewGuard(ctx, "cache.unlock", func(context.Context) error {
			return nil // a deferred cleanup you can Disarm, like Rust's Drop guard
		})
		defer unlock.Run() // span ends: cleaned, trigger defer

		//otelguard:handoff dropped on purpose: the example shows the leak
		otelguard.Track(ctx, "report.file", openConfig())
	}()
	for i := 0; i < 100 && stillOpenNamed(tracker, "report.file"); i++ {
		runtime.GC() // the garbage collector finds the dropped handle
		_ = tracker.Flush(context.Background())
	}
	printLifetimes(rec)
	// Output:
	// cache.unlock: cleaned (defer)
	// config.file: cleaned (close)
	// report.file: leaked_without_close (gc)
}

func stillOpenNamed(tracker *otelguard.Tracker, name string) bool {
	for _, l := range tracker.Live() {
		if l.Name == name {
			return true
		}
	}
	return false
}
