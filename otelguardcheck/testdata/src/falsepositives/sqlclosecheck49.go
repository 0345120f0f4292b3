// sqlclosecheck #49, "False positive on sqlx.Rows closed inside defer
// closure" (https://github.com/ryanrolds/sqlclosecheck/issues/49): the
// Close is in an if's init inside the deferred closure.
package falsepositives

import (
	"context"
	"log/slog"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closedInDeferIfInit(ctx context.Context, id int) (int, error) {
	n, err := query("named query")
	if err != nil {
		return 0, err
	}
	rows := otelguard.Acquire(ctx, "rows", n+id, release)
	defer func() {
		if closeErr := rows.Close(ctx); closeErr != nil {
			slog.WarnContext(ctx, "failed to close rows", "error", closeErr)
		}
	}()
	return rows.Value(), nil
}
