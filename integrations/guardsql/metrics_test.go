package guardsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"modernc.org/sqlite"
)

// meterReader is an SDK MeterProvider read by hand.
type meterReader struct {
	mp *sdkmetric.MeterProvider
	r  *sdkmetric.ManualReader
}

func newMeterReader(t testing.TB) *meterReader {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &meterReader{mp: mp, r: r}
}

// poolReading is one collection of one pool's metrics.
type poolReading struct {
	idle, used    int64
	hasCount      bool
	max           int64
	hasMax        bool
	useCount      uint64
	useSum        float64
	createCount   uint64
	createSum     float64
	others        []string // metrics of the pool other than the three above
	statesUnknown int      // count data points without idle or used
}

// read collects and returns pool's metrics.
func (m *meterReader) read(t testing.TB, pool string) poolReading {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var p poolReading
	ofPool := func(s attribute.Set) bool {
		v, ok := s.Value("db.client.connection.pool.name")
		return ok && v.AsString() == pool
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if !ofPool(dp.Attributes) {
						continue
					}
					switch mt.Name {
					case "db.client.connection.count":
						p.hasCount = true
						state, _ := dp.Attributes.Value("db.client.connection.state")
						switch state.AsString() {
						case "idle":
							p.idle = dp.Value
						case "used":
							p.used = dp.Value
						default:
							p.statesUnknown++
						}
					case "db.client.connection.max":
						p.hasMax, p.max = true, dp.Value
					default:
						p.others = append(p.others, mt.Name)
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					if !ofPool(dp.Attributes) {
						continue
					}
					switch mt.Name {
					case "db.client.connection.use_time":
						p.useCount, p.useSum = dp.Count, dp.Sum
					case "db.client.connection.create_time":
						p.createCount, p.createSum = dp.Count, dp.Sum
					default:
						p.others = append(p.others, mt.Name)
					}
				}
			default:
				p.others = append(p.others, mt.Name)
			}
		}
	}
	return p
}

// poolOpener opens a database with opts on one engine.
type poolOpener func(t *testing.T, opts ...guardsql.Option) *sql.DB

// TestPoolMetrics runs the pool-metrics cases on SQLite and PostgreSQL.
func TestPoolMetrics(t *testing.T) {
	engines := []struct {
		name string
		open poolOpener
	}{
		{"sqlite", func(t *testing.T, opts ...guardsql.Option) *sql.DB { return openSQLite(t, opts...) }},
		{"postgresql", func(t *testing.T, opts ...guardsql.Option) *sql.DB {
			db := openPostgres(t, opts...)
			if _, err := db.Exec("create table if not exists t(x integer); delete from t; insert into t values (1), (2), (3)"); err != nil {
				t.Fatal(err)
			}
			return db
		}},
	}
	cases := []struct {
		name string
		run  func(t *testing.T, open poolOpener)
	}{
		{"CountByState", testCountByState},
		{"Max", testMax},
		{"Waiter", testWaiter},
		{"UseTime", testUseTime},
		{"CreateTime", testCreateTime},
		{"UnregisteredAtClose", testUnregisteredAtClose},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, e.open) })
			}
		})
	}
}

