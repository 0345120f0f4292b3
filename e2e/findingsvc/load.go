package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:4318", "OTLP/HTTP `URL` (/v1/traces is added)")
	duration := fs.Duration("duration", 30*time.Second, "how long to send; the bound when -traces is set too")
	traces := fs.Int64("traces", 0, "stop after `N` traces (0: after -duration)")
	workers := fs.Int("workers", 2, "concurrent senders")
	spans := fs.Int("spans", 10, "spans per trace")
	batch := fs.Int("batch", 50, "traces per request")
	service := fs.String("service", "loadgen", "service.name of the spans")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 || *spans < 1 || *batch < 1 {
		return errors.New("-workers, -spans and -batch must be positive")
	}
	url := *endpoint + "/v1/traces"
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var (
		sentTraces, acceptedSpans, refused atomic.Int64
		wg                                 sync.WaitGroup
		firstErr                           error
		errOnce                            sync.Once
	)
	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	for range *workers {
		wg.Go(func() {
			req := newRequest(*service, *batch, *spans)
			for ctx.Err() == nil {
				n := int64(*batch)
				if *traces > 0 {
					if sentTraces.Add(n) > *traces {
						return
					}
				}
				body, err := proto.Marshal(fill(req))
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				status, err := post(ctx, client, url, body)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					errOnce.Do(func() { firstErr = err })
					return
				case status == http.StatusOK:
					acceptedSpans.Add(n * int64(*spans))
				default: // 429, 503: the memory limiter refused it
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	a := acceptedSpans.Load()
	fmt.Printf("load: %d spans (%d traces of %d spans) accepted in %v: %.0f spans/s; %d requests refused\n",
		a, a/int64(*spans), *spans, elapsed.Round(time.Millisecond), float64(a)/elapsed.Seconds(), refused.Load())
	return firstErr
}

func post(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// newRequest is an export request of batch traces of spans spans each: a
// server span and, under it, lifetimes as otelguard makes them.
func newRequest(service string, batch, spans int) *coltracepb.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "github.com/otelguard/otelguard-go/otelguard"}}
	for i := range batch * spans {
		if i%spans == 0 {
			ss.Spans = append(ss.Spans, &tracepb.Span{
				Name:       "GET /query",
				Kind:       tracepb.Span_SPAN_KIND_SERVER,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "GET"), str("http.route", "/query")},
			})
			continue
		}
		ss.Spans = append(ss.Spans, &tracepb.Span{
			Name: "db.rows",
			Kind: tracepb.Span_SPAN_KIND_INTERNAL,
			Attributes: []*commonpb.KeyValue{
				str("otelguard.kind", "resource"),
				str("otelguard.name", "db.rows"),
				str("otelguard.outcome", "cleaned"),
				str("otelguard.trigger", "close"),
				str("otelguard.db.closed_by", "caller"),
				{Key: "otelguard.cleanup.duration_ms", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.05}}},
			},
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", service)}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

// fill gives req's traces new IDs and times of now: each server span
// starts a trace, and the spans after it are its children.
func fill(req *coltracepb.ExportTraceServiceRequest) *coltracepb.ExportTraceServiceRequest {
	now := uint64(time.Now().UnixNano())
	var traceID, rootID []byte
	for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		s.SpanId = random(8)
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			traceID, rootID = random(16), s.SpanId
			s.StartTimeUnixNano = now - 2_000_000
		} else {
			s.ParentSpanId = rootID
			s.StartTimeUnixNano = now - 1_000_000
		}
		s.TraceId, s.EndTimeUnixNano = traceID, now
	}
	return req
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
