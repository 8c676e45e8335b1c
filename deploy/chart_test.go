package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// relayEnv is every RELAY_* variable of `relay serve` (README,
// "Configuration"), with the flags being added for the call state, the
// demo and the workbench origins. The chart's ConfigMap may set no other.
var relayEnv = []string{
	"RELAY_ADDR", "RELAY_NATS_URL", "RELAY_NATS_LISTEN", "RELAY_DATA_DIR", "RELAY_SINK",
	"RELAY_SUBJECT_PREFIX", "RELAY_TENANT", "RELAY_STREAM", "RELAY_STREAM_MAX_AGE",
	"RELAY_STREAM_REPLICAS", "RELAY_ALLOWED_ORIGINS", "RELAY_ALLOW_NO_ORIGIN",
	"RELAY_MAX_MESSAGE_BYTES", "RELAY_MAX_BATCH_BYTES", "RELAY_STRICT_MESSAGE_IDS",
	"RELAY_DEDUP_WINDOW", "RELAY_PUBLISH_TIMEOUT", "RELAY_SHUTDOWN_TIMEOUT", "RELAY_LOG_LEVEL",
	"RELAY_WORKBENCH_ORIGINS", "RELAY_DEMO", "RELAY_DEMO_WORKBENCH_ADDR", "RELAY_STATE",
	"RELAY_STATE_BUCKET", "RELAY_CALL_ENDED_TTL", "RELAY_CALL_IDLE_TTL", "RELAY_MAX_CALLS",
	"RELAY_MAX_AGENTS", "RELAY_REDACTION", "RELAY_RATE_LIMIT", "RELAY_RATE_BURST",
	"RELAY_MAX_CONNECTIONS", "RELAY_MAX_TALK_BYTES", "RELAY_MAX_CLOCK_SKEW", "RELAY_MAX_STATE_BYTES",
	"RELAY_STREAM_MAX_BYTES", "RELAY_DRAIN_GRACE", "RELAY_TOKEN_AUDIENCE", "RELAY_TOKEN_ISSUER",
	"RELAY_TOKEN_TENANT_CLAIM", "RELAY_REQUIRE_TENANT_CLAIM", "RELAY_SOBOT_SIGN", "RELAY_SOBOT_SYSNUM",
	"RELAY_SOBOT_SIGN_WINDOW",
}

// helm lint passes without warnings, with the default values and with every
// optional part on.
func TestChartLints(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
	}{
		{"defaults", nil},
		{"everything on", MustValues(t, "values-full.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			linter := lint.AllWithKubeVersion(chartDir, tc.vals, releaseNamespace, kubeVersion)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// The default values render the relay against the external NATS, with two
// pods sharing their state, a restricted pod, and the probes and drain the
// relay needs.
func TestChartDefaults(t *testing.T) {
	r := MustRender(t, nil)
	name := "relay-callrelay"
	for _, key := range []string{"ConfigMap/", "Deployment/", "Service/", "ServiceAccount/", "PodDisruptionBudget/"} {
		object[any](t, r, key+name)
	}
	for _, absent := range []string{"Ingress/", "ServiceMonitor/", "PrometheusRule/", "HorizontalPodAutoscaler/", "NetworkPolicy/", "Secret/"} {
		if _, ok := r.objects[absent+name]; ok {
			t.Errorf("%s is rendered by default", absent+name)
		}
	}

	cm := object[*corev1.ConfigMap](t, r, "ConfigMap/"+name)
	for k, want := range map[string]string{
		"RELAY_ADDR":             "0.0.0.0:8080",
		"RELAY_DEMO":             "off",
		"RELAY_NATS_URL":         "nats://nats:4222",
		"RELAY_STATE":            "shared",
		"RELAY_SINK":             "jetstream",
		"RELAY_SHUTDOWN_TIMEOUT": "20s",
		"RELAY_DEDUP_WINDOW":     "10m",
		"RELAY_MAX_BATCH_BYTES":  "1048576",
	} {
		if got := cm.Data[k]; got != want {
			t.Errorf("ConfigMap %s: got %q, want %q", k, got, want)
		}
	}
	checkConfigMapKeys(t, cm, nil)

	d := object[*appsv1.Deployment](t, r, "Deployment/"+name)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas: got %v, want 2", d.Spec.Replicas)
	}
	checkPod(t, d, 20)
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != name {
		t.Errorf("envFrom: got %+v, want the ConfigMap only", c.EnvFrom)
	}

	pdb := object[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget/"+name)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable: got %v, want 1", pdb.Spec.MaxUnavailable)
	}
	svc := object[*corev1.Service](t, r, "Service/"+name)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports: got %+v, want one to the http port", svc.Spec.Ports)
	}
	if !strings.Contains(r.notes, `<script src="https://<host>/hook.js" data-relay="wss://<host>/v1/ws" async></script>`) {
		t.Errorf("NOTES.txt lacks the script tag:\n%s", r.notes)
	}
	if !strings.Contains(r.notes, "relay.allowedOrigins is empty") || !strings.Contains(r.notes, "relay.workbenchOrigins is empty") {
		t.Errorf("NOTES.txt does not warn about the empty origin lists:\n%s", r.notes)
	}
}

