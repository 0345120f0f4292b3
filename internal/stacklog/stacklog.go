// Package stacklog renders an acquire stack (the code.stacktrace text, in
// the format of a Go traceback) for log/slog, so that a person can read it
// in a text log as well as a JSON one: one attribute per frame, each
// "function file:line", under the attribute's key.
//
//	TextHandler: code.stacktrace.0="main.handleLeak /src/app/main.go:42" code.stacktrace.1="..."
//	JSONHandler: "code.stacktrace":{"0":"main.handleLeak /src/app/main.go:42","1":"..."}
//
// Both the Tracker's logger (otelguard.WithLogger) and exporters/leaklog
// use it, so the two log a stack the same way.
package stacklog

import (
	"log/slog"
	"strconv"
	"strings"
)

// Frames splits text, a stack in the format of a Go traceback
//
//	main.handleLeak(...)
//		/src/app/main.go:42 +0x1d
//
// into its frames, "main.handleLeak /src/app/main.go:42", innermost
// first. A line it does not recognise is kept as it is.
func Frames(text string) []string {
	var out []string
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		fn := lines[i]
		if fn == "" {
			continue
		}
		if !strings.HasPrefix(fn, "\t") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			loc := strings.TrimPrefix(lines[i+1], "\t")
			if j := strings.LastIndex(loc, " +0x"); j >= 0 {
				loc = loc[:j]
			}
			out = append(out, strings.TrimSuffix(fn, "(...)")+" "+loc)
			i++
			continue
		}
		out = append(out, strings.TrimSpace(fn))
	}
	return out
}

// Attr is the stack text under key as a group of its frames, keyed by
// their index. An empty text gives an empty Attr, which handlers drop.
func Attr(key, text string) slog.Attr {
	frames := Frames(text)
	if len(frames) == 0 {
		return slog.Attr{}
	}
	attrs := make([]slog.Attr, len(frames))
	for i, f := range frames {
		attrs[i] = slog.String(strconv.Itoa(i), f)
	}
	return slog.Attr{Key: key, Value: slog.GroupValue(attrs...)}
}
