{{/*
Authentication and authorisation. With auth.enabled (default) the service
enforces the per-method roles of its policy file (<P>AUTH_POLICY_FILE): the
chart's files/auth-policy.yaml as the ConfigMap <fullname>-auth-policy, or
auth.policy.existingConfigMap. Credentials: JWTs checked against
auth.jwks (a ConfigMap or Secret holding the JWKS), auth.issuer and
auth.audience; static tokens from auth.staticTokensSecret; with mTLS the
client certificate's identity. A service that calls others sends the token in
auth.clientTokenSecret (<P>CLIENT_TOKEN_FILE). Everything is mounted, as a
whole, in one projected volume at /etc/weather/auth; the global.auth values
fill in what the chart leaves empty (issuer, audience, jwks,
staticTokensSecret). Values carry Secret and ConfigMap names only.
*/}}
{{- define "weather-common.authMountPath" -}}
/etc/weather/auth
{{- end }}

{{- define "weather-common.authPolicyName" -}}
{{- printf "%s-auth-policy" (include "weather-common.fullname" . | trunc 51 | trimSuffix "-") }}
{{- end }}

{{/*
The effective auth settings (a YAML map): the chart's values over the global
ones.
*/}}
{{- define "weather-common.authSettings" -}}
{{- $g := dig "auth" dict (include "weather-common.global" . | fromYaml) }}
{{- $a := .Values.auth }}
{{- $jwks := $a.jwks | default dict }}
{{- $gjwks := dig "jwks" dict $g }}
{{- $jwksSet := or $jwks.configMap $jwks.secret }}
enabled: {{ $a.enabled }}
issuer: {{ $a.issuer | default (dig "issuer" "" $g) | quote }}
audience: {{ $a.audience | default (dig "audience" "" $g) | quote }}
jwksConfigMap: {{ ternary ($jwks.configMap | default "") (dig "configMap" "" $gjwks) (not (empty $jwksSet)) | quote }}
jwksSecret: {{ ternary ($jwks.secret | default "") (dig "secret" "" $gjwks) (not (empty $jwksSet)) | quote }}
jwksKey: {{ ternary ($jwks.key | default "jwks.json") (dig "key" "jwks.json" $gjwks) (not (empty $jwksSet)) | quote }}
staticTokensSecret: {{ $a.staticTokensSecret | default (dig "staticTokensSecret" "" $g) | quote }}
staticTokensKey: {{ $a.staticTokensKey | default "tokens.yaml" | quote }}
clockSkewSeconds: {{ dig "clockSkewSeconds" 30 $a }}
clientTokenSecret: {{ $a.clientTokenSecret | default "" | quote }}
clientTokenKey: {{ $a.clientTokenKey | default "token" | quote }}
policyConfigMap: {{ $a.policy.existingConfigMap | default (include "weather-common.authPolicyName" .) | quote }}
policyKey: {{ ternary $a.policy.key "policy.yaml" (not (empty $a.policy.existingConfigMap)) | quote }}
{{- end }}

{{/*
The ConfigMap of the chart's policy file (files/auth-policy.yaml) with
auth.identities (client certificate names, rendered with tpl, -> roles) as its
identities, unless auth is off or auth.policy.existingConfigMap names another.
*/}}
{{- define "weather-common.authPolicyConfigMap" -}}
{{- if and .Values.auth.enabled (not .Values.auth.policy.existingConfigMap) }}
{{- $policy := .Files.Get "files/auth-policy.yaml" }}
{{- if not $policy }}
{{- fail (printf "%s: auth.enabled needs files/auth-policy.yaml in the chart or auth.policy.existingConfigMap" .Chart.Name) }}
{{- end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "weather-common.authPolicyName" . }}
  labels:
    {{- include "weather-common.labels" . | nindent 4 }}
data:
  policy.yaml: |
    {{- $policy | trim | nindent 4 }}
    {{- with .Values.auth.identities }}
    identities:
      {{- range $name := keys . | sortAlpha }}
      {{ tpl $name $ | quote }}: {{ index $.Values.auth.identities $name | toJson }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
The auth env entries of a container (a YAML list body). Called with a dict:
root, prefix (e.g. "REGISTRY_"), server (bool), client (bool).
*/}}
{{- define "weather-common.authEnv" -}}
{{- $s := include "weather-common.authSettings" .root | fromYaml }}
{{- $dir := include "weather-common.authMountPath" .root }}
{{- if and .server $s.enabled }}
- name: {{ .prefix }}AUTH_POLICY_FILE
  value: {{ printf "%s/policy.yaml" $dir | quote }}