// Every optional part on: Ingress with WebSocket timeouts, ServiceMonitor,
// PrometheusRule, HPA, NetworkPolicy, PDB, the chart's Secret and an
// existing one.
func TestChartEverythingOn(t *testing.T) {
	r := MustRender(t, MustValues(t, "values-full.yaml"))
	name := "relay-callrelay"

	cm := object[*corev1.ConfigMap](t, r, "ConfigMap/"+name)
	for k, want := range map[string]string{
		"RELAY_ALLOWED_ORIGINS":      "https://crm.example.com,https://*.example.com",
		"RELAY_WORKBENCH_ORIGINS":    "https://www.sobot.com",
		"RELAY_STREAM_REPLICAS":      "3",
		"RELAY_SUBJECT_PREFIX":       "acme.calls",
		"RELAY_STATE":                "shared",
		"RELAY_STATE_BUCKET":         "ACME_CALLS_STATE",
		"RELAY_MAX_CALLS":            "50000",
		"RELAY_STRICT_MESSAGE_IDS":   "true",
		"RELAY_SHUTDOWN_TIMEOUT":     "25s",
		"RELAY_FUTURE_SETTING":       "on",
		"RELAY_RATE_LIMIT":           "20",
		"RELAY_RATE_BURST":           "200",
		"RELAY_MAX_CONNECTIONS":      "4000",
		"RELAY_MAX_TALK_BYTES":       "4096",
		"RELAY_MAX_CLOCK_SKEW":       "1h",
		"RELAY_MAX_STATE_BYTES":      "134217728",
		"RELAY_STREAM_MAX_BYTES":     "0",
		"RELAY_DRAIN_GRACE":          "2s",
		"RELAY_TOKEN_AUDIENCE":       "callrelay",
		"RELAY_TOKEN_ISSUER":         "https://crm.example.com",
		"RELAY_TOKEN_TENANT_CLAIM":   "contact_centre",
		"RELAY_REQUIRE_TENANT_CLAIM": "true",
		"RELAY_SOBOT_SIGN":           "require",
		"RELAY_SOBOT_SYSNUM":         "10027",
		"RELAY_SOBOT_SIGN_WINDOW":    "5m",
	} {
		if got := cm.Data[k]; got != want {
			t.Errorf("ConfigMap %s: got %q, want %q", k, got, want)
		}
	}
	if _, ok := cm.Data["RELAY_NATS_URL"]; ok {
		t.Error("ConfigMap has RELAY_NATS_URL although nats.url is empty (it comes from the Secret)")
	}
	checkConfigMapKeys(t, cm, []string{"RELAY_FUTURE_SETTING"})

	sec := object[*corev1.Secret](t, r, "Secret/"+name)
	if !strings.HasPrefix(sec.StringData["RELAY_NATS_URL"], "nats://relay:") {
		t.Errorf("Secret RELAY_NATS_URL: got %q", sec.StringData["RELAY_NATS_URL"])
	}
	if strings.Contains(cm.String(), "s3cret") {
		t.Error("the NATS password is in the ConfigMap")
	}

	d := object[*appsv1.Deployment](t, r, "Deployment/"+name)
	if d.Spec.Replicas != nil {
		t.Errorf("replicas: got %d, want none (the HPA owns it)", *d.Spec.Replicas)
	}
	checkPod(t, d, 25)
	if got := *d.Spec.Template.Spec.TerminationGracePeriodSeconds; got != 60 {
		t.Errorf("terminationGracePeriodSeconds: got %d, want the value 60", got)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/callrelay:1.4.2" {
		t.Errorf("image: got %q", c.Image)
	}
	var refs []string
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			refs = append(refs, "cm:"+e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			refs = append(refs, "secret:"+e.SecretRef.Name)
		}
	}
	if want := []string{"cm:" + name, "secret:" + name, "secret:callrelay-nats"}; !slices.Equal(refs, want) {
		t.Errorf("envFrom: got %v, want %v (secrets after the ConfigMap, so they win)", refs, want)
	}

	ing := object[*networkingv1.Ingress](t, r, "Ingress/"+name)
	for k, want := range map[string]string{
		"nginx.ingress.kubernetes.io/proxy-read-timeout": "7200",
		"nginx.ingress.kubernetes.io/proxy-send-timeout": "7200",
		"nginx.ingress.kubernetes.io/proxy-body-size":    "1025k",
		"cert-manager.io/cluster-issuer":                 "letsencrypt",
	} {
		if got := ing.Annotations[k]; got != want {
			t.Errorf("Ingress annotation %s: got %q, want %q", k, got, want)
		}
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" ||
		len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "relay-example-com-tls" {
		t.Errorf("Ingress class or TLS: got %+v", ing.Spec)
	}
	var paths []string
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		paths = append(paths, p.Path)
	}
	if !slices.Equal(paths, []string{"/v1", "/hook.js"}) {
		t.Errorf("Ingress paths: got %v, want /v1 and /hook.js only (metrics stay inside)", paths)
	}

	sm := object[*monitoringv1.ServiceMonitor](t, r, "ServiceMonitor/"+name)
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints: got %+v", sm.Spec.Endpoints)
	}
	if sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels: got %v", sm.Labels)
	}
	rule := object[*monitoringv1.PrometheusRule](t, r, "PrometheusRule/"+name)
	if len(rule.Spec.Groups) != 1 || len(rule.Spec.Groups[0].Rules) < 8 {
		t.Errorf("PrometheusRule: got %+v", rule.Spec.Groups)
	}

	hpa := object[*autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler/"+name)
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 12 || len(hpa.Spec.Metrics) != 2 {
		t.Errorf("HPA: got %+v", hpa.Spec)
	}
	np := object[*networkingv1.NetworkPolicy](t, r, "NetworkPolicy/"+name)
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 2 || len(np.Spec.Egress) != 2 ||
		np.Spec.Egress[0].Ports[0].Port.IntValue() != 4222 || len(np.Spec.Egress[0].To) != 1 {
		t.Errorf("NetworkPolicy: got %+v", np.Spec)
	}
	object[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget/"+name)

	for _, want := range []string{
		`<script src="https://relay.example.com/hook.js" data-relay="wss://relay.example.com/v1/ws" async></script>`,
		"acme.calls.shop-1.callBarEvent.<messageID>",
		"acme.calls.shop-1.iframeParams",
		"acme.calls.shop-1.call ",
		"acme.calls.shop-1.rejected",
		"JetStream stream ACME_CALLS",
	} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, r.notes)
		}
	}
}

