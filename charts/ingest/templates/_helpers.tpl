{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "ingest.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "ingest.fullname" -}}
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

{{/*
Chart label value: <chart>-<version>.
*/}}
{{- define "ingest.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release.
*/}}
{{- define "ingest.labels" -}}
helm.sh/chart: {{ include "ingest.chart" . }}
{{ include "ingest.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once a Deployment exists, so keep them minimal.
*/}}
{{- define "ingest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ingest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "ingest.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
Labels of the DaskCluster. The Dask operator copies them onto the scheduler
and worker pods, so they lack app.kubernetes.io/name: the Service, PDB and
the service's NetworkPolicy must never select Dask pods.
*/}}
{{- define "ingest.daskLabels" -}}
helm.sh/chart: {{ include "ingest.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dask
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "ingest.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ingest.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest, else repository:tag (tag
defaults to Chart.appVersion).
*/}}
{{- define "ingest.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the DaskCluster (mode=operator). The operator names the scheduler
Service <name>-scheduler and the worker group <name>-default; it accepts at
most 53 characters, so the full name is cut to 40 first.
*/}}
{{- define "ingest.daskClusterName" -}}
{{- printf "%s-dask" (include "ingest.fullname" . | trunc 40 | trimSuffix "-") }}
{{- end }}

{{/*
INGEST_DASK_SCHEDULER: empty (local cluster in the pod), the external
address, or the operator-made scheduler Service.
*/}}
{{- define "ingest.daskScheduler" -}}
{{- if eq .Values.dask.mode "external" }}
{{- .Values.dask.scheduler.address }}
{{- else if eq .Values.dask.mode "operator" }}
{{- printf "tcp://%s-scheduler.%s.svc:8786" (include "ingest.daskClusterName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Port of the scheduler address (Dask's default 8786 when it names none).
*/}}
{{- define "ingest.daskSchedulerPort" -}}
{{- $port := regexFind ":[0-9]+/?$" (include "ingest.daskScheduler" .) | trimAll ":/" }}
{{- default "8786" $port }}
{{- end }}

{{/*
INGEST_ARCHIVE_URL: the object-store URL, or the volume at /archive.
*/}}
{{- define "ingest.archiveUrl" -}}
{{- default "file:///archive" .Values.archive.url }}
{{- end }}

{{/*
"true" when pods reach remote storage over HTTPS: an object-store archive,
or source roots that are not local files.
*/}}
{{- define "ingest.remoteStorage" -}}
{{- $remote := .Values.archive.url }}
{{- range .Values.config.allowedRoots }}
{{- if not (hasPrefix "file://" .) }}
{{- $remote = true }}
{{- end }}
{{- end }}
{{- if $remote -}}
true
{{- end }}
{{- end }}

{{/*
Storage access shared by the service container and the Dask operator's
workers (which read sources and write the archive): credentials as env,
volume mounts, volumes. Each is a YAML list body (possibly empty).
*/}}
{{- define "ingest.storageEnvFrom" -}}
{{- with .Values.archive.credentials.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "ingest.storageEnv" -}}
{{- with .Values.archive.credentials.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/archive/%s" .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ingest.storageVolumeMounts" -}}
{{- if not .Values.archive.url }}
- name: archive
  mountPath: /archive
{{- end }}
{{- if .Values.incoming.existingClaim }}
- name: incoming
  mountPath: /incoming
  readOnly: true
{{- end }}
{{- if .Values.archive.credentials.keyFile.existingSecret }}
- name: archive-key
  mountPath: /var/run/secrets/archive
  readOnly: true
{{- end }}
{{- end }}

{{- define "ingest.storageVolumes" -}}
{{- if not .Values.archive.url }}
{{- with .Values.archive.persistence }}
- name: archive
  {{- if .enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-archive" (include "ingest.fullname" $)) .existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- end }}
{{- if .Values.incoming.existingClaim }}
- name: incoming
  persistentVolumeClaim:
    claimName: {{ .Values.incoming.existingClaim }}
    readOnly: true
{{- end }}
{{- with .Values.archive.credentials.keyFile }}
{{- if .existingSecret }}
- name: archive-key
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Included by deployment.yaml.
*/}}
{{- define "ingest.validateValues" -}}
{{- if and (eq .Values.dask.mode "external") (not .Values.dask.scheduler.address) }}
{{- fail "ingest: dask.mode=external needs dask.scheduler.address (e.g. tcp://dask-scheduler.dask.svc:8786)" }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") (lt (int .Values.dask.operator.worker.replicas) 1) }}
{{- fail (printf "ingest: dask.mode=operator needs dask.operator.worker.replicas >= 1 (got %d)" (int .Values.dask.operator.worker.replicas)) }}
{{- end }}
{{- if hasPrefix "file:" .Values.archive.url }}
{{- fail "ingest: archive.url is for object stores (s3://, gs://...); leave it empty to use the volume at file:///archive" }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") (not .Values.archive.url) (not .Values.archive.persistence.enabled) }}
{{- fail "ingest: dask.mode=operator needs an archive the workers can share: archive.persistence.enabled=true (ReadWriteMany) or archive.url" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "ingest: otel.enabled=true needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