- name: {{ .prefix }}AUTH_CLOCK_SKEW_SECONDS
  value: {{ include "weather-common.settingValue" $s.clockSkewSeconds | quote }}
{{- if or $s.jwksConfigMap $s.jwksSecret }}
- name: {{ .prefix }}AUTH_JWKS_FILE
  value: {{ printf "%s/jwks.json" $dir | quote }}
{{- end }}
{{- with $s.issuer }}
- name: {{ $.prefix }}AUTH_JWT_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $s.audience }}
- name: {{ $.prefix }}AUTH_JWT_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- if $s.staticTokensSecret }}
- name: {{ .prefix }}AUTH_STATIC_TOKENS_FILE
  value: {{ printf "%s/static-tokens.yaml" $dir | quote }}
{{- end }}
{{- end }}
{{- if and .client $s.clientTokenSecret }}
- name: {{ .prefix }}CLIENT_TOKEN_FILE
  value: {{ printf "%s/client-token" $dir | quote }}
{{- end }}
{{- end }}

{{/*
The sources of the auth volume (a YAML list body). Called with a dict: root,
server (bool: a container of the pod enforces auth), client (bool: one sends
a client token).
*/}}
{{- define "weather-common.authSources" -}}
{{- $s := include "weather-common.authSettings" .root | fromYaml }}
{{- if and .server $s.enabled }}
- configMap:
    name: {{ $s.policyConfigMap }}
    items:
      - key: {{ $s.policyKey }}
        path: policy.yaml
{{- with $s.jwksConfigMap }}
- configMap:
    name: {{ . }}
    items:
      - key: {{ $s.jwksKey }}
        path: jwks.json
{{- end }}
{{- with $s.jwksSecret }}
- secret:
    name: {{ . }}
    items:
      - key: {{ $s.jwksKey }}
        path: jwks.json
{{- end }}
{{- with $s.staticTokensSecret }}
- secret:
    name: {{ . }}
    items:
      - key: {{ $s.staticTokensKey }}
        path: static-tokens.yaml
{{- end }}
{{- end }}
{{- if .client }}
{{- with $s.clientTokenSecret }}
- secret:
    name: {{ . }}
    items:
      - key: {{ $s.clientTokenKey }}
        path: client-token
{{- end }}
{{- end }}
{{- end }}

{{/*
The auth volume of the pod (a YAML list body; empty when nothing is mounted).
Called with a dict: root, server, client (as authSources).
*/}}
{{- define "weather-common.authVolume" -}}
{{- with include "weather-common.authSources" . }}
- name: auth
  projected:
    defaultMode: 0440
    sources:
      {{- trim . | nindent 6 }}
{{- end }}
{{- end }}

{{/*
The auth volumeMount of a container (empty when the pod has no auth volume).
Called with a dict: root, server, client (those of the pod).
*/}}
{{- define "weather-common.authVolumeMount" -}}
{{- if include "weather-common.authSources" . }}
- name: auth
  mountPath: {{ include "weather-common.authMountPath" .root }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Cross-field checks of the tls and auth values.
*/}}
{{- define "weather-common.validateSecurity" -}}
{{- $chart := .Chart.Name }}
{{- $s := include "weather-common.authSettings" . | fromYaml }}
{{- if and $s.jwksConfigMap $s.jwksSecret }}
{{- fail (printf "%s: set only one of auth.jwks.configMap and auth.jwks.secret" $chart) }}
{{- end }}
{{- if and (or $s.jwksConfigMap $s.jwksSecret) (not $s.issuer) }}
{{- fail (printf "%s: auth.jwks needs auth.issuer (or global.auth.issuer)" $chart) }}
{{- end }}
{{- end }}

{{/*
TLS and auth together, for a container: env entries, volumeMounts; for a pod:
volumes. Called with a dict: root, prefix (env only; default the chart's
"<PREFIX>_"), server (bool), client (bool).
*/}}
{{- define "weather-common.securityEnv" -}}
{{- $prefix := .prefix | default (printf "%s_" (include "weather-common.envPrefix" .root)) }}
{{- $args := dict "root" .root "prefix" $prefix "server" .server "client" .client }}
{{- print (include "weather-common.tlsEnv" $args) (include "weather-common.authEnv" $args) | trim }}
{{- end }}

{{- define "weather-common.securityVolumeMounts" -}}
{{- print (include "weather-common.tlsVolumeMount" .root) (include "weather-common.authVolumeMount" .) | trim }}
{{- end }}

{{- define "weather-common.securityVolumes" -}}
{{- print (include "weather-common.tlsVolume" .root) (include "weather-common.authVolume" .) | trim }}
{{- end }}

{{/*
The chart's own security objects: the cert-manager Certificate and the auth
policy ConfigMap (each only when on), as YAML documents.
*/}}
{{- define "weather-common.securityResources" -}}
{{- with include "weather-common.certificate" . }}
---
{{ . }}
{{- end }}
{{- with include "weather-common.authPolicyConfigMap" . }}
---
{{ . }}
{{- end }}
{{- end }}
