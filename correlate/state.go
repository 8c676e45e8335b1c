package correlate

import (
	"context"
	"errors"

	"github.com/callrelay/callrelay/events"
)

// ErrConflict is returned by State.PutCall and State.PutAgent when the
// record changed since the revision the caller read: another goroutine or
// another replica updated it first. The caller reads the record again,
// applies its event again and retries; it is not a failure of the store.
var ErrConflict = errors.New("state revision conflict")

// State is where the correlation state lives: one record per call, one per
// agent, and the content keys of the vendor events already published. The
// relay has two: MemoryState (one replica) and a NATS JetStream key-value
// implementation in package sinks (several replicas sharing one NATS).
//
// Reads return a record with its revision; a revision of 0 means "absent".
// The record may be the stored one itself (the memory state does not copy
// on every read): the caller must treat it as read-only, and changes a copy
// (CallRecord.Clone) that it puts back. Writes are compare-and-set:
// PutCall(key, rec, rev) stores rec only if the stored revision is still rev
// (0: the key must be absent or expired), returns ErrConflict otherwise, and
// takes ownership of rec (the caller must not modify it afterwards). Two
// replicas can therefore never lose each other's updates.
//
// Entries expire: a call some time after it ended, any call or agent after it
// has been idle for long; an expired entry reads as absent (its revision may
// still be returned, so that the write that recreates it is a
// compare-and-set too). How many entries are kept is bounded by the
// implementation.
//
// ClaimKey claims a content key (a digest, see events.ContentKey) before the
// event it identifies is published.
// duplicate is true when the key was committed before (the event was
// published already): the caller acknowledges the event as a duplicate and
// does not publish it. Otherwise the caller holds the claim and must call
// exactly one of Commit (after the event was published and its correlation
// committed) or Release (it was not published). While one caller holds a
// claim, another ClaimKey of the same key waits for it, up to ctx.
//
// Any error other than ErrConflict means the store could not answer (for
// the shared store: NATS or JetStream is unreachable or timed out). The relay
// then answers the event with a retryable nack and commits nothing for it,
// so the client's resend redoes the whole step; an error from Commit or
// Release is counted and logged (callrelay_state_errors_total), never
// turned into a lost event. Every method must honour ctx's deadline.
//
// A State is used concurrently by every connection of the relay.
type State interface {
	Call(ctx context.Context, key string) (rec *events.CallRecord, rev uint64, err error)
	PutCall(ctx context.Context, key string, rec *events.CallRecord, rev uint64) error
	Agent(ctx context.Context, key string) (rec *events.AgentRecord, rev uint64, err error)
	PutAgent(ctx context.Context, key string, rec *events.AgentRecord, rev uint64) error
	ClaimKey(ctx context.Context, key events.Digest) (claim KeyClaim, duplicate bool, err error)
}

// KeyClaim is the right to publish the event of one content key; see State.
type KeyClaim interface {
	Commit(ctx context.Context) error
	Release(ctx context.Context) error
}
