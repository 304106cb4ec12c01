{{/*
Predictor-specific helpers. Names, labels, images, security contexts, probes,
archive storage, OpenTelemetry, the Service and the ServiceMonitor come from
the weather-common library chart (charts/weather-common).

The model server: TensorFlow Serving runs in this chart, as the tfserving
container of every predictor pod (see values.yaml, section "TensorFlow
Serving", and README.md). The predictor and the serving sync call it on
127.0.0.1:<tfserving.port>; it reads the models the sync copies into the
pod's models volume.
*/}}

{{/*
TF Serving's image: repository@digest, else repository:tag (always pinned in
values).
*/}}
{{- define "predictor.tfservingImage" -}}
{{- include "weather-common.imageRef" (dict "image" .Values.tfserving.image "defaultTag" "") }}
{{- end }}

{{/*
Name of the ConfigMap with TF Serving's initial model config and batching
parameters.
*/}}
{{- define "predictor.configMapName" -}}
{{- printf "%s-tfserving" (include "weather-common.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{/*
The registry the serving sync follows: registry.address, else
global.registry.address, else the registry chart of the same release
(<release>-registry:50051). Called with the chart's context.
*/}}
{{- define "predictor.syncRegistryAddress" -}}
{{- include "weather-common.registryAddress" (dict "root" . "default" (printf "%s-registry:50051" .Release.Name)) }}
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
"true" when the pods reach an object store over HTTPS: an object-store archive
(predictor) or artefacts (sync).
*/}}
{{- define "predictor.remoteStorage" -}}
{{- if or (include "weather-common.remoteArchive" .) .Values.artifacts.objectStore -}}
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
{{- default (printf "%s-models" (include "weather-common.fullname" .)) .Values.models.persistence.existingClaim }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Included by the Deployment.
*/}}
{{- define "predictor.validateValues" -}}
{{- $registry := include "predictor.syncRegistryAddress" . }}
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
{{- include "weather-common.validateCommon" . }}
{{- end }}
