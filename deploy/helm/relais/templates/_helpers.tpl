{{/*
Names and labels. A component is one Relais service (tracker, detector, ...).
*/}}
{{- define "relais.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "relais.fullname" -}}
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

{{/* Name of one service's objects: <fullname>-<service>. Expects (dict "root" $ "name" $name). */}}
{{- define "relais.componentName" -}}
{{- printf "%s-%s" (include "relais.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "relais.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "relais.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "relais.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "relais.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: relais
{{- end }}

{{/* Selector labels of one service. Expects (dict "root" $ "name" $name). */}}
{{- define "relais.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relais.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "relais.componentLabels" -}}
{{ include "relais.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "relais.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The merchant ConfigMap's name: the chart's own, or the existing one. */}}
{{- define "relais.merchantsConfigMap" -}}
{{- if .Values.merchants.files }}
{{- printf "%s-merchants" (include "relais.fullname" .) }}
{{- else }}
{{- .Values.merchants.existingConfigMap }}
{{- end }}
{{- end }}

{{/*
One service's settings: the chart-wide defaults overridden by its entry in `services`.
Expects (dict "root" $ "name" $name); returns YAML, read back with fromYaml.
*/}}
{{- define "relais.componentValues" -}}
{{- $root := .root }}
{{- $entry := index $root.Values.services .name }}
{{- $defaults := dict
  "resources" $root.Values.resources
  "podSecurityContext" $root.Values.podSecurityContext
  "containerSecurityContext" $root.Values.containerSecurityContext
  "autoscaling" $root.Values.autoscaling
  "podDisruptionBudget" $root.Values.podDisruptionBudget
  "probes" $root.Values.probes
  "podAnnotations" $root.Values.podAnnotations
  "podLabels" $root.Values.podLabels
  "nodeSelector" $root.Values.nodeSelector
  "tolerations" $root.Values.tolerations
  "affinity" $root.Values.affinity
  "terminationGracePeriodSeconds" $root.Values.terminationGracePeriodSeconds
  "env" dict
  "secretEnv" dict
  "ingress" dict
}}
{{- $merged := mergeOverwrite (deepCopy $defaults) (deepCopy $entry) }}
{{- if not (hasKey $merged.autoscaling "maxReplicas") }}
{{- $_ := set $merged.autoscaling "maxReplicas" $merged.partitions }}
{{- end }}
{{- toYaml $merged }}
{{- end }}
