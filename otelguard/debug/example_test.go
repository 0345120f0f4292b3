package debug_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
	"go.opentelemetry.io/otel/trace/noop"
)

// Mount the live view beside net/http/pprof on an internal listener, then
// read it with:
//
//	go tool pprof -top http://localhost:6060/debug/otelguard/live
//	curl 'http://localhost:6060/debug/otelguard/live?debug=1'
func ExampleRegister() {
	tracker := otelguard.Default() // the Tracker the package-level functions use
	mux := http.NewServeMux()
	debug.Register(mux, tracker) // at debug.Path, /debug/otelguard/live
	log.Fatal(http.ListenAndServe("localhost:6060", mux))
}

// dial stands for code that opens connections and keeps them.
func dial(tr *otelguard.Tracker, n int) []*otelguard.Resource[int] {
	var conns []*otelguard.Resource[int]
	for i := range n {
		conns = append(conns, otelguard.Acquire(context.Background(), "db.conn", i,
			func(context.Context, int) error { return nil }, otelguard.WithTracker(tr)))
	}
	return conns
}

// The text view groups the open lifetimes by the code that acquired them.
// File names, lines and ages differ from run to run; this example prints
// the rest.
func ExampleWriteText() {
	tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()))
	ctx := context.Background()
	conns := dial(tr, 2)
	g := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return nil }, otelguard.WithTracker(tr))

	var b strings.Builder
	if err := debug.WriteText(&b, tr); err != nil {
		log.Fatal(err)
	}
	for line := range strings.Lines(b.String()) {
		switch {
		case strings.HasPrefix(line, "\tages: "):
			continue
		case strings.Contains(line, " @ "):
			line = line[:strings.LastIndexByte(line, ' ')] + "\n" // drop file:line
		}
		fmt.Print(line)
	}

	g.Disarm()
	for _, c := range conns {
		_ = c.Close(ctx)
	}
	// Output:
	// otelguard live lifetimes: 3 open, 0 releasing, 0 reported, 0 leaked
	// by kind: guard 1, resource 2
	//
	// 2 @ github.com/otelguard/otelguard-go/otelguard/debug_test.dial
	// 	names: "db.conn" (resource) 2
	//
	// 1 @ github.com/otelguard/otelguard-go/otelguard/debug_test.ExampleWriteText
	// 	names: "tx.rollback" (guard) 1
}

// Handler serves the view at a path and on a router of your choosing.
func ExampleHandler() {
	tr := otelguard.New()
	admin := http.NewServeMux()
	admin.Handle("GET /admin/open-lifetimes", debug.Handler(tr))
	log.Fatal(http.ListenAndServe("localhost:6061", admin))
}
