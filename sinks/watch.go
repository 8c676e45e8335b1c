package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// watcher follows one NATS connection's status with a single listener and
// goroutine, and tells everything registered with it when the connection
// is lost: publishes in flight fail at once instead of waiting out their
// timeout (the NATS client does not end pending requests on a disconnect).
// It also tells those registered with onUp when the connection is back.
type watcher struct {
	nc      *nats.Conn
	changes chan nats.Status
	mu      sync.Mutex
	next    uint64
	lost    map[uint64]func(error)
	forever []func(error)
	up      []func()
	done    chan struct{}
	once    sync.Once
}

// newWatcher starts watching nc; Close stops it, and so does nc's closing.
func newWatcher(nc *nats.Conn) *watcher {
	w := &watcher{
		nc:      nc,
		changes: nc.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED),
		lost:    map[uint64]func(error){},
		done:    make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *watcher) run() {
	for {
		select {
		case status, ok := <-w.changes:
			if !ok {
				return
			}
			if status == nats.CONNECTED {
				// Reconnected (the first connection was made before the
				// watcher existed).
				w.mu.Lock()
				fns := append([]func(){}, w.up...)
				w.mu.Unlock()
				for _, fn := range fns {
					fn()
				}
				continue
			}
			err := fmt.Errorf("%w: connection is %s", ErrNotConnected, status)
			w.mu.Lock()
			fns := append([]func(error){}, w.forever...)
			for id, fn := range w.lost {
				fns = append(fns, fn)
				delete(w.lost, id)
			}
			w.mu.Unlock()
			for _, fn := range fns {
				fn(err)
			}
			if status == nats.CLOSED {
				return // a closed connection never comes back
			}
		case <-w.done:
			return
		}
	}
}

// onUp registers fn to be called every time the connection is back after
// it was lost, from the watcher's goroutine (fn must not block long).
func (w *watcher) onUp(fn func()) {
	w.mu.Lock()
	w.up = append(w.up, fn)
	w.mu.Unlock()
}

// onLost registers fn to be called (once) when the connection is lost;
// the returned function unregisters it.
func (w *watcher) onLost(fn func(error)) (cancel func()) {
	w.mu.Lock()
	w.next++
	id := w.next
	w.lost[id] = fn
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.lost, id)
		w.mu.Unlock()
	}
}

// onLostForever registers fn to be called every time the connection is lost.
func (w *watcher) onLostForever(fn func(error)) {
	w.mu.Lock()
	w.forever = append(w.forever, fn)
	w.mu.Unlock()
}

// Close stops the watcher; safe twice.
func (w *watcher) Close() {
	w.once.Do(func() {
		w.nc.RemoveStatusListener(w.changes)
		close(w.done)
	})
}

// do runs fn with a context derived from ctx that is cancelled as soon as
// the connection is lost. A ctx without a deadline gets
// defaultPublishTimeout. fn's error is returned through classify.
func (w *watcher) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancelTimeout := withDefaultTimeout(ctx)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := w.onLost(func(err error) { cancel(err) })
	defer stop()
	// Checked after registering, so that no status change can slip between
	// the check and the watch.
	if err := checkConnected(w.nc); err != nil {
		return err
	}
	err := fn(ctx)
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrNotConnected) {
			return cause
		}
	}
	return classify(w.nc, err)
}
