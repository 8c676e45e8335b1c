package relay

import (
	"context"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
)

// metrics are the relay's Prometheus metrics. Every label has a small, fixed
// set of values: event types, nack codes, transports; never ids or tenants'
// data.
type metrics struct {
	connections     prometheus.Gauge
	connClosed      *prometheus.CounterVec // by reason
	received        *prometheus.CounterVec // by type
	published       *prometheus.CounterVec // by kind
	rejected        *prometheus.CounterVec // by code (retry:false)
	retryable       *prometheus.CounterVec // by code (retry:true)
	duplicates      *prometheus.CounterVec // by layer: relay (dedup window) or sink (JetStream)
	unknownIDs      prometheus.Counter
	authFailures    *prometheus.CounterVec // by reason
	dedupEvictions  prometheus.Counter
	publishDuration *prometheus.HistogramVec // by result
	ackLatency      *prometheus.HistogramVec // by transport

	// Correlation and the call view.
	correlation      *prometheus.CounterVec   // by result
	iframeSuppressed prometheus.Counter       // identical talk details not republished
	contentDups      prometheus.Counter       // the same vendor event from two hooks
	callsActive      *prometheus.GaugeVec     // by state
	callsTotal       *prometheus.CounterVec   // by direction
	agents           *prometheus.GaugeVec     // by state
	ringDuration     *prometheus.HistogramVec // by direction
	talkDuration     *prometheus.HistogramVec // by direction
	stateEvictions   *prometheus.CounterVec   // by kind
	stateErrors      *prometheus.CounterVec   // by op
}

// Label values of the correlation metrics, pre-created so that dashboards
// show zeros rather than gaps.
var (
	correlationResults = []string{"matched", "talk_first", "event_first", "unmatched"}
	directionLabels    = []string{"inbound", "outbound", "inquiry", "internal", "unknown"}
	stateOps           = []string{"get_call", "put_call", "get_agent", "put_agent", "claim_key", "commit_key", "release_key"}
)

// Labels of received events whose type could not be determined.
const typeInvalid = "invalid"

// kindCall labels the call views in callrelay_events_published_total.
const kindCall = "call"

