// bodyclose PR #80, "detect Close calls in helper functions that receive
// resp.Body" (https://github.com/timakin/bodyclose/pull/80): a helper that
// closes silences the report, and a helper that does not still leaves it:
// this file's second function is a true positive.
package falsepositives

import (
	"context"
	"io"

	"github.com/otelguard/otelguard-go/otelguard"
)

func safeClose(ctx context.Context, label string, r *otelguard.Resource[int]) {
	if err := r.Close(ctx); err != nil {
		println(label, err.Error())
	}
}

func drain(w io.Writer, r *otelguard.Resource[int]) {
	_, _ = io.WriteString(w, r.Name())
}

func helperCloses(ctx context.Context) {
	resp := otelguard.Acquire(ctx, "http.response", 200, release)
	defer safeClose(ctx, "body", resp)
}

func helperDoesNotClose(ctx context.Context, w io.Writer) {
	resp := otelguard.Acquire(ctx, "http.response", 200, release) // want `resp \(\*otelguard.Resource from Acquire\) is not closed on every path`
	defer drain(w, resp)
}
