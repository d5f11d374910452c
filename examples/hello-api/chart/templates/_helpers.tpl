{{/* Chart name, overridable with nameOverride. */}}
{{- define "hello-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name shared by the Service, Ingress and NetworkPolicy. */}}
{{- define "hello-api.fullname" -}}
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

{{/* Pod track: "stable" unless a canary is being deployed. */}}
{{- define "hello-api.track" -}}
{{- default "stable" .Values.track }}
{{- end }}

{{/*
Name of the Deployment and its HPA. A non-stable track gets a suffix so that a
canary rendered from the same release name does not replace the stable
Deployment; a release already named "<name>-canary" is left as it is.
*/}}
{{- define "hello-api.workloadName" -}}
{{- $fullname := include "hello-api.fullname" . }}
{{- $track := include "hello-api.track" . }}
{{- if or (eq $track "stable") (hasSuffix (printf "-%s" $track) $fullname) }}
{{- $fullname }}
{{- else }}
{{- printf "%s-%s" ($fullname | trunc (int (sub 62 (len $track)))) $track | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "hello-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hello-api.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels every pod of the application carries, whatever its release or track. */}}
{{- define "hello-api.appLabels" -}}
app.kubernetes.io/name: {{ include "hello-api.name" . }}
{{- end }}

{{/* Immutable Deployment selector: one release, one track. */}}
{{- define "hello-api.selectorLabels" -}}
{{ include "hello-api.appLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
track: {{ include "hello-api.track" . }}
{{- end }}

{{- define "hello-api.labels" -}}
helm.sh/chart: {{ include "hello-api.chart" . }}
{{ include "hello-api.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hello-api.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
