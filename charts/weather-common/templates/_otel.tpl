{{/*
OpenTelemetry. A service exports traces over OTLP when otel.enabled or
global.otel.enabled is true, to otel.endpoint (else global.otel.endpoint).
*/}}
{{- define "weather-common.otelEnabled" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- if or .Values.otel.enabled (dig "otel" "enabled" false $g) -}}
true
{{- end }}
{{- end }}

{{- define "weather-common.otelEndpoint" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- default (dig "otel" "endpoint" "" $g) .Values.otel.endpoint }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES: where the service runs (namespace, version, the
suite as service.namespace), then global.otel.resourceAttributes and
otel.resourceAttributes (the chart's win), sorted by key.
*/}}
{{- define "weather-common.otelResourceAttributes" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- $attrs := dict "service.namespace" "weather-suite" "service.version" .Chart.AppVersion "k8s.namespace.name" .Release.Namespace }}
{{- $attrs = mustMergeOverwrite $attrs (deepCopy (dig "otel" "resourceAttributes" dict $g)) (deepCopy (.Values.otel.resourceAttributes | default dict)) }}
{{- $pairs := list }}
{{- range $key := keys $attrs | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%v" $key (index $attrs $key)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
The OpenTelemetry env entries of a container (a YAML list body). Called with a
dict: root (the chart's context), serviceName (optional; default
otel.serviceName, else the chart name). With tracing off: OTEL_SDK_DISABLED.
*/}}
{{- define "weather-common.otelEnv" -}}
{{- $root := .root }}
{{- if include "weather-common.otelEnabled" $root }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ include "weather-common.otelEndpoint" $root | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .serviceName | default $root.Values.otel.serviceName | default (include "weather-common.name" $root) | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "weather-common.otelResourceAttributes" $root | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}

{{/*
NetworkPolicy egress rule for the OTLP export (empty with tracing off).
*/}}
{{- define "weather-common.otlpEgress" -}}
{{- if include "weather-common.otelEnabled" . }}
# OTLP trace export, to networkPolicy.egress.otlpTo (any destination when empty).
- ports:
    - port: {{ .Values.networkPolicy.egress.otlpPort }}
      protocol: TCP
  {{- with dig "egress" "otlpTo" (list) .Values.networkPolicy }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
