package correlate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
)

// Operations on the state, the label of callrelay_state_errors_total.
const (
	opGetCall = iota
	opPutCall
	opGetAgent
	opPutAgent
	opClaimKey
	opCommitKey
	opReleaseKey
	numOps
)

var opNames = [numOps]string{"get_call", "put_call", "get_agent", "put_agent", "claim_key", "commit_key", "release_key"}

// directionLabels are the label values of a call's direction.
var directionLabels = []string{"inbound", "outbound", "inquiry", "internal", "unknown"}

// metrics are the correlation's metrics, with every child the event path
// uses resolved once, at start.
type metrics struct {
	matched, talkFirst, eventFirst, unmatched prometheus.Counter
	iframeSuppressed                          prometheus.Counter
	contentDups                               prometheus.Counter
	callsActive                               map[events.CallState]prometheus.Gauge
	callsTotal                                map[string]prometheus.Counter
	agents                                    map[events.AgentState]prometheus.Gauge
	ringDuration                              map[string]prometheus.Observer
	talkDuration                              map[string]prometheus.Observer
	callEvictions, agentEvictions             prometheus.Counter
	stateErrors                               [numOps]prometheus.Counter
	restoredCalls, restoredAgents             prometheus.Gauge
	restoredKeys, restoredIDs                 prometheus.Gauge
	restoredMessages, restoreSeconds          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	correlation := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_correlation_total",
		Help: "Calls by how their talk details (iframeParams) and phone-bar events met: matched when they met, with talk_first or event_first saying which came first (each counted once per call), unmatched when a call expired or was evicted before they met (in shared mode: per replica, for the calls it updated).",
	}, []string{"result"})
	iframeSuppressed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "callrelay_iframe_params_suppressed_total",
		Help: "iframeParams identical to the call's last published talk details (sign and timestamp aside), acknowledged as duplicates and not republished.",
	})
	contentDups := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "callrelay_content_duplicates_total",
		Help: "Phone-bar events whose vendor identity (companyId, messageID, creationTime, callID, ...) was already published under another event id (another tab's hook), acknowledged as duplicates.",
	})
	callsActive := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_calls_active",
		Help: "Calls held in the correlation state, by state. In shared mode each replica counts the calls it updated last: sum over instances.",
	}, []string{"state"})
	callsTotal := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_calls_total",
		Help: "Calls seen (counted once, on their first event), by direction (unknown when the first event had no callType).",
	}, []string{"direction"})
	agents := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_agents",
		Help: "Agents by their last agent-state event (logged_in, ready, not_ready, logged_out, unreachable). In shared mode each replica counts the agents it updated last: sum over instances.",
	}, []string{"state"})
	ringDuration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "callrelay_ring_duration_seconds",
		Help:    "Time from ringing to established (or to released/ended for unanswered calls), by the vendor's creationTime, by direction.",
		Buckets: []float64{1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 300},
	}, []string{"direction"})
	talkDuration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "callrelay_talk_duration_seconds",
		Help:    "Time from established to released (or ended), by the vendor's creationTime, by direction.",
		Buckets: []float64{5, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200},
	}, []string{"direction"})
	stateEvictions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_state_evictions_total",
		Help: "Calls or agents dropped from the correlation state because the cap (--max-calls, --max-agents) was reached, by kind; expiries are not counted here.",
	}, []string{"kind"})
	stateErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrelay_state_errors_total",
		Help: "Failed operations on the correlation state (a shared-state KV outage shows here), by operation.",
	}, []string{"op"})
	restored := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "callrelay_state_restored",
		Help: "What the relay restored at start from its stream (--state restore), by kind: call and agent (held after the replay), content_key, event_id, and message (read from the stream). 0 in the other modes.",
	}, []string{"kind"})
	restoreSeconds := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "callrelay_state_restore_duration_seconds",
		Help: "How long the restore of the state from the stream took at start (--state restore).",
	})
	for _, c := range []prometheus.Collector{
		correlation, iframeSuppressed, contentDups, callsActive, callsTotal, agents,
		ringDuration, talkDuration, stateEvictions, stateErrors, restored, restoreSeconds,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m := &metrics{
		matched:          correlation.WithLabelValues("matched"),
		talkFirst:        correlation.WithLabelValues("talk_first"),
		eventFirst:       correlation.WithLabelValues("event_first"),
		unmatched:        correlation.WithLabelValues("unmatched"),
		iframeSuppressed: iframeSuppressed,
		contentDups:      contentDups,
		callsActive:      map[events.CallState]prometheus.Gauge{},
		callsTotal:       map[string]prometheus.Counter{},
		agents:           map[events.AgentState]prometheus.Gauge{},
		ringDuration:     map[string]prometheus.Observer{},
		talkDuration:     map[string]prometheus.Observer{},
		callEvictions:    stateEvictions.WithLabelValues("call"),
		agentEvictions:   stateEvictions.WithLabelValues("agent"),
		restoredCalls:    restored.WithLabelValues("call"),
		restoredAgents:   restored.WithLabelValues("agent"),
		restoredKeys:     restored.WithLabelValues("content_key"),
		restoredIDs:      restored.WithLabelValues("event_id"),
		restoredMessages: restored.WithLabelValues("message"),
		restoreSeconds:   restoreSeconds,
	}
	for _, s := range events.CallStates() {
		m.callsActive[s] = callsActive.WithLabelValues(string(s))
	}
	for _, s := range events.AgentStates() {
		m.agents[s] = agents.WithLabelValues(string(s))
	}
	for _, d := range directionLabels {
		m.callsTotal[d] = callsTotal.WithLabelValues(d)
		m.ringDuration[d] = ringDuration.WithLabelValues(d)
		m.talkDuration[d] = talkDuration.WithLabelValues(d)
	}
	for op, name := range opNames {
		m.stateErrors[op] = stateErrors.WithLabelValues(name)
	}
	return m, nil
}

