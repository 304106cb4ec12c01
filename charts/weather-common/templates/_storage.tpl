{{/*
The archive: an object store (archive.url, else global.archive.url) or a
volume mounted at /archive (file:///archive). Its volume is either created
by the chart (archive.persistence: ingest, preprocess) or an existing claim
(archive.existingClaim, rendered with tpl: trainer, predictor).
*/}}
{{- define "weather-common.objectStoreUrl" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- default (dig "archive" "url" "" $g) .Values.archive.url }}
{{- end }}

{{- define "weather-common.archiveUrl" -}}
{{- default "file:///archive" (include "weather-common.objectStoreUrl" .) }}
{{- end }}

{{/*
The archive's credentials (archive.credentials as YAML). With the URL from
global.archive.url and no Secret of its own, the Secret is
global.archive.credentials.existingSecret: credentials travel with the URL.
*/}}
{{- define "weather-common.archiveCredentials" -}}
{{- $creds := deepCopy .Values.archive.credentials }}
{{- if and (not .Values.archive.url) (not $creds.existingSecret) }}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- $_ := set $creds "existingSecret" (dig "archive" "credentials" "existingSecret" "" $g) }}
{{- end }}
{{- toYaml $creds }}
{{- end }}

{{/*
Name of the archive claim, "" for an emptyDir (or an object store).
*/}}
{{- define "weather-common.archiveClaim" -}}
{{- if hasKey .Values.archive "persistence" }}
{{- with .Values.archive.persistence }}
{{- if .enabled }}
{{- default (printf "%s-archive" (include "weather-common.fullname" $)) (tpl .existingClaim $) }}
{{- end }}
{{- end }}
{{- else }}
{{- tpl (.Values.archive.existingClaim | default "") . }}
{{- end }}
{{- end }}

{{/*
Credentials of a store as env, volume mounts and volumes; each a YAML list
body (possibly empty). Called with a dict: name (archive|artifacts), creds
(the credentials values: existingSecret, keyFile {existingSecret, key, env}).
*/}}
{{- define "weather-common.credentialsEnvFrom" -}}
{{- with .creds.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{- define "weather-common.credentialsEnv" -}}
{{- with .creds.keyFile }}
{{- if .existingSecret }}
- name: {{ .env }}
  value: {{ printf "/var/run/secrets/%s/%s" $.name .key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weather-common.credentialsVolumeMounts" -}}
{{- if .creds.keyFile.existingSecret }}
- name: {{ .name }}-key
  mountPath: /var/run/secrets/{{ .name }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "weather-common.credentialsVolumes" -}}
{{- with .creds.keyFile }}
{{- if .existingSecret }}
- name: {{ $.name }}-key
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The archive volume and its mount at /archive (both empty with an object
store); read-only with archive.readOnly.
*/}}
{{- define "weather-common.archiveVolumeMount" -}}
{{- if not (include "weather-common.objectStoreUrl" .) }}
- name: archive
  mountPath: /archive
  {{- if .Values.archive.readOnly }}
  readOnly: true
  {{- end }}
{{- end }}
{{- end }}

{{- define "weather-common.archiveVolume" -}}
{{- if not (include "weather-common.objectStoreUrl" .) }}
- name: archive
  {{- with include "weather-common.archiveClaim" . }}
  persistentVolumeClaim:
    claimName: {{ . }}
    {{- if $.Values.archive.readOnly }}
    readOnly: true
    {{- end }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Archive access shared by a service container and its Dask operator workers:
credentials as env, volume mounts, volumes (each a YAML list body, possibly
empty). A read-only claim of source files (incoming.existingClaim, ingest)
is mounted at /incoming.
*/}}
{{- define "weather-common.storageEnvFrom" -}}
{{- include "weather-common.credentialsEnvFrom" (dict "name" "archive" "creds" (include "weather-common.archiveCredentials" . | fromYaml)) }}
{{- end }}

{{- define "weather-common.storageEnv" -}}
{{- include "weather-common.credentialsEnv" (dict "name" "archive" "creds" (include "weather-common.archiveCredentials" . | fromYaml)) }}
{{- end }}

{{- define "weather-common.storageVolumeMounts" -}}
{{- include "weather-common.archiveVolumeMount" . }}
{{- if (dig "incoming" "existingClaim" "" .Values.AsMap) }}
- name: incoming
  mountPath: /incoming
  readOnly: true
{{- end }}
{{- include "weather-common.credentialsVolumeMounts" (dict "name" "archive" "creds" (include "weather-common.archiveCredentials" . | fromYaml)) }}
{{- end }}

{{- define "weather-common.storageVolumes" -}}
{{- include "weather-common.archiveVolume" . }}
{{- with (dig "incoming" "existingClaim" "" .Values.AsMap) }}
- name: incoming
  persistentVolumeClaim:
    claimName: {{ . }}
    readOnly: true
{{- end }}
{{- include "weather-common.credentialsVolumes" (dict "name" "archive" "creds" (include "weather-common.archiveCredentials" . | fromYaml)) }}
{{- end }}

{{/*
A PersistentVolumeClaim. Called with a dict: root, name, persistence (its
settings: storageClass ("-": none), size, resourcePolicy, accessModes),
accessModes (optional, used instead of persistence.accessModes).
*/}}
{{- define "weather-common.persistentVolumeClaim" -}}
{{- $p := .persistence -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .name }}
  labels:
    {{- include "weather-common.labels" .root | nindent 4 }}
  {{- with $p.resourcePolicy }}
  annotations:
    helm.sh/resource-policy: {{ . }}
  {{- end }}
spec:
  accessModes:
    {{- toYaml (.accessModes | default $p.accessModes) | nindent 4 }}
  {{- if eq $p.storageClass "-" }}
  storageClassName: ""
  {{- else if $p.storageClass }}
  storageClassName: {{ $p.storageClass }}
  {{- end }}
  resources:
    requests:
      storage: {{ $p.size }}
{{- end }}

{{/*
"true" when the pods reach an object store over HTTPS for the archive.
*/}}
{{- define "weather-common.remoteArchive" -}}
{{- if include "weather-common.objectStoreUrl" . -}}
true
{{- end }}
{{- end }}

{{/*
NetworkPolicy egress rule to the object store over HTTPS. Called with a dict:
root, comment.
*/}}
{{- define "weather-common.objectStoreEgress" -}}
{{- $np := .root.Values.networkPolicy }}
# {{ .comment }}
- ports:
    - port: {{ $np.egress.objectStore.port }}
      protocol: TCP
  {{- with $np.egress.objectStore.cidr }}
  to:
    - ipBlock:
        cidr: {{ . }}
  {{- end }}
{{- end }}
