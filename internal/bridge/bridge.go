// Package bridge lets the packages of this repository that read a
// Tracker's internals (otelguard/otelguardtest, otelguard/debug) do so
// without the core exporting more than its users need. The core fills the
// function variables when it is initialized; a package that imports the
// core and this package may call them.
package bridge

import "time"

// A Missed is a missed close a Tracker recorded: a lifetime its owner
// never ended (leaked, or closed because a context ended).
type Missed struct {
	ID          uint64 // the lifetime's acquire order, as LiveLifetime.ID
	Name        string
	Kind        string
	What        string // leaked_without_close or closed_by_context
	Description string // what ended it
	AcquiredAt  time.Time
	FoundAt     time.Time
	Stack       string
	Released    bool // ReleaseOnLeak ran the release
}

var (
	// MissedOf returns the most recent missed closes of a *otelguard.Tracker
	// (at most 256, oldest first), how many leaks it recorded in all, and
	// how many missed closes in all.
	MissedOf func(tracker any) (recent []Missed, leaks, total int64)
	// LivePCs returns the acquire stack's program counters of an
	// otelguard.LiveLifetime, innermost first.
	LivePCs func(live any) []uintptr
)

// LeakCount returns how many leaks a *otelguard.Tracker found in all.
func LeakCount(tracker any) int64 {
	_, n, _ := MissedOf(tracker)
	return n
}

// Leaks returns the most recent leaks a *otelguard.Tracker found, oldest
// first (the missed closes that are leaks).
func Leaks(tracker any) []Missed {
	all, _, _ := MissedOf(tracker)
	out := all[:0:0]
	for _, m := range all {
		if m.What == "leaked_without_close" {
			out = append(out, m)
		}
	}
	return out
}
