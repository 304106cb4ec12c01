{{/*
The Dask-backed archive services (ingest, preprocess) are one chart shape:
a Deployment of the gRPC server running its heavy work as Dask graphs, the
archive on a shared volume (created here, ReadWriteMany) or an object store,
optionally a DaskCluster. These templates are that shape; the charts add
their own settings (e.g. ingest's allowed source roots) through the
arguments.
*/}}

{{/*
The Deployment. Called with a dict: root, env (extra env entries of the
service, a YAML list body placed after <PREFIX>_HOST).
*/}}
{{- define "weather-common.archiveServiceDeployment" -}}
{{- $root := .root }}
{{- $prefix := include "weather-common.envPrefix" $root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "weather-common.fullname" $root }}
  labels:
    {{- include "weather-common.labels" $root | nindent 4 }}
spec:
  replicas: {{ $root.Values.replicaCount }}
  revisionHistoryLimit: 5
  strategy:
    # The archive is shared storage (ReadWriteMany or an object store): no single writer.
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "weather-common.selectorLabels" $root | nindent 6 }}
  template:
    metadata:
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- tpl (toYaml .) $root | nindent 8 }}
      {{- end }}
      labels:
        {{- include "weather-common.labels" $root | nindent 8 }}
    spec:
      {{- include "weather-common.podCommon" $root | nindent 6 }}
      # The server drains for config.graceSeconds after SIGTERM, then closes its Dask client.
      terminationGracePeriodSeconds: {{ add (int $root.Values.config.graceSeconds) 10 }}
      {{- include "weather-common.imagePullSecrets" $root | nindent 6 }}
      securityContext:
        {{- include "weather-common.podSecurityContext" $root | nindent 8 }}
      containers:
        - name: {{ $root.Chart.Name }}
          image: {{ include "weather-common.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          securityContext:
            {{- include "weather-common.securityContext" $root | nindent 12 }}
          ports:
            {{- include "weather-common.containerPorts" $root | nindent 12 }}
          {{- with include "weather-common.storageEnvFrom" $root }}
          envFrom:
            {{- trim . | nindent 12 }}
          {{- end }}
          env:
            {{- include "weather-common.portEnv" $root | nindent 12 }}
            - name: {{ $prefix }}_ARCHIVE_URL
              value: {{ include "weather-common.archiveUrl" $root | quote }}
            {{- with $root.Values.config }}
            - name: {{ $prefix }}_HOST
              value: {{ .host | quote }}
            {{- with $.env }}
            {{- trim . | nindent 12 }}
            {{- end }}
            - name: {{ $prefix }}_LOG_LEVEL
              value: {{ .logLevel | quote }}
            - name: {{ $prefix }}_LOG_FORMAT
              value: {{ .logFormat | quote }}
            {{- /* int64 keeps large numbers out of scientific notation */}}
            - name: {{ $prefix }}_MAX_MESSAGE_BYTES
              value: {{ .maxMessageBytes | int64 | toString | quote }}
            - name: {{ $prefix }}_MAX_WORKERS
              value: {{ .maxWorkers | int64 | toString | quote }}
            - name: {{ $prefix }}_GRACE_SECONDS
              value: {{ .graceSeconds | int64 | toString | quote }}
            {{- end }}
            {{- include "weather-common.daskEnv" $root | nindent 12 }}
            {{- with include "weather-common.storageEnv" $root }}
            {{- trim . | nindent 12 }}
            {{- end }}
            {{- include "weather-common.securityEnv" (dict "root" $root "server" true) | nindent 12 }}
            {{- include "weather-common.otelEnv" (dict "root" $root) | nindent 12 }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include "weather-common.grpcProbes" $root | nindent 10 }}
          resources:
            {{- toYaml $root.Values.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "weather-common.daskScratchMount" $root | nindent 12 }}
            {{- with include "weather-common.storageVolumeMounts" $root }}
            {{- trim . | nindent 12 }}
            {{- end }}
            {{- include "weather-common.securityVolumeMounts" (dict "root" $root "server" true) | nindent 12 }}
            {{- with include "weather-common.daskTlsVolumeMount" $root }}
            {{- trim . | nindent 12 }}
            {{- end }}
      volumes:
        # The root filesystem is read-only; /tmp (and /scratch for Dask) are the scratch space.
        - name: tmp
          emptyDir: {}
        {{- include "weather-common.daskScratchVolume" $root | nindent 8 }}
        {{- with include "weather-common.storageVolumes" $root }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- include "weather-common.securityVolumes" (dict "root" $root "server" true) | nindent 8 }}
        {{- with include "weather-common.daskTlsVolume" $root }}
        {{- trim . | nindent 8 }}
        {{- end }}
      {{- include "weather-common.scheduling" $root | nindent 6 }}
{{- end }}

