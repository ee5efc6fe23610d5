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
  "egress" dict
}}
{{- $merged := mergeOverwrite (deepCopy $defaults) (deepCopy $entry) }}
{{- if not (hasKey $merged.autoscaling "maxReplicas") }}
{{- $_ := set $merged.autoscaling "maxReplicas" $merged.partitions }}
{{- end }}
{{- toYaml $merged }}
{{- end }}

{{/*
Checks that span several values, with a reason (values.schema.json checks the rest;
these also hold under --skip-schema-validation).
*/}}
{{- define "relais.checks" -}}
{{- $urls := .Values.publicUrls | default dict }}
{{- range $name := list "chat" "notifier" }}
{{- if not (index $urls $name) }}
{{- fail (printf "publicUrls.%s is required: customer emails link to it (e.g. --set publicUrls.%s=https://chat.example.com)" $name $name) }}
{{- end }}
{{- end }}
{{- if not .Values.development }}
{{- range $name, $url := $urls }}
{{- if and $url (not (hasPrefix "https://" $url)) }}
{{- fail (printf "publicUrls.%s: %s is not https: customer links must be https outside development (development: true is for local clusters only)" $name $url) }}
{{- end }}
{{- end }}
{{- if eq (toString .Values.secureCookies) "false" }}
{{- fail "secureCookies: false is refused outside development: the dashboard session cookie must be Secure" }}
{{- end }}
{{- end }}
{{- $kafka := .Values.kafka }}
{{- $protocol := $kafka.securityProtocol | default "PLAINTEXT" }}
{{- $sasl := $kafka.sasl | default dict }}
{{- $tls := $kafka.tls | default dict }}
{{- if hasPrefix "SASL_" $protocol }}
{{- if not (or $sasl.username $sasl.usernameSecret) }}
{{- fail (printf "kafka.sasl: securityProtocol %s needs kafka.sasl.username (or kafka.sasl.usernameSecret)" $protocol) }}
{{- end }}
{{- if not $sasl.passwordSecret }}
{{- fail (printf "kafka.sasl: securityProtocol %s needs kafka.sasl.passwordSecret {secretName, key}" $protocol) }}
{{- end }}
{{- end }}
{{- if not (has $protocol (list "SSL" "SASL_SSL")) }}
{{- if or (include "relais.kafkaCa" .) (($tls.clientCertificate | default dict).secretName) }}
{{- fail (printf "kafka.tls: a CA or client certificate is set but kafka.securityProtocol is %s: use SSL or SASL_SSL" $protocol) }}
{{- end }}
{{- end }}
{{- $managed := include "relais.managedEnvNames" . | fromYamlArray }}
{{- range $envName, $_ := .Values.env }}
{{- if has $envName $managed }}
{{- fail (printf "env.%s is set by the chart from its own values (development, publicUrls, kafka, postgresql, secureCookies): set those instead" $envName) }}
{{- end }}
{{- end }}
{{- range $service, $entry := .Values.services }}
{{- range $envName, $_ := (merge (deepCopy ($entry.env | default dict)) ($entry.secretEnv | default dict)) }}
{{- if has $envName $managed }}
{{- fail (printf "services.%s.env.%s is set by the chart from its own values (development, publicUrls, kafka, postgresql, secureCookies): set those instead" $service $envName) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The environment variables the chart sets itself from structured values. */}}
{{- define "relais.managedEnvNames" -}}
- RELAIS_ENVIRONMENT
- RELAIS_PUBLIC_CHAT_BASE_URL
- RELAIS_PUBLIC_NOTIFIER_BASE_URL
- RELAIS_NOTIFIER_URL
- RELAIS_SECURE_COOKIES
- RELAIS_KAFKA_BOOTSTRAP
- RELAIS_KAFKA_SECURITY_PROTOCOL
- RELAIS_KAFKA_SASL_MECHANISM
- RELAIS_KAFKA_SASL_USERNAME
- RELAIS_KAFKA_SASL_PASSWORD
- RELAIS_KAFKA_SSL_CA_FILE
- RELAIS_KAFKA_SSL_CERT_FILE
- RELAIS_KAFKA_SSL_KEY_FILE
- RELAIS_KAFKA_SSL_KEY_PASSWORD
- RELAIS_KAFKA_SSL_CHECK_HOSTNAME
- PGSSLMODE
- PGSSLROOTCERT
- PGSSLCERT
- PGSSLKEY
{{- end }}

