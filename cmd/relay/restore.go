package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// restoreState rebuilds the memory state of srv (--state restore) from
// what the relay published into stream before it was stopped or killed:
// the last --restore-window (by default --call-idle-ttl), at most the
// newest --restore-max-messages, for at most --restore-timeout. It runs
// before the relay takes events, so /readyz does not report it ready
// meanwhile. A restore cut short by its time limit is logged and
// the relay starts with what it has; one cut short by ctx (a signal)
// returns what it has too (the relay then stops as after any signal);
// any other failure stops the start.
func (s serveCmd) restoreState(ctx context.Context, nc *nats.Conn, stream, subject string, srv *relay.Server, log zerolog.Logger) (correlate.ReplayStats, error) {
	replay, err := srv.Replay()
	if err != nil {
		return correlate.ReplayStats{}, err
	}
	window := s.RestoreWindow
	if window <= 0 {
		window = s.CallIdleTTL
	}
	start := time.Now()
	since := start.Add(-window)
	log.Info().Str("stream", stream).Stringer("window", window).Int("max_messages", s.RestoreMsgs).
		Msg("restoring the call state from the stream")
	rctx, cancel := context.WithTimeout(ctx, s.RestoreTimeout)
	defer cancel()
	read, err := sinks.ReadBack(rctx, nc, sinks.ReadBackConfig{
		Stream: stream, Subject: subject, Since: since, MaxMessages: s.RestoreMsgs,
		Progress: func(read, total int) {
			log.Info().Int("read", read).Int("total", total).Msg("restoring the call state")
		},
	}, replay.Add)
	stats := replay.Finish()
	switch {
	case err != nil && ctx.Err() != nil:
		// A signal during the restore: the relay stops before it takes events.
		log.Info().Int("read", read).Msg("state restore interrupted by a signal")
		return stats, nil
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		log.Warn().Int("read", read).Stringer("timeout", s.RestoreTimeout).
			Msg("state restore stopped at --restore-timeout: calls changed after the last message read start again at revision 1")
	case err != nil:
		return stats, fmt.Errorf("restore the call state from stream %s: %w", stream, err)
	}
	log.Info().Int("messages", stats.Messages).Int("events", stats.Events).Int("views", stats.Views).Int("skipped", stats.Skipped).
		Int("calls", stats.Calls).Int("agents", stats.Agents).Int("content_keys", stats.ContentKeys).
		Int("event_ids", stats.EventIDs).Stringer("took", time.Since(start).Round(time.Millisecond)).Msg("call state restored")
	return stats, nil
}