// One pod alone keeps its state in memory, restored from the stream at
// start; the chart then says restore.
func TestChartSingleReplica(t *testing.T) {
	r := MustRender(t, MustParseValues(t, "replicaCount: 1\npodDisruptionBudget: {enabled: false}"))
	cm := object[*corev1.ConfigMap](t, r, "ConfigMap/relay-callrelay")
	if got := cm.Data["RELAY_STATE"]; got != "restore" {
		t.Errorf("RELAY_STATE: got %q, want restore", got)
	}
}

// Settings that cannot work fail the rendering with a message that says
// what to change.
func TestChartRefusesBadCombinations(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"memory state with two pods", "replicaCount: 2\nrelay: {state: memory}", `relay.state is "memory" but replicaCount is 2`},
		{"restore state with two pods", "replicaCount: 2\nrelay: {state: restore}", `relay.state is "restore" but replicaCount is 2`},
		{"memory state with autoscaling", "replicaCount: 1\nautoscaling: {enabled: true}\nrelay: {state: memory}", "autoscaling.enabled: true"},
		{"shared state on core NATS", "relay: {sink: nats}", `it needs relay.sink "jetstream"`},
		{"no NATS", "nats: {url: \"\"}", "nats.url is required"},
		{"grace shorter than the drain", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds 20 must be larger"},
		{"ingress without host", "ingress: {enabled: true}", "ingress.host is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := renderChart(MustParseValues(t, tc.values))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// values.schema.json rejects values of the wrong type or shape before
// anything is rendered.
func TestChartSchemaRejectsWrongValues(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"replicas as text", `replicaCount: "two"`, "replicaCount"},
		{"origins as one string", `relay: {allowedOrigins: "https://crm.example.com"}`, "allowedOrigins"},
		{"every origin", `relay: {allowedOrigins: ["*"]}`, "allowedOrigins"},
		{"port as text", `service: {port: "http"}`, "port"},
		{"boolean as text", `ingress: {enabled: "yes"}`, "enabled"},
		{"unknown log level", `relay: {logLevel: verbose}`, "logLevel"},
		{"too many stream replicas", `relay: {streamReplicas: 7}`, "streamReplicas"},
		{"duration in words", `relay: {dedupWindow: ten minutes}`, "dedupWindow"},
		{"unknown state", `relay: {state: redis}`, "state"},
		{"tenant with a dot", `relay: {tenant: a.b}`, "tenant"},
		{"misspelt value", `replicas: 3`, "replicas"},
		{"secret that is not a relay variable", `secretEnv: {PASSWORD: x}`, "PASSWORD"},
		{"unknown sign mode", `relay: {sobotSign: strict}`, "sobotSign"},
		{"negative rate", `relay: {rateLimit: -1}`, "rateLimit"},
		{"stream cap in words", `relay: {streamMaxBytes: 1GiB}`, "streamMaxBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := renderChart(MustParseValues(t, tc.values))
			if err == nil {
				t.Fatalf("values %s rendered, want a schema error", tc.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a schema error naming %q", err, tc.want)
			}
		})
	}
}

