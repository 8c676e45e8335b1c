package correlate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrelay/callrelay/correlate"
)

// fakeClock is a settable clock for Dedup. Every reading is also reported on
// readings (when set, without blocking), so a test can tell that a goroutine
// has entered Dedup.Claim.
type fakeClock struct {
	mu       sync.Mutex
	t        time.Time
	readings chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readings != nil {
		select {
		case c.readings <- struct{}{}:
		default:
		}
	}
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hangGuard bounds a Claim that should not wait at all, so that a broken
// Dedup fails the test instead of hanging it. It is not a timing assertion.
func hangGuard(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// MustClaim claims id and fails the test unless it gets a claim.
func MustClaim(tb testing.TB, d *correlate.Dedup, id string) *correlate.Claim {
	tb.Helper()
	c, dup, err := claimID(d, hangGuard(tb), id)
	if err != nil || dup || c == nil {
		tb.Fatalf("Claim(%q): got (claim %v, duplicate %v, err %v), want a claim", id, c != nil, dup, err)
	}
	return c
}

// MustDuplicate claims id and fails the test unless it is a duplicate.
func MustDuplicate(tb testing.TB, d *correlate.Dedup, id string) {
	tb.Helper()
	c, dup, err := claimID(d, hangGuard(tb), id)
	if err != nil || !dup || c != nil {
		tb.Fatalf("Claim(%q): got (claim %v, duplicate %v, err %v), want a duplicate", id, c != nil, dup, err)
	}
}

type claimResult struct {
	c   *correlate.Claim
	dup bool
	err error
}

// startBlockedClaim calls claimID(d, ctx, id) in a goroutine while another claim
// on id is held, and returns once that call has looked at the id and let go
// of the lock, so it is waiting (or, if Dedup is broken, has returned). The
// result arrives on the returned channel.
func startBlockedClaim(tb testing.TB, ctx context.Context, d *correlate.Dedup, clock *fakeClock, id string) <-chan claimResult {
	tb.Helper()
	clock.mu.Lock()
	clock.readings = make(chan struct{}, 1)
	readings := clock.readings
	clock.mu.Unlock()
	res := make(chan claimResult, 1)
	go func() {
		c, dup, err := claimID(d, ctx, id)
		res <- claimResult{c, dup, err}
	}()
	select {
	case <-readings: // Claim holds the lock and is expiring entries.
	case r := <-res:
		tb.Fatalf("Claim(%q) while another claim is held: returned (claim %v, duplicate %v, err %v) without reading the clock", id, r.c != nil, r.dup, r.err)
	case <-time.After(10 * time.Second): // hang guard, not a timing assertion
		tb.Fatalf("Claim(%q) never read the clock; this helper relies on Claim expiring entries under the lock first", id)
	}
	_ = d.Len() // Len takes the lock: Claim has decided and released it.
	select {
	case r := <-res:
		tb.Fatalf("Claim(%q) while another claim is held: got (claim %v, duplicate %v, err %v), want it to wait", id, r.c != nil, r.dup, r.err)
	default:
	}
	return res
}

// receive waits for a blocked Claim to return; the timeout only guards
// against a hung test.
func receive(tb testing.TB, res <-chan claimResult) claimResult {
	tb.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		tb.Fatalf("waiting Claim did not return after the first claim ended")
		return claimResult{}
	}
}

func newTestDedup(window time.Duration, max int) (*correlate.Dedup, *fakeClock) {
	d := correlate.NewDedup(window, max)
	clock := newFakeClock()
	d.SetClock(clock.Now)
	return d, clock
}

func TestDedupClaimCommit(t *testing.T) {
	d, _ := newTestDedup(time.Minute, 10)
	if got := d.Len(); got != 0 {
		t.Fatalf("Len of a new Dedup: got %d, want 0", got)
	}
	c := MustClaim(t, d, "evt-1")
	c.Commit()
	if got := d.Len(); got != 1 {
		t.Fatalf("Len after one commit: got %d, want 1", got)
	}
	MustDuplicate(t, d, "evt-1")
	MustDuplicate(t, d, "evt-1")
	MustClaim(t, d, "evt-2").Commit()
	if got := d.Len(); got != 2 {
		t.Fatalf("Len after two commits: got %d, want 2", got)
	}
}

func TestDedupReleaseAllowsRetry(t *testing.T) {
	d, _ := newTestDedup(time.Minute, 10)
	MustClaim(t, d, "evt-1").Release()
	if got := d.Len(); got != 0 {
		t.Fatalf("Len after a release: got %d, want 0", got)
	}
	c := MustClaim(t, d, "evt-1")
	c.Release()
	c = MustClaim(t, d, "evt-1")
	c.Commit()
	MustDuplicate(t, d, "evt-1")
}

func TestDedupIdsAreIndependent(t *testing.T) {
	d, _ := newTestDedup(time.Minute, 10)
	held := MustClaim(t, d, "evt-1")
	MustClaim(t, d, "evt-2").Commit() // does not wait for evt-1
	MustClaim(t, d, "EVT-1").Commit() // ids are case-sensitive
	held.Release()
}

func TestDedupSecondClaimWaits(t *testing.T) {
	tests := []struct {
		name    string
		finish  func(*correlate.Claim)
		wantDup bool
	}{
		{"first commits: duplicate", (*correlate.Claim).Commit, true},
		{"first releases: claim", (*correlate.Claim).Release, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, clock := newTestDedup(time.Minute, 10)
			first := MustClaim(t, d, "evt-1")
			res := startBlockedClaim(t, hangGuard(t), d, clock, "evt-1")
			tt.finish(first)
			r := receive(t, res)
			if r.err != nil {
				t.Fatalf("waiting Claim: got error %v, want nil", r.err)
			}
			if r.dup != tt.wantDup || (r.c != nil) == tt.wantDup {
				t.Fatalf("waiting Claim: got (claim %v, duplicate %v), want duplicate %v", r.c != nil, r.dup, tt.wantDup)
			}
			if r.c != nil {
				r.c.Commit()
				MustDuplicate(t, d, "evt-1")
			}
		})
	}
}

