package bridge

// OpenSpans returns how many spans a processor made by
// otelguard/spanleak.NewProcessor watches that have neither ended nor been
// found dropped (reported as span_not_ended or queued for it). Filled by
// package spanleak when it is initialized; nil if spanleak is not linked in.
var OpenSpans func(processor any) int
