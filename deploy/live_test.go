package deploy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The dashboards and the alert rules read only metrics a running relay
// exposes, and a real Prometheus scraping that relay answers every panel's
// query with data.
//
// The relay under test publishes to the embedded NATS of a second relay, as
// it would to an external cluster. It takes a realistic stretch of calls
// over WebSocket and POST (with a duplicate and a refused event), then the
// NATS server goes away, so that the outage's metrics (retryable nacks, sink
// down) exist too.
func TestDashboardsAgainstARunningRelay(t *testing.T) {
	bin := MustBuildRelay(t)
	natsHost := StartRelay(t, bin)
	r := StartRelay(t, bin, "--nats-url", natsHost.nats)
	prom := StartPrometheus(t, strings.TrimPrefix(r.http, "http://"))
	prom.WaitQuery(t, `up{job="callrelay"} == 1`, 30*time.Second)

	ws, post, dup := callFlows()
	answers := PlayWebSocket(t, r, ws, dup)
	for i, f := range ws[:len(ws)-1] {
		if got := answers[f.ID]; len(got) == 0 || got[0].Type != "ack" || got[0].Status != "published" {
			t.Errorf("event %d (%s): got %+v, want published", i, f.Data, got)
		}
	}
	if got := answers[ws[dup].ID]; len(got) != 2 || got[0].Status != "published" || got[1].Status != "duplicate" {
		t.Errorf("resent event: got %+v, want published then duplicate", got)
	}
	invalid := answers[ws[len(ws)-1].ID]
	if len(invalid) != 1 || invalid[0].Type != "nack" || invalid[0].Retry {
		t.Errorf("invalid event: got %+v, want a nack with retry:false", invalid)
	}
	for _, a := range Post(t, r, post) {
		if a.Type != "ack" {
			t.Errorf("POST: got %+v, want an ack", a)
		}
	}

	// NATS goes away: the relay says so and asks for the event again later.
	natsHost.Stop(t)
	WaitMetric(t, r, "callrelay_sink_up 0", 30*time.Second)
	if got := Post(t, r, []frame{barEvent("EventAgentReady", "", nil)}); len(got) != 1 || got[0].Type != "nack" || !got[0].Retry {
		t.Errorf("event while NATS is down: got %+v, want a nack with retry:true", got)
	}
	exposed := exposedNames(r.Metrics(t))

	boards := MustDashboards(t)
	sources := map[string][]query{"alert rules": alertQueries(t)}
	for file, d := range boards {
		sources[file] = d.queries()
	}
	t.Run("metrics exposed", func(t *testing.T) {
		for name, qs := range sources {
			t.Run(name, func(t *testing.T) {
				missing := missingMetrics(qs, exposed)
				if len(missing) == 0 {
					return
				}
				var lines []string
				for _, m := range sortedKeys(missing) {
					lines = append(lines, fmt.Sprintf("  %s (first read by %s)", m, missing[m]))
				}
				t.Errorf("%d metric names are not exposed by the running relay:\n%s", len(missing), strings.Join(lines, "\n"))
			})
		}
	})

	// Let Prometheus scrape the outage, then ask it every panel's query.
	prom.WaitQuery(t, `callrelay_sink_up == 0`, 15*time.Second)
	// rate() needs two samples of a series in its range: wait for three of
	// the newest one, the retryable nacks of the outage.
	prom.WaitQuery(t, `count_over_time(callrelay_events_retryable_total[1m]) >= 3`, 20*time.Second)
	t.Run("prometheus", func(t *testing.T) {
		for file, d := range boards {
			t.Run(file, func(t *testing.T) {
				var empty []string
				for _, q := range d.queries() {
					samples, err := prom.Query(expand(q.expr, ".*"))
					switch {
					case err != nil:
						t.Errorf("%s: %v\n  %s", q.where, err, q.expr)
					case len(samples) == 0:
						why := ""
						if m := missingMetrics([]query{q}, exposed); len(m) > 0 {
							why = " (the relay does not expose " + strings.Join(sortedKeys(m), ", ") + ")"
						}
						empty = append(empty, fmt.Sprintf("  %s%s", q.where, why))
					}
				}
				if len(empty) > 0 {
					t.Errorf("%d queries returned no data:\n%s", len(empty), strings.Join(empty, "\n"))
				}
			})
		}
	})
}
