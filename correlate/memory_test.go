package correlate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
)

// The memory state is bounded in bytes, not only in records: calls with
// large talk details are evicted, least recently changed first, once their
// bytes pass MaxCallBytes, however few they are.
func TestMemoryBoundsCallBytes(t *testing.T) {
	const maxBytes = 256 << 10
	mem := correlate.NewMemory(correlate.MemoryConfig{MaxCalls: 100_000, MaxCallBytes: maxBytes})
	ctx := context.Background()
	now := time.Now().UnixMilli()
	talk := json.RawMessage(`{"note":"` + strings.Repeat("x", 8<<10) + `"}`) // the largest talk details allowed
	for i := 0; i < 200; i++ {
		rec := &events.CallRecord{CallID: fmt.Sprintf("C-%03d", i), Talk: talk, Updated: now + int64(i)}
		if err := mem.PutCall(ctx, "default.c."+rec.CallID, rec, 0); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	calls, _ := mem.Len()
	perCall := (&events.CallRecord{CallID: "C-000", Talk: talk}).Size()
	if want := maxBytes / perCall; calls > want || calls < want-1 {
		t.Errorf("got %d calls of %d bytes held, want %d (the byte cap %d)", calls, perCall, want, maxBytes)
	}
	// The newest are kept, the oldest evicted.
	if rec, _, _ := mem.Call(ctx, "default.c.C-199"); rec == nil {
		t.Error("the newest call was evicted")
	}
	if rec, _, _ := mem.Call(ctx, "default.c.C-000"); rec != nil {
		t.Error("the oldest call is still held past the byte cap")
	}
	// Small calls are bounded by the count as before.
	for i := 0; i < 50; i++ {
		rec := &events.CallRecord{CallID: fmt.Sprintf("S-%03d", i), Updated: now + int64(1000+i)}
		_ = mem.PutCall(ctx, "default.c."+rec.CallID, rec, 0)
	}
	if calls, _ := mem.Len(); calls > maxBytes/perCall+50 {
		t.Errorf("got %d calls after 50 small ones, want at most %d", calls, maxBytes/perCall+50)
	}
}
