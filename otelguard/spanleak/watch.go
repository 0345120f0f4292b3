package spanleak

// newWatch returns a watch with room for n program counters in the same
// allocation (one allocation per watched span, not two). The classes
// follow the stack depths: 8, 16, 32 (the default), 64, 128.
func newWatch(n int) *watch {
	switch {
	case n == 0:
		return new(watch)
	case n <= 8:
		x := new(struct {
			w watch
			b [8]uintptr
		})
		x.w.pcs = x.b[:0]
		return &x.w
	case n <= 16:
		x := new(struct {
			w watch
			b [16]uintptr
		})
		x.w.pcs = x.b[:0]
		return &x.w
	case n <= 32:
		x := new(struct {
			w watch
			b [32]uintptr
		})
		x.w.pcs = x.b[:0]
		return &x.w
	case n <= 64:
		x := new(struct {
			w watch
			b [64]uintptr
		})
		x.w.pcs = x.b[:0]
		return &x.w
	default:
		x := new(struct {
			w watch
			b [maxStackDepth]uintptr
		})
		x.w.pcs = x.b[:0]
		return &x.w
	}
}
