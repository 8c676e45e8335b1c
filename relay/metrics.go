package relay

import (
	"context"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/redact"
)

// metrics are the relay's Prometheus metrics. Every label has a small, fixed
// set of values: event types, nack codes, transports; never ids or tenants'
// data. The children the event path uses on every event are resolved once.
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
	resumes         prometheus.Counter
	publishDuration *prometheus.HistogramVec // by result
	ackLatency      *prometheus.HistogramVec // by transport

	receivedBar, receivedIframe, receivedInvalid prometheus.Counter
	publishedBar, publishedIframe                prometheus.Counter
	publishedCall, publishedRejected             prometheus.Counter
	dupRelay, dupSink                            prometheus.Counter
	publishOK, publishError, ackWS, ackHTTP      prometheus.Observer
	codes                                        map[string]prometheus.Counter // rejected or retryable, by code
}

// observe records how long the sink took for one message.
func (m *metrics) observe(d time.Duration, err error) {
	if err != nil {
		m.publishError.Observe(d.Seconds())
	} else {
		m.publishOK.Observe(d.Seconds())
	}
}

// receivedType is the received counter of a valid event's type.
func (m *metrics) receivedType(typ string) prometheus.Counter {
	if typ == events.TypeIframeParams {
		return m.receivedIframe
	}
	return m.receivedBar
}

// publishedType is the published counter of an event's type.
func (m *metrics) publishedType(typ string) prometheus.Counter {
	if typ == events.TypeIframeParams {
		return m.publishedIframe
	}
	return m.publishedBar
}

// rejectedCode is the rejected counter of a code (retry:false).
func (m *metrics) rejectedCode(code string) prometheus.Counter {
	if c := m.codes[code]; c != nil && !retryable(code) {
		return c
	}
	return m.rejected.WithLabelValues(code)
}

// retryableCode is the retryable counter of a code (retry:true).
func (m *metrics) retryableCode(code string) prometheus.Counter {
	if c := m.codes[code]; c != nil && retryable(code) {
		return c
	}
	return m.retryable.WithLabelValues(code)
}

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
		resumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrelay_sink_resumes_total",
			Help: "Times the sink was available again after it was not, each time telling the WebSocket clients to resend (a resume frame).",
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
		m.connections, m.connClosed, m.received, m.published, m.rejected, m.retryable, m.authFailures,
		m.duplicates, m.unknownIDs, m.dedupEvictions, m.resumes, m.publishDuration, m.ackLatency,
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
	m.receivedBar, m.receivedIframe = m.received.WithLabelValues(events.TypeCallBarEvent), m.received.WithLabelValues(events.TypeIframeParams)
	m.receivedInvalid = m.received.WithLabelValues(typeInvalid)
	m.publishedBar, m.publishedIframe = m.published.WithLabelValues(events.TypeCallBarEvent), m.published.WithLabelValues(events.TypeIframeParams)
	m.publishedCall, m.publishedRejected = m.published.WithLabelValues(kindCall), m.published.WithLabelValues("rejected")
	m.dupRelay, m.dupSink = m.duplicates.WithLabelValues("relay"), m.duplicates.WithLabelValues("sink")
	m.publishOK, m.publishError = m.publishDuration.WithLabelValues("ok"), m.publishDuration.WithLabelValues("error")
	m.ackWS, m.ackHTTP = m.ackLatency.WithLabelValues("ws"), m.ackLatency.WithLabelValues("http")
	m.codes = map[string]prometheus.Counter{}
	for code, info := range codeTable {
		if info.status != 0 {
			continue
		}
		if info.retry {
			m.codes[code] = m.retryable.WithLabelValues(code)
		} else {
			m.codes[code] = m.rejected.WithLabelValues(code)
		}
	}
	return m, nil
}

// sinkReady asks the sink with a short deadline.
func sinkReady(s Sink, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Ready(ctx) == nil
}

// registerRedaction exposes the personal-data policy in force: its name and
// version as labels of an info gauge, and how many of its rules use each
// action. Both have a handful of series at most.
func registerRedaction(reg prometheus.Registerer, p *redact.Policy) error {
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_redaction_policy_info",
		Help: "The personal-data policy in force (always 1): its name and the version published messages carry.",
	}, []string{"policy", "version"})
	info.WithLabelValues(p.Name(), p.Version()).Set(1)
	rules := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_redaction_rules",
		Help: "Rules of the personal-data policy by action (params fields, the default for other params, agent.subject, talk, customer).",
	}, []string{"action"})
	counts := p.Counts()
	for _, a := range []redact.Action{redact.Keep, redact.Drop, redact.Mask, redact.Pseudonym} {
		rules.WithLabelValues(a.String()).Set(float64(counts[a]))
	}
	for _, c := range []prometheus.Collector{info, rules} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
