{{/*
Service settings straight from a values map, for the settings a chart passes
through unchanged (limits, source policy, tuning). Each key (camelCase)
becomes <PREFIX><SNAKE_CASE> and is always rendered (the values' defaults are
the service's): lists comma-joined, whole numbers without an exponent,
booleans true/false. Called with a dict: prefix (e.g. "INGEST_"), values (the
map, e.g. (pick .Values.config "maxTimeSteps" "maxGridPoints")).
*/}}
{{- define "weather-common.settingsEnv" -}}
{{- range $key := keys .values | sortAlpha }}
- name: {{ printf "%s%s" $.prefix (snakecase $key | upper) }}
  value: {{ include "weather-common.settingValue" (get $.values $key) | quote }}
{{- end }}
{{- end }}

{{/*
One setting's value as its environment variable's text.
*/}}
{{- define "weather-common.settingValue" -}}
{{- if kindIs "slice" . -}}
{{ join "," . }}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{ int64 . }}
{{- else if kindIs "invalid" . -}}
{{- else -}}
{{ toString . }}
{{- end }}
{{- end }}
