package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
)

// claimPoll is how often ClaimKey looks again at a key another replica is
// publishing under.
const claimPoll = 20 * time.Millisecond

// KVConfig describes the JetStream key-value buckets of the shared
// correlation state.
type KVConfig struct {
	// Bucket is the prefix of the three bucket names: <Bucket>-calls,
	// <Bucket>-agents and <Bucket>-keys.
	Bucket string
	// EndedTTL is how long a call is kept after it ended (and an agent
	// after it logged out), enforced by the timestamp in each entry.
	EndedTTL time.Duration
	// IdleTTL is how long a call or agent without changes is kept: the TTL
	// of the calls and agents buckets.
	IdleTTL time.Duration
	// KeyTTL is how long a content key is remembered: the TTL of the keys bucket.
	KeyTTL time.Duration
	// ClaimTimeout is how old a claim on a content key that was neither
	// committed nor released (its replica died) must be before another
	// replica takes it over; zero means 30s.
	ClaimTimeout time.Duration
	// Replicas is the number of copies of each bucket in a cluster; zero means 1.
	Replicas int
	// Memory selects memory storage instead of file storage (tests).
	Memory bool
}

// KV is the relay's correlation state kept in three NATS JetStream
// key-value buckets, so that several relay replicas share it. Writes are
// compare-and-set on the entry's revision (the bucket's sequence). KV is safe
// for concurrent use; every call fails fast while the connection is down.
type KV struct {
	nc     *nats.Conn
	watch  *watcher
	calls  jetstream.KeyValue
	agents jetstream.KeyValue
	keys   jetstream.KeyValue
	cfg    KVConfig
	now    func() time.Time
}

var _ correlate.State = (*KV)(nil)

// Close stops the KV state's connection watcher; safe twice.
func (k *KV) Close() { k.watch.Close() }

// NewKV opens the buckets cfg names, creating those that do not exist. An
// existing bucket is used as it is (its operators own it). The caller owns nc.
func NewKV(ctx context.Context, nc *nats.Conn, cfg KVConfig) (*KV, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("configure kv state: bucket prefix is empty")
	}
	if cfg.EndedTTL <= 0 || cfg.IdleTTL <= 0 || cfg.KeyTTL <= 0 {
		return nil, errors.New("configure kv state: TTLs must be positive")
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = 30 * time.Second
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	k := &KV{nc: nc, cfg: cfg, now: time.Now}
	k.watch = newWatcher(nc)
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
		ttl  time.Duration
		desc string
	}{
		{&k.calls, cfg.Bucket + "-calls", cfg.IdleTTL, "callrelay: correlation state of calls"},
		{&k.agents, cfg.Bucket + "-agents", cfg.IdleTTL, "callrelay: agent states"},
		{&k.keys, cfg.Bucket + "-keys", cfg.KeyTTL, "callrelay: content keys of published vendor events"},
	} {
		*b.kv, err = openBucket(ctx, js, jetstream.KeyValueConfig{
			Bucket: b.name, Description: b.desc, TTL: b.ttl, History: 1,
			Replicas: cfg.Replicas, Storage: storage(cfg.Memory),
		})
		if err != nil {
			return nil, err
		}
	}
	return k, nil
}

