// Command findingsvc is the program of e2e's findings and tail-sampling
// tests (findings_test.go, tiers_test.go) and of docs/SCALING.md's load
// figures. It is a module of its own for the reason pgservice/ is one: the
// e2e module builds Jaeger with the dependency versions Jaeger pins, and
// otelguard's would move them.
//
//	findingsvc stories [-clean N] [-fail N] [-timeout N] [-late D]
//	findingsvc hold [-threshold D]
//	findingsvc load -endpoint URL [-duration D | -traces N] [-workers N] [-spans N] [-batch N]
//
// stories serves HTTP on 127.0.0.1 (otelhttp server spans, the mux in
// guardhttp.NewHandler) and sends itself requests:
//
//	GET /late     once, first: a cache.entry lifetime the handler keeps
//	              (OutlivesRequest); the reference to it is dropped D after
//	              the request (-late, 10s), and the garbage collector finds
//	              it leaked then: a leaked_without_close finding D after its
//	              request, whose stack names handleLate
//	GET /clean    N times: a job.lock lifetime, cleaned
//	GET /fail     N times: an upload lifetime whose release fails: failed
//	GET /timeout  N times: a flush lifetime whose release outlives the
//	              20ms its Close gives it: timed_out
//
// then waits for the late leak to be found, and prints
// "stories: late leak found after D" before it shuts down.
//
// hold acquires report.lock under a root span batch.job, with a hold
// threshold (-threshold, 300ms); once the held_too_long finding has been
// emitted it prints "held SPANID" (the lifetime's span ID), then waits for
// a line on standard input before it closes the lifetime, ends the root
// span, shuts down and prints "closed".
//
// Both export spans over OTLP/HTTP as the OTEL_* variables say, sampled
// by sampling.KeepFindings of the SDK's default (every trace: the tail
// sampler in Jaeger decides).
//
// load sends OTLP/HTTP (protobuf) export requests to -endpoint as fast as
// Jaeger accepts them, from -workers goroutines, for -duration or until
// -traces traces have been sent: each request holds -batch traces of
// -spans spans each, spans shaped like otelguard lifetimes (six
// attributes). It prints what was accepted, per second. It builds the
// requests itself, without the SDK, so that the load generator costs
// little of the CPU the measured Jaeger needs.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: findingsvc stories|hold|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "stories":
		err = stories(os.Args[2:])
	case "hold":
		err = hold(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "findingsvc:", err)
		os.Exit(1)
	}
}
