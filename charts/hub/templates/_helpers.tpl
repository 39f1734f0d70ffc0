{{- define "tether-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tether-hub.fullname" -}}
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

{{- define "tether-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tether-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tether-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tether-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: hub
{{- end }}

{{- define "tether-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tether-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tether-hub.caSecretName" -}}
{{- default (printf "%s-ca" (include "tether-hub.fullname" .)) .Values.ca.existingSecret }}
{{- end }}

{{- define "tether-hub.caKekSecretName" -}}
{{- default (printf "%s-ca-kek" (include "tether-hub.fullname" .)) .Values.caKek.existingSecret }}
{{- end }}

{{- define "tether-hub.adminTokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "tether-hub.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{- define "tether-hub.postgres" -}}
{{- if or .Values.store.postgres.existingSecret .Values.store.postgres.url }}true{{ end }}
{{- end }}

{{- define "tether-hub.storeSecretName" -}}
{{- default (printf "%s-store" (include "tether-hub.fullname" .)) .Values.store.postgres.existingSecret }}
{{- end }}

{{- define "tether-hub.publicUrl" -}}
{{- default (printf "https://%s.%s.svc:%v" (include "tether-hub.fullname" .) .Release.Namespace .Values.service.port) .Values.hub.publicUrl }}
{{- end }}

{{/* Value combinations that would render a hub that cannot work: stop with the reason. */}}
{{- define "tether-hub.validate" -}}
{{- $postgres := include "tether-hub.postgres" . }}
{{- if and (gt (int .Values.replicaCount) 1) (not $postgres) }}
{{- fail (printf "replicaCount is %v, but more than one hub replica needs the PostgreSQL store: set store.postgres.existingSecret (a Secret holding the postgres:// URL) or store.postgres.url. With the SQLite store each replica would keep its own tokens, runtimes and revocations." .Values.replicaCount) }}
{{- end }}
{{- if and .Values.store.postgres.existingSecret .Values.store.postgres.url }}
{{- fail "store.postgres.existingSecret and store.postgres.url are both set: give the URL one way" }}
{{- end }}
{{- if and .Values.store.postgres.url (not (hasPrefix "postgres" .Values.store.postgres.url)) }}
{{- fail "store.postgres.url must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) (has "ReadWriteOnce" .Values.persistence.accessModes) }}
{{- fail "persistence.enabled with replicaCount > 1: a ReadWriteOnce volume cannot be shared by several hub pods; with PostgreSQL the hub needs no persistent volume (set persistence.enabled=false)" }}
{{- end }}
{{- if and .Values.hub.publicUrl (not (hasPrefix "https://" .Values.hub.publicUrl)) }}
{{- fail "hub.publicUrl must start with https://" }}
{{- end }}
{{- if and .Values.servingCertificate.caKey (not .Values.servingCertificate.existingSecret) }}
{{- fail "servingCertificate.caKey needs servingCertificate.existingSecret" }}
{{- end }}
{{- end }}
