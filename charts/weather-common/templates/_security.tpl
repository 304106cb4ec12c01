{{/*
Pod Security Standard "restricted". The charts' values carry these contexts
in full (podSecurityContext, securityContext); the helpers lay the values
over the baseline below, so a key a user removes (null) comes back with its
restricted value instead of disappearing, while any other value wins.
*/}}
{{- define "weather-common.restrictedPodSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "weather-common.restrictedSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
The pod's securityContext body (.Values.podSecurityContext over the baseline).
*/}}
{{- define "weather-common.podSecurityContext" -}}
{{- $base := include "weather-common.restrictedPodSecurityContext" . | fromYaml }}
{{- mustMergeOverwrite $base (deepCopy (.Values.podSecurityContext | default dict)) | toYaml }}
{{- end }}

{{/*
A container's securityContext body (.Values.securityContext over the baseline).
*/}}
{{- define "weather-common.securityContext" -}}
{{- $base := include "weather-common.restrictedSecurityContext" . | fromYaml }}
{{- mustMergeOverwrite $base (deepCopy (.Values.securityContext | default dict)) | toYaml }}
{{- end }}