{{/* The host of a public URL, without scheme, port or path: an Ingress rule's host. */}}
{{- define "relais.urlHost" -}}
{{- (urlParse .).hostname }}
{{- end }}

{{/* "true" or "false": the Secure flag of cookies (on unless development). */}}
{{- define "relais.secureCookies" -}}
{{- if kindIs "bool" .Values.secureCookies }}
{{- .Values.secureCookies }}
{{- else }}
{{- not .Values.development }}
{{- end }}
{{- end }}

{{/* The Kafka CA source, "secret" or "configMap", or "" without one. */}}
{{- define "relais.kafkaCa" -}}
{{- $ca := ((.Values.kafka.tls | default dict).ca | default dict) }}
{{- if $ca.secretName }}secret{{ else if $ca.configMapName }}configMap{{ end }}
{{- end }}

{{- define "relais.postgresqlCa" -}}
{{- $ca := (.Values.postgresql | default dict).ca | default dict }}
{{- if $ca.secretName }}secret{{ else if $ca.configMapName }}configMap{{ end }}
{{- end }}

{{/* The TCP ports of kafka.bootstrap (host:port,host:port), as a YAML list. */}}
{{- define "relais.kafkaPorts" -}}
{{- $ports := list }}
{{- range (splitList "," .Values.kafka.bootstrap) }}
{{- $port := regexFind "[0-9]+$" (trim .) }}
{{- if and $port (not (has (int $port) $ports)) }}
{{- $ports = append $ports (int $port) }}
{{- end }}
{{- end }}
{{- toYaml $ports }}
{{- end }}

{{/*
How to reach Kafka and PostgreSQL (RELAIS_KAFKA_* of relais_runtime.settings.KafkaSettings,
and the libpq TLS variables asyncpg reads): the same for every service and the topic Job.
Secrets only as references; certificate files from the `tls` volume.
*/}}
{{- define "relais.transportEnv" -}}
{{- include "relais.checks" . }}
{{- $kafka := .Values.kafka }}
{{- $protocol := $kafka.securityProtocol | default "PLAINTEXT" }}
{{- $sasl := $kafka.sasl | default dict }}
{{- $tls := $kafka.tls | default dict }}
{{- $pg := .Values.postgresql | default dict }}
- name: RELAIS_KAFKA_BOOTSTRAP
  value: {{ $kafka.bootstrap | quote }}
- name: RELAIS_KAFKA_SECURITY_PROTOCOL
  value: {{ $protocol | quote }}
{{- if hasPrefix "SASL_" $protocol }}
- name: RELAIS_KAFKA_SASL_MECHANISM
  value: {{ $sasl.mechanism | default "SCRAM-SHA-512" | quote }}
{{- if $sasl.usernameSecret }}
- name: RELAIS_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $sasl.usernameSecret.secretName }}
      key: {{ $sasl.usernameSecret.key }}
{{- else }}
- name: RELAIS_KAFKA_SASL_USERNAME
  value: {{ $sasl.username | quote }}
{{- end }}
- name: RELAIS_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $sasl.passwordSecret.secretName }}
      key: {{ $sasl.passwordSecret.key }}
{{- end }}
{{- if has $protocol (list "SSL" "SASL_SSL") }}
{{- if include "relais.kafkaCa" . }}
- name: RELAIS_KAFKA_SSL_CA_FILE
  value: /etc/relais/tls/kafka/ca.crt
{{- end }}
{{- if ($tls.clientCertificate | default dict).secretName }}
- name: RELAIS_KAFKA_SSL_CERT_FILE
  value: /etc/relais/tls/kafka/client.crt
