package otelguard

import (
	"testing"
	"unsafe"
)

// TestStateFitsItsSizeClass keeps the per-lifetime memory within the
// budget docs/PERFORMANCE.md measures (at most 320 bytes beyond the SDK
// span, counting the runtime's off-heap cleanup record): a Resource's
// state must stay in the 176-byte size class, and its handle in the
// 24-byte one. A field added to lifetime that breaks this has to pay for
// itself elsewhere.
func TestStateFitsItsSizeClass(t *testing.T) {
	if s := unsafe.Sizeof(resState[*int]{}); s > 176 {
		t.Errorf("resState[*int] is %d bytes, over the 176-byte size class", s)
	}
	if s := unsafe.Sizeof(Resource[*int]{}); s > 24 {
		t.Errorf("Resource[*int] is %d bytes, over the 24-byte size class", s)
	}
}
