package otelguard_test

// "Claimed means running": whoever wins a lifetime's release runs it now;
// a Close, Scope.Close or Guard.Run that finds a release in flight waits
// for it; Flush, CloseAll and Shutdown wait for the library's goroutines
// only. Each test here failed on v1.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

// A CloseAsync that loses the claim to a caller's Close only waits for
// that release: Flush and Shutdown must not count it as library work
// (v1: they waited for the caller's Close, until their deadline).
func TestFlushDoesNotWaitForACallersCloseThatACloseAsyncLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		started, release := make(chan struct{}), make(chan struct{})
		r := otelguard.Acquire(ctx, "slow", 0, func(context.Context, int) error {
			close(started)
			<-release
			return nil
		}, otelguard.WithTracker(h.tr))
		closed := make(chan error, 1)
		go func() { closed <- r.Close(ctx) }() // a caller's Close
		<-started
		async := r.CloseAsync(ctx) // loses the claim: it only waits

		fctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		if err := h.tr.Flush(fctx); err != nil {
			t.Fatalf("Flush waited for a caller's Close: %v", err)
		}
		if err := h.tr.Shutdown(fctx); err != nil {
			t.Fatalf("Shutdown waited for a caller's Close: %v", err)
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if err := <-async; !errors.Is(err, otelguard.ErrClosed) {
			t.Fatalf("the CloseAsync that lost the claim got %v, want ErrClosed", err)
		}
		wantEnd(t, h.one(t, "slow"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	})
}

// A Scope's Close that finds a member's release running elsewhere waits
// for it before it closes the older members and ends its own span (v1:
// it skipped the member and went on, breaking LIFO).
func TestScopeCloseWaitsForAMemberReleasedElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		var mu sync.Mutex
		var order []string
		record := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, s)
		}
		sc := otelguard.NewScope(ctx, "scope", otelguard.WithTracker(h.tr))
		sc.Defer("older", func(context.Context) error { record("older"); return nil })
		started, release := make(chan struct{}), make(chan struct{})
		r := otelguard.Acquire(ctx, "member", 0, func(context.Context, int) error {
			close(started)
			<-release
			record("member")
			return nil
		}, otelguard.WithTracker(h.tr))
		sc.Add(r)

		go func() { _ = r.Close(ctx) }() // its owner closes it directly
		<-started
		done := make(chan error, 1)
		go func() { done <- sc.Close(ctx) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Scope.Close returned (%v) while a member's release was running", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want := []string{"member", "older"}; !slices.Equal(order, want) {
			t.Fatalf("release order %v, want %v (newest first)", order, want)
		}
	})
}

// A Scope's Close bounded by ctx gives up waiting for a member released
// elsewhere and says so.
func TestScopeCloseWaitIsBoundedByItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		sc := otelguard.NewScope(ctx, "scope", otelguard.WithTracker(h.tr))
		started, release := make(chan struct{}), make(chan struct{})
		r := otelguard.Acquire(ctx, "member", 0, func(context.Context, int) error {
			close(started)
			<-release
			return nil
		}, otelguard.WithTracker(h.tr))
		sc.Add(r)
		go func() { _ = r.Close(ctx) }()
		<-started
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := sc.Close(cctx)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, otelguard.ErrClosed) {
			t.Fatalf("Scope.Close = %v, want ErrClosed with the deadline", err)
		}
		close(release)
	})
}

// CloseAll claims each lifetime only when it starts its release: an owner
// that closes an older lifetime while CloseAll is busy with a newer one
// runs that release itself, at once. v1 claimed everything up front, and
// this deadlocked: the owner, holding a lock the newer release needs,
// waited for CloseAll to reach the older one (guardsql's rows.Close
// under database/sql's connection lock, and a transaction).
func TestCloseAllClaimsEachLifetimeOnlyWhenItStartsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		var conn sync.Mutex // database/sql's connection lock
		rows := otelguard.Acquire(ctx, "db.rows", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
		txStarted := make(chan struct{})
		otelguard.Acquire(ctx, "db.tx", 0, func(context.Context, int) error { //otelguard:handoff CloseAll releases it
			close(txStarted)
			conn.Lock()
			defer conn.Unlock()
			return nil
		}, otelguard.WithTracker(h.tr))

		conn.Lock() // the owner is inside database/sql, on the connection
		closeAll := make(chan error, 1)
		go func() { closeAll <- h.tr.CloseAll(boundedCtx()) }()
		<-txStarted
		if err := rows.Close(ctx); err != nil { // v1: waited for CloseAll forever
			t.Fatal(err)
		}
		conn.Unlock()
		if err := <-closeAll; err != nil {
			t.Fatal(err)
		}
		wantEnd(t, h.one(t, "db.rows"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
		wantEnd(t, h.one(t, "db.tx"), otelguard.OutcomeCleaned, otelguard.TriggerShutdown)
	})
}

