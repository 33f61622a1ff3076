{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name: <release>-<chart>, or the release alone when it already contains
the chart name. Kept to 52 characters so that "-controller" and friends fit in 63.
*/}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component's resources: (dict "ctx" $ "component" "api"). */}}
{{- define "switchyard.componentLabels" -}}
{{ include "switchyard.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "switchyard.componentSelectorLabels" -}}
{{ include "switchyard.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "switchyard.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount of a component: (dict "ctx" $ "component" "api"). */}}
{{- define "switchyard.serviceAccountName" -}}
{{- $name := index .ctx.Values.serviceAccount.names .component -}}
{{- if .ctx.Values.serviceAccount.create -}}
{{- default (printf "%s-%s" (include "switchyard.fullname" .ctx) .component) $name -}}
{{- else -}}
{{- default "default" $name -}}
{{- end -}}
{{- end -}}

{{/* Where the components read the farm file; empty: the image's examples/farm.yaml. */}}
{{- define "switchyard.farmFile" -}}
{{- if or .Values.farm.inline .Values.farm.existingConfigMap -}}
/etc/switchyard/farm/{{ .Values.farm.key }}
{{- end -}}
{{- end -}}

{{- define "switchyard.farmConfigMap" -}}
{{- default (printf "%s-farm" (include "switchyard.fullname" .)) .Values.farm.existingConfigMap -}}
{{- end -}}

{{/* DATABASE_URL, from the Secret's URL key or built from host and the password key. */}}
{{- define "switchyard.databaseEnv" -}}
{{- $db := .Values.database -}}
{{- $secret := required "database.existingSecret is required: the Secret with PostgreSQL's URL or password" $db.existingSecret -}}
{{- if $db.host }}
- name: SWITCHYARD_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ required "database.passwordKey is required with database.host" $db.passwordKey }}
- name: DATABASE_URL
  {{- $query := "" }}
  {{- with $db.sslMode }}{{ $query = printf "?sslmode=%s" . }}{{ end }}
  value: {{ printf "postgresql://%s:$(SWITCHYARD_DATABASE_PASSWORD)@%s:%v/%s%s" $db.username $db.host (int $db.port) $db.name $query | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ required "database.urlKey is required" $db.urlKey }}
{{- end }}
{{- end -}}

{{/* REDIS_URL and REDIS_EVICTION_CHECK, in the same two forms. */}}
{{- define "switchyard.redisEnv" -}}
{{- $r := .Values.redis -}}
{{- $secret := required "redis.existingSecret is required: the Secret with Redis's URL or password" $r.existingSecret -}}
{{- if $r.host }}
{{- if $r.passwordKey }}
- name: SWITCHYARD_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $r.passwordKey }}
{{- end }}
- name: REDIS_URL
  {{- $auth := "" }}
  {{- if $r.passwordKey }}
  {{- $auth = printf "%s:$(SWITCHYARD_REDIS_PASSWORD)@" $r.username }}
  {{- else if $r.username }}
  {{- $auth = printf "%s@" $r.username }}
  {{- end }}
  value: {{ printf "%s://%s%s:%v" (ternary "rediss" "redis" $r.tls) $auth $r.host (int $r.port) | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ required "redis.urlKey is required" $r.urlKey }}
{{- end }}
- name: REDIS_EVICTION_CHECK
  value: {{ $r.evictionCheck | quote }}
{{- end -}}

{{/* Environment shared by the long-running components. */}}
{{- define "switchyard.commonEnv" -}}
{{ include "switchyard.databaseEnv" . | trim }}
{{ include "switchyard.redisEnv" . | trim }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with include "switchyard.farmFile" . }}
- name: FARM_FILE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The restricted pod and container security contexts. */}}
{{- define "switchyard.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "switchyard.securityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end -}}

{{/* Volumes of a component: /tmp, the farm file and, with "credentials", the miners' Secrets. */}}
{{- define "switchyard.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .ctx.Values.tmpSizeLimit }}
{{- if include "switchyard.farmFile" .ctx }}
- name: farm
  configMap:
    name: {{ include "switchyard.farmConfigMap" .ctx }}
    items:
      - key: {{ .ctx.Values.farm.key }}
        path: {{ .ctx.Values.farm.key }}
{{- end }}
{{- if .credentials }}
{{- range $i, $name := .ctx.Values.minerCredentials.secrets }}
- name: credentials-{{ $i }}
  secret:
    secretName: {{ $name }}
    defaultMode: 288 # 0440: the owner and the pod's group (fsGroup) read
{{- end }}
{{- end }}
{{- end -}}

{{- define "switchyard.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "switchyard.farmFile" .ctx }}
- name: farm
  mountPath: /etc/switchyard/farm
  readOnly: true
{{- end }}
{{- if .credentials }}
{{- range $i, $name := .ctx.Values.minerCredentials.secrets }}
- name: credentials-{{ $i }}
  mountPath: /etc/switchyard/credentials/{{ $name }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* Scheduling fields of a component's pod spec (its values as .values). */}}
{{- define "switchyard.scheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod annotations: the component's own plus checksums that roll the pods on a config change. */}}
{{- define "switchyard.podAnnotations" -}}
checksum/farm: {{ printf "%s|%s|%s" .ctx.Values.farm.inline .ctx.Values.farm.existingConfigMap .ctx.Values.farm.key | sha256sum | trunc 16 }}
checksum/signals: {{ toJson .ctx.Values.signals | sha256sum | trunc 16 }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