{{/*
The NetworkPolicies: default deny for the service pods, then gRPC and metrics
in, DNS, Dask, the object store and OTLP out; and for mode=operator the
DaskCluster's own policy. Called with a dict: root, remote ("true" when the
pods reach remote storage over HTTPS: the object-store archive, or remote
source roots).
*/}}
{{- define "weather-common.archiveServiceNetworkPolicies" -}}
{{- $root := .root }}
{{- $np := $root.Values.networkPolicy -}}
# Default deny for the {{ $root.Chart.Name }} pods; only the traffic below is allowed.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "weather-common.fullname" $root }}
  labels:
    {{- include "weather-common.labels" $root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "weather-common.selectorLabels" $root | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    {{- include "weather-common.networkPolicyIngress" $root | nindent 4 }}
  egress:
    {{- include "weather-common.dnsEgress" $root | nindent 4 }}
    {{- include "weather-common.daskEgress" $root | nindent 4 }}
    {{- if .remote }}
    {{- include "weather-common.objectStoreEgress" (dict "root" $root "comment" "Object-store archive (or remote source roots) over HTTPS.") | nindent 4 }}
    {{- end }}
    {{- include "weather-common.otlpEgress" $root | nindent 4 }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- if include "weather-common.daskOperator" $root }}
---
{{ include "weather-common.daskNetworkPolicy" (dict "root" $root "remote" .remote) }}
{{- end }}
{{- end }}

{{/*
The archive's PersistentVolumeClaim, unless the archive is an object store,
persistence is off or an existing claim is used.
*/}}
{{- define "weather-common.archivePersistentVolumeClaim" -}}
{{- with .Values.archive.persistence }}
{{- if and (not (include "weather-common.objectStoreUrl" $)) .enabled (not .existingClaim) }}
{{- include "weather-common.persistentVolumeClaim" (dict "root" $ "name" (printf "%s-archive" (include "weather-common.fullname" $)) "persistence" .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The PodDisruptionBudget, only for two or more replicas (a budget on a single
replica, minAvailable 1, would block node drains forever). maxUnavailable
wins over minAvailable when set. Called with a dict: root, pods (the number
of pods), preferMin (true: minAvailable wins when set instead).
*/}}
{{- define "weather-common.podDisruptionBudget" -}}
{{- $root := .root }}
{{- $pdb := $root.Values.pdb }}
{{- if and $pdb.enabled (gt (int .pods) 1) -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "weather-common.fullname" $root }}
  labels:
    {{- include "weather-common.labels" $root | nindent 4 }}
spec:
  {{- if .preferMin }}
  {{- if ne (toString $pdb.minAvailable) "" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- end }}
  {{- else }}
  {{- if ne (toString $pdb.maxUnavailable) "" }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- end }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "weather-common.selectorLabels" $root | nindent 6 }}
{{- end }}
{{- end }}

{{/*
Cross-field checks of the archive services. Called with the chart's context.
*/}}
{{- define "weather-common.validateArchive" -}}
{{- if and (include "weather-common.daskOperator" .) (not (include "weather-common.objectStoreUrl" .)) (not (include "weather-common.archiveClaim" .)) }}
{{- if hasKey .Values.archive "persistence" }}
{{- fail (printf "%s: dask.mode=operator needs an archive the workers can share: archive.persistence.enabled=true (ReadWriteMany) or archive.url" .Chart.Name) }}
{{- else }}
{{- fail (printf "%s: dask.mode=operator needs an archive the workers can share: archive.existingClaim or archive.url" .Chart.Name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
NOTES lines: the addresses, and how to reach and check the API.
*/}}
{{- define "weather-common.notesAddress" -}}
{{- $fullname := include "weather-common.fullname" . -}}
In-cluster address (gRPC, {{ include "weather-common.notesTransport" . }}): {{ $fullname }}.{{ .Release.Namespace }}.svc:{{ .Values.service.ports.grpc }}
{{ include "weather-common.notesAuth" . }}
Metrics: http://{{ $fullname }}.{{ .Release.Namespace }}.svc:{{ .Values.service.ports.metrics }}/metrics
{{- if include "weather-common.serviceMonitorEnabled" . }}
ServiceMonitor {{ $fullname }} (monitoring.coreos.com/v1) scrapes it every {{ .Values.metrics.serviceMonitor.interval | default "30s" }} or the global interval.
{{- end }}
{{- if include "weather-common.otelEnabled" . }}
Traces: OTLP to {{ include "weather-common.otelEndpoint" . }}.
{{- end }}
{{- end }}

{{- define "weather-common.notesCheck" -}}
{{- $fullname := include "weather-common.fullname" . -}}
{{- $grpc := .Values.service.ports.grpc -}}
1. Reach the API from your workstation:

     kubectl --namespace {{ .Release.Namespace }} port-forward svc/{{ $fullname }} {{ $grpc }}:{{ $grpc }}

2. Check gRPC health (grpc.health.v1) through the port-forward, or in-cluster with `helm test`:

{{ include "weather-common.notesHealthcheck" . | trimPrefix "\n" }}
     helm test {{ .Release.Name }} --namespace {{ .Release.Namespace }}
{{- end }}

{{/*
NOTES line(s) on Dask.
*/}}
{{- define "weather-common.notesDask" -}}
{{- $secret := include "weather-common.daskTlsSecret" . }}
{{- $transport := ternary (printf "mutual TLS with Secret %s" $secret) "TLS with throwaway certificates" (ne $secret "") }}
{{- if and (ne .Values.dask.mode "local") (not $secret) }}
{{- $transport = "plain tcp:// (dask.tls.enabled=false)" }}
{{- end }}
{{- if not (include "weather-common.daskEnabled" .) }}
Dask: off; the work runs in the service process.
{{- else if eq .Values.dask.mode "local" }}
Dask: local cluster in each pod, {{ .Values.dask.local.workers }} worker(s) x {{ .Values.dask.local.threadsPerWorker }} thread(s), {{ .Values.dask.local.memoryLimit }} each, spilling to /scratch; {{ $transport }}.
{{- else if eq .Values.dask.mode "external" }}
Dask: external scheduler {{ .Values.dask.scheduler.address }}; {{ $transport }}.
{{- else }}
Dask: DaskCluster {{ include "weather-common.daskClusterName" . }} (Dask Kubernetes operator), {{ .Values.dask.operator.worker.replicas }} worker(s), {{ $transport }}:

     kubectl --namespace {{ .Release.Namespace }} get daskcluster {{ include "weather-common.daskClusterName" . }}
     kubectl --namespace {{ .Release.Namespace }} port-forward svc/{{ include "weather-common.daskClusterName" . }}-scheduler 8787   # dashboard
{{- end }}
{{- end }}
