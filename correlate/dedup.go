package correlate

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"

	"github.com/callrelay/callrelay/events"
)

// Dedup remembers keys for a bounded window: the ids of published events,
// so that an event sent again (after a lost ack, or by sendBeacon and then
// by the WebSocket) is acknowledged as a duplicate instead of being
// published twice, and the content keys of the memory state.
//
// A key is claimed before publishing and committed only after the sink took
// the event; a second claim of a key that is still held waits for the first
// to be committed or released. A failed publish releases the claim, so the
// retry is not mistaken for a duplicate. Keys are fixed-size digests, kept
// in a map and in a ring with their commit times (whole seconds since the
// Dedup was made, 32 bits): entries expire after the window (to the second)
// and the oldest are evicted beyond the capacity, so memory is bounded
// (about 50 bytes an entry). Dedup is safe for concurrent use.
type Dedup struct {
	window time.Duration
	max    int
	now    func() time.Time
	seeds  [2]maphash.Seed
	base   time.Time // times are seconds since base, from 1; one window before the Dedup was made

	mu    sync.Mutex
	m     map[events.Digest]uint32 // commit time; pending while claimed
	waits map[events.Digest]chan struct{}
	ring  []dedupRec // committed keys, oldest first from head (circular)
	head  int
	n     int
	// evicted is called (under mu) for each key evicted by the cap.
	evicted func()
}

// pending marks a claimed key that is neither committed nor released.
const pending = 0

type dedupRec struct {
	key events.Digest
	at  uint32
}

// stamp is t in the Dedup's time: whole seconds since base, at least 1.
func (d *Dedup) stamp(t time.Time) uint32 {
	s := t.Sub(d.base) / time.Second
	if s < 1 {
		return 1
	}
	return uint32(min(s, 1<<32-1))
}

// NewDedup returns a Dedup remembering up to max keys for window each.
func NewDedup(window time.Duration, max int) *Dedup {
	d := &Dedup{
		window:  window,
		max:     max,
		now:     time.Now,
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		m:       map[events.Digest]uint32{},
		waits:   map[events.Digest]chan struct{}{},
		evicted: func() {},
	}
	d.base = d.now().Add(-window - time.Second)
	return d
}

// SetEvicted sets the function called, under the Dedup's lock, for each key
// evicted by the cap. Call it before the Dedup is shared.
func (d *Dedup) SetEvicted(f func()) { d.evicted = f }

// SetClock replaces the Dedup's clock. Call it before the Dedup is shared;
// it is for tests and tools.
func (d *Dedup) SetClock(now func() time.Time) {
	d.now = now
	d.base = now().Add(-d.window - time.Second)
}

// Remember records key as committed at time at, a time in the past: a key
// read back from the stream when the relay restarts (see Replay). A key
// already remembered, or older than the window, is left alone. Call it
// before the Dedup is used, in the order the keys were committed, so that
// they expire in that order.
func (d *Dedup) Remember(key events.Digest, at time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if at.Before(d.now().Add(-d.window)) {
		return false
	}
	if _, ok := d.m[key]; ok {
		return false
	}
	stamp := d.stamp(at)
	d.m[key] = stamp
	d.push(dedupRec{key: key, at: stamp})
	for d.n > d.max {
		d.popLocked()
		d.evicted()
	}
	return true
}

// startAt moves the Dedup's time origin to one window before t, so that
// keys claimed and committed while a Replay's clock stands at t and later
// keep their own times. Only an empty Dedup is moved.
func (d *Dedup) startAt(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) == 0 && t.Before(d.base) {
		d.base = t.Add(-d.window - time.Second)
	}
}

// KeyOf returns the key of an event id: 128 bits of two seeded hashes, so
// that a collision (which would acknowledge an event without publishing it)
// is out of reach. The seeds are per process, like the memory they key.
func (d *Dedup) KeyOf(id string) events.Digest {
	var k events.Digest
	binary.LittleEndian.PutUint64(k[:8], maphash.String(d.seeds[0], id))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(d.seeds[1], id))
	return k
}

// Claim is the right to publish under one key; exactly one of Commit or
// Release must be called.
type Claim struct {
	d   *Dedup
	key events.Digest
}

// Claim returns a claim on key, or duplicate=true when key was committed
// within the window. It waits while another caller holds a claim on the
// same key; err is ctx's error if ctx ends first.
func (d *Dedup) Claim(ctx context.Context, key events.Digest) (c Claim, duplicate bool, err error) {
	for {
		d.mu.Lock()
		d.expireLocked()
		at, ok := d.m[key]
		if !ok {
			d.m[key] = pending
			d.mu.Unlock()
			return Claim{d: d, key: key}, false, nil
		}
		if at != pending {
			d.mu.Unlock()
			return Claim{}, true, nil
		}
		wait := d.waits[key]
		if wait == nil {
			wait = make(chan struct{})
			d.waits[key] = wait
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Claim{}, false, ctx.Err()
		}
	}
}

// Commit records that the key's event was published.
func (c Claim) Commit() {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	at := d.stamp(d.now())
	d.m[c.key] = at
	d.push(dedupRec{key: c.key, at: at})
	d.wakeLocked(c.key)
	for d.n > d.max {
		d.popLocked()
		d.evicted()
	}
}

// Release gives the claim up without recording the key (the publish failed).
func (c Claim) Release() {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m[c.key] == pending {
		delete(d.m, c.key)
	}
	d.wakeLocked(c.key)
}

func (d *Dedup) wakeLocked(key events.Digest) {
	if w := d.waits[key]; w != nil {
		close(w)
		delete(d.waits, key)
	}
}

// Len returns the number of keys remembered.
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// push appends r to the ring, growing it (by doubling, up to max+1).
func (d *Dedup) push(r dedupRec) {
	if d.n == len(d.ring) {
		size := max(2*len(d.ring), 64)
		size = min(size, d.max+1)
		if size <= d.n {
			size = d.n + 1
		}
		grown := make([]dedupRec, size)
		for i := 0; i < d.n; i++ {
			grown[i] = d.ring[(d.head+i)%len(d.ring)]
		}
		d.ring, d.head = grown, 0
	}
	d.ring[(d.head+d.n)%len(d.ring)] = r
	d.n++
}

// popLocked forgets the oldest committed key, unless it was committed again since.
func (d *Dedup) popLocked() {
	r := d.ring[d.head]
	if d.m[r.key] == r.at {
		delete(d.m, r.key)
	}
	d.ring[d.head] = dedupRec{}
	d.head = (d.head + 1) % len(d.ring)
	d.n--
}

func (d *Dedup) expireLocked() {
	cutoff := d.now().Add(-d.window)
	if !cutoff.After(d.base) {
		return
	}
	limit := d.stamp(cutoff)
	for d.n > 0 && d.ring[d.head].at <= limit {
		d.popLocked()
	}
}
