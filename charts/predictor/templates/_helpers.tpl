{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "predictor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "predictor.fullname" -}}
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
{{- define "predictor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release.
*/}}
{{- define "predictor.labels" -}}
helm.sh/chart: {{ include "predictor.chart" . }}
{{ include "predictor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once the Deployment exists, so keep them minimal.
*/}}
{{- define "predictor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "predictor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the pods: the common labels, plus the registry's client label (the
serving sync follows the registry; its NetworkPolicy admits pods by it).
*/}}
{{- define "predictor.podLabels" -}}
{{ include "predictor.labels" . }}
{{- if .Values.registry.clientLabel }}
weather.io/registry-client: "true"
{{- end }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "predictor.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "predictor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "predictor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image references: repository@digest, else repository:tag (the predictor's tag
defaults to Chart.appVersion; TF Serving's is always pinned in values).
*/}}
{{- define "predictor.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "predictor.tfservingImage" -}}
{{- with .Values.tfserving.image }}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap with TF Serving's initial model config and batching
parameters.
*/}}
{{- define "predictor.configMapName" -}}
{{- printf "%s-tfserving" (include "predictor.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{/*
The registry address (rendered with tpl) and its port.
*/}}
{{- define "predictor.registryAddress" -}}
{{- tpl .Values.registry.address . }}
{{- end }}

{{- define "predictor.registryPort" -}}
{{- regexFind "[0-9]+$" (include "predictor.registryAddress" .) }}
{{- end }}

{{/*
Serving base (models volume mount) without a trailing slash, and the model
config file TF Serving reads (--model_config_file), which the sync rewrites.
*/}}
{{- define "predictor.servingBase" -}}
{{- trimSuffix "/" .Values.models.mountPath }}
{{- end }}

{{- define "predictor.modelConfigFile" -}}
{{- printf "%s/%s" (include "predictor.servingBase" .) .Values.models.configFileName }}
{{- end }}

{{/*
Where the ConfigMap is mounted (read-only) in the init container and TF
Serving: the initial model config and the batching parameters.
*/}}
{{- define "predictor.configMountPath" -}}
/etc/tfserving
{{- end }}

{{/*
The initial model config (ModelServerConfig in text format): the models of
models.initial with base_path <serving base>/<name>; an empty
model_config_list when there are none.
*/}}
{{- define "predictor.initialModelConfig" -}}
{{- $base := include "predictor.servingBase" . -}}
model_config_list {
{{- range .Values.models.initial }}
  config {
    name: {{ . | quote }}
    base_path: {{ printf "%s/%s" $base . | quote }}
    model_platform: "tensorflow"
  }
{{- end }}
}
{{- end }}

{{/*
TF Serving's batching parameters (BatchingParameters in text format).
*/}}
{{- define "predictor.batchingConfig" -}}
{{- with .Values.tfserving.batching -}}
max_batch_size { value: {{ int64 .maxBatchSize }} }
batch_timeout_micros { value: {{ int64 .batchTimeoutMicros }} }
max_enqueued_batches { value: {{ int64 .maxEnqueuedBatches }} }
num_batch_threads { value: {{ int64 .numBatchThreads }} }
{{- end }}
{{- end }}

{{/*
PREDICTOR_ARCHIVE_URL: the object-store URL, or the volume at /archive.
*/}}
{{- define "predictor.archiveUrl" -}}
{{- default "file:///archive" .Values.archive.url }}
{{- end }}

{{/*
"true" when the pods reach an object store over HTTPS: an object-store archive
(predictor) or artefacts (sync).
*/}}
{{- define "predictor.remoteStorage" -}}
{{- if or .Values.archive.url .Values.artifacts.objectStore -}}
true
{{- end }}
{{- end }}

{{/*
Most pods the release runs at once under normal operation, and fewest: the
autoscaler's bounds, else replicaCount.
*/}}
{{- define "predictor.minPods" -}}
{{- if .Values.autoscaling.enabled }}
{{- int .Values.autoscaling.minReplicas }}
{{- else }}
{{- int .Values.replicaCount }}
{{- end }}
{{- end }}

{{- define "predictor.maxPods" -}}
{{- if .Values.autoscaling.enabled }}
{{- int .Values.autoscaling.maxReplicas }}
{{- else }}
{{- int .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
Name of the models PVC: the existing claim, or the one the chart creates.
*/}}
{{- define "predictor.modelsClaimName" -}}
{{- default (printf "%s-models" (include "predictor.fullname" .)) .Values.models.persistence.existingClaim }}
{{- end }}

{{/*
Credentials of a store (archive or artifacts) as env, volume mounts and
volumes; each a YAML list body (possibly empty). Called with a dict:
name (archive|artifacts), creds (the credentials values).
*/}}
{{- define "predictor.credentialsEnvFrom" -}}
{{- with .creds.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "predictor.credentialsEnv" -}}
{{- with .creds.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/%s/%s" $.name .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "predictor.credentialsVolumeMounts" -}}
{{- if .creds.keyFile.existingSecret }}
- name: {{ .name }}-key
  mountPath: /var/run/secrets/{{ .name }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "predictor.credentialsVolumes" -}}
{{- with .creds.keyFile }}
{{- if .existingSecret }}
- name: {{ $.name }}-key
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
Cross-field checks the JSON schema cannot express. Included by the Deployment.
*/}}
{{- define "predictor.validateValues" -}}
{{- $registry := include "predictor.registryAddress" . }}
{{- if not (regexMatch "^[^\\s:/]+(:[0-9]+)$|^\\[[0-9a-fA-F:.]+\\]:[0-9]+$" $registry) }}
{{- fail (printf "predictor: registry.address must be host:port (the serving sync follows the registry); got %q" $registry) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail (printf "predictor: autoscaling.maxReplicas (%d) must be at least autoscaling.minReplicas (%d)" (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- end }}
{{- if and .Values.models.persistence.enabled (gt (int (include "predictor.maxPods" .)) 1) }}
{{- fail "predictor: models.persistence.enabled needs a single pod (autoscaling.enabled=false, replicaCount <= 1): each pod's serving sync owns the serving base and would delete or half-see another pod's copies" }}
{{- end }}
{{- if and (gt (float64 .Values.config.canaryShare) 0.0) (not (has "canary" .Values.models.aliases)) }}
{{- fail "predictor: config.canaryShare > 0 needs \"canary\" in models.aliases (the sync must serve the canary label)" }}
{{- end }}
{{- if not (has .Values.config.defaultAlias .Values.models.aliases) }}
{{- fail (printf "predictor: config.defaultAlias %q must be one of models.aliases (the labels the sync serves)" .Values.config.defaultAlias) }}
{{- end }}
{{- if .Values.models.names }}
{{- range .Values.models.initial }}
{{- if not (has . $.Values.models.names) }}
{{- fail (printf "predictor: models.initial %q is not in models.names" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if hasPrefix "file:" .Values.archive.url }}
{{- fail "predictor: archive.url is for object stores (s3://, gs://...); leave it empty to use the claim at file:///archive" }}
{{- end }}
{{- $base := include "predictor.servingBase" . }}
{{- $reserved := list "/tmp" "/archive" "/etc/tfserving" "/var/run/secrets" }}
{{- if or (has $base $reserved) (eq $base "") }}
{{- fail (printf "predictor: models.mountPath %s clashes with another mount" .Values.models.mountPath) }}
{{- end }}
{{- if .Values.artifacts.existingClaim }}
{{- $art := trimSuffix "/" .Values.artifacts.mountPath }}
{{- if or (has $art $reserved) (eq $art $base) (hasPrefix (printf "%s/" $base) $art) (hasPrefix (printf "%s/" $art) $base) }}
{{- fail (printf "predictor: artifacts.mountPath %s clashes with models.mountPath or another mount" .Values.artifacts.mountPath) }}
{{- end }}
{{- end }}
{{- $ports := list (int .Values.service.ports.grpc) (int .Values.service.ports.metrics) (int .Values.tfserving.port) }}
{{- if ne (len (uniq $ports)) 3 }}
{{- fail "predictor: service.ports.grpc, service.ports.metrics and tfserving.port must differ (one network namespace)" }}
{{- end }}
{{- if and (ne (int .Values.tfserving.restApiPort) 0) (has (int .Values.tfserving.restApiPort) $ports) }}
{{- fail "predictor: tfserving.restApiPort clashes with another port" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "predictor: otel.enabled=true needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
