{{/*
An image reference from a map {repository, tag, digest}: repository@digest,
else repository:tag. Called with a dict: image (the map), defaultTag (used
when the tag is empty).
*/}}
{{- define "weather-common.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .defaultTag .image.tag) }}
{{- end }}
{{- end }}

{{/*
The service image (.Values.image); the tag defaults to Chart.appVersion.
*/}}
{{- define "weather-common.image" -}}
{{- include "weather-common.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion) }}
{{- end }}
