{{/*
Dask: a local cluster inside the pod (dask.mode=local), an external
scheduler (external, dask.scheduler.address) or a DaskCluster of the Dask
Kubernetes operator made by the chart (operator). Charts whose Dask use is
optional have dask.enabled; the others always use Dask.
*/}}
{{- define "weather-common.daskEnabled" -}}
{{- if (dig "enabled" true (.Values.dask | default dict)) -}}
true
{{- end }}
{{- end }}

{{- define "weather-common.daskOperator" -}}
{{- if and (include "weather-common.daskEnabled" .) (eq .Values.dask.mode "operator") -}}
true
{{- end }}
{{- end }}

{{- define "weather-common.daskLocal" -}}
{{- if and (include "weather-common.daskEnabled" .) (eq .Values.dask.mode "local") -}}
true
{{- end }}
{{- end }}

{{/*
Name of the DaskCluster (mode=operator). The operator names the scheduler
Service <name>-scheduler and the worker group <name>-default; it accepts at
most 53 characters, so the full name is cut to 40 first.
*/}}
{{- define "weather-common.daskClusterName" -}}
{{- printf "%s-dask" (include "weather-common.fullname" . | trunc 40 | trimSuffix "-") }}
{{- end }}

{{/*
<PREFIX>_DASK_SCHEDULER: empty (local cluster in the pod), the external
address, or the operator-made scheduler Service.
*/}}
{{- define "weather-common.daskScheduler" -}}
{{- if eq .Values.dask.mode "external" }}
{{- .Values.dask.scheduler.address }}
{{- else if eq .Values.dask.mode "operator" }}
{{- $protocol := ternary "tls" "tcp" (ne (include "weather-common.daskTlsSecret" .) "") }}
{{- printf "%s://%s-scheduler.%s.svc:8786" $protocol (include "weather-common.daskClusterName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Dask TLS (dask.tls.enabled, default on): every Dask connection (service to
scheduler, scheduler to workers, worker to worker) is mutual TLS with the
Secret dask.tls.secretName (keys ca.crt, tls.crt, tls.key), by default the
chart's gRPC TLS Secret (tls.secretName, with tls.enabled). Its certificate
serves and dials, so it needs both the server and client auth usages (the
chart's cert-manager Certificate has both). Dask checks the chain, not host
names. The name of that Secret, empty when Dask TLS is off or there is none
(then a local cluster still runs TLS, with throwaway certificates).
*/}}
{{- define "weather-common.daskTlsSecret" -}}
{{- $tls := dig "tls" dict .Values.dask }}
{{- if and (include "weather-common.daskEnabled" .) (dig "enabled" true $tls) }}
{{- if $tls.secretName }}
{{- $tls.secretName }}
{{- else if include "weather-common.tlsEnabled" . }}
{{- include "weather-common.tlsSecretName" . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Where the service container reads the Dask TLS files: the gRPC TLS mount when
they are the same Secret, else /etc/weather/dask-tls (its own volume).
*/}}
{{- define "weather-common.daskTlsDir" -}}
{{- if dig "tls" "secretName" "" .Values.dask -}}
/etc/weather/dask-tls
{{- else -}}
{{ include "weather-common.tlsMountPath" . }}
{{- end }}
{{- end }}

{{/*
The service pod's volume and mount of a Dask TLS Secret of its own
(dask.tls.secretName; the gRPC Secret is mounted already).
*/}}
{{- define "weather-common.daskTlsVolumeMount" -}}
{{- if and (include "weather-common.daskTlsSecret" .) (dig "tls" "secretName" "" .Values.dask) }}
- name: dask-tls
  mountPath: /etc/weather/dask-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "weather-common.daskTlsVolume" -}}
{{- with include "weather-common.daskTlsSecret" . }}
{{- if dig "tls" "secretName" "" $.Values.dask }}
- name: dask-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end }}

{{/*
The TLS flags of the DaskCluster's `dask scheduler` and `dask worker` (the
Secret mounted at /etc/weather/tls in those pods), a YAML list body.
*/}}
{{- define "weather-common.daskTlsArgs" -}}
- --protocol
- tls
- --tls-ca-file
- /etc/weather/tls/ca.crt
- --tls-cert
- /etc/weather/tls/tls.crt
- --tls-key
- /etc/weather/tls/tls.key
{{- end }}

{{/*
Port of the scheduler address (Dask's default 8786 when it names none).
*/}}
{{- define "weather-common.daskSchedulerPort" -}}
{{- $port := regexFind ":[0-9]+/?$" (include "weather-common.daskScheduler" .) | trimAll ":/" }}
{{- default "8786" $port }}
{{- end }}