func TestDedupSeveralWaitersGetOneClaim(t *testing.T) {
	d, clock := newTestDedup(time.Minute, 10)
	first := MustClaim(t, d, "evt-1")
	waiters := []<-chan claimResult{
		startBlockedClaim(t, hangGuard(t), d, clock, "evt-1"),
		startBlockedClaim(t, hangGuard(t), d, clock, "evt-1"),
		startBlockedClaim(t, hangGuard(t), d, clock, "evt-1"),
	}
	first.Release()
	// Exactly one waiter gets the claim; once it commits, the others see a
	// duplicate. Answers arrive in any order, so select over all of them.
	var claims, dups int
	timeout := time.After(10 * time.Second) // guards against a hung test
	for range waiters {
		var r claimResult
		select {
		case r = <-waiters[0]:
			waiters[0] = nil
		case r = <-waiters[1]:
			waiters[1] = nil
		case r = <-waiters[2]:
			waiters[2] = nil
		case <-timeout:
			t.Fatalf("waiting Claims did not all return: got %d claims and %d duplicates so far", claims, dups)
		}
		switch {
		case r.err != nil:
			t.Fatalf("waiting Claim: got error %v, want nil", r.err)
		case r.c != nil:
			claims++
			r.c.Commit()
		case r.dup:
			dups++
		}
	}
	if claims != 1 || dups != 2 {
		t.Fatalf("after the first released: got %d claims and %d duplicates, want 1 and 2", claims, dups)
	}
}

func TestDedupClaimContextEnds(t *testing.T) {
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		wantErr error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDedup(time.Minute, 10)
			first := MustClaim(t, d, "evt-1")
			c, dup, err := claimID(d, tt.ctx, "evt-1")
			if !errors.Is(err, tt.wantErr) || c != nil || dup {
				t.Fatalf("Claim with an ended context while the id is held: got (claim %v, duplicate %v, err %v), want err %v", c != nil, dup, err, tt.wantErr)
			}
			// The first claim is unaffected.
			first.Commit()
			MustDuplicate(t, d, "evt-1")
		})
	}
}

