{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "registry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used for resources: <release>-<chart>, or just <release> when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "registry.fullname" -}}
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
{{- define "registry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource of the release.
*/}}
{{- define "registry.labels" -}}
helm.sh/chart: {{ include "registry.chart" . }}
{{ include "registry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once a Deployment exists, so keep them minimal.
*/}}
{{- define "registry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "registry.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "registry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest, else repository:tag (tag
defaults to Chart.appVersion).
*/}}
{{- define "registry.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name and key of the Secret holding the PostgreSQL URL.
*/}}
{{- define "registry.databaseSecretName" -}}
{{- default (printf "%s-database" (include "registry.fullname" .)) .Values.database.postgresql.existingSecret }}
{{- end }}

{{- define "registry.databaseSecretKey" -}}
{{- if .Values.database.postgresql.existingSecret }}
{{- .Values.database.postgresql.existingSecretKey }}
{{- else -}}
url
{{- end }}
{{- end }}

{{/*
True ("true") when the chart itself must create the database Secret.
*/}}
{{- define "registry.createDatabaseSecret" -}}
{{- if and (eq .Values.database.type "postgresql") (not .Values.database.postgresql.existingSecret) .Values.database.postgresql.url -}}
true
{{- end }}
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
{{- if and (not $pg.existingSecret) (not $pg.url) }}
{{- fail "registry: database.type=postgresql needs the database URL: set database.postgresql.existingSecret (and existingSecretKey) or database.postgresql.url" }}
{{- end }}
{{- if and $pg.existingSecret $pg.url }}
{{- fail "registry: set only one of database.postgresql.existingSecret and database.postgresql.url" }}
{{- end }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "registry: otel.enabled=true needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- end }}
