{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "trainer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "trainer.fullname" -}}
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
{{- define "trainer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release.
*/}}
{{- define "trainer.labels" -}}
helm.sh/chart: {{ include "trainer.chart" . }}
{{ include "trainer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once a Deployment or StatefulSet exists, so keep
them minimal.
*/}}
{{- define "trainer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trainer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the trainer pods: the common labels, plus the registry's client
label when the pods call a registry (its NetworkPolicy admits them by it).
*/}}
{{- define "trainer.podLabels" -}}
{{ include "trainer.labels" . }}
{{- if and .Values.registry.address .Values.registry.clientLabel }}
weather.io/registry-client: "true"
{{- end }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "trainer.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
Labels of the DaskCluster. The Dask operator copies them onto the scheduler
and worker pods, so they lack app.kubernetes.io/name: the Services, PDB and
the service's NetworkPolicy must never select Dask pods.
*/}}
{{- define "trainer.daskLabels" -}}
helm.sh/chart: {{ include "trainer.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dask
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "trainer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "trainer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest, else repository:tag (tag
defaults to Chart.appVersion).
*/}}
{{- define "trainer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
"true" in multiWorker mode (a StatefulSet of TensorFlow workers).
*/}}
{{- define "trainer.multiWorker" -}}
{{- if eq .Values.training.mode "multiWorker" -}}
true
{{- end }}
{{- end }}

{{/*
Name of the StatefulSet (multiWorker). Its pods are <name>-<ordinal>, and the
controller adds a controller-revision-hash label <name>-<hash> that must fit
in 63 characters, so the name is cut to 52.
*/}}
{{- define "trainer.statefulSetName" -}}
{{- include "trainer.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the headless Service that gives each worker a stable DNS name
(<pod>.<headless>.<namespace>.svc) for TF_CONFIG.
*/}}
{{- define "trainer.headlessName" -}}
{{- printf "%s-workers" (include "trainer.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the chief pod (ordinal 0), the only one the Service routes to.
*/}}
{{- define "trainer.chiefPodName" -}}
{{- printf "%s-0" (include "trainer.statefulSetName" .) }}
{{- end }}

{{/*
TF_CONFIG's cluster.worker list as JSON: one <pod>.<headless>.<ns>.svc:<port>
per worker, in ordinal order (the task index is the position in this list).
*/}}
{{- define "trainer.tfWorkers" -}}
{{- $sts := include "trainer.statefulSetName" . }}
{{- $svc := include "trainer.headlessName" . }}
{{- $domain := "svc" }}
{{- with .Values.training.clusterDomain }}
{{- $domain = printf "svc.%s" (trimSuffix "." .) }}
{{- end }}
{{- $hosts := list }}
{{- range $i := until (int .Values.training.workers) }}
{{- $hosts = append $hosts (printf "%s-%d.%s.%s.%s:%d" $sts $i $svc $.Release.Namespace $domain (int $.Values.training.collectivePort)) }}
{{- end }}
{{- toJson $hosts }}
{{- end }}

{{/*
Name of the DaskCluster (mode=operator). The operator names the scheduler
Service <name>-scheduler and the worker group <name>-default; it accepts at
most 53 characters, so the full name is cut to 40 first.
*/}}
{{- define "trainer.daskClusterName" -}}
{{- printf "%s-dask" (include "trainer.fullname" . | trunc 40 | trimSuffix "-") }}
{{- end }}

{{/*
Image of the DaskCluster's pods: dask.operator.image, else the trainer image
(which carries the trainer's task code and the same dask/distributed).
*/}}
{{- define "trainer.daskImage" -}}
{{- $op := .Values.dask.operator.image }}
{{- if $op.repository }}
{{- printf "%s:%s" $op.repository $op.tag }}
{{- else if $op.tag }}
{{- printf "%s:%s" .Values.image.repository $op.tag }}
{{- else }}
{{- include "trainer.image" . }}
{{- end }}
{{- end }}

{{/*
TRAINER_DASK_SCHEDULER: empty (local cluster in the pod), the external
address, or the operator-made scheduler Service.
*/}}
{{- define "trainer.daskScheduler" -}}
{{- if eq .Values.dask.mode "external" }}
{{- .Values.dask.scheduler.address }}
{{- else if eq .Values.dask.mode "operator" }}
{{- printf "tcp://%s-scheduler.%s.svc:8786" (include "trainer.daskClusterName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Port of the scheduler address (Dask's default 8786 when it names none).
*/}}
{{- define "trainer.daskSchedulerPort" -}}
{{- $port := regexFind ":[0-9]+/?$" (include "trainer.daskScheduler" .) | trimAll ":/" }}
{{- default "8786" $port }}
{{- end }}

{{/*
"true" when Dask runs as a DaskCluster made by this chart.
*/}}
{{- define "trainer.daskOperator" -}}
{{- if and .Values.dask.enabled (eq .Values.dask.mode "operator") -}}
true
{{- end }}
{{- end }}

{{/*
Port of registry.address (host:port).
*/}}
{{- define "trainer.registryPort" -}}
{{- regexFind "[0-9]+$" .Values.registry.address }}
{{- end }}

{{/*
TRAINER_ARCHIVE_URL: the object-store URL, or the volume at /archive.
*/}}
{{- define "trainer.archiveUrl" -}}
{{- default "file:///archive" .Values.archive.url }}
{{- end }}

{{/*
"true" when the artefact root (TRAINER_ARTIFACT_ROOT) is an object store,
not empty (the work root) or a file:// URL (a folder on the work volume).
*/}}
{{- define "trainer.remoteArtifacts" -}}
{{- with .Values.artifacts.root }}
{{- if not (hasPrefix "file:" .) -}}
true
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when the trainer pods reach remote storage over HTTPS: an object-store
archive or artefact root. (The Dask operator's workers only read the archive:
they go by archive.url alone.)
*/}}
{{- define "trainer.remoteStorage" -}}
{{- if or .Values.archive.url (include "trainer.remoteArtifacts" .) -}}
true
{{- end }}
{{- end }}

