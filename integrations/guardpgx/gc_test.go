package guardpgx_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
)

// markTracer puts a marker in the context each query's tracer call
// returns (where guardpgx keeps a query's lifetime) and notes when the
// garbage collector frees it.
type markTracer struct {
	mu    sync.Mutex
	freed []*atomic.Bool
}

type markKey struct{}

func (m *markTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	mark := new([64]byte)
	freed := new(atomic.Bool)
	runtime.AddCleanup(mark, func(f *atomic.Bool) { f.Store(true) }, freed)
	m.mu.Lock()
	m.freed = append(m.freed, freed)
	m.mu.Unlock()
	return context.WithValue(ctx, markKey{}, mark)
}

func (m *markTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// isFreed reports whether the marker of the i-th query was freed.
func (m *markTracer) isFreed(i int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.freed[i].Load()
}

// collections is how many collections the dropped case gets.
const collections = 50

// collect runs up to n collections, a millisecond apart (the runtime runs
// cleanups on a goroutine of its own after a collection), until done, and
// returns how many it ran.
func collect(n int, done func() bool) int {
	for i := 1; i <= n; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
		if done() {
			return i
		}
	}
	return n
}

// TestDroppedRowsStayReachable measures what the package's design rests
// on: pgx keeps the rows a program dropped without closing reachable, with
// the context the query's tracer call returned, so the garbage collector
// never finds them and leak detection cannot report them; hence the
// Request check and the hold threshold. The control shows that the same
// measurement sees a marker freed once pgx lets go of it (the rows closed,
// and the next query on the connection replacing the last one's result
// reader). The conn case runs pgx alone, the pool case with guardpgx
// chained after the marker.
func TestDroppedRowsStayReachable(t *testing.T) {
	t.Run("conn", func(t *testing.T) {
		m := &markTracer{}
		cfg, err := pgx.ParseConfig(postgres(t).DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tracer = m // pgx alone: the claim is pgx's
		conn, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		func() {
			rows, err := conn.Query(context.Background(), "select generate_series(1, 10000)")
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
		}() // the rows are dropped
		if n := collect(collections, func() bool { return m.isFreed(0) }); m.isFreed(0) {
			t.Fatalf("the dropped rows' marker was freed after %d collections: pgx no longer keeps dropped rows reachable, and leak detection could find them", n)
		}
		t.Logf("dropped rows on a pgx.Conn: marker still reachable after %d collections", collections)
	})
	t.Run("pool", func(t *testing.T) {
		m := &markTracer{}
		cfg, err := pgxpool.ParseConfig(postgres(t).DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 1
		cfg.ConnConfig.Tracer = m
		guardpgx.ConfigurePool(cfg, guardpgx.WithTracker(newRecorder(t).tr))
		// Not closed: Pool.Close waits for every connection to come back,
		// and the one the dropped rows hold never does — which is the
		// point. TestMain's server stop ends it.
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			rows, err := pool.Query(context.Background(), "select generate_series(1, 10000)")
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
		}()
		if n := collect(collections, func() bool { return m.isFreed(0) }); m.isFreed(0) {
			t.Fatalf("the dropped rows' marker was freed after %d collections", n)
		}
		if s := pool.Stat(); s.AcquiredConns() != 1 {
			t.Errorf("AcquiredConns %d, want 1: the dropped rows hold the pool's connection", s.AcquiredConns())
		}
		t.Logf("dropped rows of a pgxpool.Pool: marker still reachable after %d collections; the pool's one connection stays acquired", collections)
	})
	t.Run("control", func(t *testing.T) {
		m := &markTracer{}
		pool := newPool(t, 1, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = m }, guardpgx.WithTracker(newRecorder(t).tr))
		func() {
			rows, err := pool.Query(context.Background(), "select generate_series(1, 10000)")
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if _, err := pool.Exec(context.Background(), "select 1"); err != nil { // the same connection: MaxConns is 1
				t.Fatal(err)
			}
		}()
		n := collect(int(waitTimeout/time.Millisecond), func() bool { return m.isFreed(0) })
		if !m.isFreed(0) {
			t.Fatalf("the closed rows' marker was not freed after %d collections: the measurement cannot see a marker freed", n)
		}
		t.Logf("closed rows: marker freed after %d collection(s)", n)
	})
}
