// bodyclose #42, "False Positive when http.Response from a function"
// (https://github.com/timakin/bodyclose/issues/42): the response is kept in
// a struct field and closed through a getter.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

type myResp struct {
	resp *otelguard.Resource[int]
}

func (r *myResp) Response() *otelguard.Resource[int] { return r.resp }

func keptInField(ctx context.Context) {
	tmp := &myResp{}
	tmp.resp = otelguard.Acquire(ctx, "http.response", 200, release)
	defer tmp.Response().Close(ctx)
	println(tmp.Response().Value())
}