// checkPod checks what every rendering must give the relay's pod: the
// restricted security context, the probes, and a drain that fits in the
// grace period.
func checkPod(t *testing.T, d *appsv1.Deployment, shutdownSeconds int64) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	psc, sc := spec.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("pod: runAsNonRoot is not set")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("pod: seccomp is not RuntimeDefault")
	case sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container: runAsNonRoot is not set")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container: root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container: privilege escalation allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("container: capabilities %+v, want drop ALL", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container: seccomp is not RuntimeDefault")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it never uses")
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe: got %+v, want GET /readyz", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe: got %+v, want GET /healthz", c.LivenessProbe)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" {
		t.Errorf("ports: got %+v, want http 8080", c.Ports)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: got %+v, want a CPU request and a memory limit", c.Resources)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatalf("preStop: got %+v, want a sleep", c.Lifecycle)
	}
	sleep := c.Lifecycle.PreStop.Sleep.Seconds
	grace := spec.TerminationGracePeriodSeconds
	if grace == nil || *grace <= sleep+shutdownSeconds {
		t.Errorf("terminationGracePeriodSeconds %v is not above preStop %ds + shutdown %ds", grace, sleep, shutdownSeconds)
	}
	var tmp bool
	for _, m := range c.VolumeMounts {
		tmp = tmp || m.MountPath == "/tmp"
	}
	if !tmp {
		t.Error("no writable /tmp under the read-only root filesystem")
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a changed ConfigMap would not roll the pods")
	}
}

// checkConfigMapKeys fails on a RELAY_* variable the relay does not know.
func checkConfigMapKeys(t *testing.T, cm *corev1.ConfigMap, extra []string) {
	t.Helper()
	for k := range cm.Data {
		if !slices.Contains(relayEnv, k) && !slices.Contains(extra, k) {
			t.Errorf("ConfigMap sets %s, which is no relay setting", k)
		}
	}
}

// Every variable the chart may set is one the README documents for
// `relay serve`, so that a misspelt name cannot pass unnoticed.
func TestRelayEnvIsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range relayEnv {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("%s is not in the README's table of flags", name)
		}
	}
}
