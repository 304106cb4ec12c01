{{/*
Ingest-specific helpers. The chart is the archive-service shape of the
weather-common library chart (charts/weather-common), which preprocess
shares; ingest adds the source roots it may read (config.allowedRoots) and a
read-only claim of source files (incoming.existingClaim, at /incoming).
*/}}

{{/*
"true" when pods reach remote storage over HTTPS: an object-store archive,
or source roots that are not local files.
*/}}
{{- define "ingest.remoteStorage" -}}
{{- $remote := include "weather-common.remoteArchive" . }}
{{- range .Values.config.allowedRoots }}
{{- if not (hasPrefix "file://" .) }}
{{- $remote = "true" }}
{{- end }}
{{- end }}
{{- $remote }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Included by deployment.yaml.
*/}}
{{- define "ingest.validateValues" -}}
{{- include "weather-common.validateCommon" . }}
{{- include "weather-common.validateDask" . }}
{{- include "weather-common.validateArchive" . }}
{{- end }}
