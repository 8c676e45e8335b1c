{{/* Chart name, truncated to the 63 characters of a label. */}}
{{- define "callrelay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name + chart name, unless the release name already holds it. */}}
{{- define "callrelay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "callrelay.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "callrelay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the relay's pods. */}}
{{- define "callrelay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callrelay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "callrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "callrelay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, or repository:tag (the appVersion by default). */}}
{{- define "callrelay.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* More than one pod may run at once. */}}
{{- define "callrelay.multiReplica" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}true{{ end }}
{{- end }}

{{/* The relay's --state: the value, or derived from the number of pods; memory with several pods fails. */}}
{{- define "callrelay.state" -}}
{{- $multi := include "callrelay.multiReplica" . }}
{{- $state := .Values.relay.state }}
{{- if not $state }}
{{- $state = ternary "shared" "restore" (eq $multi "true") }}
{{- end }}
{{- if and (or (eq $state "memory") (eq $state "restore")) (eq $multi "true") }}
{{- fail (printf "relay.state is %q but replicaCount is %d (autoscaling.enabled: %t): several relay pods must share their call state in NATS; set relay.state to \"shared\" (or leave it empty), or run one replica without autoscaling" $state (int .Values.replicaCount) .Values.autoscaling.enabled) }}
{{- end }}
{{- if and (eq $state "shared") (ne .Values.relay.sink "jetstream") }}
{{- fail "relay.state \"shared\" keeps the call state in JetStream key-value buckets: it needs relay.sink \"jetstream\"" }}
{{- end }}
{{- $state }}
{{- end }}

{{/* Host name browsers use. */}}
{{- define "callrelay.publicHost" -}}
{{- default .Values.ingress.host .Values.publicHost }}
{{- end }}

{{/* terminationGracePeriodSeconds: derived, or the value when it leaves the relay time to drain. */}}
{{- define "callrelay.terminationGrace" -}}
{{- $need := add (int .Values.preStopSleepSeconds) (int .Values.relay.shutdownTimeoutSeconds) }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if eq $grace 0 }}
{{- add $need 10 }}
{{- else if le $grace $need }}
{{- fail (printf "terminationGracePeriodSeconds %d must be larger than preStopSleepSeconds + relay.shutdownTimeoutSeconds (%d), or the kubelet kills the relay before its WebSockets drain" $grace $need) }}
{{- else }}
{{- $grace }}
{{- end }}
{{- end }}

{{/* Fail early when no NATS URL is configured anywhere. */}}
{{- define "callrelay.checkNATS" -}}
{{- if not (or .Values.nats.url .Values.existingSecret (hasKey .Values.secretEnv "RELAY_NATS_URL")) }}
{{- fail "nats.url is required (or a RELAY_NATS_URL in secretEnv or existingSecret): the chart runs the relay against an external NATS cluster with JetStream; the embedded server is for one machine only" }}
{{- end }}
{{- end }}
