{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "preprocess.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "preprocess.fullname" -}}
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
{{- define "preprocess.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release.
*/}}
{{- define "preprocess.labels" -}}
helm.sh/chart: {{ include "preprocess.chart" . }}
{{ include "preprocess.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once a Deployment exists, so keep them minimal.
*/}}
{{- define "preprocess.selectorLabels" -}}
app.kubernetes.io/name: {{ include "preprocess.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "preprocess.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
Labels of the DaskCluster. The Dask operator copies them onto the scheduler
and worker pods, so they lack app.kubernetes.io/name: the Service, PDB and
the service's NetworkPolicy must never select Dask pods.
*/}}
{{- define "preprocess.daskLabels" -}}
helm.sh/chart: {{ include "preprocess.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dask
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "preprocess.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "preprocess.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest, else repository:tag (tag
defaults to Chart.appVersion).
*/}}
{{- define "preprocess.image" -}}
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
{{- define "preprocess.daskClusterName" -}}
{{- printf "%s-dask" (include "preprocess.fullname" . | trunc 40 | trimSuffix "-") }}
{{- end }}

{{/*
PREPROCESS_DASK_SCHEDULER: empty (local cluster in the pod), the external
address, or the operator-made scheduler Service.
*/}}
{{- define "preprocess.daskScheduler" -}}
{{- if eq .Values.dask.mode "external" }}
{{- .Values.dask.scheduler.address }}
{{- else if eq .Values.dask.mode "operator" }}
{{- printf "tcp://%s-scheduler.%s.svc:8786" (include "preprocess.daskClusterName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Port of the scheduler address (Dask's default 8786 when it names none).
*/}}
{{- define "preprocess.daskSchedulerPort" -}}
{{- $port := regexFind ":[0-9]+/?$" (include "preprocess.daskScheduler" .) | trimAll ":/" }}
{{- default "8786" $port }}
{{- end }}

{{/*
PREPROCESS_ARCHIVE_URL: the object-store URL, or the volume at /archive.
*/}}
{{- define "preprocess.archiveUrl" -}}
{{- default "file:///archive" .Values.archive.url }}
{{- end }}

{{/*
"true" when pods reach remote storage over HTTPS: an object-store archive.
*/}}
{{- define "preprocess.remoteStorage" -}}
{{- if .Values.archive.url -}}
true
{{- end }}
{{- end }}

{{/*
Storage access shared by the service container and the Dask operator's
workers (which read and write the archive): credentials as env,
volume mounts, volumes. Each is a YAML list body (possibly empty).
*/}}
{{- define "preprocess.storageEnvFrom" -}}
{{- with .Values.archive.credentials.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "preprocess.storageEnv" -}}
{{- with .Values.archive.credentials.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/archive/%s" .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "preprocess.storageVolumeMounts" -}}
{{- if not .Values.archive.url }}
- name: archive
  mountPath: /archive
{{- end }}
{{- if .Values.archive.credentials.keyFile.existingSecret }}
- name: archive-key
  mountPath: /var/run/secrets/archive
  readOnly: true
{{- end }}
{{- end }}

{{- define "preprocess.storageVolumes" -}}
{{- if not .Values.archive.url }}
{{- with .Values.archive.persistence }}
- name: archive
  {{- if .enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-archive" (include "preprocess.fullname" $)) .existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
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
{{- define "preprocess.validateValues" -}}
{{- if and (eq .Values.dask.mode "external") (not .Values.dask.scheduler.address) }}
{{- fail "preprocess: dask.mode=external needs dask.scheduler.address (e.g. tcp://dask-scheduler.dask.svc:8786)" }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") (lt (int .Values.dask.operator.worker.replicas) 1) }}
{{- fail (printf "preprocess: dask.mode=operator needs dask.operator.worker.replicas >= 1 (got %d)" (int .Values.dask.operator.worker.replicas)) }}
{{- end }}
{{- if hasPrefix "file:" .Values.archive.url }}
{{- fail "preprocess: archive.url is for object stores (s3://, gs://...); leave it empty to use the volume at file:///archive" }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") (not .Values.archive.url) (not .Values.archive.persistence.enabled) }}
{{- fail "preprocess: dask.mode=operator needs an archive the workers can share: archive.persistence.enabled=true (ReadWriteMany) or archive.url" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "preprocess: otel.enabled=true needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