func storage(memory bool) jetstream.StorageType {
	if memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// openBucket opens the bucket cfg names, creating it when missing.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket) // another replica was first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Call returns the record of key and its revision. An entry past its TTL
// (ended or idle, by its own timestamps) reads as absent, with its revision.
func (k *KV) Call(ctx context.Context, key string) (*events.CallRecord, uint64, error) {
	var rec events.CallRecord
	rev, ok, err := k.get(ctx, k.calls, key, &rec)
	if err != nil || !ok {
		return nil, rev, err
	}
	ttl := k.cfg.IdleTTL
	if rec.State == events.CallEnded {
		ttl = k.cfg.EndedTTL
	}
	if k.now().UnixMilli()-rec.Updated >= ttl.Milliseconds() {
		return nil, rev, nil
	}
	return &rec, rev, nil
}

// PutCall stores rec under key if the entry's revision is still rev.
func (k *KV) PutCall(ctx context.Context, key string, rec *events.CallRecord, rev uint64) error {
	return k.put(ctx, k.calls, key, rec, rev)
}

// Agent returns the record of key and its revision; see Call.
func (k *KV) Agent(ctx context.Context, key string) (*events.AgentRecord, uint64, error) {
	var rec events.AgentRecord
	rev, ok, err := k.get(ctx, k.agents, key, &rec)
	if err != nil || !ok {
		return nil, rev, err
	}
	ttl := k.cfg.IdleTTL
	if rec.State == events.AgentLoggedOut {
		ttl = k.cfg.EndedTTL
	}
	if k.now().UnixMilli()-rec.Updated >= ttl.Milliseconds() {
		return nil, rev, nil
	}
	return &rec, rev, nil
}

// PutAgent stores rec under key if the entry's revision is still rev.
func (k *KV) PutAgent(ctx context.Context, key string, rec *events.AgentRecord, rev uint64) error {
	return k.put(ctx, k.agents, key, rec, rev)
}

// get decodes the entry of key into v; ok is false when it is absent. rev is
// the entry's revision, also for a deleted entry.
func (k *KV) get(ctx context.Context, kv jetstream.KeyValue, key string, v any) (rev uint64, ok bool, err error) {
	var e jetstream.KeyValueEntry
	err = k.watch.do(ctx, func(ctx context.Context) error {
		var err error
		e, err = kv.Get(ctx, key)
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, false, nil
	case errors.Is(err, jetstream.ErrKeyDeleted):
		if e != nil {
			return e.Revision(), false, nil
		}
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read %s from bucket %s: %w", key, kv.Bucket(), err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		// A value we cannot read is overwritten by the next write.
		return e.Revision(), false, nil
	}
	return e.Revision(), true, nil
}

// put writes v under key if its revision is still rev (0: absent).
func (k *KV) put(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	err = k.watch.do(ctx, func(ctx context.Context) error {
		var err error
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		return err
	})
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return correlate.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("write %s to bucket %s: %w", key, kv.Bucket(), err)
	}
	return nil
}

// keyValue is the value of a content key: pending while its event is being
// published, committed once it was.
type keyValue struct {
	Committed bool  `json:"c,omitempty"`
	At        int64 `json:"at"` // ms, when the claim was made
}

// ClaimKey claims a content key: it creates the key as pending. A committed
// key is a duplicate. A pending key is another replica (or connection)
// publishing the same event: ClaimKey waits, polling, until it is committed
// (duplicate) or released (the claim is retried), or until ctx ends; a
// pending key older than the claim timeout is taken over.
func (k *KV) ClaimKey(ctx context.Context, digest events.Digest) (correlate.KeyClaim, bool, error) {
	key := k.cfg.Bucket + ".k." + digest.String()
	for {
		pending, _ := json.Marshal(keyValue{At: k.now().UnixMilli()})
		var rev uint64
		err := k.watch.do(ctx, func(ctx context.Context) error {
			var err error
			rev, err = k.keys.Create(ctx, key, pending)
			return err
		})
		if err == nil {
			return &kvClaim{k: k, key: key, rev: rev}, false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("claim key %s: %w", key, err)
		}
		var cur keyValue
		curRev, ok, err := k.get(ctx, k.keys, key, &cur)
		if err != nil {
			return nil, false, err
		}
		if ok && cur.Committed {
			return nil, true, nil
		}
		if ok && k.now().UnixMilli()-cur.At >= k.cfg.ClaimTimeout.Milliseconds() {
			var newRev uint64
			err := k.watch.do(ctx, func(ctx context.Context) error {
				var err error
				newRev, err = k.keys.Update(ctx, key, pending, curRev)
				return err
			})
			if err == nil {
				return &kvClaim{k: k, key: key, rev: newRev}, false, nil
			}
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
				return nil, false, fmt.Errorf("take over key %s: %w", key, err)
			}
			continue
		}
		if ok {
			select {
			case <-ctx.Done():
				return nil, false, fmt.Errorf("claim key %s: still being published elsewhere: %w", key, ctx.Err())
			case <-time.After(claimPoll):
			}
		}
	}
}

// kvClaim is a claim on one content key.
type kvClaim struct {
	k   *KV
	key string
	rev uint64
}

// Commit marks the key committed: later claims are duplicates until the
// bucket's TTL removes it.
func (c *kvClaim) Commit(ctx context.Context) error {
	done, _ := json.Marshal(keyValue{Committed: true, At: c.k.now().UnixMilli()})
	return c.k.watch.do(ctx, func(ctx context.Context) error {
		_, err := c.k.keys.Update(ctx, c.key, done, c.rev)
		return err
	})
}

// Release deletes the key if it is still this claim's.
func (c *kvClaim) Release(ctx context.Context) error {
	return c.k.watch.do(ctx, func(ctx context.Context) error {
		return c.k.keys.Delete(ctx, c.key, jetstream.LastRevision(c.rev))
	})
}
