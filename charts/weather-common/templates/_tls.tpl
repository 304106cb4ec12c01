{{/*
TLS. With tls.enabled (default) the Secret tls.secretName (default
<fullname>-tls; keys tls.crt, tls.key, ca.crt) is mounted read-only at
/etc/weather/tls as a whole (no subPath: rotated content reaches the pod),
and the service reads it through <P>TLS_CERT_FILE, <P>TLS_KEY_FILE and, with
tls.mutual (default), <P>TLS_CLIENT_CA_FILE (client certificates required).
A service that calls others also gets <P>CLIENT_CA_FILE, <P>CLIENT_CERT_FILE
and <P>CLIENT_KEY_FILE: its own certificate (usages server and client auth)
is its client certificate. tls.certManager.enabled (or
global.tls.certManager.enabled) renders the cert-manager Certificate that
fills the Secret.
*/}}
{{- define "weather-common.tlsMountPath" -}}
/etc/weather/tls
{{- end }}

{{- define "weather-common.tlsEnabled" -}}
{{- if .Values.tls.enabled -}}
true
{{- end }}
{{- end }}

{{- define "weather-common.tlsSecretName" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "weather-common.fullname" . | trunc 59 | trimSuffix "-")) }}
{{- end }}

{{- define "weather-common.certManagerEnabled" -}}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- if and .Values.tls.enabled (or .Values.tls.certManager.enabled (dig "tls" "certManager" "enabled" false $g)) -}}
true
{{- end }}
{{- end }}

{{/*
The TLS env entries of a container (a YAML list body, empty with tls off).
Called with a dict: root, prefix (e.g. "REGISTRY_"), server (bool: the
container serves gRPC), client (bool: it calls other services).
*/}}
{{- define "weather-common.tlsEnv" -}}
{{- $root := .root }}
{{- if include "weather-common.tlsEnabled" $root }}
{{- $dir := include "weather-common.tlsMountPath" $root }}
{{- if .server }}
- name: {{ .prefix }}TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: {{ .prefix }}TLS_KEY_FILE
  value: {{ printf "%s/tls.key" $dir | quote }}
{{- if $root.Values.tls.mutual }}
- name: {{ .prefix }}TLS_CLIENT_CA_FILE
  value: {{ printf "%s/ca.crt" $dir | quote }}
{{- end }}
{{- end }}
{{- if .client }}
- name: {{ .prefix }}CLIENT_CA_FILE
  value: {{ printf "%s/ca.crt" $dir | quote }}