{{/*
Name of the work-root PVC: the existing claim, or the one the chart creates.
*/}}
{{- define "trainer.workClaimName" -}}
{{- default (printf "%s-work" (include "trainer.fullname" .)) .Values.work.persistence.existingClaim }}
{{- end }}

{{/*
Access modes of the created work PVC: the configured ones, else one writer
(ReadWriteOnce) for mode=single and a volume every worker mounts
(ReadWriteMany) for mode=multiWorker. A JSON list.
*/}}
{{- define "trainer.workAccessModes" -}}
{{- if .Values.work.persistence.accessModes }}
{{- toJson .Values.work.persistence.accessModes }}
{{- else if include "trainer.multiWorker" . }}
{{- toJson (list "ReadWriteMany") }}
{{- else }}
{{- toJson (list "ReadWriteOnce") }}
{{- end }}
{{- end }}

{{/*
Archive access shared by the service container and the Dask operator's
workers: credentials as env, volume mounts, volumes. Each is a YAML list body
(possibly empty). An object-store archive mounts no archive volume.
*/}}
{{- define "trainer.storageEnvFrom" -}}
{{- with .Values.archive.credentials.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "trainer.storageEnv" -}}
{{- with .Values.archive.credentials.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/archive/%s" .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trainer.storageVolumeMounts" -}}
{{- if not .Values.archive.url }}
- name: archive
  mountPath: /archive
  {{- if .Values.archive.readOnly }}
  readOnly: true
  {{- end }}
{{- end }}
{{- if .Values.archive.credentials.keyFile.existingSecret }}
- name: archive-key
  mountPath: /var/run/secrets/archive
  readOnly: true
{{- end }}
{{- end }}