{{/*
Image of the DaskCluster's pods: dask.operator.image (repository:tag), else
the service image with dask.operator.image.tag, else the service image.
*/}}
{{- define "weather-common.daskImage" -}}
{{- $op := .Values.dask.operator.image }}
{{- if $op.repository }}
{{- printf "%s:%s" $op.repository $op.tag }}
{{- else if $op.tag }}
{{- printf "%s:%s" .Values.image.repository $op.tag }}
{{- else }}
{{- include "weather-common.image" . }}
{{- end }}
{{- end }}

{{/*
The Dask env entries of the service container (a YAML list body):
<PREFIX>_DASK_SCHEDULER, with Dask TLS the <PREFIX>_DASK_TLS_* files, and for mode=local the local cluster's size and
DASK_TEMPORARY_DIRECTORY (/scratch). Empty when Dask is off.
*/}}
{{- define "weather-common.daskEnv" -}}
{{- $prefix := include "weather-common.envPrefix" . }}
{{- if include "weather-common.daskEnabled" . }}
- name: {{ $prefix }}_DASK_SCHEDULER
  value: {{ include "weather-common.daskScheduler" . | quote }}
{{- if include "weather-common.daskTlsSecret" . }}
{{- $dir := include "weather-common.daskTlsDir" . }}
# Dask connections over mutual TLS (dask.tls).
- name: {{ $prefix }}_DASK_TLS_CA_FILE
  value: {{ printf "%s/ca.crt" $dir | quote }}
- name: {{ $prefix }}_DASK_TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: {{ $prefix }}_DASK_TLS_KEY_FILE
  value: {{ printf "%s/tls.key" $dir | quote }}
- name: {{ $prefix }}_DASK_REQUIRE_ENCRYPTION
  value: "true"
{{- end }}
{{- if include "weather-common.daskLocal" . }}
{{- with .Values.dask.local }}
- name: {{ $prefix }}_DASK_LOCAL_WORKERS
  value: {{ .workers | int64 | toString | quote }}
- name: {{ $prefix }}_DASK_LOCAL_THREADS
  value: {{ .threadsPerWorker | int64 | toString | quote }}
- name: {{ $prefix }}_DASK_MEMORY_LIMIT
  value: {{ .memoryLimit | quote }}
{{- end }}
# Dask's spill and worker directories.
- name: DASK_TEMPORARY_DIRECTORY
  value: /scratch
{{- end }}
{{- end }}
{{- end }}

{{/*
The service pod's /scratch (mode=local): its mount and its volume.
*/}}
{{- define "weather-common.daskScratchMount" -}}
{{- if include "weather-common.daskLocal" . }}
- name: scratch
  mountPath: /scratch
{{- end }}
{{- end }}

{{- define "weather-common.daskScratchVolume" -}}
{{- if include "weather-common.daskLocal" . }}
- name: scratch
  emptyDir:
    sizeLimit: {{ .Values.dask.spillSizeLimit }}
{{- end }}
{{- end }}

{{/*
NetworkPolicy egress rules of the service pods to Dask: the DaskCluster's
scheduler and workers (operator), or the external scheduler and worker ports
(external). Empty for a local cluster or with Dask off.
*/}}
{{- define "weather-common.daskEgress" -}}
{{- $np := .Values.networkPolicy }}
{{- if include "weather-common.daskOperator" . }}
# The DaskCluster's scheduler and workers.
- ports:
    - port: 8786
      protocol: TCP
    - port: {{ .Values.dask.operator.worker.port }}
      protocol: TCP
  to:
    - podSelector:
        matchLabels:
          dask.org/cluster-name: {{ include "weather-common.daskClusterName" . }}
{{- else if and (include "weather-common.daskEnabled" .) (eq .Values.dask.mode "external") }}
# The external Dask scheduler, and workers for direct transfers.
- ports:
    - port: {{ include "weather-common.daskSchedulerPort" . | int }}
      protocol: TCP
    {{- range $np.egress.dask.workerPorts }}
    - port: {{ .port }}
      {{- with .endPort }}
      endPort: {{ . }}
      {{- end }}
      protocol: TCP
    {{- end }}
  {{- with $np.egress.dask.cidr }}
  to:
    - ipBlock:
        cidr: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The DaskCluster (dask.mode=operator; the Dask Kubernetes operator's CRDs must
be installed). The operator creates the scheduler Deployment and Service
<name>-scheduler and the worker group; it copies the labels onto those pods.
It does not roll running pods when this spec changes (except the worker
count): delete the DaskCluster to apply a new image or resources. The workers
get the archive's credentials and volumes (weather-common.storage*). Called
with a dict: root, command (true: start the Dask processes with `command`,
for an image whose entrypoint is the service; false: `args`).
*/}}
{{- define "weather-common.daskCluster" -}}
{{- $root := .root }}
{{- $op := $root.Values.dask.operator }}
{{- $image := include "weather-common.daskImage" $root }}
{{- $start := ternary "command" "args" (.command | default false) }}
{{- $tls := include "weather-common.daskTlsSecret" $root -}}
apiVersion: kubernetes.dask.org/v1
kind: DaskCluster
metadata:
  name: {{ include "weather-common.daskClusterName" $root }}
  labels:
    {{- include "weather-common.daskLabels" $root | nindent 4 }}
