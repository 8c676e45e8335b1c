package sinks

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

var _ server.Logger = (*serverLogger)(nil)

// serverLogger routes the embedded server's log into a zerolog.Logger. It
// implements the nats-server server.Logger interface. It also remembers the
// first fatal message so that Embedded.Start can report why the server did
// not come up; unlike the server's own logger it never exits the process.
type serverLogger struct {
	log zerolog.Logger

	mu        sync.Mutex
	fatalText string
}

// newServerLogger returns a serverLogger writing to log with component=nats.
func newServerLogger(log zerolog.Logger) *serverLogger {
	return &serverLogger{log: log.With().Str("component", "nats").Logger()}
}

// Noticef logs at info level.
func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info().Msgf(format, v...) }

// Warnf logs at warn level.
func (l *serverLogger) Warnf(format string, v ...any) { l.log.Warn().Msgf(format, v...) }

// Errorf logs at error level.
func (l *serverLogger) Errorf(format string, v ...any) { l.log.Error().Msgf(format, v...) }

// Debugf logs at debug level.
func (l *serverLogger) Debugf(format string, v ...any) { l.log.Debug().Msgf(format, v...) }

// Tracef logs at debug level. The embedded server runs with tracing off.
func (l *serverLogger) Tracef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }

// Fatalf logs at error level and records the message; it does not exit.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error().Bool("fatal", true).Msg(msg)
	l.mu.Lock()
	if l.fatalText == "" {
		l.fatalText = msg
	}
	l.mu.Unlock()
}

// fatal returns the first fatal message logged, or "".
func (l *serverLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalText
}
