{{/*
The ServiceAccount (serviceAccount.create); the pods never mount its token.
*/}}
{{- define "weather-common.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "weather-common.serviceAccountName" . }}
  labels:
    {{- include "weather-common.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/*
Pod-level fields every service pod shares: the ServiceAccount without its
token, no service links (they would inject <PREFIX>_PORT=tcp://... for a
Service named like the chart), pull secrets and the restricted pod security
context.
*/}}
{{- define "weather-common.podCommon" -}}
serviceAccountName: {{ include "weather-common.serviceAccountName" . }}
# The service never talks to the Kubernetes API.
automountServiceAccountToken: false
# Service links would inject <PREFIX>_PORT=tcp://... for a Service named like the chart.
enableServiceLinks: false
{{- end }}

{{- define "weather-common.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Scheduling fields of a pod spec (nodeSelector, affinity, tolerations).
*/}}
{{- define "weather-common.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The `helm test` pod: exits 0 once grpc.health.v1 on the Service reports
SERVING. Called with a dict: root, tmpSizeLimit (optional).
*/}}
{{- define "weather-common.testConnectionPod" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "weather-common.fullname" $root }}-test-connection
  labels:
    helm.sh/chart: {{ include "weather-common.chart" $root }}
    app.kubernetes.io/managed-by: {{ $root.Release.Service }}
    {{- include "weather-common.testSelectorLabels" $root | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  activeDeadlineSeconds: 120
  serviceAccountName: {{ include "weather-common.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- include "weather-common.imagePullSecrets" $root | nindent 2 }}
  securityContext:
    {{- include "weather-common.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: healthcheck
      image: {{ include "weather-common.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command:
        - python
        - -m
        - weather_runtime.healthcheck
        - "{{ include "weather-common.fullname" $root }}:{{ $root.Values.service.ports.grpc }}"
        {{- if include "weather-common.tlsEnabled" $root }}
        {{- include "weather-common.healthcheckTlsArgs" $root | nindent 8 }}
        {{- end }}
      securityContext:
        {{- include "weather-common.securityContext" $root | nindent 8 }}
      resources:
        requests:
          cpu: 10m
          memory: 32Mi
        limits:
          cpu: 200m
          memory: 128Mi
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- include "weather-common.tlsVolumeMount" $root | nindent 8 }}
  volumes:
    - name: tmp
      {{- with .tmpSizeLimit }}
      emptyDir:
        sizeLimit: {{ . }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- include "weather-common.tlsVolume" $root | nindent 4 }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
NetworkPolicy ingress rules every service has: gRPC from the declared clients
(networkPolicy.allowedClients) and this release's `helm test` pod, metrics
from the monitoring namespace(s). A YAML list body.
*/}}
{{- define "weather-common.networkPolicyIngress" -}}
{{- $np := .Values.networkPolicy -}}
# gRPC: declared clients, plus this release's `helm test` pod.
- ports:
    - port: {{ .Values.service.ports.grpc }}
      protocol: TCP
  from:
    {{- with $np.allowedClients }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    - podSelector:
        matchLabels:
          {{- include "weather-common.testSelectorLabels" . | nindent 10 }}
# Prometheus scrapes from the monitoring namespace(s) (and its pods there, when set).
- ports:
    - port: {{ .Values.service.ports.metrics }}
      protocol: TCP
  from:
    - namespaceSelector:
        {{- toYaml $np.metrics.namespaceSelector | nindent 8 }}
      {{- with $np.metrics.podSelector }}
      podSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/*
NetworkPolicy egress rule for DNS, to whichever resolver the cluster uses.
*/}}
{{- define "weather-common.dnsEgress" -}}
# DNS, to the cluster's resolver (networkPolicy.egress.dns.to: kube-system by default).
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with dig "egress" "dns" "to" (list) .Values.networkPolicy }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The registry's address for a registry client (trainer, predictor):
registry.address, else global.registry.address, else a chart default;
rendered with tpl. Called with the chart's context, or with a dict: root,
default (the chart default). The helpers below take the same argument.
*/}}
{{- define "weather-common.registryAddress" -}}
{{- $root := . }}
{{- $default := "" }}
{{- if hasKey . "root" }}
{{- $root = .root }}
{{- $default = .default }}
{{- end }}
{{- $g := include "weather-common.global" $root | fromYaml }}
{{- $address := $root.Values.registry.address | default (dig "registry" "address" "" $g) | default $default }}
{{- tpl ($address | default "") $root }}
{{- end }}

{{/*
Port of the registry address (host:port).
*/}}
{{- define "weather-common.registryPort" -}}
{{- regexFind "[0-9]+$" (include "weather-common.registryAddress" .) }}
{{- end }}

{{/*
NetworkPolicy egress rule to the registry (empty without an address).
*/}}
{{- define "weather-common.registryEgress" -}}
{{- $root := . }}
{{- if hasKey . "root" }}
{{- $root = .root }}
{{- end }}
{{- with include "weather-common.registryPort" . }}
# The registry: models are registered (trainer), aliases followed (serving sync).
- ports:
    - port: {{ . | int }}
      protocol: TCP
  {{- with $root.Values.networkPolicy.egress.registry.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Labels of the pods of a registry client: the common labels, plus
weather.io/registry-client=true when registry.clientLabel is on and the pods
call a registry (the registry chart's NetworkPolicy admits pods by it).
*/}}
{{- define "weather-common.registryClientPodLabels" -}}
{{- $root := . }}
{{- if hasKey . "root" }}
{{- $root = .root }}
{{- end }}
{{- include "weather-common.labels" $root }}
{{- if and (include "weather-common.registryAddress" .) $root.Values.registry.clientLabel }}
weather.io/registry-client: "true"
{{- end }}
{{- end }}

{{/*
Cross-field checks every service chart shares. Called with the chart's
context.
*/}}
{{- define "weather-common.validateCommon" -}}
{{- $chart := .Chart.Name }}
{{- include "weather-common.validateSecurity" . }}
{{- if and (include "weather-common.otelEnabled" .) (not (include "weather-common.otelEndpoint" .)) }}
{{- fail (printf "%s: otel.enabled=true (or global.otel.enabled) needs otel.endpoint or global.otel.endpoint (e.g. http://otel-collector.observability:4317)" $chart) }}
{{- end }}
{{- if hasKey .Values "archive" }}
{{- if hasPrefix "file:" (include "weather-common.objectStoreUrl" .) }}
{{- fail (printf "%s: archive.url is for object stores (s3://, gs://...); leave it empty to use the volume at file:///archive" $chart) }}
{{- end }}
{{- end }}
{{- with .Values.metrics.serviceMonitor.interval }}
{{- if not (regexMatch "^([0-9]+(ms|s|m|h))+$" .) }}
{{- fail (printf "%s: metrics.serviceMonitor.interval must be a Prometheus duration such as 30s (got %q)" $chart .) }}
{{- end }}
{{- end }}
{{- end }}
