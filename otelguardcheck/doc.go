// Package otelguardcheck is a go/analysis Analyzer that finds otelguard
// lifetimes left open before the code runs.
package otelguardcheck
