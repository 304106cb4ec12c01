{{/*
Registry-specific helpers. Names, labels, images, security contexts, probes,
OpenTelemetry, the Service and the ServiceMonitor come from the weather-common
library chart (charts/weather-common).
*/}}

{{/*
Name and key of the Secret holding the PostgreSQL URL (it carries the
password, so the chart takes it from a Secret only, never from values).
*/}}
{{- define "registry.databaseSecretName" -}}
{{- .Values.database.postgresql.existingSecret }}
{{- end }}

{{- define "registry.databaseSecretKey" -}}
{{- .Values.database.postgresql.existingSecretKey }}
{{- end }}

{{/*
The REGISTRY_DATABASE_URL env entry: a fixed SQLite path on the /data volume,
or the PostgreSQL URL read from a Secret (never a plain value).
*/}}
{{- define "registry.databaseUrlEnv" -}}
- name: REGISTRY_DATABASE_URL
{{- if eq .Values.database.type "sqlite" }}
  value: "sqlite:////data/registry.db"
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ include "registry.databaseSecretName" . }}
      key: {{ include "registry.databaseSecretKey" . }}
{{- end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Included by deployment.yaml.
*/}}
{{- define "registry.validateValues" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "registry: database.type=sqlite allows a single writer, so replicaCount must be 1 (got %d); use database.type=postgresql to run more replicas" (int .Values.replicaCount)) }}
{{- end }}
{{- if eq .Values.database.type "postgresql" }}
{{- $pg := .Values.database.postgresql }}
{{- if not $pg.existingSecret }}
{{- fail "registry: database.type=postgresql needs the database URL from a Secret: set database.postgresql.existingSecret (and existingSecretKey); the URL carries a password, so it is never a plain value" }}
{{- end }}
{{- end }}
{{- include "weather-common.validateCommon" . }}
{{- end }}
