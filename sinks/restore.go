package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/callrelay/callrelay/correlate"
)

// readBackBatch is how many messages one pull of ReadBack asks for.
const readBackBatch = 1000

// readBackIdle is how soon the server removes ReadBack's consumer once
// it is no longer read.
const readBackIdle = 10 * time.Second

// ReadBackConfig says which of a stream's messages ReadBack reads.
type ReadBackConfig struct {
	// Stream is the stream's name.
	Stream string
	// Subject filters the stream, e.g. "agentcall.default.>".
	Subject string
	// Since is the oldest storage time read.
	Since time.Time
	// MaxMessages bounds the messages read: when more were stored since
	// Since, only about the newest MaxMessages are read (counted by stream
	// sequence, so a little fewer of Subject's where the stream holds
	// other subjects too). Zero or less means no bound.
	MaxMessages int
	// Progress, if set, is called about once a second with the messages
	// read so far and the number to read in all.
	Progress func(read, total int)
}

// ReadBack reads the messages cfg selects, oldest first, with ordered
// consumers of its own (in memory, removed by the server soon after), and hands each to
// fn; fn must not keep Data. It returns the number read. When ctx ends
// first it returns that number and ctx's error: what was handed to fn is
// still a prefix of the selection, in order.
func ReadBack(ctx context.Context, nc *nats.Conn, cfg ReadBackConfig, fn func(correlate.Stored)) (int, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("open jetstream: %w", err)
	}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("look up stream %s: %w", cfg.Stream, err)
	}
	state := stream.CachedInfo().State
	if state.Msgs == 0 || state.LastTime.Before(cfg.Since) {
		return 0, nil
	}
	// A probe finds where the window starts and how much it holds.
	since := cfg.Since
	probe, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{cfg.Subject},
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &since,
		InactiveThreshold: readBackIdle,
	})
	if err != nil {
		return 0, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
	}
	first, err := nextBatch(probe, 1)
	if err != nil || len(first) == 0 {
		return 0, err
	}
	meta, err := first[0].Metadata()
	if err != nil {
		return 0, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
	}
	start, total := meta.Sequence.Stream, int(meta.NumPending)+1
	if cfg.MaxMessages > 0 && total > cfg.MaxMessages {
		// Too many since Since: only the newest MaxMessages.
		if state.LastSeq >= uint64(cfg.MaxMessages) {
			start = max(start, state.LastSeq-uint64(cfg.MaxMessages)+1)
		}
		total = cfg.MaxMessages
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{cfg.Subject},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		InactiveThreshold: readBackIdle,
	})
	if err != nil {
		return 0, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
	}
	// Messages keeps the next batch coming while this one is handled.
	it, err := cons.Messages(jetstream.PullMaxMessages(readBackBatch))
	if err != nil {
		return 0, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
	}
	defer it.Stop()
	read := 0
	lastReport := time.Now()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return read, ctx.Err()
			}
			return read, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return read, fmt.Errorf("read back stream %s: %w", cfg.Stream, err)
		}
		fn(correlate.Stored{Subject: m.Subject(), MsgID: m.Headers().Get(msgIDHeader), Data: m.Data(), Time: meta.Timestamp})
		read++
		if meta.NumPending == 0 || (cfg.MaxMessages > 0 && read >= cfg.MaxMessages) {
			return read, nil
		}
		if err := ctx.Err(); err != nil {
			return read, err // the messages prefetched are not waited for
		}
		if cfg.Progress != nil && read%1024 == 0 && time.Since(lastReport) >= time.Second {
			cfg.Progress(read, total)
			lastReport = time.Now()
		}
	}
}

// nextBatch pulls up to n messages that are there now (none when there
// are none).
func nextBatch(cons jetstream.Consumer, n int) ([]jetstream.Msg, error) {
	b, err := cons.FetchNoWait(n)
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	for m := range b.Messages() {
		out = append(out, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return out, err
	}
	return out, nil
}
