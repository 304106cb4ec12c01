{{/*
Trainer-specific helpers. Names, labels, images, security contexts, probes,
Dask, archive storage, OpenTelemetry, the Service and the ServiceMonitor come
from the weather-common library chart (charts/weather-common).
*/}}

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
{{- include "weather-common.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the headless Service that gives each worker a stable DNS name
(<pod>.<headless>.<namespace>.svc) for TF_CONFIG.
*/}}
{{- define "trainer.headlessName" -}}
{{- printf "%s-workers" (include "weather-common.fullname" . | trunc 55 | trimSuffix "-") }}
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
{{- if or (include "weather-common.remoteArchive" .) (include "trainer.remoteArtifacts" .) -}}
true
{{- end }}
{{- end }}

{{/*
Name of the work-root PVC: the existing claim, or the one the chart creates.
*/}}
{{- define "trainer.workClaimName" -}}
{{- default (printf "%s-work" (include "weather-common.fullname" .)) .Values.work.persistence.existingClaim }}
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
Artefact-root access of the trainer container only (the Dask operator's
workers never publish): credentials as env, volume mounts, volumes. Each is a
YAML list body (possibly empty). A Secret the archive already loads with
envFrom is not loaded twice.
*/}}
{{- define "trainer.artifactsEnvFrom" -}}
{{- $archive := include "weather-common.archiveCredentials" . | fromYaml }}
{{- with .Values.artifacts.credentials.existingSecret }}
{{- if ne . $archive.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trainer.artifactsEnv" -}}
{{- include "weather-common.credentialsEnv" (dict "name" "artifacts" "creds" .Values.artifacts.credentials) }}
{{- end }}

{{- define "trainer.artifactsVolumeMounts" -}}
{{- include "weather-common.credentialsVolumeMounts" (dict "name" "artifacts" "creds" .Values.artifacts.credentials) }}
{{- end }}

{{- define "trainer.artifactsVolumes" -}}
{{- include "weather-common.credentialsVolumes" (dict "name" "artifacts" "creds" .Values.artifacts.credentials) }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Included by the workload.
*/}}
{{- define "trainer.validateValues" -}}
{{- $multi := include "trainer.multiWorker" . }}
{{- include "weather-common.validateCommon" . }}
{{- include "weather-common.validateDask" . }}
{{- include "weather-common.validateArchive" . }}
{{- with include "weather-common.registryAddress" . }}
{{- if not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\\[[0-9a-fA-F:.]+\\]):[0-9]{1,5}$" .) }}
{{- fail (printf "trainer: registry.address (or global.registry.address) must be host:port; got %q" .) }}
{{- end }}
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
{{- $archiveKey := (include "weather-common.archiveCredentials" . | fromYaml).keyFile }}
{{- $artifactsKey := .Values.artifacts.credentials.keyFile }}
{{- if and $archiveKey.existingSecret $artifactsKey.existingSecret (eq $archiveKey.env $artifactsKey.env) }}
{{- fail (printf "trainer: archive.credentials.keyFile and artifacts.credentials.keyFile both set %s; leave artifacts.credentials.keyFile.existingSecret empty when the archive's key also reaches the artefact root" $artifactsKey.env) }}
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
{{- end }}
