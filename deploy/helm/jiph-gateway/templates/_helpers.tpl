{{/* The four services, in a fixed order. */}}
{{- define "jiph.serviceNames" -}}
intake triage deployment reporting
{{- end -}}

{{/* Names. */}}
{{- define "jiph.name" -}}
jiph-gateway
{{- end -}}

{{- define "jiph.fullname" -}}
{{- if contains "jiph" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-jiph" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "jiph.serviceAccountName" -}}
{{- if .Values.serviceAccount.name -}}
{{- .Values.serviceAccount.name -}}
{{- else -}}
{{- include "jiph.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Labels every object of the release carries. */}}
{{- define "jiph.labels" -}}
app.kubernetes.io/name: {{ include "jiph.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: jiph-gateway
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The pods of the release (services and migration Jobs): what the default-deny policy selects. */}}
{{- define "jiph.releasePodLabels" -}}
app.kubernetes.io/name: {{ include "jiph.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of one service's pods. Call with (dict "root" $ "name" "intake"). */}}
{{- define "jiph.selectorLabels" -}}
{{ include "jiph.releasePodLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Values of one service: serviceDefaults with services.<name> over them. */}}
{{- define "jiph.serviceValues" -}}
{{- $own := index .root.Values.services .name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $own)) -}}
{{- end -}}

{{- define "jiph.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Kafka and PostgreSQL endpoints. */}}
{{- define "jiph.kafkaName" -}}
{{- .Values.kafka.strimzi.clusterName | default (printf "%s-kafka" (include "jiph.fullname" .)) -}}
{{- end -}}

{{- define "jiph.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrapServers -}}
{{- .Values.kafka.bootstrapServers -}}
{{- else if .Values.kafka.strimzi.enabled -}}
{{- printf "%s-kafka-bootstrap:9092" (include "jiph.kafkaName" .) -}}
{{- else -}}
{{- fail "kafka.bootstrapServers is required when kafka.strimzi.enabled is false" -}}
{{- end -}}
{{- end -}}

{{- define "jiph.pgName" -}}
{{- .Values.postgresql.cnpg.clusterName | default (printf "%s-pg" (include "jiph.fullname" .)) -}}
{{- end -}}

{{- define "jiph.pgHost" -}}
{{- if .Values.postgresql.host -}}
{{- .Values.postgresql.host -}}
{{- else if .Values.postgresql.cnpg.enabled -}}
{{- printf "%s-rw" (include "jiph.pgName" .) -}}
{{- else -}}
{{- fail "postgresql.host is required when postgresql.cnpg.enabled is false" -}}
{{- end -}}
{{- end -}}

{{/* Secrets. */}}
{{- define "jiph.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "jiph.fullname" .)) -}}
{{- end -}}

{{/* Call with (dict "root" $ "name" "intake"). */}}
{{- define "jiph.dbSecretName" -}}
{{- $own := index .root.Values.database.credentials .name | default dict -}}
{{- $own.existingSecret | default (printf "%s-db-%s" (include "jiph.fullname" .root) .name) -}}
{{- end -}}

{{- define "jiph.pkcs11PinSecretName" -}}
{{- .Values.services.deployment.pkcs11.pin.existingSecret -}}
{{- end -}}

{{/* Whether a first install creates something the migration Jobs need (then they cannot run
     before the release's own resources exist). */}}
{{- define "jiph.installCreatesDependencies" -}}
{{- $creates := or .Values.postgresql.cnpg.enabled (not .Values.auth.existingSecret) -}}
{{- range $name := splitList " " (include "jiph.serviceNames" .) -}}
{{- $own := index $.Values.database.credentials $name | default dict -}}
{{- if not $own.existingSecret -}}{{- $creates = true -}}{{- end -}}
{{- end -}}
{{- ternary "true" "" $creates -}}
{{- end -}}

{{- define "jiph.migrationHooks" -}}
{{- if .Values.migrations.hooks -}}
{{- .Values.migrations.hooks -}}
{{- else if include "jiph.installCreatesDependencies" . -}}
post-install,pre-upgrade
{{- else -}}
pre-install,pre-upgrade
{{- end -}}
{{- end -}}

{{/* Environment of one service's container, shared by its Deployment and its migration Job:
     JIPH_<SERVICE>_* as shared/settings.py reads them. Call with
     (dict "root" $ "name" "intake" "svc" <service values>). */}}
{{- define "jiph.serviceEnv" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := .svc -}}
{{- $prefix := printf "JIPH_%s_" (upper $name) -}}
{{- $authSecret := include "jiph.authSecretName" $root -}}
- name: JIPH_SERVICE
  value: {{ $name }}
- name: {{ $prefix }}ENV
  value: {{ $root.Values.env | quote }}
- name: {{ $prefix }}PORT
  value: {{ $svc.port | quote }}
- name: {{ $prefix }}KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "jiph.kafkaBootstrap" $root | quote }}
{{- if $svc.consumerGroup }}
- name: {{ $prefix }}CONSUMER_GROUP
  value: {{ $svc.consumerGroup | quote }}
{{- end }}
# The URL is assembled from the credentials Secret by Kubernetes' $(VAR) expansion.
- name: JIPH_DB_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "jiph.dbSecretName" (dict "root" $root "name" $name) }}
      key: username
- name: JIPH_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "jiph.dbSecretName" (dict "root" $root "name" $name) }}
      key: password
- name: {{ $prefix }}DATABASE_URL
  value: {{ printf "postgresql+asyncpg://$(JIPH_DB_USER):$(JIPH_DB_PASSWORD)@%s:%v/jiph_%s%s" (include "jiph.pgHost" $root) $root.Values.postgresql.port $name (ternary (printf "?ssl=%s" $root.Values.postgresql.ssl) "" (and (ne $root.Values.postgresql.ssl "") (ne $root.Values.postgresql.ssl "disable"))) | quote }}
{{- if or $root.Values.auth.existingSecret $root.Values.auth.jwksUrl }}
- name: {{ $prefix }}JWKS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $authSecret }}
      key: jwks-url
{{- end }}
{{- if or $root.Values.auth.existingSecret $root.Values.auth.issuer }}
- name: {{ $prefix }}JWT_ISSUER
  valueFrom:
    secretKeyRef:
      name: {{ $authSecret }}
      key: issuer
{{- end }}
- name: {{ $prefix }}JWT_AUDIENCE
  valueFrom:
    secretKeyRef:
      name: {{ $authSecret }}
      key: audience
{{- if and (eq $root.Values.env "development") $root.Values.auth.devKey.existingSecret }}
- name: {{ $prefix }}DEV_KEY_FILE
  value: {{ printf "/var/run/jiph/dev-key/%s" $root.Values.auth.devKey.key | quote }}
{{- end }}
{{- if and (eq $name "deployment") $svc.pkcs11 $svc.pkcs11.enabled }}
# PKCS#11 key store (reserved: read by a later version of the deployment service).
- name: JIPH_DEPLOYMENT_PKCS11_MODULE
  value: {{ $svc.pkcs11.module | quote }}
- name: JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL
  value: {{ $svc.pkcs11.tokenLabel | quote }}
- name: JIPH_DEPLOYMENT_PKCS11_PIN
  valueFrom:
    secretKeyRef:
      name: {{ required "services.deployment.pkcs11.pin.existingSecret is required when pkcs11 is enabled" $svc.pkcs11.pin.existingSecret }}
      key: {{ $svc.pkcs11.pin.key }}
{{- end }}
- name: LOG_LEVEL
  value: {{ $svc.logLevel | quote }}
{{- if $root.Values.otel.enabled }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "otel.endpoint is required when otel.enabled" $root.Values.otel.endpoint | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "deployment.environment=%s,k8s.namespace.name=%s" $root.Values.env $root.Release.Namespace | quote }}
{{- range $key, $value := $root.Values.otel.extraEnv }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- else }}
- name: OTEL_TRACES_EXPORTER
  value: none
{{- end }}
{{- with $svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level pieces shared by Deployments and Jobs. */}}
{{- define "jiph.devKeyVolume" -}}
{{- if and (eq .Values.env "development") .Values.auth.devKey.existingSecret -}}
- name: dev-key
  secret:
    secretName: {{ .Values.auth.devKey.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "jiph.devKeyMount" -}}
{{- if and (eq .Values.env "development") .Values.auth.devKey.existingSecret -}}
- name: dev-key
  mountPath: /var/run/jiph/dev-key
  readOnly: true
{{- end }}
{{- end -}}

{{/* One NetworkPolicy egress rule: to `peers` (any address when empty) on TCP `ports`. */}}
{{- define "jiph.egressRule" -}}
{{- $ports := list -}}
{{- range .ports -}}
{{- $ports = append $ports (dict "port" (int .) "protocol" "TCP") -}}
{{- end -}}
{{- $rule := dict "ports" $ports -}}
{{- if .peers -}}
{{- $_ := set $rule "to" .peers -}}
{{- end -}}
{{- toYaml (list $rule) -}}
{{- end -}}