- name: RELAIS_KAFKA_SSL_KEY_FILE
  value: /etc/relais/tls/kafka/client.key
{{- end }}
{{- with $tls.keyPasswordSecret }}
- name: RELAIS_KAFKA_SSL_KEY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
- name: RELAIS_KAFKA_SSL_CHECK_HOSTNAME
  value: {{ ternary "true" "false" (ne (toString $tls.checkHostname) "false") | quote }}
{{- end }}
{{- with $pg.sslmode }}
- name: PGSSLMODE
  value: {{ . | quote }}
{{- end }}
{{- if include "relais.postgresqlCa" . }}
- name: PGSSLROOTCERT
  value: /etc/relais/tls/postgresql/ca.crt
{{- end }}
{{- if ($pg.clientCertificate | default dict).secretName }}
- name: PGSSLCERT
  value: /etc/relais/tls/postgresql/client.crt
- name: PGSSLKEY
  value: /etc/relais/tls/postgresql/client.key
{{- end }}
{{- end }}

{{/* The projected `tls` volume's sources (certificates from Secrets and ConfigMaps); empty without any. */}}
{{- define "relais.tlsSources" -}}
{{- $tls := .Values.kafka.tls | default dict }}
{{- $pg := .Values.postgresql | default dict }}
{{- if has (.Values.kafka.securityProtocol | default "PLAINTEXT") (list "SSL" "SASL_SSL") }}
{{- with $tls.ca }}
{{- if .secretName }}
- secret:
    name: {{ .secretName }}
    items:
      - key: {{ .key | default "ca.crt" }}
        path: kafka/ca.crt
{{- else if .configMapName }}
- configMap:
    name: {{ .configMapName }}
    items:
      - key: {{ .key | default "ca.crt" }}
        path: kafka/ca.crt
{{- end }}
{{- end }}
{{- with $tls.clientCertificate }}
{{- if .secretName }}
- secret:
    name: {{ .secretName }}
    items:
      - key: {{ .certKey | default "tls.crt" }}
        path: kafka/client.crt
      - key: {{ .keyKey | default "tls.key" }}
        path: kafka/client.key
{{- end }}
{{- end }}
{{- end }}
{{- with $pg.ca }}
{{- if .secretName }}
- secret:
    name: {{ .secretName }}
    items:
      - key: {{ .key | default "ca.crt" }}
        path: postgresql/ca.crt
{{- else if .configMapName }}
- configMap:
    name: {{ .configMapName }}
    items:
      - key: {{ .key | default "ca.crt" }}
        path: postgresql/ca.crt
{{- end }}
{{- end }}
{{- with $pg.clientCertificate }}
{{- if .secretName }}
- secret:
    name: {{ .secretName }}
    items:
      - key: {{ .certKey | default "tls.crt" }}
        path: postgresql/client.crt
      - key: {{ .keyKey | default "tls.key" }}
        path: postgresql/client.key
{{- end }}
{{- end }}
{{- end }}

{{/* The `tls` volume (certificates for Kafka and PostgreSQL), when there is any, and its mount. */}}
{{- define "relais.tlsVolume" -}}
{{- with include "relais.tlsSources" . }}
- name: tls
  projected:
    # Readable by the service's group (fsGroup) only.
    defaultMode: 0440
    sources:
      {{- . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "relais.tlsVolumeMount" -}}
{{- if include "relais.tlsSources" . }}
- name: tls
  mountPath: /etc/relais/tls
  readOnly: true
{{- end }}
{{- end }}

{{/* The scaler of one service: "keda", "hpa" or "" (fixed replicas). Expects (dict "root" $ "svc" $svc). */}}
{{- define "relais.scaler" -}}
{{- if .svc.autoscaling.enabled }}{{ if .root.Values.keda.enabled }}keda{{ else }}hpa{{ end }}{{ end }}
{{- end }}

{{/* The label matchers that pick this release's series in Prometheus (alerts, KEDA). */}}
{{- define "relais.metricSelector" -}}
{{- .Values.prometheusRule.selector | default (printf "namespace=%q" .Release.Namespace) }}
{{- end }}
