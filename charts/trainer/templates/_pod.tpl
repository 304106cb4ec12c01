{{/*
The pod template (metadata and spec) of the trainer, shared by the Deployment
(training.mode=single) and the StatefulSet (training.mode=multiWorker).

multiWorker: each pod needs TF_CONFIG for tf.distribute.MultiWorkerMirroredStrategy,
  {"cluster": {"worker": [<sts>-0.<headless>.<ns>.svc:<collectivePort>, ...]},
   "task": {"type": "worker", "index": <ordinal>}}
The worker list is the same for every pod and is rendered here
(TF_CONFIG_WORKERS); the index is the pod's ordinal, which the StatefulSet
controller puts in the apps.kubernetes.io/pod-index label (Kubernetes >= 1.28).
The downward API exposes it as POD_INDEX, and a small /bin/sh wrapper in
`command` checks it, exports TF_CONFIG and execs the server (`args`). Worker 0
is the chief; it is the only pod behind the Service.
*/}}
{{- define "trainer.podTemplate" -}}
{{- $multi := include "trainer.multiWorker" . }}
{{- $local := include "weather-common.daskLocal" . -}}
metadata:
  {{- with .Values.podAnnotations }}
  annotations:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
  labels:
    {{- include "weather-common.registryClientPodLabels" . | nindent 4 }}
