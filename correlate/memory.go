package correlate

import (
	"context"
	"sync"
	"time"

	"github.com/callrelay/callrelay/events"
)

// MemoryConfig bounds a MemoryState.
type MemoryConfig struct {
	// EndedTTL is how long a call is kept after it ended (EventCallDeleted),
	// and an agent after it logged out.
	EndedTTL time.Duration
	// IdleTTL is how long a call or agent without any change is kept.
	IdleTTL time.Duration
	// MaxCalls and MaxAgents cap the entries; beyond them the least recently
	// changed entry is evicted.
	MaxCalls  int
	MaxAgents int
	// MaxCallBytes caps the bytes the call records hold (their talk details
	// above all, estimated by CallRecord.Size); beyond it the least recently
	// changed calls are evicted, as beyond MaxCalls.
	MaxCallBytes int
	// KeyWindow is how long a content key is remembered; MaxKeys caps them.
	KeyWindow time.Duration
	MaxKeys   int
}

// Memory is the State of a single relay: maps with expiry and a cap,
// evicting the least recently changed entry first. It is safe for concurrent
// use. Call and Agent return the stored records themselves (read-only to
// the caller, see State) and PutCall and PutAgent keep the record they are
// given.
//
// A Memory also serves, in shared mode, as the replica's local mirror of
// the records it committed, from which the calls_active and agents gauges
// are counted.
type Memory struct {
	cfg MemoryConfig
	now func() time.Time

	mu     sync.Mutex
	seq    uint64 // the last revision handed out
	calls  ttlIndex[*events.CallRecord]
	agents ttlIndex[*events.AgentRecord]
	keys   *Dedup
	hooks  stateHooks
}

// stateHooks let the owner of a MemoryState keep gauges and counters. They
// are called with the state's lock held and must be quick.
type stateHooks struct {
	callChanged  func(from, to events.CallState)
	callRemoved  func(rec *events.CallRecord, evicted bool)
	agentChanged func(from, to events.AgentState)
	agentRemoved func(rec *events.AgentRecord, evicted bool)
}

var _ State = (*Memory)(nil)

// NewMemory returns an empty Memory bounded by cfg; zero fields
// take the defaults of Config.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.EndedTTL <= 0 {
		cfg.EndedTTL = DefaultCallEndedTTL
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = DefaultCallIdleTTL
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.MaxAgents <= 0 {
		cfg.MaxAgents = DefaultMaxAgents
	}
	if cfg.KeyWindow <= 0 {
		cfg.KeyWindow = DefaultDedupWindow
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultDedupMax
	}
	if cfg.MaxCallBytes <= 0 {
		cfg.MaxCallBytes = DefaultMaxCallBytes
	}
	s := &Memory{cfg: cfg, now: time.Now, keys: NewDedup(cfg.KeyWindow, cfg.MaxKeys)}
	s.keys.now = func() time.Time { return s.now() }
	s.calls.init(cfg.IdleTTL, cfg.EndedTTL, cfg.MaxCalls)
	s.calls.size, s.calls.maxBytes = (*events.CallRecord).Size, cfg.MaxCallBytes
	s.agents.init(cfg.IdleTTL, cfg.EndedTTL, cfg.MaxAgents)
	s.hooks = stateHooks{
		callChanged:  func(events.CallState, events.CallState) {},
		callRemoved:  func(*events.CallRecord, bool) {},
		agentChanged: func(events.AgentState, events.AgentState) {},
		agentRemoved: func(*events.AgentRecord, bool) {},
	}
	return s
}

// SetClock replaces the state's clock (also used for the records' Updated
// times of a Correlator built on it). Call it before the state is shared;
// it is for tests and tools.
func (s *Memory) SetClock(now func() time.Time) {
	s.now = now
	s.keys.SetClock(func() time.Time { return s.now() })
}

// Call returns the record of key and its revision; nil and 0 when
// absent or expired.
func (s *Memory) Call(_ context.Context, key string) (*events.CallRecord, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	e := s.calls.get(key, s.now())
	if e == nil {
		return nil, 0, nil
	}
	return e.v, e.rev, nil
}

