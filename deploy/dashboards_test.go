package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const dashboardDir = "../grafana/dashboards"

// The dashboards issue 5 asks for, by file.
var wantDashboards = map[string]string{
	"relay-health.json":     "callrelay: relay health",
	"calls-and-agents.json": "callrelay: calls and agents",
}

// dashboard is the part of Grafana's dashboard JSON model the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource map[string]string `json:"datasource"`
	Panels     []panel           `json:"panels"` // of a collapsed row
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// query is one PromQL expression of a panel or an alert rule.
type query struct {
	where string // "dashboard / panel / refId" or "alert name"
	expr  string // as written, with Grafana's variables
}

// MustDashboards reads every dashboard of grafana/dashboards.
func MustDashboards(tb testing.TB) map[string]dashboard {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// queries returns every query of the dashboard's panels, rows included.
func (d dashboard) queries() []query {
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, query{where: fmt.Sprintf("%s / %s / %s", d.Title, p.Title, t.RefID), expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Grafana's variables, replaced before an expression is parsed or sent to
// Prometheus. instanceMark lets the test find the instance matcher.
const instanceMark = "instance-variable"

func expand(expr, instance string) string {
	return strings.NewReplacer(
		"${instance}", instance, "$instance", instance,
		"$__rate_interval", "1m", "$__interval", "15s", "$__range", "1h",
	).Replace(expr)
}

// promql is Prometheus's PromQL parser with its default options: no
// experimental functions, which the Prometheus the dashboards run on may lack.
var promql = parser.NewParser(parser.Options{})

// metricNames returns the metric names an expression reads.
func metricNames(expr parser.Expr) []string {
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" && !slices.Contains(names, vs.Name) {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// Both dashboards exist, with the datasource and instance variables, and
// every panel reads from the datasource variable with a PromQL expression
// that parses and filters on the instance variable.
func TestDashboardsAreWellFormed(t *testing.T) {
	boards := MustDashboards(t)
	for file, title := range wantDashboards {
		if d, ok := boards[file]; !ok || d.Title != title {
			t.Errorf("dashboard %s: got title %q, want %q", file, d.Title, title)
		}
	}
	uids := map[string]string{}
	for file, d := range boards {
		t.Run(file, func(t *testing.T) {
			if other, dup := uids[d.UID]; dup || d.UID == "" {
				t.Errorf("uid %q is empty or also used by %s", d.UID, other)
			}
			uids[d.UID] = file
			var vars []string
			for _, v := range d.Templating.List {
				vars = append(vars, v.Type+":"+v.Name)
			}
			if !slices.Contains(vars, "datasource:datasource") || !slices.Contains(vars, "query:instance") {
				t.Errorf("variables: got %v, want a datasource variable and an instance query variable", vars)
			}
			var walk func([]panel)
			walk = func(ps []panel) {
				for _, p := range ps {
					if p.Type != "row" {
						if p.Datasource["uid"] != "${datasource}" {
							t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
						}
						if len(p.Targets) == 0 {
							t.Errorf("panel %q has no query", p.Title)
						}
					}
					walk(p.Panels)
				}
			}
			walk(d.Panels)
			qs := d.queries()
			if len(qs) < 8 {
				t.Errorf("got %d queries, want a dashboard's worth", len(qs))
			}
			for _, q := range qs {
				expr, err := promql.ParseExpr(expand(q.expr, instanceMark))
				if err != nil {
					t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
					continue
				}
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					vs, ok := n.(*parser.VectorSelector)
					if !ok {
						return nil
					}
					for _, m := range vs.LabelMatchers {
						if m.Name == "instance" && m.Value == instanceMark {
							return nil
						}
					}
					t.Errorf("%s: selector %s does not filter on $instance", q.where, vs)
					return nil
				})
			}
		})
	}
}

// The provisioning files are valid YAML that name the dashboards' folder
// and a Prometheus data source.
func TestGrafanaProvisioning(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"../grafana/provisioning/dashboards/callrelay.yaml", "/var/lib/grafana/dashboards/callrelay"},
		{"../grafana/provisioning/datasources/prometheus.yaml", "type: prometheus"},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil || v["apiVersion"] != float64(1) {
			t.Errorf("%s: apiVersion %v, %v; want 1", tc.file, v["apiVersion"], err)
		}
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s lacks %q", tc.file, tc.want)
		}
	}
}

// alertQueries returns the expressions of the chart's PrometheusRule.
func alertQueries(tb testing.TB) []query {
	tb.Helper()
	r := MustRender(tb, MustParseValues(tb, "metrics: {prometheusRule: {enabled: true}}"))
	rule := object[*monitoringv1.PrometheusRule](tb, r, "PrometheusRule/relay-callrelay")
	var out []query
	for _, g := range rule.Spec.Groups {
		for _, rl := range g.Rules {
			out = append(out, query{where: "alert " + rl.Alert, expr: rl.Expr.String()})
		}
	}
	return out
}

// Every alert rule of the chart parses.
func TestAlertRulesParse(t *testing.T) {
	qs := alertQueries(t)
	if len(qs) < 8 {
		t.Fatalf("got %d alert rules", len(qs))
	}
	for _, q := range qs {
		if _, err := promql.ParseExpr(q.expr); err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
		}
	}
}

// missingMetrics returns the metric names the queries read that are not in
// exposed, sorted, each with the first query that reads it. Histogram
// series (_bucket, _sum, _count) appear in exposed under those names.
func missingMetrics(qs []query, exposed map[string]bool) map[string]string {
	missing := map[string]string{}
	for _, q := range qs {
		expr, err := promql.ParseExpr(expand(q.expr, ".*"))
		if err != nil {
			missing["(unparsable) "+q.expr] = q.where
			continue
		}
		for _, name := range metricNames(expr) {
			if name == "up" { // Prometheus's own, per target
				continue
			}
			if !exposed[name] {
				if _, seen := missing[name]; !seen {
					missing[name] = q.where
				}
			}
		}
	}
	return missing
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
