package guardsql_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"modernc.org/sqlite"
)

// exampleTracker is a Tracker whose spans go to an in-memory exporter, for
// the examples to print. A program gives otelguard.New its own provider.
func exampleTracker(opts ...otelguard.Option) (*otelguard.Tracker, *memory.Exporter) {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	return otelguard.New(append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)...), exp
}

// printLifetimes prints each ended lifetime with its outcome, trigger and
// the attributes guardsql sets.
func printLifetimes(exp *memory.Exporter) {
	for _, l := range exp.Lifetimes() {
		fmt.Print(l.Name, " ", l.Outcome, " ", l.Trigger)
		for _, kv := range l.Span.Attributes {
			switch k := string(kv.Key); {
			case strings.HasPrefix(k, "otelguard.db."), strings.HasPrefix(k, "db."):
				fmt.Printf(" %s=%s", k, kv.Value.String())
			}
		}
		fmt.Println()
	}
}

func ExampleOpen() {
	tr, exp := exampleTracker()
	db, err := guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database

	// A handler that returns early and forgets rows.Close: database/sql
	// closes the rows when the request's context ends, and the span says
	// that the request, not the code, closed them.
	ctx, endRequest := context.WithCancel(context.Background())
	rows, err := db.QueryContext(ctx, "select 1 union all select 2")
	if err != nil {
		panic(err)
	}
	rows.Next()
	endRequest()
	if err := tr.Flush(context.Background()); err != nil { // wait for the cancel's report
		panic(err)
	}

	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}
	printLifetimes(exp)
	// Output:
	// db.rows cleaned cancel db.system.name=sqlite otelguard.db.closed_by=context
	// db.tx cleaned close db.system.name=sqlite otelguard.db.closed_by=caller otelguard.db.tx.result=commit
}

func ExampleOpenDB() {
	tr, exp := exampleTracker()
	c, err := sqlite.NewConnector(":memory:")
	if err != nil {
		panic(err)
	}
	db := guardsql.OpenDB(c, guardsql.WithTracker(tr))
	defer db.Close()
	var n int
	if err := db.QueryRow("select 42").Scan(&n); err != nil {
		panic(err)
	}
	fmt.Println(n)
	printLifetimes(exp)
	// Output:
	// 42
	// db.rows cleaned close db.system.name=sqlite otelguard.db.closed_by=caller
}

// A test gives the code under test a context with its own Tracker; the
// database needs no option for it. WithTracker, when given, wins.
func ExampleWithTracker() {
	tr, exp := exampleTracker()
	db, err := guardsql.Open("sqlite", ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := otelguard.ContextWithTracker(context.Background(), tr)
	rows, err := db.QueryContext(ctx, "select 1")
	if err != nil {
		panic(err)
	}
	for rows.Next() { // read to the end: database/sql closes the rows
	}
	printLifetimes(exp)
	// Output:
	// db.rows cleaned close db.system.name=sqlite otelguard.db.closed_by=iteration
}

func ExampleWithSystemName() {
	tr, exp := exampleTracker()
	db, err := guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr), guardsql.WithSystemName("cockroachdb"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	s, err := db.Prepare("select 1")
	if err != nil {
		panic(err)
	}
	s.Close()
	printLifetimes(exp)
	// Output:
	// db.stmt cleaned close db.system.name=cockroachdb
}

func ExampleWithQueryText() {
	tr, exp := exampleTracker()
	db, err := guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr), guardsql.WithQueryText())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var s string
	if err := db.QueryRow("select ?", "secret arguments are never recorded").Scan(&s); err != nil {
		panic(err)
	}
	printLifetimes(exp)
	// Output:
	// db.rows cleaned close db.system.name=sqlite db.query.text=select ? otelguard.db.closed_by=caller
}

// A transaction the code forgot: database/sql's goroutine keeps it (and
// its connection) until its context ends, which for context.Background is
// never. The hold threshold names it, with the line that began it.
func ExampleWithHoldThreshold() {
	log := &syncBuffer{}
	tr, _ := exampleTracker(otelguard.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
	db, err := guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr), guardsql.WithHoldThreshold(10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	_, _ = db.BeginTx(context.Background(), nil) //otelguard:handoff forgotten on purpose

	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "held too long"); {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "no warning")
			return
		}
		time.Sleep(time.Millisecond)
	}
	for _, l := range tr.Live() {
		first, _, _ := strings.Cut(l.Stack, "(")
		fmt.Println(l.Name, "held, acquired at", first)
	}
	fmt.Println(strings.Contains(log.String(), `msg="otelguard: lifetime held too long" otelguard.name=db.tx`))
	// Output:
	// db.tx held, acquired at github.com/otelguard/otelguard-go/integrations/guardsql_test.ExampleWithHoldThreshold
	// true
}

func ExampleUnwrap() {
	db, err := guardsql.Open("sqlite", ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	c, err := db.Conn(context.Background())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		// modernc.org/sqlite's own connection, with its extras.
		_, ok := guardsql.Unwrap(dc).(interface{ Serialize() ([]byte, error) })
		fmt.Println(ok)
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// true
}