spec:
  scheduler:
    spec:
      {{- include "weather-common.daskPodCommon" $root | nindent 6 }}
      containers:
        - name: scheduler
          image: {{ $image | quote }}
          imagePullPolicy: {{ $op.image.pullPolicy }}
          {{ $start }}:
            - dask
            - scheduler
            - --port
            - "8786"
            - --dashboard-address
            - ":8787"
            {{- if $tls }}
            {{- include "weather-common.daskTlsArgs" $root | nindent 12 }}
            {{- end }}
          env:
            - name: HOME
              value: /tmp
            {{- if $tls }}
            - name: DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION
              value: "true"
            {{- end }}
          securityContext:
            {{- include "weather-common.securityContext" $root | nindent 12 }}
          ports:
            # The operator finds these ports by name.
            - name: tcp-comm
              containerPort: 8786
              protocol: TCP
            - name: http-dashboard
              containerPort: 8787
              protocol: TCP
          readinessProbe:
            httpGet:
              port: http-dashboard
              path: /health
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            httpGet:
              port: http-dashboard
              path: /health
            initialDelaySeconds: 15
            periodSeconds: 20
          resources:
            {{- toYaml $op.scheduler.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $tls }}
            - name: dask-tls
              mountPath: /etc/weather/tls
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if $tls }}
        - name: dask-tls
          secret:
            secretName: {{ $tls }}
            defaultMode: 0440
        {{- end }}
    service:
      type: ClusterIP
      selector:
        dask.org/cluster-name: {{ include "weather-common.daskClusterName" $root }}
        dask.org/component: scheduler
      ports:
        - name: tcp-comm
          port: 8786
          targetPort: tcp-comm
          protocol: TCP
        - name: http-dashboard
          port: 8787
          targetPort: http-dashboard
          protocol: TCP
  worker:
    replicas: {{ $op.worker.replicas }}
    spec:
      {{- include "weather-common.daskPodCommon" $root | nindent 6 }}
      containers:
        # The operator sets DASK_SCHEDULER_ADDRESS and DASK_WORKER_NAME.
        - name: worker
          image: {{ $image | quote }}
          imagePullPolicy: {{ $op.image.pullPolicy }}
          {{ $start }}:
            - dask
            - worker
            {{- if $tls }}
            # The operator's DASK_SCHEDULER_ADDRESS is tcp://; the TLS address instead.
            - {{ include "weather-common.daskScheduler" $root | quote }}
            {{- end }}
            - --name
            - $(DASK_WORKER_NAME)
            - --nthreads
            - {{ $op.worker.threads | int64 | toString | quote }}
            - --worker-port
            - {{ $op.worker.port | toString | quote }}
            - --dashboard-address
            - ":8788"
            - --local-directory
            - /scratch
            {{- if $tls }}
            {{- include "weather-common.daskTlsArgs" $root | nindent 12 }}
            {{- end }}
          {{- with include "weather-common.storageEnvFrom" $root }}
          envFrom:
            {{- trim . | nindent 12 }}
          {{- end }}
          env:
            - name: HOME
              value: /tmp
            {{- if $tls }}
            - name: DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION
              value: "true"
            {{- end }}
            {{- with include "weather-common.storageEnv" $root }}
            {{- trim . | nindent 12 }}
            {{- end }}
          securityContext:
            {{- include "weather-common.securityContext" $root | nindent 12 }}
          ports:
            - name: tcp-comm
              containerPort: {{ $op.worker.port }}
              protocol: TCP
            - name: http-dashboard
              containerPort: 8788
              protocol: TCP
          resources:
            {{- toYaml $op.worker.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: scratch
              mountPath: /scratch
            {{- if $tls }}
            - name: dask-tls
              mountPath: /etc/weather/tls
              readOnly: true
            {{- end }}
            {{- with include "weather-common.storageVolumeMounts" $root }}
            {{- trim . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        - name: scratch
          emptyDir:
            sizeLimit: {{ $root.Values.dask.spillSizeLimit }}
        {{- if $tls }}
        - name: dask-tls
          secret:
            secretName: {{ $tls }}
            defaultMode: 0440
        {{- end }}
        {{- with include "weather-common.storageVolumes" $root }}
        {{- trim . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/*
Pod-level fields of the DaskCluster's pods (scheduler and workers).
*/}}
{{- define "weather-common.daskPodCommon" -}}
serviceAccountName: {{ include "weather-common.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "weather-common.podSecurityContext" . | nindent 2 }}
{{- end }}

{{/*
Default deny for the DaskCluster's pods: a Dask scheduler runs any code it is
sent, on workers holding the archive credentials, so only the service, the
cluster itself and the operator reach it. Called with a dict: root,
remote ("true" when the workers reach the archive on an object store).
*/}}
{{- define "weather-common.daskNetworkPolicy" -}}
{{- $root := .root }}
{{- $np := $root.Values.networkPolicy }}
{{- $cluster := include "weather-common.daskClusterName" $root -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $cluster }}
  labels:
    {{- include "weather-common.daskLabels" $root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      dask.org/cluster-name: {{ $cluster }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    # Scheduler, workers and nannies talk to each other on any port.
    - from:
        - podSelector:
            matchLabels:
              dask.org/cluster-name: {{ $cluster }}
    # The service submits graphs (scheduler) and may fetch results (workers).
    - ports:
        - port: 8786
          protocol: TCP
        - port: {{ $root.Values.dask.operator.worker.port }}
          protocol: TCP
      from:
        - podSelector:
            matchLabels:
              {{- include "weather-common.selectorLabels" $root | nindent 14 }}
    # The operator scales and watches the cluster (scheduler comm and HTTP API).
    - ports:
        - port: 8786
          protocol: TCP
        - port: 8787
          protocol: TCP
      from:
        - namespaceSelector:
            {{- toYaml $np.daskOperator.namespaceSelector | nindent 12 }}
    # Prometheus scrapes /metrics on the scheduler and worker dashboards.
    - ports:
        - port: 8787
          protocol: TCP
        - port: 8788
          protocol: TCP
      from:
        - namespaceSelector:
            {{- toYaml $np.metrics.namespaceSelector | nindent 12 }}
  egress:
    {{- include "weather-common.dnsEgress" $root | nindent 4 }}
    - to:
        - podSelector:
            matchLabels:
              dask.org/cluster-name: {{ $cluster }}
    {{- if .remote }}
    {{- include "weather-common.objectStoreEgress" (dict "root" $root "comment" "The workers reach the archive on the object store.") | nindent 4 }}
    {{- end }}
{{- end }}

{{/*
Cross-field checks of the Dask settings. Called with the chart's context.
*/}}
{{- define "weather-common.validateDask" -}}
{{- $chart := .Chart.Name }}
{{- if include "weather-common.daskEnabled" . }}
{{- if and (eq .Values.dask.mode "external") (not .Values.dask.scheduler.address) }}
{{- fail (printf "%s: dask.mode=external needs dask.scheduler.address (e.g. tls://dask-scheduler.dask.svc:8786)" $chart) }}
{{- end }}
{{- $daskTls := dig "tls" "enabled" true .Values.dask }}
{{- if and $daskTls (ne .Values.dask.mode "local") (not (include "weather-common.daskTlsSecret" .)) }}
{{- fail (printf "%s: dask.tls.enabled with dask.mode=%s needs a certificate: tls.enabled (the chart's TLS Secret) or dask.tls.secretName; or dask.tls.enabled=false for plain tcp://" $chart .Values.dask.mode) }}
{{- end }}
{{- if and $daskTls (eq .Values.dask.mode "external") (not (hasPrefix "tls://" .Values.dask.scheduler.address)) }}
{{- fail (printf "%s: dask.tls.enabled needs a tls:// dask.scheduler.address (got %q); or dask.tls.enabled=false" $chart .Values.dask.scheduler.address) }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") (lt (int .Values.dask.operator.worker.replicas) 1) }}
{{- fail (printf "%s: dask.mode=operator needs dask.operator.worker.replicas >= 1 (got %d)" $chart (int .Values.dask.operator.worker.replicas)) }}
{{- end }}
{{- if and (eq .Values.dask.mode "operator") .Values.dask.operator.image.repository (not .Values.dask.operator.image.tag) }}
{{- fail (printf "%s: dask.operator.image.repository needs dask.operator.image.tag (in step with the service's dask/distributed)" $chart) }}
{{- end }}
{{- end }}
{{- end }}
