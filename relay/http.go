package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// batchTimeout bounds the handling of one POST batch; it is well below the
// HTTP server's WriteTimeout so that the answer can still be written.
const batchTimeout = 20 * time.Second

// batchRequest is the body of POST /v1/events.
type batchRequest struct {
	// Token is the client token when tokens are required and the client
	// cannot send an Authorization header (navigator.sendBeacon).
	Token  string            `json:"token"`
	Events []json.RawMessage `json:"events"`
}

// batchResponse answers POST /v1/events: one result per event, in order.
type batchResponse struct {
	Results []Result `json:"results"`
}

// errorBody is the JSON body of every HTTP error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// serveEvents handles POST /v1/events: a batch of event objects, handled in
// order, each answered with its ack or nack. It serves navigator.sendBeacon
// (which sends text/plain) and non-browser clients.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodOptions {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, CodeMethodNotAllowed, "use POST")
		return
	}
	if !s.origins.Allowed(r) {
		s.log.Warn().Str("path", r.URL.Path).Str("origin", r.Header.Get("Origin")).Msg("batch refused: origin not allowed")
		msg := "origin not allowed"
		if r.Header.Get("Origin") == "" {
			msg = "a request without an Origin header is refused; a non-browser client needs the relay started with --allow-no-origin"
		}
		writeError(w, CodeOriginNotAllowed, msg)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	receivedAt := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBatchBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.m.rejected.WithLabelValues(CodeBatchTooLarge).Inc()
			s.log.Warn().Int("limit", s.cfg.MaxBatchBytes).Msg("batch over the size limit")
			writeError(w, CodeBatchTooLarge, "the body is larger than the batch limit")
			return
		}
		s.log.Debug().Err(err).Msg("read batch body")
		writeError(w, CodeBatchInvalid, "the body could not be read")
		return
	}
	var req batchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || req.Events == nil {
		msg := `the body must be a JSON object {"events": [...]}`
		if err != nil {
			msg += ": " + jsonErrorText(err)
		}
		s.m.rejected.WithLabelValues(CodeBatchInvalid).Inc()
		s.log.Warn().Str("code", CodeBatchInvalid).Msg("batch refused")
		writeError(w, CodeBatchInvalid, msg)
		return
	}
	agentSubject, tenant := "", ""
	if s.tokens != nil {
		token := req.Token
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = strings.TrimSpace(h)
		}
		id, err := s.tokens.VerifyIdentity(token, time.Now())
		if err != nil {
			reason := tokenReason(err)
			s.m.authFailures.WithLabelValues(reason).Inc()
			s.log.Warn().Str("reason", reason).Msg("batch refused: token")
			writeError(w, CodeUnauthorized, err.Error())
			return
		}
		agentSubject, tenant = id.Subject, id.Tenant
	}
	if len(req.Events) > s.cfg.MaxBatchEvents {
		s.m.rejected.WithLabelValues(CodeBatchTooLarge).Inc()
		writeError(w, CodeBatchTooLarge, "too many events in one batch")
		return
	}
	log := s.log.With().Str("batch", newConnID()).Logger()
	// The whole batch must be answered well within the server's write
	// timeout; events still waiting when this runs out get a retryable nack.
	// The request's own cancellation is ignored: what was published must
	// also be remembered, even if the client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), batchTimeout)
	defer cancel()
	resp := batchResponse{Results: s.handleBatch(ctx, req.Events, agentSubject, tenant, receivedAt, log)}
	writeJSON(w, http.StatusOK, resp)
	s.m.ackHTTP.Observe(time.Since(receivedAt).Seconds())
}

// batch is the owner of one POST's slots: it is told when one completes.
type batch struct{ wake chan struct{} }

