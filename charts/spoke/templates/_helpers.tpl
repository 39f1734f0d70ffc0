{{- define "tether-spoke.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tether-spoke.fullname" -}}
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

{{- define "tether-spoke.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tether-spoke.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tether-spoke.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tether-spoke.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: spoke
{{- end }}

{{- define "tether-spoke.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tether-spoke.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tether-spoke.hubCaConfigMap" -}}
{{- default (printf "%s-hub-ca" (include "tether-spoke.fullname" .)) .Values.hubCa.existingConfigMap }}
{{- end }}

{{/* Value combinations that would render an agent that cannot work: stop with the reason. */}}
{{- define "tether-spoke.validate" -}}
{{- if and .Values.bootstrap.enabled (not .Values.bootstrap.clusterName) }}
{{- fail "bootstrap.enabled needs bootstrap.clusterName: the runtime id on the hub that the bootstrap kubeconfig was made for (tether-hub bootstrap-kubeconfig --runtime <clusterName>)" }}
{{- end }}
{{- if and (not .Values.bootstrap.enabled) .Values.bootstrap.kubeconfig }}
{{- fail "bootstrap.kubeconfig is set but bootstrap.enabled is false" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.spoke.leaderElect) }}
{{- fail (printf "replicaCount is %v with spoke.leaderElect=false: the replicas would all renew and write the same credentials; keep leader election on, or run one replica" .Values.replicaCount) }}
{{- end }}
{{- if and .Values.hubCa.pem .Values.hubCa.existingConfigMap }}
{{- fail "hubCa.pem and hubCa.existingConfigMap are both set: give the hub CA one way" }}
{{- end }}
{{- end }}
