{{/*
The chart's name.
*/}}
{{- define "druid-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name. 52 characters at most: a StatefulSet's pods carry a controller-revision-hash label of
its name plus 11 characters, and a label value has 63 at most.
*/}}
{{- define "druid-sidecar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Selector labels: fixed for the life of a release, since a StatefulSet's selector cannot change.
*/}}
{{- define "druid-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "druid-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: historical
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "druid-sidecar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "druid-sidecar.selectorLabels" . }}
app.kubernetes.io/part-of: druid
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The druid-sidecar image.
*/}}
{{- define "druid-sidecar.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The ConfigMap holding the properties: the release's own, or an existing one.
*/}}
{{- define "druid-sidecar.configMapName" -}}
{{- default (printf "%s-config" (include "druid-sidecar.fullname" .)) .Values.properties.existingConfigMap }}
{{- end }}

{{/*
The mode, checked: the schema checks it too, but not when schema validation is skipped.
*/}}
{{- define "druid-sidecar.mode" -}}
{{- if not (has .Values.mode (list "companion" "serve")) }}
{{- fail (printf "mode is %q; it must be companion (beside a Java Historical) or serve (beside a segment server)" .Values.mode) }}
{{- end }}
{{- .Values.mode }}
{{- end }}

{{/*
Fails the release when a path of druid.segmentCache.locations in the rendered properties does not lie under
segmentCache.mountPath: druid-sidecar and the Historical would then write a directory that is not on the shared
volume. Properties in an existing ConfigMap cannot be seen here and are not checked.
*/}}
{{- define "druid-sidecar.checkCachePaths" -}}
{{- if not .Values.properties.existingConfigMap }}
{{- $mount := trimSuffix "/" .Values.segmentCache.mountPath }}
{{- $text := printf "%s\n%s" .Values.properties.common .Values.properties.runtime }}
{{- $line := regexFind "(?m)^[ \\t]*druid\\.segmentCache\\.locations[ \\t]*[=:].*$" $text }}
{{- if not $line }}
{{- fail "properties: druid.segmentCache.locations is not set; both druid-sidecar and the Historical need it, under segmentCache.mountPath" }}
{{- end }}
{{- range regexFindAll "\"path\"[ \\t]*:[ \\t]*\"[^\"]*\"" $line -1 }}
{{- $path := regexReplaceAll "^\"path\"[ \\t]*:[ \\t]*\"([^\"]*)\"$" . "${1}" }}
{{- if not (or (eq $path $mount) (hasPrefix (printf "%s/" $mount) $path)) }}
{{- fail (printf "druid.segmentCache.locations has the path %q, which is not under segmentCache.mountPath %q: set one to match the other" $path $mount) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Variables both containers get, so that druid-sidecar and the process beside it read the same configuration.
*/}}
{{- define "druid-sidecar.sharedEnv" -}}
{{- include "druid-sidecar.k8sDiscoveryEnv" . }}
# druid.host: the pod's stable DNS name under the headless Service, the same in both containers (companion finds
# the Historical's load queue by it) and across restarts. It is also what Druid 33+ announces by itself (its image no
# longer sets the pod's address on Kubernetes, and Java takes the canonical host name).
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: druid_host
  value: {{ printf "$(POD_NAME).%s.$(POD_NAMESPACE).svc.%s" (include "druid-sidecar.fullname" .) .Values.clusterDomain | quote }}
- name: druid_plaintextPort
  value: {{ .Values.druidPort | quote }}
{{- with .Values.metadataPassword }}
{{- if .secretName }}
- name: {{ .envName }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- end }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
GOMEMLIMIT of a druid-sidecar container from its own memory limit (the downward API), so that the Go runtime collects
harder as it nears the limit rather than be killed at it. Nothing when the container has no memory limit.
*/}}
{{- define "druid-sidecar.goMemLimit" -}}
{{- if dig "limits" "memory" "" .Values.sidecar.resources }}
- name: MEMORY_LIMIT_MIB
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
      divisor: 1Mi
- name: GOMEMLIMIT
  value: $(MEMORY_LIMIT_MIB)MiB
{{- end }}
{{- end }}

