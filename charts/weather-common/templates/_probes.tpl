{{/*
Native gRPC probes (grpc.health.v1) on the service's gRPC port, from
.Values.probes.{startup,readiness,liveness} (each with `enabled` and the
probe's timing fields). The output is the probes at the container's level;
include it with nindent.
*/}}
{{- define "weather-common.grpcProbes" -}}
{{- range $probe := list "startup" "readiness" "liveness" }}
{{- with index $.Values.probes $probe }}
{{- if .enabled }}
{{ $probe }}Probe:
  grpc:
    port: {{ $.Values.service.ports.grpc }}
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
