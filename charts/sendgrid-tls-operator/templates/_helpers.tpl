{{/* Names, labels and the derived settings every template shares. */}}

{{- define "sendgrid-tls-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "sendgrid-tls-operator.fullname" -}}
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

{{- define "sendgrid-tls-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sendgrid-tls-operator.labels" -}}
helm.sh/chart: {{ include "sendgrid-tls-operator.chart" . }}
app.kubernetes.io/name: {{ include "sendgrid-tls-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sendgrid-tls-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the operator pods (the simulator uses component=simulator). */}}
{{- define "sendgrid-tls-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sendgrid-tls-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "sendgrid-tls-operator.simulatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "sendgrid-tls-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: simulator
{{- end }}

{{- define "sendgrid-tls-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sendgrid-tls-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "sendgrid-tls-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when leader election is on: asked for, or needed because of several replicas. */}}
{{- define "sendgrid-tls-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* The namespace of every namespaced object: namespaceOverride or the release namespace. */}}
{{- define "sendgrid-tls-operator.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/* global.imagePullSecrets, then the chart's own, each name once. */}}
{{- define "sendgrid-tls-operator.imagePullSecrets" -}}
{{- $names := list }}
{{- range concat (.Values.global.imagePullSecrets | default list) .Values.imagePullSecrets }}
{{- $names = append $names .name }}
{{- end }}
{{- range uniq $names }}
- name: {{ . }}
{{- end }}
{{- end }}

{{/*
The PromQL matchers that pick the operator's series in alert expressions: the selector value,
or the job the chart's ServiceMonitor (the Service's name) or PodMonitor ("<namespace>/<name>")
gives its targets. Fails when nothing the chart knows scrapes the operator, as every alert would
then be silent and OperatorDown would fire forever.
*/}}
{{- define "sendgrid-tls-operator.alertSelector" -}}
{{- $metrics := .Values.metrics }}
{{- $namespace := include "sendgrid-tls-operator.namespace" . }}
{{- $fullname := include "sendgrid-tls-operator.fullname" . }}
{{- if $metrics.prometheusRule.selector }}
{{- $metrics.prometheusRule.selector }}
{{- else if $metrics.serviceMonitor.enabled }}
{{- printf "job=%q,namespace=%q" (printf "%s-metrics" $fullname) $namespace }}
{{- else if $metrics.podMonitor.enabled }}
{{- printf "job=%q,namespace=%q" (printf "%s/%s" (include "sendgrid-tls-operator.podMonitorNamespace" .) $fullname) $namespace }}
{{- else if $metrics.podScrapeAnnotations }}
{{- fail "metrics.prometheusRule.enabled with metrics.podScrapeAnnotations needs metrics.prometheusRule.selector: the job label is your Prometheus's (e.g. selector: 'job=\"kubernetes-pods\",namespace=\"<namespace>\"')" }}
{{- else }}
{{- fail "metrics.prometheusRule.enabled but nothing the chart knows scrapes the operator: enable metrics.serviceMonitor or metrics.podMonitor, or set metrics.prometheusRule.selector to the labels your own scrape job gives (e.g. 'job=\"sendgrid-tls-operator\"')" }}
{{- end }}
{{- end }}

{{- define "sendgrid-tls-operator.podMonitorNamespace" -}}
{{- .Values.metrics.podMonitor.namespace | default (include "sendgrid-tls-operator.namespace" .) }}
{{- end }}

{{/* The scrape endpoint of a ServiceMonitor or PodMonitor; the argument is its values. */}}
{{- define "sendgrid-tls-operator.scrapeEndpoint" -}}
- port: http-metrics
  path: /metrics
  honorLabels: {{ .honorLabels }}
  interval: {{ .interval }}
  scrapeTimeout: {{ .scrapeTimeout }}
  {{- with .relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{- define "sendgrid-tls-operator.leaseName" -}}
{{- default (include "sendgrid-tls-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "sendgrid-tls-operator.simulatorName" -}}
{{- printf "%s-simulator" (include "sendgrid-tls-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The simulator's in-cluster base URL (global API; the EU API is under /eu). */}}
{{- define "sendgrid-tls-operator.simulatorUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "sendgrid-tls-operator.simulatorName" .) (include "sendgrid-tls-operator.namespace" .) (int .Values.simulator.port) }}
{{- end }}

{{/*
RBAC rules for the SendGridEnforcedTls controller: the same set in the ClusterRole (all
namespaces) and in each per-namespace Role (watchNamespaces). One comment per rule.
*/}}
{{- define "sendgrid-tls-operator.controllerRules" -}}
# Watch the resources it reconciles (get: a fresh copy after a stale compare-and-swap), and
# patch metadata to add/remove its cleanup finalizer (deletionPolicy Restore/Reset). Every
# write is a merge patch: no update. It never writes spec.
- apiGroups: ["sendgrid.ops.dev"]
  resources: ["sendgridenforcedtlses"]
  verbs: ["get", "list", "watch", "patch"]
# Write the observed settings and the Ready/Synced conditions (merge patches).
- apiGroups: ["sendgrid.ops.dev"]
  resources: ["sendgridenforcedtlses/status"]
  verbs: ["patch"]
{{- if .Values.secrets.watch }}
# Read the API-key Secrets resources name, and watch Secret metadata (secrets.watch=true,
# --watch-secrets) so a rotated key triggers a reconcile within seconds.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
{{- else }}
# Read the one API-key Secret a resource names, by name, in the resource's own namespace.
# `get` only: no list/watch, so the operator cannot enumerate or cache Secrets.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
# Record Events (DriftCorrected, failures); repeats are folded into a series by PATCH.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