// testCountByState: connections whose rows are held count as used, the
// others as idle, as DB.Stats reads them.
func testCountByState(t *testing.T, open poolOpener) {
	m := newMeterReader(t)
	rec := newRecorder(t)
	db := open(t, guardsql.WithTracker(rec.tr), guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	db.SetMaxOpenConns(3)
	db.SetMaxIdleConns(3)
	ctx := context.Background()
	r1, err := db.QueryContext(ctx, "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := db.QueryContext(ctx, "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	held := m.read(t, "p")
	s := db.Stats()
	if !held.hasCount || held.used != 2 || held.used != int64(s.InUse) || held.idle != int64(s.Idle) {
		t.Errorf("two rows held: count idle=%d used=%d (reported %v), Stats %+v: want used 2, and as Stats reads",
			held.idle, held.used, held.hasCount, s)
	}
	if held.statesUnknown != 0 || len(held.others) != 0 {
		t.Errorf("unexpected data points: %d of another state, other metrics %v", held.statesUnknown, held.others)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	back := m.read(t, "p")
	s = db.Stats()
	if back.used != 0 || back.idle != int64(s.Idle) || back.idle != int64(s.OpenConnections) || back.idle < 2 {
		t.Errorf("rows closed: count idle=%d used=%d, Stats %+v: want 0 used, every open one idle (at least 2)",
			back.idle, back.used, s)
	}
	if back.useCount < held.useCount+2 {
		t.Errorf("use_time count %d after both rows closed, %d before: want 2 more", back.useCount, held.useCount)
	}
}

// testMax: db.client.connection.max follows SetMaxOpenConns, and is not
// reported while the pool is unlimited (0).
func testMax(t *testing.T, open poolOpener) {
	m := newMeterReader(t)
	db := open(t, guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	db.SetMaxOpenConns(7)
	if got := m.read(t, "p"); !got.hasMax || got.max != 7 {
		t.Errorf("SetMaxOpenConns(7): max %d (reported %v), want 7", got.max, got.hasMax)
	}
	db.SetMaxOpenConns(1)
	if got := m.read(t, "p"); !got.hasMax || got.max != 1 {
		t.Errorf("SetMaxOpenConns(1): max %d (reported %v), want 1", got.max, got.hasMax)
	}
	db.SetMaxOpenConns(0)
	if got := m.read(t, "p"); got.hasMax {
		t.Errorf("SetMaxOpenConns(0), unlimited: max %d reported, want none", got.max)
	}
}

// testWaiter: on a pool of one whose connection is held, a second
// checkout waits. database/sql counts the wait (Stats.WaitCount), but
// keeps its queue to itself: the connection counts as used, and no
// pending_requests is reported (see the package documentation). When the
// holder lets go, the waiter gets the connection and each checkout's
// use_time is recorded as it is returned.
func testWaiter(t *testing.T, open poolOpener) {
	m := newMeterReader(t)
	rec := newRecorder(t)
	db := open(t, guardsql.WithTracker(rec.tr), guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	db.SetMaxOpenConns(1)
	ctx := rec.Context()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := m.read(t, "p")
	waits := db.Stats().WaitCount
	got := make(chan error, 1)
	waitCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	go func() {
		c, err := db.Conn(waitCtx)
		if err == nil {
			err = c.PingContext(waitCtx)
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
		got <- err
	}()
	waitFor(t, "the second checkout to wait", func() bool { return db.Stats().WaitCount > waits })
	waiting := m.read(t, "p")
	if waiting.used != 1 || waiting.idle != 0 || waiting.max != 1 {
		t.Errorf("one held, one waiting: used %d idle %d max %d, want 1, 0, 1", waiting.used, waiting.idle, waiting.max)
	}
	for _, name := range waiting.others {
		if name == "db.client.connection.pending_requests" {
			t.Errorf("pending_requests reported: database/sql does not tell it")
		}
	}
	if waiting.useCount != before.useCount {
		t.Errorf("use_time count %d while both still hold or wait, %d before: want no new one", waiting.useCount, before.useCount)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	after := m.read(t, "p")
	if after.useCount != before.useCount+2 {
		t.Errorf("use_time count %d after the holder and the waiter returned, %d before: want 2 more", after.useCount, before.useCount)
	}
	if after.used != 0 || after.idle != 1 {
		t.Errorf("both returned: used %d idle %d, want 0 and 1", after.used, after.idle)
	}
}

// testUseTime: a DB.Conn checkout held for at least hold is recorded once,
// when it is returned, with a use_time between hold and the time the
// test saw around it.
func testUseTime(t *testing.T, open poolOpener) {
	const hold = 20 * time.Millisecond
	m := newMeterReader(t)
	rec := newRecorder(t)
	db := open(t, guardsql.WithTracker(rec.tr), guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	before := m.read(t, "p")
	start := time.Now()
	c, err := db.Conn(rec.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := time.Now()
	if err := c.PingContext(rec.Context()); err != nil {
		t.Fatal(err)
	}
	if during := m.read(t, "p"); during.useCount != before.useCount {
		t.Errorf("use_time count %d while the checkout is held, %d before: want none until it is returned", during.useCount, before.useCount)
	}
	time.Sleep(hold - time.Since(got)) // the checkout lasts at least hold: a lower bound, not a hope
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	after := m.read(t, "p")
	if after.useCount != before.useCount+1 {
		t.Fatalf("use_time count %d after the checkout was returned, %d before: want one more", after.useCount, before.useCount)
	}
	use := time.Duration((after.useSum - before.useSum) * float64(time.Second))
	if use < hold || use > total {
		t.Errorf("use_time %v, want between %v (held) and %v (the test's view)", use, hold, total)
	}
}

// testCreateTime: each connection the connector opens is recorded once,
// with a create_time within the time the test saw around the query that
// opened it.
func testCreateTime(t *testing.T, open poolOpener) {
	m := newMeterReader(t)
	rec := newRecorder(t)
	db := open(t, guardsql.WithTracker(rec.tr), guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	db.SetMaxOpenConns(3)
	db.SetMaxIdleConns(3)
	before := m.read(t, "p")
	if opened := db.Stats().OpenConnections; before.createCount != uint64(opened) {
		t.Errorf("create_time count %d, Stats %d open (none closed yet): want equal", before.createCount, opened)
	}
	ctx := context.Background()
	held, err := db.QueryContext(ctx, "select x from t") // takes the idle one
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	start := time.Now()
	r, err := db.QueryContext(ctx, "select x from t") // opens one
	total := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	after := m.read(t, "p")
	if after.createCount != before.createCount+1 {
		t.Fatalf("create_time count %d after a query that had to open a connection, %d before: want one more", after.createCount, before.createCount)
	}
	if d := time.Duration((after.createSum - before.createSum) * float64(time.Second)); d <= 0 || d > total {
		t.Errorf("create_time %v, want above 0 and within the query's %v", d, total)
	}
}

// testUnregisteredAtClose: DB.Close ends a database's observed metrics,
// and only its own.
func testUnregisteredAtClose(t *testing.T, open poolOpener) {
	m := newMeterReader(t)
	db := open(t, guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("closed"))
	other := open(t, guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("open"))
	db.SetMaxOpenConns(2)
	other.SetMaxOpenConns(2)
	if got := m.read(t, "closed"); !got.hasCount || !got.hasMax {
		t.Fatalf("open: count reported %v, max %v: want both", got.hasCount, got.hasMax)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := m.read(t, "closed"); got.hasCount || got.hasMax {
		t.Errorf("after DB.Close: count reported %v (idle %d used %d), max %v (%d): want neither",
			got.hasCount, got.idle, got.used, got.hasMax, got.max)
	}
	if got := m.read(t, "open"); !got.hasCount || !got.hasMax || got.max != 2 {
		t.Errorf("the other database: count reported %v, max %v (%d): want both, 2", got.hasCount, got.hasMax, got.max)
	}
	if err := db.Close(); err != nil { // DB.Close is idempotent; so is the unregistering
		t.Fatal(err)
	}
}

// TestPoolNameDefault: without WithPoolName, Open names the pool after the
// driver name (and a server the data source names, tested inside the
// package), OpenDB after db.system.name.
func TestPoolNameDefault(t *testing.T) {
	m := newMeterReader(t)
	db, err := guardsql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"), guardsql.WithMeterProvider(m.mp))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := m.read(t, "sqlite"); !got.hasCount {
		t.Errorf(`Open("sqlite", file): no count under pool name "sqlite"`)
	}
	c, err := sqlite.NewConnector(filepath.Join(t.TempDir(), "y.db"))
	if err != nil {
		t.Fatal(err)
	}
	db2 := guardsql.OpenDB(c, guardsql.WithMeterProvider(m.mp), guardsql.WithSystemName("mydb"))
	defer db2.Close()
	if got := m.read(t, "mydb"); !got.hasCount {
		t.Errorf(`OpenDB with db.system.name "mydb": no count under pool name "mydb"`)
	}
}

// TestMeterProviderDefault: without WithMeterProvider the global provider
// measures; with a noop one nothing is, and the database works.
func TestMeterProviderDefault(t *testing.T) {
	m := newMeterReader(t)
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(m.mp)
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	db := openSQLite(t, guardsql.WithPoolName("global"))
	quiet := openSQLite(t, guardsql.WithPoolName("noop"), guardsql.WithMeterProvider(noop.NewMeterProvider()))
	var n int
	if err := quiet.QueryRow("select count(*) from t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("a query through the noop provider's database: %d, %v", n, err)
	}
	if got := m.read(t, "global"); !got.hasCount || got.useCount == 0 {
		t.Errorf("the global provider: count reported %v, use_time count %d: want both", got.hasCount, got.useCount)
	}
	if got := m.read(t, "noop"); got.hasCount || got.useCount != 0 {
		t.Errorf("the noop provider's database shows in the global provider's metrics: %+v", got)
	}
	_ = db
}

// failingConnector's connections cannot be opened.
type failingConnector struct{ d driver.Driver }

var errRefused = errors.New("refused")

func (c failingConnector) Connect(context.Context) (driver.Conn, error) { return nil, errRefused }
func (c failingConnector) Driver() driver.Driver                        { return c.d }

// TestCreateTimeOnlyOpened: a Connect that fails is no connection made,
// and records no create_time.
func TestCreateTimeOnlyOpened(t *testing.T) {
	m := newMeterReader(t)
	db := guardsql.OpenDB(failingConnector{&sqlite.Driver{}}, guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	defer db.Close()
	if err := db.Ping(); !errors.Is(err, errRefused) {
		t.Fatalf("Ping: %v, want the connector's error", err)
	}
	if got := m.read(t, "p"); got.createCount != 0 || !got.hasCount {
		t.Errorf("after a failed Connect: create_time count %d (count reported %v), want 0 (and the counts reported)", got.createCount, got.hasCount)
	}
}

// TestTimeoutNotCounted: a checkout that gives up waiting ends inside
// database/sql, which returns the context's error without a driver call
// and counts it nowhere but in WaitCount: no timeouts metric.
func TestTimeoutNotCounted(t *testing.T) {
	m := newMeterReader(t)
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr), guardsql.WithMeterProvider(m.mp), guardsql.WithPoolName("p"))
	db.SetMaxOpenConns(1)
	holder, err := db.Conn(rec.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx, cancel := context.WithCancel(rec.Context())
	waits := db.Stats().WaitCount
	done := make(chan error, 1)
	go func() {
		_, err := db.Conn(ctx)
		done <- err
	}()
	waitFor(t, "the second checkout to wait", func() bool { return db.Stats().WaitCount > waits })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled checkout: %v, want context.Canceled", err)
	}
	got := m.read(t, "p")
	for _, name := range got.others {
		if name == "db.client.connection.timeouts" || name == "db.client.connection.wait_time" {
			t.Errorf("%s reported: database/sql does not let the driver see it", name)
		}
	}
}
