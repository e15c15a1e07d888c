{{/* The four services, in a fixed order. */}}
{{- define "jiph.serviceNames" -}}
intake triage deployment reporting
{{- end -}}

{{/* The services with an event store of their own (shared.topics.WRITERS): the ones that sign
     checkpoints of their history. */}}
{{- define "jiph.writerNames" -}}
intake triage deployment
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

{{/* The writers' checkpoint keys (checkpoints): a Secret with <service>.pem for each writer,
     yours, or in development only the chart's own. */}}
{{- define "jiph.checkpointSecretRequired" -}}
checkpoints.existingSecret is required in production: a Secret with intake.pem, triage.pem and deployment.pem, each writer service's Ed25519 checkpoint key (openssl genpkey -algorithm ed25519). The writers refuse to start without one: an unsigned history is not evidence. The chart generates keys for env: development only
{{- end -}}

{{- define "jiph.checkpointSecretName" -}}
{{- if .Values.checkpoints.existingSecret -}}
{{- .Values.checkpoints.existingSecret -}}
{{- else if eq .Values.env "development" -}}
{{- printf "%s-checkpoint-keys" (include "jiph.fullname" .) -}}
{{- else -}}
{{- fail (include "jiph.checkpointSecretRequired" .) -}}
{{- end -}}
{{- end -}}

{{- define "jiph.checkpointKeyDir" -}}
/var/run/jiph/checkpoint-key
{{- end -}}

