package otelguard

import "context"

// trackerKey is the context key of ContextWithTracker.
type trackerKey struct{}

// ContextWithTracker returns a copy of ctx that carries t: the
// package-level functions (Acquire, Track, NewGuard, NewScope) given that
// context, or one derived from it, use t unless WithTracker names another.
// It is how a Tracker travels with a request or a test without every call
// naming it. A nil t leaves ctx as it is; a nil ctx is taken as
// context.Background().
func ContextWithTracker(ctx context.Context, t *Tracker) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, trackerKey{}, t)
}

// TrackerFrom returns the Tracker ctx carries (ContextWithTracker), or nil
// when it carries none. A nil ctx carries none.
func TrackerFrom(ctx context.Context) *Tracker {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}

// trackerFor is the Tracker a package-level function uses: WithTracker's,
// else the one ctx carries, else Default(). With WithTracker the context
// is not looked at.
func (c *acquireConfig) trackerFor(ctx context.Context) *Tracker {
	if c.tracker != nil {
		return c.tracker
	}
	if t := TrackerFrom(ctx); t != nil {
		return t
	}
	return Default()
}