// directionLabel is the metric label of a direction.
func directionLabel(d events.Direction) string {
	if d == "" {
		return "unknown"
	}
	return string(d)
}

// callCommitted counts what a committed change of a call tells.
func (m *metrics) callCommitted(rec *events.CallRecord, ch events.CallChange) {
	dir := directionLabel(rec.Direction)
	if rec.Revision == 1 {
		m.callsTotal[dir].Inc()
	}
	if ch.Met {
		m.matched.Inc()
		if ch.TalkFirst {
			m.talkFirst.Inc()
		} else {
			m.eventFirst.Inc()
		}
	}
	if ch.RingKnown {
		m.ringDuration[dir].Observe(ch.Ring.Seconds())
	}
	if ch.TalkKnown {
		m.talkDuration[dir].Observe(ch.Talk.Seconds())
	}
}

// restored records what a Replay restored and how long it took.
func (m *metrics) restored(st ReplayStats, took time.Duration) {
	m.restoredCalls.Set(float64(st.Calls))
	m.restoredAgents.Set(float64(st.Agents))
	m.restoredKeys.Set(float64(st.ContentKeys))
	m.restoredIDs.Set(float64(st.EventIDs))
	m.restoredMessages.Set(float64(st.Messages))
	m.restoreSeconds.Set(took.Seconds())
}

// hooks keeps the gauges from the memory state's changes.
func (m *metrics) hooks() stateHooks {
	return stateHooks{
		callChanged: func(from, to events.CallState) {
			if from == to {
				return
			}
			if g := m.callsActive[from]; g != nil {
				g.Dec()
			}
			if g := m.callsActive[to]; g != nil {
				g.Inc()
			}
		},
		callRemoved: func(rec *events.CallRecord, evicted bool) {
			if g := m.callsActive[rec.State]; g != nil {
				g.Dec()
			}
			if !rec.Met() {
				m.unmatched.Inc()
			}
			if evicted {
				m.callEvictions.Inc()
			}
		},
		agentChanged: func(from, to events.AgentState) {
			if from == to {
				return
			}
			if g := m.agents[from]; g != nil {
				g.Dec()
			}
			if g := m.agents[to]; g != nil {
				g.Inc()
			}
		},
		agentRemoved: func(rec *events.AgentRecord, evicted bool) {
			if g := m.agents[rec.State]; g != nil {
				g.Dec()
			}
			if evicted {
				m.agentEvictions.Inc()
			}
		},
	}
}