// PutCall stores rec under key if its revision is still rev.
func (s *Memory) PutCall(_ context.Context, key string, rec *events.CallRecord, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	return s.putCallLocked(key, rec, rev, false)
}

// track stores rec under key whatever is stored: the mirror of a record
// committed to the shared state.
func (s *Memory) track(key string, rec *events.CallRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	_ = s.putCallLocked(key, rec, 0, true)
}

func (s *Memory) putCallLocked(key string, rec *events.CallRecord, rev uint64, force bool) error {
	return putLocked(s, &s.calls, key, rec, rev, force, rec.Updated, rec.State == events.CallEnded,
		func(r *events.CallRecord) events.CallState { return r.State }, s.hooks.callChanged, s.hooks.callRemoved)
}

// putLocked stores rec in x under key if the stored revision is still rev
// (whatever is stored when force), tells the hooks, and evicts the least
// recently changed entries beyond the cap. updated is the record's time of
// change and done whether it now expires after the shorter, "ended" TTL.
func putLocked[V any, S comparable](s *Memory, x *ttlIndex[V], key string, rec V, rev uint64, force bool,
	updated int64, done bool, state func(V) S, changed func(from, to S), removed func(V, bool)) error {
	now := s.now()
	if old := x.m[key]; old != nil && x.expired(old, now) {
		x.remove(old)
		removed(old.v, false)
	}
	e := x.get(key, now)
	var have uint64
	var from S
	if e != nil {
		have, from = e.rev, state(e.v)
	}
	if !force && have != rev {
		return ErrConflict
	}
	s.seq++
	x.put(key, rec, s.seq, updated, done, e)
	changed(from, state(rec))
	for x.full() {
		old := x.evictOldest()
		removed(old.v, true)
	}
	return nil
}

// Agent returns a copy of the record of key and its revision; nil and 0
// when absent or expired.
func (s *Memory) Agent(_ context.Context, key string) (*events.AgentRecord, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	e := s.agents.get(key, s.now())
	if e == nil {
		return nil, 0, nil
	}
	return e.v, e.rev, nil
}

// PutAgent stores rec under key if its revision is still rev.
func (s *Memory) PutAgent(_ context.Context, key string, rec *events.AgentRecord, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	return s.putAgentLocked(key, rec, rev, false)
}

// trackAgent stores rec under key whatever is stored (the shared-mode mirror).
func (s *Memory) trackAgent(key string, rec *events.AgentRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	_ = s.putAgentLocked(key, rec, 0, true)
}

func (s *Memory) putAgentLocked(key string, rec *events.AgentRecord, rev uint64, force bool) error {
	return putLocked(s, &s.agents, key, rec, rev, force, rec.Updated, rec.State == events.AgentLoggedOut,
		func(r *events.AgentRecord) events.AgentState { return r.State }, s.hooks.agentChanged, s.hooks.agentRemoved)
}

// ClaimKey claims a content key; see State.
func (s *Memory) ClaimKey(ctx context.Context, key events.Digest) (KeyClaim, bool, error) {
	c, dup, err := s.keys.Claim(ctx, key)
	if err != nil || dup {
		return nil, dup, err
	}
	return memClaim{c}, false, nil
}

// memClaim adapts a Dedup claim to KeyClaim.
type memClaim struct{ c Claim }

func (m memClaim) Commit(context.Context) error  { m.c.Commit(); return nil }
func (m memClaim) Release(context.Context) error { m.c.Release(); return nil }

// Len returns the number of calls and agents held (expired ones included
// until the next access).
func (s *Memory) Len() (calls, agents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls.m), len(s.agents.m)
}

// Expire removes every expired entry now. The relay calls it on every
// access; call it to refresh the gauges when no events arrive.
func (s *Memory) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
}

func (s *Memory) expireLocked() {
	now := s.now()
	s.calls.expire(now, func(e *ttlEntry[*events.CallRecord]) { s.hooks.callRemoved(e.v, false) })
	s.agents.expire(now, func(e *ttlEntry[*events.AgentRecord]) { s.hooks.agentRemoved(e.v, false) })
}

