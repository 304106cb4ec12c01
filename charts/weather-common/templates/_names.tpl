{{/*
Names. Every helper takes the service chart's root context (`.`), so
.Chart.Name is the service chart's name, also inside the weather-suite
umbrella.
*/}}

{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "weather-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "weather-common.fullname" -}}
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
{{- define "weather-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of the service's environment variables: REGISTRY, INGEST, ...
*/}}
{{- define "weather-common.envPrefix" -}}
{{- .Chart.Name | upper | replace "-" "_" }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "weather-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weather-common.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The global values a parent chart (weather-suite) passes down; an empty map
when the chart is installed alone.
*/}}
{{- define "weather-common.global" -}}
{{- toYaml (.Values.global | default dict) }}
{{- end }}
