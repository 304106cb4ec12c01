{{/*
Umbrella checks: a registry client (trainer, predictor) needs a registry. With
the registry chart off, global.registry.address must name another one.
*/}}
{{- define "weather-suite.validateValues" -}}
{{- $default := "{{ .Release.Name }}-registry:50051" }}
{{- if and (not .Values.registry.enabled) (or .Values.trainer.enabled .Values.predictor.enabled) (eq .Values.global.registry.address $default) }}
{{- fail "weather-suite: registry.enabled=false needs global.registry.address (host:port of the registry the trainer and the serving sync use)" }}
{{- end }}
{{- if and .Values.global.otel.enabled (not .Values.global.otel.endpoint) }}
{{- fail "weather-suite: global.otel.enabled=true needs global.otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