// ttlIndex is a map whose entries expire idle after ttl[0], or after ttl[1]
// once done, with at most max entries; each of its two lists holds entries
// in the order they were last put, so that expiry looks at list fronts only.
// The lists are intrusive (the links are in the entries), which saves an
// element per entry.
type ttlIndex[V any] struct {
	m     map[string]*ttlEntry[V]
	lists [2]ttlList[V]
	ttl   [2]time.Duration
	max   int
	// size estimates an entry's bytes (nil: not counted); bytes is their
	// sum, capped by maxBytes.
	size     func(V) int
	bytes    int
	maxBytes int
}

type ttlEntry[V any] struct {
	key        string
	v          V
	rev        uint64
	at         int64 // ms of the last put, by the record's clock
	done       bool
	prev, next *ttlEntry[V]
}

// ttlList is a doubly linked list of entries, oldest first.
type ttlList[V any] struct{ front, back *ttlEntry[V] }

func (l *ttlList[V]) pushBack(e *ttlEntry[V]) {
	e.prev, e.next = l.back, nil
	if l.back != nil {
		l.back.next = e
	} else {
		l.front = e
	}
	l.back = e
}

func (l *ttlList[V]) remove(e *ttlEntry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.front = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.back = e.prev
	}
	e.prev, e.next = nil, nil
}

func (x *ttlIndex[V]) init(idle, done time.Duration, max int) {
	x.m = map[string]*ttlEntry[V]{}
	x.ttl = [2]time.Duration{idle, done}
	x.max = max
}

func (x *ttlIndex[V]) expired(e *ttlEntry[V], now time.Time) bool {
	return now.UnixMilli()-e.at >= x.ttl[idx(e.done)].Milliseconds()
}

// get returns the live entry of key, nil when absent or expired.
func (x *ttlIndex[V]) get(key string, now time.Time) *ttlEntry[V] {
	e := x.m[key]
	if e == nil || x.expired(e, now) {
		return nil
	}
	return e
}

// put stores v; e is the current entry of key, nil when absent (an expired
// entry must have been removed first).
func (x *ttlIndex[V]) put(key string, v V, rev uint64, at int64, done bool, e *ttlEntry[V]) {
	if e == nil {
		e = &ttlEntry[V]{key: key}
		x.m[key] = e
	} else {
		x.lists[idx(e.done)].remove(e)
		x.count(e.v, -1)
	}
	e.v, e.rev, e.at, e.done = v, rev, at, done
	x.count(v, 1)
	x.lists[idx(done)].pushBack(e)
}

func idx(done bool) int {
	if done {
		return 1
	}
	return 0
}

// full reports whether the index holds more entries, or more bytes, than
// its caps; the last entry put is never evicted for its bytes alone.
func (x *ttlIndex[V]) full() bool {
	return len(x.m) > x.max || (x.size != nil && x.bytes > x.maxBytes && len(x.m) > 1)
}

// count adds (sign 1) or takes away (sign -1) the bytes of v.
func (x *ttlIndex[V]) count(v V, sign int) {
	if x.size != nil {
		x.bytes += sign * x.size(v)
	}
}

func (x *ttlIndex[V]) remove(e *ttlEntry[V]) {
	x.lists[idx(e.done)].remove(e)
	x.count(e.v, -1)
	delete(x.m, e.key)
}

// evictOldest removes and returns the least recently put entry.
func (x *ttlIndex[V]) evictOldest() *ttlEntry[V] {
	a, b := x.lists[0].front, x.lists[1].front
	e := a
	if a == nil || (b != nil && b.at < a.at) {
		e = b
	}
	x.remove(e)
	return e
}

// expire removes the expired entries at the front of both lists.
func (x *ttlIndex[V]) expire(now time.Time, removed func(*ttlEntry[V])) {
	for i := range x.lists {
		for e := x.lists[i].front; e != nil && x.expired(e, now); e = x.lists[i].front {
			x.remove(e)
			removed(e)
		}
	}
}