func (b *batch) notify() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// handleBatch starts every event of a batch in order while another
// goroutine finishes them in order (so that a repeated id, which waits for
// its first copy to be finished, does not wait for the whole batch), with
// the same order rule as a WebSocket connection: after an event answered
// with retry, the later ones are held too.
func (s *Server) handleBatch(ctx context.Context, raws []json.RawMessage, agentSubject, tenant string, receivedAt time.Time, log zerolog.Logger) []Result {
	p := s.p
	b := &batch{wake: make(chan struct{}, 1)}
	guard := &orderGuard{}
	results := make([]Result, len(raws))
	started := make(chan *slot, len(raws))
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		held, i := false, 0
		for sl := range started {
			for !sl.complete() {
				<-b.wake // the sink completes every message within its timeout
			}
			res := p.finish(sl, held, "http", log)
			if !res.Acked() && res.Retry && res.ID != "" {
				held = true
			}
			results[i] = res
			i++
			p.freeSlot(sl)
		}
	}()
	for _, raw := range raws {
		sl := p.newSlot(b, receivedAt)
		f, err := decodeFrame(raw, p.opts)
		if err != nil || (f.typ != "" && f.typ != frameEvent) {
			p.m.receivedInvalid.Inc()
			p.m.rejectedCode(CodeInvalidFrame).Inc()
			log.Warn().Str("code", CodeInvalidFrame).Msg("batch element is not an event object")
			_, echo, _ := parseID(f.id)
			answer(sl, nack(echo, CodeInvalidFrame, `each element of events must be an object {"id", "seenAt", "data"}`))
		} else if id, _, ok := parseID(f.id); ok && guard.failedAfter(0) {
			// An earlier event of the batch will be answered with retry:
			// this one is held, not published ahead of it.
			holdForOrder(p, sl, id)
		} else {
			sl.gen = 1 // a batch has one order generation: nothing after a retry answer is published
			p.start(ctx, incoming{f: &f, validUTF8: utf8.Valid(raw), via: "http", guard: guard, agentSubject: agentSubject, tenant: tenant, receivedAt: receivedAt}, sl, log)
			if sl.ready && sl.res.Retry && sl.res.ID != "" {
				guard.fail(1)
			}
		}
		started <- sl
		b.notify()
	}
	close(started)
	<-finished
	return results
}

// serveIndex answers GET /: where a person who opened the relay's address
// finds what it serves. (In demo mode cmd/relay sends / to /demo instead.)
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	paths := map[string]string{
		"/v1/ws":     "the browser hook's WebSocket (docs/protocol.md)",
		"/v1/events": "POST a batch of events (docs/protocol.md)",
		"/hook.js":   "the browser hook to include in the page that embeds the workbench",
		"/healthz":   "200 while the process runs",
		"/readyz":    "200 while NATS can take events",
	}
	if !s.noMetrics {
		paths["/metrics"] = "Prometheus metrics"
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": "callrelay", "version": s.cfg.Version, "paths": paths})
}

// serveHealth answers /healthz: the process is alive.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReady answers /readyz: ready while the sink can publish and the relay
// is not draining.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, CodeNotReady, "the relay is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.sink.Ready(ctx); err != nil {
		s.log.Debug().Err(err).Msg("not ready")
		writeError(w, CodeNotReady, "the sink is unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// nosniffValue is shared by every response: setting the header map's entry
// to it costs no allocation per request.
var nosniffValue = []string{"nosniff"}

// nosniff adds X-Content-Type-Options: nosniff to every response of h, so
// that no browser reads a JSON answer, the metrics or an error as a script
// or a page, whatever its Content-Type.
func nosniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniffValue
		h.ServeHTTP(w, r)
	})
}

// MetricsHandler serves g at /metrics alone, for a listener of its own
// (see WithoutMetrics): every other path is a JSON 404, and every response
// says nosniff.
func MetricsHandler(g prometheus.Gatherer, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(g, log))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, CodeNotFound, "this listener serves /metrics only")
	})
	return nosniff(mux)
}

// metricsHandler serves g in the Prometheus exposition format.
func metricsHandler(g prometheus.Gatherer, log zerolog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      httpErrorLog(log),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// writeError writes the JSON error body with the code's HTTP status.
func writeError(w http.ResponseWriter, code, message string) {
	status := codeTable[code].status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// httpErrorLog routes net/http's own error log into the logger.
func httpErrorLog(l zerolog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

type logWriter struct{ l zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
