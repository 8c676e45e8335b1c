package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/sinks"
)

// Back-off between start-up attempts: from startupFirstWait, doubling, up
// to startupMaxWait, with a fifth of jitter so that replicas restarted
// together do not knock in step.
const (
	startupFirstWait = 250 * time.Millisecond
	startupMaxWait   = 5 * time.Second
	// startupAttemptTimeout bounds one look-up of the stream or buckets.
	startupAttemptTimeout = 10 * time.Second
)

// startup is the relay before NATS can take events (DESIGN §6): the HTTP
// address already listens, /healthz answers 200 (the process is alive and
// making progress), /readyz and everything else answer 503 with what the
// relay waits for, and /metrics serves the process's metrics. Each attempt
// to reach NATS is logged; only a wrong configuration ends the wait.
type startup struct {
	log    zerolog.Logger
	reason atomic.Pointer[string]
	srv    *http.Server
	done   chan struct{}
}

// startStartup serves the start-up answers on l until handOff.
func startStartup(l net.Listener, reg prometheus.Gatherer, log zerolog.Logger) *startup {
	st := &startup{log: log, done: make(chan struct{})}
	st.set("starting")
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStartupJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	if reg != nil { // nil: the metrics have a listener of their own (--metrics-addr)
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeStartupJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error": map[string]string{"code": "not_ready", "message": "the relay is starting: " + *st.reason.Load()},
		})
	})
	nosniff := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
	st.srv = &http.Server{Handler: nosniff, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	go func() {
		defer close(st.done)
		_ = st.srv.Serve(l)
	}()
	return st
}

func (st *startup) set(reason string) { st.reason.Store(&reason) }

// handOff stops the start-up answers; the listener it served stays open for
// the relay.
func (st *startup) handOff() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = st.srv.Shutdown(ctx)
	<-st.done
}

func writeStartupJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// errStopped ends a wait cut short by a signal.
var errStopped = errors.New("stopped while waiting for nats")

// wait runs attempt until it succeeds, returns an error sinks.Permanent
// calls permanent (then wrapped by flagHint, which names the flag to fix),
// or ctx ends (errStopped). Between attempts it backs off, says on /readyz
// what it waits for and logs each failed attempt.
func (st *startup) wait(ctx context.Context, what string, flagHint func(error) error, attempt func(context.Context) error) error {
	delay := startupFirstWait
	for n := 1; ; n++ {
		st.set("waiting for " + what)
		actx, cancel := context.WithTimeout(ctx, startupAttemptTimeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			if n > 1 {
				st.log.Info().Int("attempts", n).Msg(what + ": done")
			}
			return nil
		}
		if ctx.Err() != nil {
			return errStopped
		}
		if sinks.Permanent(err) {
			return flagHint(err)
		}
		next := jitter(delay)
		st.set(fmt.Sprintf("waiting for %s: attempt %d failed: %v; next in %s", what, n, err, next.Round(10*time.Millisecond)))
		st.log.Warn().Err(err).Int("attempt", n).Dur("retry_in", next).Msg("waiting for " + what)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStopped
		case <-t.C:
		}
		delay = min(2*delay, startupMaxWait)
	}
}

// jitter spreads d by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// handoffListener lets two HTTP servers, one after the other, serve one
// listening socket: a single goroutine accepts, and whichever view is open
// takes the connection. Closing a view does not close the socket (no
// connection is refused between the start-up answers and the relay), except
// for the last view, whose Close closes it.
type handoffListener struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{} // closed when accepting failed; err says why
	err   error
	stop  chan struct{}
	once  sync.Once
}

func newHandoffListener(ln net.Listener) *handoffListener {
	h := &handoffListener{ln: ln, conns: make(chan net.Conn), done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				h.err = err
				return
			}
			select {
			case h.conns <- c:
			case <-h.stop:
				_ = c.Close()
				h.err = net.ErrClosed
				return
			}
		}
	}()
	return h
}

// view returns a listener for one server; last makes its Close close the socket.
func (h *handoffListener) view(last bool) net.Listener {
	return &listenerView{h: h, closed: make(chan struct{}), last: last}
}

// close closes the socket and ends the accepting goroutine.
func (h *handoffListener) close() {
	h.once.Do(func() {
		close(h.stop)
		_ = h.ln.Close()
	})
}

type listenerView struct {
	h      *handoffListener
	closed chan struct{}
	once   sync.Once
	last   bool
}

func (v *listenerView) Accept() (net.Conn, error) {
	select {
	case c := <-v.h.conns:
		return c, nil
	case <-v.closed:
		return nil, net.ErrClosed
	case <-v.h.done:
		return nil, v.h.err
	}
}

func (v *listenerView) Close() error {
	v.once.Do(func() {
		close(v.closed)
		if v.last {
			v.h.close()
		}
	})
	return nil
}

func (v *listenerView) Addr() net.Addr { return v.h.ln.Addr() }
