{{/*
Labels shared by every resource of the release.
*/}}
{{- define "weather-common.labels" -}}
helm.sh/chart: {{ include "weather-common.chart" . }}
{{ include "weather-common.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}

{{/*
Selector labels: immutable once a Deployment or StatefulSet exists, so keep
them minimal.
*/}}
{{- define "weather-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weather-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the `helm test` pod. They deliberately lack app.kubernetes.io/name
so the Service, PDB and NetworkPolicy pod selector never pick the test pod;
the NetworkPolicy admits it to the gRPC port by these labels.
*/}}
{{- define "weather-common.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: connection-test
{{- end }}

{{/*
Labels of a DaskCluster. The Dask operator copies them onto the scheduler
and worker pods, so they lack app.kubernetes.io/name: the Services, PDB and
the service's NetworkPolicy must never select Dask pods.
*/}}
{{- define "weather-common.daskLabels" -}}
helm.sh/chart: {{ include "weather-common.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dask
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weather-suite
{{- end }}
