// Package deploy holds no code of the relay: its tests check what operators
// install and watch. They render the Helm chart in helm/callrelay with Helm's
// own packages and decode every object as a typed Kubernetes object, parse
// the Grafana dashboards in ../grafana and the alert rules with Prometheus's
// PromQL parser, compare the metrics they use with those of a running relay
// and ask a real Prometheus for every panel's query, and check the
// Dockerfile. It is a separate Go module so that the relay's own go.mod does
// not carry Helm, Kubernetes and Prometheus.
package deploy