{{/* Whether the chart makes the checkpoint keys' Secret itself (development without one). */}}
{{- define "jiph.checkpointSecretGenerated" -}}
{{- if and (eq .Values.env "development") (not .Values.checkpoints.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* Call with (dict "root" $ "name" $name); empty for a service that writes no events. */}}
{{- define "jiph.checkpointWanted" -}}
{{- if has .name (splitList " " (include "jiph.writerNames" .root)) -}}true{{- end -}}
{{- end -}}

{{/* A writer's own key only, from the Secret, read-only: its pods cannot sign as another service. */}}
{{- define "jiph.checkpointVolumes" -}}
{{- if include "jiph.checkpointWanted" . -}}
- name: checkpoint-key
  secret:
    secretName: {{ include "jiph.checkpointSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .name }}.pem
        path: {{ .name }}.pem
{{- end }}
{{- end -}}

{{- define "jiph.checkpointMounts" -}}
{{- if include "jiph.checkpointWanted" . -}}
- name: checkpoint-key
  mountPath: {{ include "jiph.checkpointKeyDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The deployment service's PKCS#11 key store (services.deployment.pkcs11). */}}
{{- define "jiph.softhsmModule" -}}
/usr/lib/softhsm/libsofthsm2.so
{{- end -}}

{{/* Where a SoftHSM2 token's claim is mounted: ensure_token's state folder, so that the token
     lives in <state>/softhsm/, a folder of its own that uid 10001 creates (and may chmod). */}}
{{- define "jiph.softhsmStateDir" -}}
/var/lib/jiph/keystore
{{- end -}}

{{- define "jiph.pkcs11PinDir" -}}
/var/run/jiph/pkcs11-pin
{{- end -}}

{{/* Call with the deployment service's values. */}}
{{- define "jiph.pkcs11Module" -}}
{{- if .pkcs11.module -}}
{{- .pkcs11.module -}}
{{- else if .pkcs11.softhsm.enabled -}}
{{- include "jiph.softhsmModule" . -}}
{{- else -}}
{{- fail "services.deployment.pkcs11.module is required: the path of the HSM vendor's PKCS#11 library in the container (or pkcs11.softhsm.enabled, development only)" -}}
{{- end -}}
{{- end -}}

{{/* JIPH_DEPLOYMENT_PKCS11_* (and SOFTHSM2_CONF) as Pkcs11Config.from_env reads them. Call with
     the deployment service's values. */}}
{{- define "jiph.pkcs11Env" -}}
{{- $p := .pkcs11 -}}
{{- $softhsm := printf "%s/softhsm" (include "jiph.softhsmStateDir" .) -}}
# The PKCS#11 key store of officers' keys (services.deployment.pkcs11).
{{- if $p.softhsm.enabled }}
- name: SOFTHSM2_CONF
  value: {{ printf "%s/softhsm2.conf" $softhsm | quote }}
{{- end }}
- name: JIPH_DEPLOYMENT_PKCS11_MODULE
  value: {{ include "jiph.pkcs11Module" . | quote }}
- name: JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL
  value: {{ $p.tokenLabel | quote }}
{{- if $p.softhsm.enabled }}
- name: JIPH_DEPLOYMENT_PKCS11_PIN_FILE
  value: {{ printf "%s/user.pin" $softhsm | quote }}
{{- else if $p.pin.asFile }}
- name: JIPH_DEPLOYMENT_PKCS11_PIN_FILE
  value: {{ printf "%s/pin" (include "jiph.pkcs11PinDir" .) | quote }}
{{- else }}
- name: JIPH_DEPLOYMENT_PKCS11_PIN
  valueFrom:
    secretKeyRef:
      name: {{ required "services.deployment.pkcs11.pin.existingSecret is required: a Secret with the token's user PIN (or pkcs11.softhsm.enabled, development only)" $p.pin.existingSecret }}
      key: {{ $p.pin.key }}
{{- end }}
{{- end -}}

{{/* The key store's volumes, mounts and init container, shared by the deployment service's
     Deployment and its migration Job. Call with (dict "root" $ "name" $name "svc" $svc); they
     render nothing for the other services. */}}
{{- define "jiph.pkcs11Wanted" -}}
{{- if and (eq .name "deployment") .svc.pkcs11 .svc.pkcs11.enabled -}}true{{- end -}}
{{- end -}}

{{- define "jiph.pkcs11Volumes" -}}
{{- if include "jiph.pkcs11Wanted" . -}}
{{- $p := .svc.pkcs11 -}}
{{- if $p.softhsm.enabled }}
- name: softhsm-token
  persistentVolumeClaim:
    claimName: {{ required "services.deployment.pkcs11.softhsm.existingClaim is required: a PersistentVolumeClaim for the SoftHSM2 token" $p.softhsm.existingClaim }}
{{- else if $p.pin.asFile }}
- name: pkcs11-pin
  secret:
    secretName: {{ required "services.deployment.pkcs11.pin.existingSecret is required: a Secret with the token's user PIN (or pkcs11.softhsm.enabled, development only)" $p.pin.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $p.pin.key }}
        path: pin
{{- end }}
{{- with $p.volumes }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "jiph.pkcs11Mounts" -}}
{{- if include "jiph.pkcs11Wanted" . -}}
{{- $p := .svc.pkcs11 -}}
{{- if $p.softhsm.enabled }}
- name: softhsm-token
  mountPath: {{ include "jiph.softhsmStateDir" . }}
{{- else if $p.pin.asFile }}
- name: pkcs11-pin
  mountPath: {{ include "jiph.pkcs11PinDir" . }}
  readOnly: true
{{- end }}
{{- with $p.volumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Development only: make the SoftHSM2 token on its claim once (jiph.stack.keystore), and check
     that what it made is what the service's environment names. Call with
     (dict "root" $ "name" $name "svc" $svc "resources" <resources>). */}}
{{- define "jiph.pkcs11InitContainers" -}}
{{- if and (include "jiph.pkcs11Wanted" .) .svc.pkcs11.softhsm.enabled -}}
- name: softhsm-token
  image: {{ include "jiph.image" .root | quote }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args:
    - python
    - -c
    - |
      import os
      from pathlib import Path
      from jiph.stack.keystore import ensure_token
      label = os.environ["JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL"]
      token = ensure_token(Path({{ include "jiph.softhsmStateDir" . | quote }}), label=label)
      wrong = sorted(k for k, v in token.env().items() if os.environ.get(k) != v)
      if wrong:
          raise SystemExit(f"softhsm-token: the service's {wrong} do not name this token")
      print(f"softhsm-token: token {label!r} ready")
  env:
    {{- include "jiph.pkcs11Env" .svc | nindent 4 }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- include "jiph.pkcs11Mounts" . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Whether a first install creates something the migration Jobs need (then they cannot run
     before the release's own resources exist). */}}
{{- define "jiph.installCreatesDependencies" -}}
{{- $creates := or .Values.postgresql.cnpg.enabled (not .Values.auth.existingSecret) (ne (include "jiph.checkpointSecretGenerated" .) "") -}}
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
{{- if include "jiph.checkpointWanted" (dict "root" $root "name" $name) }}
# The key that signs this service's history checkpoints (checkpoints), and how often.
- name: {{ $prefix }}CHECKPOINT_KEY_FILE
  value: {{ printf "%s/%s.pem" (include "jiph.checkpointKeyDir" $root) $name | quote }}
- name: {{ $prefix }}CHECKPOINT_INTERVAL_S
  value: {{ $root.Values.checkpoints.intervalSeconds | quote }}
{{- end }}
{{- if eq $name "deployment" }}
# Officers' personal data is erased this many days after their last tour or offer ended.
- name: JIPH_DEPLOYMENT_RETENTION_DAYS
  value: {{ $svc.retention.days | int | quote }}
- name: JIPH_DEPLOYMENT_RETENTION_INTERVAL_S
  value: {{ $svc.retention.intervalSeconds | quote }}
{{- if $svc.pkcs11.enabled }}
{{ include "jiph.pkcs11Env" $svc }}
{{- end }}
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
