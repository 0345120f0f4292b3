// rowserrcheck #32, "Flagging returned rows"
// (https://github.com/jingyugao/rowserrcheck/issues/32): a switch whose
// cases return what they acquire, for the caller to close.
package falsepositives

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

type runner struct {
	txn, db *otelguard.Tracker
}

func (q runner) run(ctx context.Context, n int) (*otelguard.Resource[int], error) {
	switch {
	case q.txn != nil:
		return otelguard.Acquire(ctx, "rows", n, release, otelguard.WithTracker(q.txn)), nil
	case q.db != nil:
		rows := otelguard.Acquire(ctx, "rows", n, release, otelguard.WithTracker(q.db))
		return rows, nil
	}
	return nil, errors.New("missing runner")
}
