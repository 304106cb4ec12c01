{{/*
Ports and metrics. Every service serves gRPC on service.ports.grpc and
Prometheus /metrics on service.ports.metrics (<PREFIX>_PORT and
<PREFIX>_METRICS_PORT), both on the Service under the names grpc and metrics.
*/}}
{{- define "weather-common.portEnv" -}}
{{- $prefix := include "weather-common.envPrefix" . -}}
- name: {{ $prefix }}_PORT
  value: {{ .Values.service.ports.grpc | toString | quote }}
- name: {{ $prefix }}_METRICS_PORT
  value: {{ .Values.service.ports.metrics | toString | quote }}
{{- end }}

{{- define "weather-common.containerPorts" -}}
- name: grpc
  containerPort: {{ .Values.service.ports.grpc }}
  protocol: TCP
- name: metrics
  containerPort: {{ .Values.service.ports.metrics }}
  protocol: TCP
{{- end }}

{{/*
The Service of the gRPC API and the metrics port. Called with a dict: root,
selector (optional extra selector labels).
*/}}
{{- define "weather-common.service" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "weather-common.fullname" $root }}
  labels:
    {{- include "weather-common.labels" $root | nindent 4 }}
  {{- with $root.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $root.Values.service.type }}
  {{- with $root.Values.service.clusterIP }}
  clusterIP: {{ . }}
  {{- end }}
  selector:
    {{- include "weather-common.selectorLabels" $root | nindent 4 }}
    {{- with .selector }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: grpc
      port: {{ $root.Values.service.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: {{ $root.Values.service.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end }}

{{/*
"true" when the chart renders a ServiceMonitor: metrics.serviceMonitor.enabled
or global.metrics.serviceMonitor.enabled.
*/}}
{{- define "weather-common.serviceMonitorEnabled" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- if or .Values.metrics.serviceMonitor.enabled (dig "metrics" "serviceMonitor" "enabled" false $g) -}}
true
{{- end }}
{{- end }}

{{/*
A ServiceMonitor (monitoring.coreos.com/v1, the Prometheus operator's CRD)
scraping /metrics on the Service port named metrics of this release's Service.
Labels: global.metrics.serviceMonitor.labels, then metrics.serviceMonitor.labels
(e.g. release: kube-prometheus-stack for the operator's serviceMonitorSelector).
Interval and timeout: the chart's, else the global ones, else 30s / none.
*/}}
{{- define "weather-common.serviceMonitor" -}}
{{- if include "weather-common.serviceMonitorEnabled" . }}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- $sm := .Values.metrics.serviceMonitor }}
{{- $labels := mustMergeOverwrite (deepCopy (dig "metrics" "serviceMonitor" "labels" dict $g)) (deepCopy ($sm.labels | default dict)) }}
{{- $interval := $sm.interval | default (dig "metrics" "serviceMonitor" "interval" "" $g) | default "30s" }}
{{- $timeout := $sm.scrapeTimeout | default (dig "metrics" "serviceMonitor" "scrapeTimeout" "" $g) -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "weather-common.fullname" . }}
  labels:
    {{- include "weather-common.labels" . | nindent 4 }}
    {{- with $labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  selector:
    matchLabels:
      {{- include "weather-common.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  endpoints:
    - port: metrics
      path: /metrics
      scheme: http
      interval: {{ $interval }}
      {{- with $timeout }}
      scrapeTimeout: {{ . }}
      {{- end }}
      honorLabels: false
{{- end }}
{{- end }}