func TestDedupClaimContextCanceledWhileWaiting(t *testing.T) {
	d, clock := newTestDedup(time.Minute, 10)
	first := MustClaim(t, d, "evt-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := startBlockedClaim(t, ctx, d, clock, "evt-1")
	cancel()
	r := receive(t, res)
	if !errors.Is(r.err, context.Canceled) || r.c != nil || r.dup {
		t.Fatalf("waiting Claim after cancel: got (claim %v, duplicate %v, err %v), want err %v", r.c != nil, r.dup, r.err, context.Canceled)
	}
	first.Release()
	MustClaim(t, d, "evt-1").Commit()
}

func TestDedupExpiry(t *testing.T) {
	const window = 10 * time.Minute
	d, clock := newTestDedup(window, 10)
	MustClaim(t, d, "old").Commit()
	clock.Advance(window / 2)
	MustClaim(t, d, "new").Commit()

	clock.Advance(window/2 - time.Second) // old is window-1s old
	MustDuplicate(t, d, "old")
	MustDuplicate(t, d, "new")

	clock.Advance(2 * time.Second) // old is window+1s old, new window/2+1s
	c := MustClaim(t, d, "old")
	MustDuplicate(t, d, "new")
	if got := d.Len(); got != 1 {
		t.Fatalf("Len after old expired: got %d, want 1", got)
	}
	c.Commit()
	MustDuplicate(t, d, "old") // committed again, remembered again

	clock.Advance(window + time.Second)
	MustClaim(t, d, "new").Release()
	MustClaim(t, d, "old").Release()
	if got := d.Len(); got != 0 {
		t.Fatalf("Len after everything expired: got %d, want 0", got)
	}
}

func TestDedupHeldClaimDoesNotExpire(t *testing.T) {
	// An id being published is not forgotten, however long the publish takes.
	d, clock := newTestDedup(time.Minute, 10)
	held := MustClaim(t, d, "evt-1")
	clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, dup, err := claimID(d, ctx, "evt-1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim of a held id an hour later: got (claim %v, duplicate %v, err %v), want it to wait", c != nil, dup, err)
	}
	held.Commit()
	MustDuplicate(t, d, "evt-1")
}

func TestDedupCapEvictsOldest(t *testing.T) {
	d, clock := newTestDedup(time.Hour, 3)
	var evicted int
	d.SetEvicted(func() { evicted++ })
	for _, id := range []string{"a", "b", "c"} {
		MustClaim(t, d, id).Commit()
		clock.Advance(time.Second)
	}
	if evicted != 0 || d.Len() != 3 {
		t.Fatalf("at the cap: got %d evictions and Len %d, want 0 and 3", evicted, d.Len())
	}
	MustClaim(t, d, "d").Commit()
	if evicted != 1 || d.Len() != 3 {
		t.Fatalf("one over the cap: got %d evictions and Len %d, want 1 and 3", evicted, d.Len())
	}
	MustClaim(t, d, "e").Commit()
	if evicted != 2 || d.Len() != 3 {
		t.Fatalf("two over the cap: got %d evictions and Len %d, want 2 and 3", evicted, d.Len())
	}
	for _, id := range []string{"c", "d", "e"} {
		MustDuplicate(t, d, id)
	}
	// a and b, the oldest, were forgotten.
	MustClaim(t, d, "a").Release()
	MustClaim(t, d, "b").Release()
	// Held claims do not count against the cap.
	held := MustClaim(t, d, "f")
	if evicted != 2 || d.Len() != 3 {
		t.Fatalf("with a held claim: got %d evictions and Len %d, want 2 and 3", evicted, d.Len())
	}
	held.Release()
}

func TestDedupConcurrentClaims(t *testing.T) {
	const (
		workers = 32
		ids     = 64
	)
	d := correlate.NewDedup(time.Hour, 10*ids)
	var commits, inFlight [ids]atomic.Int64
	var duplicates atomic.Int64
	var wg sync.WaitGroup
	// start lets the workers run at once; ctx only guards against a hang.
	start := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for w := range workers {
		wg.Go(func() {
			<-start
			for k := range ids {
				i := (k + w*7) % ids // every worker visits every id, in its own order
				id := fmt.Sprintf("evt-%d", i)
				for attempt := 0; ; attempt++ {
					c, dup, err := claimID(d, ctx, id)
					if err != nil {
						t.Errorf("Claim(%q): got error %v, want nil", id, err)
						return
					}
					if dup {
						duplicates.Add(1)
						break
					}
					if n := inFlight[i].Add(1); n != 1 {
						t.Errorf("Claim(%q): got %d claims held at once, want 1", id, n)
					}
					// Some first attempts fail to publish and are retried.
					if attempt == 0 && (w+i)%3 == 0 {
						inFlight[i].Add(-1)
						c.Release()
						continue
					}
					commits[i].Add(1)
					inFlight[i].Add(-1)
					c.Commit()
					break
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range ids {
		if got := commits[i].Load(); got != 1 {
			t.Errorf("evt-%d: got %d commits, want exactly 1", i, got)
		}
	}
	if got, want := duplicates.Load(), int64(workers*ids-ids); got != want {
		t.Errorf("duplicates: got %d, want %d", got, want)
	}
	if got := d.Len(); got != ids {
		t.Errorf("Len: got %d, want %d", got, ids)
	}
}

// claimID claims the key of an event id, with the claim as a pointer (nil
// when there is none) for the helpers above.
func claimID(d *correlate.Dedup, ctx context.Context, id string) (*correlate.Claim, bool, error) {
	c, dup, err := d.Claim(ctx, d.KeyOf(id))
	if err != nil || dup {
		return nil, dup, err
	}
	return &c, false, nil
}