spec:
  {{- include "weather-common.podCommon" . | nindent 2 }}
  # The server drains for config.graceSeconds after SIGTERM; running jobs are left
  # INTERRUPTED, to be resumed from their last checkpoint.
  terminationGracePeriodSeconds: {{ add (int .Values.config.graceSeconds) 10 }}
  {{- include "weather-common.imagePullSecrets" . | nindent 2 }}
  securityContext:
    {{- include "weather-common.podSecurityContext" . | nindent 4 }}
  containers:
    - name: trainer
      image: {{ include "weather-common.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if $multi }}
      # Builds TF_CONFIG from the pod ordinal, then execs the server (args).
      command:
        - /bin/sh
        - -ec
        - |
          case "${POD_INDEX:-}" in
            ''|*[!0-9]*)
              echo "trainer: POD_INDEX='${POD_INDEX:-}' is not a pod ordinal (label apps.kubernetes.io/pod-index needs Kubernetes >= 1.28)" >&2
              exit 1
              ;;
          esac
          if [ "$POD_INDEX" -ge {{ int .Values.training.workers }} ]; then
            echo "trainer: pod ordinal $POD_INDEX is outside training.workers={{ int .Values.training.workers }}; scale with helm upgrade" >&2
            exit 1
          fi
          TF_CONFIG="{\"cluster\": {\"worker\": ${TF_CONFIG_WORKERS}}, \"task\": {\"type\": \"worker\", \"index\": ${POD_INDEX}}}"
          export TF_CONFIG
          exec "$@"
        - trainer
      args:
        - python
        - -m
        - weather_trainer
      {{- end }}
      securityContext:
        {{- include "weather-common.securityContext" . | nindent 8 }}
      ports:
        {{- include "weather-common.containerPorts" . | nindent 8 }}
        {{- if $multi }}
        - name: collective
          containerPort: {{ .Values.training.collectivePort }}
          protocol: TCP
        {{- end }}
      {{- with trim (print (include "weather-common.storageEnvFrom" .) (include "trainer.artifactsEnvFrom" .)) }}
      envFrom:
        {{- . | nindent 8 }}
      {{- end }}
      env:
        {{- include "weather-common.portEnv" . | nindent 8 }}
        - name: TRAINER_ARCHIVE_URL
          value: {{ include "weather-common.archiveUrl" . | quote }}
        - name: TRAINER_WORK_ROOT
          value: {{ .Values.work.mountPath | quote }}
        # Published SavedModels and mirrored checkpoints; empty: under TRAINER_WORK_ROOT.
        - name: TRAINER_ARTIFACT_ROOT
          value: {{ .Values.artifacts.root | quote }}
        {{- with .Values.config }}
        - name: TRAINER_HOST
          value: {{ .host | quote }}
        - name: TRAINER_LOG_LEVEL
          value: {{ .logLevel | quote }}
        - name: TRAINER_LOG_FORMAT
          value: {{ .logFormat | quote }}
        {{- /* int64 keeps large numbers out of scientific notation */}}
        - name: TRAINER_MAX_MESSAGE_BYTES
          value: {{ .maxMessageBytes | int64 | toString | quote }}
        - name: TRAINER_MAX_WORKERS
          value: {{ .maxWorkers | int64 | toString | quote }}
        - name: TRAINER_GRACE_SECONDS
          value: {{ .graceSeconds | int64 | toString | quote }}
        - name: TRAINER_MAX_RUNNING
          value: {{ .maxRunning | int64 | toString | quote }}
        - name: TRAINER_AUTO_RESUME
          value: {{ .autoResume | toString | quote }}
        {{- $settings := pick . "maxConcurrentRpcs" "reuseLargeBuffers" "maxTimeSteps" "maxGridPoints" "maxJobsPerCaller" "registrationTimeoutSeconds" "isolation" "role" }}
        {{- include "weather-common.settingsEnv" (dict "prefix" "TRAINER_" "values" $settings) | nindent 8 }}
        {{- end }}
        - name: TRAINER_REGISTRY_ADDRESS
          value: {{ include "weather-common.registryAddress" . | quote }}
        - name: TRAINER_REGISTRY_TIMEOUT_SECONDS
          value: {{ .Values.registry.timeoutSeconds | toString | quote }}
        - name: TRAINER_USE_DASK
          value: {{ .Values.dask.enabled | toString | quote }}
        {{- include "weather-common.daskEnv" . | nindent 8 }}
        # No home directory in the image; Keras and TensorFlow caches go to /tmp.
        - name: HOME
          value: /tmp
        {{- if .Values.training.threadsFromCpuLimit }}
        # TensorFlow and oneDNN size their thread pools by the node's cores, not the
        # container's CPU limit; the downward API gives the limit, rounded up.
        {{- range $name := list "OMP_NUM_THREADS" "TF_NUM_INTRAOP_THREADS" }}
        - name: {{ $name }}
          valueFrom:
            resourceFieldRef:
              containerName: trainer
              resource: limits.cpu
              divisor: "1"
        {{- end }}
        {{- end }}
        {{- if $multi }}
        - name: POD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        - name: TF_CONFIG_WORKERS
          value: {{ include "trainer.tfWorkers" . | quote }}
        {{- end }}
        {{- with include "weather-common.storageEnv" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- with include "trainer.artifactsEnv" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- include "weather-common.securityEnv" (dict "root" . "server" true "client" true) | nindent 8 }}
        {{- include "weather-common.otelEnv" (dict "root" .) | nindent 8 }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- include "weather-common.grpcProbes" . | nindent 6 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $local }}
        - name: scratch
          mountPath: /scratch
        {{- end }}
        - name: work
          mountPath: {{ .Values.work.mountPath }}
        {{- with include "weather-common.storageVolumeMounts" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- with include "trainer.artifactsVolumeMounts" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- include "weather-common.securityVolumeMounts" (dict "root" . "server" true "client" true) | nindent 8 }}
        {{- with include "weather-common.daskTlsVolumeMount" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
  volumes:
    # The root filesystem is read-only; /tmp (and /scratch for Dask) are the scratch space.
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpSizeLimit }}
    {{- if $local }}
    - name: scratch
      emptyDir:
        sizeLimit: {{ .Values.dask.spillSizeLimit }}
    {{- end }}
    # Job records, and the checkpoints and SavedModels of the jobs (TRAINER_WORK_ROOT); with an
    # artifacts.root, those are published or mirrored there and only the records must persist here.
    - name: work
      {{- if .Values.work.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ include "trainer.workClaimName" . }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- with include "weather-common.storageVolumes" . }}
    {{- trim . | nindent 4 }}
    {{- end }}
    {{- with include "trainer.artifactsVolumes" . }}
    {{- trim . | nindent 4 }}
    {{- end }}
    {{- include "weather-common.securityVolumes" (dict "root" . "server" true "client" true) | nindent 4 }}
    {{- with include "weather-common.daskTlsVolume" . }}
    {{- trim . | nindent 4 }}
    {{- end }}
  {{- include "weather-common.scheduling" . | nindent 2 }}
{{- end }}