// CloseAll that gives up abandons the release it runs (timed_out, going
// on as a straggler) and leaves what it had not reached untouched.
func TestCloseAllGivingUpLeavesTheRestOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		older := otelguard.Acquire(ctx, "older", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
		release := make(chan struct{})
		otelguard.Acquire(ctx, "newer", 0, func(context.Context, int) error { <-release; return nil }, otelguard.WithTracker(h.tr)) //otelguard:handoff CloseAll releases it
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := h.tr.CloseAll(cctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CloseAll = %v, want the deadline", err)
		}
		wantEnd(t, h.one(t, "newer"), otelguard.OutcomeTimedOut, otelguard.TriggerShutdown)
		if got := h.ended("older"); len(got) != 0 {
			t.Fatal("CloseAll ended a lifetime it had not reached")
		}
		if err := older.Close(ctx); err != nil {
			t.Fatalf("the owner's Close after CloseAll gave up: %v", err)
		}
		close(release)
		if err := h.tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Guard.Run that finds the cleanup running elsewhere (CloseAll) waits for
// it to return.
func TestGuardRunWaitsForACleanupInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		ctx := context.Background()
		started, release := make(chan struct{}), make(chan struct{})
		returned := false
		g := otelguard.NewGuard(ctx, "g", func(context.Context) error {
			close(started)
			<-release
			returned = true
			return nil
		}, otelguard.WithTracker(h.tr))
		go func() { _ = h.tr.CloseAll(ctx) }()
		<-started
		done := make(chan struct{})
		go func() { _ = g.Run(); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned while the cleanup ran on CloseAll's goroutine")
		default:
		}
		close(release)
		<-done
		if !returned {
			t.Fatal("Run returned before the cleanup")
		}
	})
}

// Stress: CloseAll racing Scope.Close, owners' Closes and CloseAsyncs that
// lose their claims, on the same lifetimes, many times over: every release
// runs exactly once, every span ends once, nothing deadlocks, nothing is
// left open.
func TestStressClaimsRace(t *testing.T) {
	h := newHarness(t)
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	ctx := context.Background()
	for i := range rounds {
		sc := otelguard.NewScope(ctx, "scope", otelguard.WithTracker(h.tr))
		var runs [4]atomic.Int32
		rs := make([]*otelguard.Resource[int], len(runs))
		for j := range rs {
			rs[j] = otelguard.Acquire(ctx, "member", j, func(_ context.Context, j int) error {
				runs[j].Add(1)
				return nil
			}, otelguard.WithTracker(h.tr))
			sc.Add(rs[j])
		}
		g := otelguard.NewGuard(ctx, "guard", func(context.Context) error { return nil }, otelguard.WithTracker(h.tr))
		var wg sync.WaitGroup
		wg.Go(func() { _ = sc.Close(boundedCtx()) })
		wg.Go(func() { _ = h.tr.CloseAll(boundedCtx()) })
		wg.Go(func() { _ = rs[0].Close(boundedCtx()) })
		wg.Go(func() { <-rs[1].CloseAsync(boundedCtx()) })
		wg.Go(func() { <-rs[1].CloseAsync(boundedCtx()) }) // one of the two loses the claim
		wg.Go(func() { _ = rs[2].Close(boundedCtx()) })
		wg.Go(func() { _ = g.Run() })
		wg.Wait()
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		for j := range runs {
			if n := runs[j].Load(); n != 1 {
				t.Fatalf("round %d: member %d released %d times", i, j, n)
			}
		}
		if live := h.tr.Live(); len(live) != 0 {
			t.Fatalf("round %d: Live = %+v", i, live)
		}
	}
	counts := map[string]int{}
	for _, s := range h.rec.Ended() {
		counts[s.Name()]++
	}
	if counts["member"] != 4*rounds || counts["scope"] != rounds || counts["guard"] != rounds {
		t.Fatalf("spans ended %v, want %d members, %d scopes, %d guards, each once", counts, 4*rounds, rounds, rounds)
	}
}