func newMetrics(reg prometheus.Registerer, version string, sinkUp func() bool) (*metrics, error) {
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callrelay_connections",
			Help: "WebSocket connections currently open.",
		}),
		connClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_connections_closed_total",
			Help: "WebSocket connections closed, by reason.",
		}, []string{"reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_events_received_total",
			Help: "Events received from clients, by data.type (\"invalid\" when it could not be read).",
		}, []string{"type"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_events_published_total",
			Help: "Messages the sink took, by kind (callBarEvent, iframeParams, rejected, call).",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_events_rejected_total",
			Help: "Events refused for good (nack with retry:false), by code.",
		}, []string{"code"}),
		retryable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_events_retryable_total",
			Help: "Events answered with a retryable nack (retry:true), by code.",
		}, []string{"code"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_events_duplicate_total",
			Help: "Events acknowledged as duplicates and not published again, by the layer that caught them (relay, sink).",
		}, []string{"layer"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrelay_auth_failures_total",
			Help: "Clients refused for their token (only with token secrets), by reason.",
		}, []string{"reason"}),
		unknownIDs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrelay_unknown_message_ids_total",
			Help: "Accepted callBarEvents whose messageID is not one of the 14 documented ones.",
		}),
		dedupEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrelay_dedup_evictions_total",
			Help: "Event ids forgotten before the dedup window ended because the id cap was reached.",
		}),
		publishDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callrelay_publish_duration_seconds",
			Help:    "Time the sink took to take one message, by result (ok, error).",
			Buckets: latency,
		}, []string{"result"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callrelay_ack_latency_seconds",
			Help:    "Time from reading an event to writing its ack or nack, by transport (ws, http).",
			Buckets: latency,
		}, []string{"transport"}),
	}
	m.correlation = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_correlation_total",
		Help: "Calls by how their talk details (iframeParams) and phone-bar events met: matched when they met, with talk_first or event_first saying which came first (each counted once per call), unmatched when a call expired or was evicted before they met (in shared mode: per replica, for the calls it updated).",
	}, []string{"result"})
	m.iframeSuppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "callrelay_iframe_params_suppressed_total",
		Help: "iframeParams identical to the call's last published talk details (sign and timestamp aside), acknowledged as duplicates and not republished.",
	})
	m.contentDups = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "callrelay_content_duplicates_total",
		Help: "Phone-bar events whose vendor identity (companyId, messageID, creationTime, callID, ...) was already published under another event id (another tab's hook), acknowledged as duplicates.",
	})
	m.callsActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_calls_active",
		Help: "Calls held in the correlation state, by state. In shared mode each replica counts the calls it updated last: sum over instances.",
	}, []string{"state"})
	m.callsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_calls_total",
		Help: "Calls seen (counted once, on their first event), by direction (unknown when the first event had no callType).",
	}, []string{"direction"})
	m.agents = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_agents",
		Help: "Agents by their last agent-state event (logged_in, ready, not_ready, logged_out, unreachable). In shared mode each replica counts the agents it updated last: sum over instances.",
	}, []string{"state"})
	m.ringDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "callrelay_ring_duration_seconds",
		Help:    "Time from ringing to established (or to released/ended for unanswered calls), by the vendor's creationTime, by direction.",
		Buckets: []float64{1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 300},
	}, []string{"direction"})
	m.talkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "callrelay_talk_duration_seconds",
		Help:    "Time from established to released (or ended), by the vendor's creationTime, by direction.",
		Buckets: []float64{5, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200},
	}, []string{"direction"})
	m.stateEvictions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_state_evictions_total",
		Help: "Calls or agents dropped from the correlation state because the cap (--max-calls, --max-agents) was reached, by kind; expiries are not counted here.",
	}, []string{"kind"})
	m.stateErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_state_errors_total",
		Help: "Failed operations on the correlation state (a shared-state KV outage shows here), by operation.",
	}, []string{"op"})
	for _, c := range []prometheus.Collector{
		m.correlation, m.iframeSuppressed, m.contentDups, m.callsActive, m.callsTotal, m.agents,
		m.ringDuration, m.talkDuration, m.stateEvictions, m.stateErrors,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range correlationResults {
		m.correlation.WithLabelValues(r)
	}
	for _, d := range directionLabels {
		m.callsTotal.WithLabelValues(d)
	}
	for _, s := range events.CallStates() {
		m.callsActive.WithLabelValues(string(s))
	}
	for _, s := range events.AgentStates() {
		m.agents.WithLabelValues(string(s))
	}
	for _, k := range []string{"call", "agent"} {
		m.stateEvictions.WithLabelValues(k)
	}
	for _, op := range stateOps {
		m.stateErrors.WithLabelValues(op)
	}
	sinkUpGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callrelay_sink_up",
		Help: "1 when the sink can publish, 0 when it cannot.",
	}, func() float64 {
		if sinkUp() {
			return 1
		}
		return 0
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "callrelay_build_info",
		Help:        "Always 1; labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	for _, c := range []prometheus.Collector{
		m.connections, m.connClosed, m.received, m.published, m.rejected, m.retryable, m.authFailures,
		m.duplicates, m.unknownIDs, m.dedupEvictions, m.publishDuration, m.ackLatency,
		sinkUpGauge, buildInfo,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Pre-create the common series so dashboards show zeros, not gaps.
	for _, t := range []string{"iframeParams", "callBarEvent", typeInvalid} {
		m.received.WithLabelValues(t)
	}
	for _, k := range []string{"iframeParams", "callBarEvent", "rejected", kindCall} {
		m.published.WithLabelValues(k)
	}
	for _, l := range []string{"relay", "sink"} {
		m.duplicates.WithLabelValues(l)
	}
	return m, nil
}

// sinkReady asks the sink with a short deadline.
func sinkReady(s Sink, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Ready(ctx) == nil
}
