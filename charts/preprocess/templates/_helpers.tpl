{{/*
Preprocess-specific helpers. The chart is the archive-service shape of the
weather-common library chart (charts/weather-common), which ingest shares.
*/}}

{{/*
Cross-field checks the JSON schema cannot express. Included by deployment.yaml.
*/}}
{{- define "preprocess.validateValues" -}}
{{- include "weather-common.validateCommon" . }}
{{- include "weather-common.validateDask" . }}
{{- include "weather-common.validateArchive" . }}
{{- end }}
