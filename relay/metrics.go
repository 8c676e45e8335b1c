package relay

import (
	"context"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	dedupEvictions  prometheus.Counter
	publishDuration *prometheus.HistogramVec // by result
	ackLatency      *prometheus.HistogramVec // by transport
}

// Labels of received events whose type could not be determined.
const typeInvalid = "invalid"

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
			Help: "Messages the sink took, by kind (callBarEvent, iframeParams, rejected).",
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
		m.connections, m.connClosed, m.received, m.published, m.rejected, m.retryable,
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
	for _, k := range []string{"iframeParams", "callBarEvent", "rejected"} {
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