{{- define "trainer.storageVolumes" -}}
{{- if not .Values.archive.url }}
- name: archive
  {{- with tpl .Values.archive.existingClaim . }}
  persistentVolumeClaim:
    claimName: {{ . }}
    {{- if $.Values.archive.readOnly }}
    readOnly: true
    {{- end }}
  {{- else }}
  emptyDir: {}
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
Artefact-root access of the trainer container only (the Dask operator's
workers never publish): credentials as env, volume mounts, volumes. Each is a
YAML list body (possibly empty). A Secret the archive already loads with
envFrom is not loaded twice.
*/}}
{{- define "trainer.artifactsEnvFrom" -}}
{{- with .Values.artifacts.credentials.existingSecret }}
{{- if ne . $.Values.archive.credentials.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trainer.artifactsEnv" -}}
{{- with .Values.artifacts.credentials.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/artifacts/%s" .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trainer.artifactsVolumeMounts" -}}
{{- if .Values.artifacts.credentials.keyFile.existingSecret }}
- name: artifacts-key
  mountPath: /var/run/secrets/artifacts
  readOnly: true
{{- end }}
{{- end }}

{{- define "trainer.artifactsVolumes" -}}
{{- with .Values.artifacts.credentials.keyFile }}
{{- if .existingSecret }}
- name: artifacts-key
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
Cross-field checks the JSON schema cannot express. Included by the workload.
*/}}
{{- define "trainer.validateValues" -}}
{{- $multi := include "trainer.multiWorker" . }}
{{- if and .Values.dask.enabled (eq .Values.dask.mode "external") (not .Values.dask.scheduler.address) }}
{{- fail "trainer: dask.mode=external needs dask.scheduler.address (e.g. tcp://dask-scheduler.dask.svc:8786)" }}
{{- end }}
{{- if and (include "trainer.daskOperator" .) (lt (int .Values.dask.operator.worker.replicas) 1) }}
{{- fail (printf "trainer: dask.mode=operator needs dask.operator.worker.replicas >= 1 (got %d)" (int .Values.dask.operator.worker.replicas)) }}
{{- end }}
{{- if and (include "trainer.daskOperator" .) .Values.dask.operator.image.repository (not .Values.dask.operator.image.tag) }}
{{- fail "trainer: dask.operator.image.repository needs dask.operator.image.tag (in step with the trainer's dask/distributed)" }}
{{- end }}
{{- if hasPrefix "file:" .Values.archive.url }}
{{- fail "trainer: archive.url is for object stores (s3://, gs://...); leave it empty to use the claim at file:///archive" }}
{{- end }}
{{- with .Values.artifacts.root }}
{{- if hasPrefix "file:" . }}
{{- $path := regexReplaceAll "^file://(localhost)?" . "" | trimSuffix "/" }}
{{- $work := trimSuffix "/" $.Values.work.mountPath }}
{{- $first := regexFind "^[^/]*" (trimPrefix (printf "%s/" $work) $path) }}
{{- if or (not (hasPrefix (printf "%s/" $work) $path)) (has $first (list "jobs" "requests")) }}
{{- fail (printf "trainer: a file:// artifacts.root must be a folder under work.mountPath %s (the only writable volume that can outlive the pod) other than its jobs/ and requests/, e.g. file://%s/published; got %s" $work $work .) }}
{{- end }}
{{- end }}
{{- end }}
{{- $archiveKey := .Values.archive.credentials.keyFile }}
{{- $artifactsKey := .Values.artifacts.credentials.keyFile }}
{{- if and $archiveKey.existingSecret $artifactsKey.existingSecret (eq $archiveKey.env $artifactsKey.env) }}
{{- fail (printf "trainer: archive.credentials.keyFile and artifacts.credentials.keyFile both set %s; leave artifacts.credentials.keyFile.existingSecret empty when the archive's key also reaches the artefact root" $artifactsKey.env) }}
{{- end }}
{{- if and (include "trainer.daskOperator" .) (not .Values.archive.url) (not (tpl .Values.archive.existingClaim .)) }}
{{- fail "trainer: dask.mode=operator needs an archive the workers can share: archive.existingClaim or archive.url" }}
{{- end }}
{{- if $multi }}
{{- if not .Values.work.persistence.enabled }}
{{- fail "trainer: training.mode=multiWorker needs a work root every worker shares: work.persistence.enabled=true (ReadWriteMany)" }}
{{- end }}
{{- if and .Values.work.persistence.accessModes (not .Values.work.persistence.existingClaim) (not (has "ReadWriteMany" .Values.work.persistence.accessModes)) }}
{{- fail "trainer: training.mode=multiWorker needs work.persistence.accessModes to include ReadWriteMany (every worker mounts the work root)" }}
{{- end }}
{{- $ports := list (int .Values.service.ports.grpc) (int .Values.service.ports.metrics) }}
{{- if has (int .Values.training.collectivePort) $ports }}
{{- fail (printf "trainer: training.collectivePort %d clashes with a service port" (int .Values.training.collectivePort)) }}
{{- end }}
{{- end }}
{{- if eq (int .Values.service.ports.grpc) (int .Values.service.ports.metrics) }}
{{- fail "trainer: service.ports.grpc and service.ports.metrics must differ" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "trainer: otel.enabled=true needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
