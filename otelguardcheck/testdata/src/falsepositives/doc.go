// Package falsepositives holds, one file each, the false-positive reports
// filed against bodyclose, sqlclosecheck, rowserrcheck and go-spancheck,
// translated from http.Response, sql.Rows and trace.Span to otelguard's
// handles. Each file names the report it comes from; none may be reported,
// except where a file says the original was a true positive.
package falsepositives

import "context"

func release(context.Context, int) error { return nil }

func cleanup(context.Context) error { return nil }

func query(string) (int, error) { return 0, nil }