- name: {{ .prefix }}CLIENT_CERT_FILE
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: {{ .prefix }}CLIENT_KEY_FILE
  value: {{ printf "%s/tls.key" $dir | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The TLS volumeMount of a container (a YAML list body, empty with tls off).
*/}}
{{- define "weather-common.tlsVolumeMount" -}}
{{- if include "weather-common.tlsEnabled" . }}
- name: tls
  mountPath: {{ include "weather-common.tlsMountPath" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
The TLS volume of the pod (a YAML list body, empty with tls off): the whole
Secret, group-readable (the pods' fsGroup) and never through subPath.
*/}}
{{- define "weather-common.tlsVolume" -}}
{{- if include "weather-common.tlsEnabled" . }}
- name: tls
  secret:
    secretName: {{ include "weather-common.tlsSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/*
The health probe's TLS arguments: the CA, the pod's own certificate as client
certificate (mTLS) and the Service name its certificate holds (the probe
dials 127.0.0.1).
*/}}
{{- define "weather-common.healthcheckTlsArgs" -}}
{{- $dir := include "weather-common.tlsMountPath" . -}}
- --ca
- {{ printf "%s/ca.crt" $dir }}
- --cert
- {{ printf "%s/tls.crt" $dir }}
- --key
- {{ printf "%s/tls.key" $dir }}
- --server-name
- {{ include "weather-common.fullname" . }}
{{- end }}

{{/*
The DNS names of the service's certificate: its Service, short and qualified.
*/}}
{{- define "weather-common.tlsDnsNames" -}}
{{- $name := include "weather-common.fullname" . }}
{{- $ns := .Release.Namespace -}}
- {{ $name }}
- {{ printf "%s.%s" $name $ns }}
- {{ printf "%s.%s.svc" $name $ns }}
- {{ printf "%s.%s.svc.%s" $name $ns .Values.tls.certManager.clusterDomain }}
{{- end }}

{{/*
The cert-manager Certificate of the service (empty unless cert-manager is on).
issuerRef: tls.certManager.issuerRef, else global.tls.certManager.issuerRef.
*/}}
{{- define "weather-common.certificate" -}}
{{- if include "weather-common.certManagerEnabled" . }}
{{- $g := include "weather-common.global" . | fromYaml }}
{{- $cm := .Values.tls.certManager }}
{{- $issuer := $cm.issuerRef.name | default (dig "tls" "certManager" "issuerRef" "name" "" $g) }}
{{- $kind := $cm.issuerRef.kind | default (dig "tls" "certManager" "issuerRef" "kind" "" $g) | default "Issuer" }}
{{- $group := $cm.issuerRef.group | default (dig "tls" "certManager" "issuerRef" "group" "" $g) | default "cert-manager.io" }}
{{- if not $issuer }}
{{- fail (printf "%s: tls.certManager.enabled needs tls.certManager.issuerRef.name (or global.tls.certManager.issuerRef.name)" .Chart.Name) }}
{{- end -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ include "weather-common.fullname" . }}
  labels:
    {{- include "weather-common.labels" . | nindent 4 }}
spec:
  secretName: {{ include "weather-common.tlsSecretName" . }}
  commonName: {{ include "weather-common.fullname" . }}
  dnsNames:
    {{- include "weather-common.tlsDnsNames" . | nindent 4 }}
  duration: {{ $cm.duration }}
  renewBefore: {{ $cm.renewBefore }}
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  usages:
    - digital signature
    - key encipherment
    - server auth
    - client auth
  issuerRef:
    name: {{ $issuer }}
    kind: {{ $kind }}
    group: {{ $group }}
{{- end }}
{{- end }}

{{/*
NOTES pieces: the transport of the gRPC port, the health-check commands
through a port-forward (with the flags TLS needs), and the auth summary.
*/}}
{{- define "weather-common.notesTransport" -}}
{{- if not .Values.tls.enabled -}}
plaintext
{{- else if .Values.tls.mutual -}}
mTLS, Secret {{ include "weather-common.tlsSecretName" . }}
{{- else -}}
TLS, Secret {{ include "weather-common.tlsSecretName" . }}
{{- end }}
{{- end }}

{{- define "weather-common.notesHealthcheck" -}}
{{- $fullname := include "weather-common.fullname" . }}
{{- $grpc := .Values.service.ports.grpc }}
{{- $mutual := and .Values.tls.enabled .Values.tls.mutual }}
{{- if .Values.tls.enabled }}
     # ca.crt: the CA of {{ include "weather-common.tlsSecretName" . }}{{ if $mutual }}; client.crt/.key: a certificate it signed{{ end }}
     python -m weather_runtime.healthcheck localhost:{{ $grpc }} --ca ca.crt{{ if $mutual }} --cert client.crt --key client.key{{ end }} --server-name {{ $fullname }}
     grpcurl -cacert ca.crt{{ if $mutual }} -cert client.crt -key client.key{{ end }} -servername {{ $fullname }} localhost:{{ $grpc }} grpc.health.v1.Health/Check
{{- else }}
     python -m weather_runtime.healthcheck localhost:{{ $grpc }}
     grpcurl -plaintext localhost:{{ $grpc }} grpc.health.v1.Health/Check
{{- end }}
{{- end }}

{{- define "weather-common.notesAuth" -}}
{{- $s := include "weather-common.authSettings" . | fromYaml }}
{{- if $s.enabled }}
{{- $credentials := list }}
{{- if or $s.jwksConfigMap $s.jwksSecret }}
{{- $credentials = append $credentials (printf "JWTs from %s" ($s.issuer | default "?")) }}
{{- end }}
{{- with $s.staticTokensSecret }}
{{- $credentials = append $credentials (printf "static tokens (Secret %s)" .) }}
{{- end }}
{{- if and .Values.tls.enabled .Values.tls.mutual }}
{{- $credentials = append $credentials "client certificates (the policy's identities)" }}
{{- end -}}
Auth: per-method roles from ConfigMap {{ $s.policyConfigMap }}; credentials: {{ join ", " $credentials | default "none (every call is refused)" }}.
{{- else -}}
Auth: off (auth.enabled=false): every caller that reaches the port may call every method.
{{- end }}
{{- end }}
