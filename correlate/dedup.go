package relay

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Dedup remembers the ids of published events for a bounded window so that an
// event sent again (after a lost ack, or by sendBeacon and then by the
// WebSocket) is acknowledged as a duplicate instead of being published twice.
//
// An id is claimed before publishing and committed only after the sink took
// the event; a second arrival of an id that is still being published waits
// for the first to finish. A failed publish releases the claim, so the retry
// is not mistaken for a duplicate. Entries expire after the window and the
// oldest are evicted beyond the capacity, so memory is bounded. Dedup is safe
// for concurrent use.
type Dedup struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*dedupEntry
	order   *list.List // committed entries, oldest first
	evicted func()     // called (under mu) for each entry evicted by the cap
}

type dedupEntry struct {
	done      chan struct{} // closed when the claim is committed or released
	committed bool
	at        time.Time
	elem      *list.Element
}

// NewDedup returns a Dedup remembering up to max ids for window each.
func NewDedup(window time.Duration, max int) *Dedup {
	return &Dedup{
		window:  window,
		max:     max,
		now:     time.Now,
		entries: map[string]*dedupEntry{},
		order:   list.New(),
		evicted: func() {},
	}
}

// Claim is the right to publish one id; exactly one of Commit or Release must
// be called.
type Claim struct {
	d  *Dedup
	id string
	e  *dedupEntry
}

// Claim returns a claim on id, or duplicate=true when id was published within
// the window. It waits while another caller holds a claim on the same id; err
// is ctx's error if ctx ends first.
func (d *Dedup) Claim(ctx context.Context, id string) (c *Claim, duplicate bool, err error) {
	for {
		d.mu.Lock()
		d.expireLocked()
		e, ok := d.entries[id]
		if !ok {
			e = &dedupEntry{done: make(chan struct{})}
			d.entries[id] = e
			d.mu.Unlock()
			return &Claim{d: d, id: id, e: e}, false, nil
		}
		if e.committed {
			d.mu.Unlock()
			return nil, true, nil
		}
		wait := e.done
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Commit records that the id was published.
func (c *Claim) Commit() {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	c.e.committed = true
	c.e.at = d.now()
	c.e.elem = d.order.PushBack(c.id)
	close(c.e.done)
	for d.order.Len() > d.max {
		d.removeLocked(d.order.Front())
		d.evicted()
	}
}

// Release gives the claim up without recording the id (the publish failed).
func (c *Claim) Release() {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.entries, c.id)
	close(c.e.done)
}

// Len returns the number of ids remembered.
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.order.Len()
}

func (d *Dedup) expireLocked() {
	cutoff := d.now().Add(-d.window)
	for front := d.order.Front(); front != nil; front = d.order.Front() {
		if d.entries[front.Value.(string)].at.After(cutoff) {
			return
		}
		d.removeLocked(front)
	}
}

func (d *Dedup) removeLocked(elem *list.Element) {
	id := d.order.Remove(elem).(string)
	delete(d.entries, id)
}