{{/*
The segment server's image: a tag must be given, since one left empty would run whatever :latest is at each pull.
*/}}
{{- define "druid-sidecar.segmentServerImage" -}}
{{- with .Values.segmentServer.image }}
{{- if not .repository }}
{{- fail "segmentServer.image.repository is empty: serve mode runs druid-sidecar beside a segment server, name its image" }}
{{- end }}
{{- if not .tag }}
{{- fail "segmentServer.image.tag is empty: name a version (an empty tag would be :latest, which changes under a running release)" }}
{{- end }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{/*
The arguments of druid-sidecar: the command, then the two properties files in order.
*/}}
{{- define "druid-sidecar.args" -}}
- {{ .command }}
- --properties
- {{ printf "%s/%s" .root.Values.configMountPath .root.Values.properties.commonKey }}
- --properties
- {{ printf "%s/%s" .root.Values.configMountPath .root.Values.properties.runtimeKey }}
- --log-format
- {{ .root.Values.sidecar.logFormat }}
- --log-level
- {{ .root.Values.sidecar.logLevel }}
{{- with .root.Values.sidecar.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The mounts both containers share: the properties and the segment cache.
*/}}
{{- define "druid-sidecar.sharedMounts" -}}
- name: config
  mountPath: {{ .Values.configMountPath }}
  readOnly: true
- name: segment-cache
  mountPath: {{ .Values.segmentCache.mountPath }}
{{- end }}

{{/*
Kubernetes discovery is on (discovery.type k8s), checked: the schema checks the type too, but not when schema
validation is skipped.
*/}}
{{- define "druid-sidecar.k8sDiscovery" -}}
{{- if not (has .Values.discovery.type (list "curator" "k8s")) }}
{{- fail (printf "discovery.type is %q; it must be curator (ZooKeeper) or k8s (Kubernetes)" .Values.discovery.type) }}
{{- end }}
{{- if eq .Values.discovery.type "k8s" }}true{{ end }}
{{- end }}

{{/*
The Role and RoleBinding for Kubernetes discovery are made: rbac.create, or when it is null, discovery.type k8s.
*/}}
{{- define "druid-sidecar.rbac" -}}
{{- if kindIs "invalid" .Values.rbac.create }}
{{- include "druid-sidecar.k8sDiscovery" . }}
{{- else if .Values.rbac.create }}true{{ end }}
{{- end }}

{{/*
The pod's ServiceAccount: serviceAccountName, else the one made with the Role, else none (the namespace's default).
*/}}
{{- define "druid-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccountName }}
{{- .Values.serviceAccountName }}
{{- else if include "druid-sidecar.rbac" . }}
{{- include "druid-sidecar.fullname" . }}
{{- end }}
{{- end }}

{{/*
The variables that turn Kubernetes discovery on in both containers, as Druid's docs ask of every process: no
ZooKeeper, the HTTP server view. A Java Historical without druid-kubernetes-extensions would not start, so the
chart refuses properties it can see that do not load it.
*/}}
{{- define "druid-sidecar.k8sDiscoveryEnv" -}}
{{- if include "druid-sidecar.k8sDiscovery" . }}
{{- if and (eq .Values.mode "companion") (not .Values.properties.existingConfigMap) }}
{{- $line := regexFind "(?m)^[ \\t]*druid\\.extensions\\.loadList[ \\t]*[=:].*$" (printf "%s\n%s" .Values.properties.common .Values.properties.runtime) }}
{{- if not (contains "\"druid-kubernetes-extensions\"" $line) }}
{{- fail "discovery.type is k8s but the properties' druid.extensions.loadList does not name druid-kubernetes-extensions: the Historical would not start" }}
{{- end }}
{{- end }}
# Kubernetes discovery (discovery.type k8s), in both containers.
- name: druid_discovery_type
  value: k8s
- name: druid_discovery_k8s_clusterIdentifier
  value: {{ .Values.discovery.k8s.clusterIdentifier | quote }}
- name: druid_zk_service_enabled
  value: "false"
- name: druid_serverview_type
  value: http
{{- end }}
{{- end }}
