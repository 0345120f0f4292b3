package guardsql_test

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The pool metrics of a database: a program passes its own MeterProvider
// (or sets the global one); here a ManualReader prints them while rows
// hold one of the two open connections: two connections made
// (create_time), one checkout returned (use_time).
func ExampleWithMeterProvider() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tr, _ := exampleTracker()
	defer tr.Shutdown(context.Background())

	db, err := guardsql.Open("sqlite", ":memory:",
		guardsql.WithTracker(tr), guardsql.WithMeterProvider(mp), guardsql.WithPoolName("app"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	ctx := context.Background()
	conn, err := db.Conn(ctx) // a second connection, returned at once
	if err != nil {
		panic(err)
	}
	rows, err := db.QueryContext(ctx, "select 1") // holds one
	if err != nil {
		panic(err)
	}
	conn.Close()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	printPoolMetrics(rm)
	rows.Close()
	// Output:
	// db.client.connection.count db.client.connection.pool.name=app db.client.connection.state=idle: 1
	// db.client.connection.count db.client.connection.pool.name=app db.client.connection.state=used: 1
	// db.client.connection.create_time db.client.connection.pool.name=app: count 2
	// db.client.connection.max db.client.connection.pool.name=app: 4
	// db.client.connection.use_time db.client.connection.pool.name=app: count 1
}

// printPoolMetrics prints each data point of rm, sorted.
func printPoolMetrics(rm metricdata.ResourceMetrics) {
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s %s: %d", m.Name, attrsOf(dp.Attributes), dp.Value))
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s %s: count %d", m.Name, attrsOf(dp.Attributes), dp.Count))
				}
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// attrsOf prints s as key=value pairs, sorted by key.
func attrsOf(s attribute.Set) string {
	var kv []string
	for _, a := range s.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	return strings.Join(kv, " ")
}
