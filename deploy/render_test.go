package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// Where the chart lives and how it is rendered in the tests.
const (
	chartDir         = "helm/callrelay"
	releaseName      = "relay"
	releaseNamespace = "contact"
)

// kubeVersion is the Kubernetes version the chart is rendered for: the oldest
// the chart supports (Chart.yaml kubeVersion), for the preStop sleep action.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}

// typed maps apiVersion/kind to a new typed object of that kind. A kind the
// chart renders that is not listed here fails the test.
var typed = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// rendered is the chart rendered with one set of values.
type rendered struct {
	// objects by "Kind/name".
	objects map[string]any
	// manifest is Helm's output, as `helm template` prints it.
	manifest string
	// notes is NOTES.txt rendered.
	notes string
}

// renderChart renders the chart as `helm template` does (Helm's install
// action, client only, dry run) with vals over the chart's values.yaml,
// which includes the check against values.schema.json.
func renderChart(vals map[string]any) (string, string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", "", fmt.Errorf("load chart: %w", err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.KubeVersion = kubeVersion
	install.APIVersions = chartutil.VersionSet{"monitoring.coreos.com/v1"}
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return "", "", err
	}
	return rel.Manifest, rel.Info.Notes, nil
}

// MustRender renders the chart with vals and decodes every object strictly.
func MustRender(tb testing.TB, vals map[string]any) rendered {
	tb.Helper()
	manifest, notes, err := renderChart(vals)
	if err != nil {
		tb.Fatalf("render chart: %v", err)
	}
	objs, err := decodeManifest(manifest)
	if err != nil {
		tb.Fatalf("%v\nmanifest:\n%s", err, manifest)
	}
	return rendered{objects: objs, manifest: manifest, notes: notes}
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifest decodes each YAML document of a manifest into its typed
// Kubernetes object, refusing duplicate keys, unknown fields and unknown
// kinds.
func decodeManifest(manifest string) (map[string]any, error) {
	objs := map[string]any{}
	for _, doc := range docSeparator.Split(manifest, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("not YAML: %w\n%s", err, doc)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(js, &head); err != nil {
			return nil, fmt.Errorf("read apiVersion and kind: %w\n%s", err, doc)
		}
		newObj, ok := typed[head.APIVersion+"/"+head.Kind]
		if !ok {
			return nil, fmt.Errorf("object of unexpected kind %s/%s:\n%s", head.APIVersion, head.Kind, doc)
		}
		obj := newObj()
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			return nil, fmt.Errorf("decode %s %s strictly: %w\n%s", head.Kind, head.Metadata.Name, err, doc)
		}
		key := head.Kind + "/" + head.Metadata.Name
		if _, dup := objs[key]; dup {
			return nil, fmt.Errorf("%s rendered twice", key)
		}
		objs[key] = obj
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// MustValues reads a values file from testdata.
func MustValues(tb testing.TB, name string) map[string]any {
	tb.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	vals, err := chartutil.ReadValues(data)
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return vals
}

// MustParseValues parses inline YAML values.
func MustParseValues(tb testing.TB, text string) map[string]any {
	tb.Helper()
	vals, err := chartutil.ReadValues([]byte(text))
	if err != nil {
		tb.Fatalf("values %q: %v", text, err)
	}
	return vals
}

// object returns the decoded object kind/name of r, typed as T.
func object[T any](tb testing.TB, r rendered, key string) T {
	tb.Helper()
	o, ok := r.objects[key]
	if !ok {
		keys := make([]string, 0, len(r.objects))
		for k := range r.objects {
			keys = append(keys, k)
		}
		tb.Fatalf("no %s among the rendered objects %v", key, keys)
	}
	t, ok := o.(T)
	if !ok {
		tb.Fatalf("%s is a %T", key, o)
	}
	return t
}
