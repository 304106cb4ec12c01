{{/*
gRPC health probes (grpc.health.v1) on the service's gRPC port, from
.Values.probes.{startup,readiness,liveness} (each with `enabled` and the
probe's timing fields): native gRPC probes, or with tls.enabled exec probes
running `python -m weather_runtime.healthcheck` over mTLS (the kubelet's gRPC
probe speaks neither TLS nor client certificates). The output is the probes at the container's level;
include it with nindent.
*/}}
{{- define "weather-common.grpcProbes" -}}
{{- $tls := include "weather-common.tlsEnabled" . }}
{{- range $probe := list "startup" "readiness" "liveness" }}
{{- with index $.Values.probes $probe }}
{{- if .enabled }}
{{ $probe }}Probe:
  {{- if $tls }}
  # The kubelet's gRPC probe cannot present a client certificate: with TLS the
  # service's own health check dials it over mTLS with the pod's certificate.
  exec:
    command:
      - python
      - -m
      - weather_runtime.healthcheck
      - {{ printf "127.0.0.1:%d" (int $.Values.service.ports.grpc) | quote }}
      {{- include "weather-common.healthcheckTlsArgs" $ | nindent 6 }}
      - --timeout
      - {{ .timeoutSeconds | default 1 | toString | quote }}
  {{- else }}
  grpc:
    port: {{ $.Values.service.ports.grpc }}
  {{- end }}
  {{- omit . "enabled" | toYaml | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
TCP probes for a server without grpc.health.v1. Called with a dict: probes
(the map of startup/readiness/liveness settings), port (a port number or name).
*/}}
{{- define "weather-common.tcpProbes" -}}
{{- range $probe := list "startup" "readiness" "liveness" }}
{{- with index $.probes $probe }}
{{- if .enabled }}
{{ $probe }}Probe:
  tcpSocket:
    port: {{ $.port }}
  {{- omit . "enabled" | toYaml | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
