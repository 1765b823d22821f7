/**
 * The metric catalog: every series the sidecar emits, with its unit, labels (Prometheus) and
 * help text. The sidecar's emitters and (later) the dashboard and alarm constructs import this
 * one table, so a name cannot drift between what is emitted and what is charted.
 *
 * Request and TCP series use Istio's standard names and labels, so the Grafana dashboards Istio
 * users run read Weft unchanged; Weft's own series carry a `weft_` prefix.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';
/** CloudWatch unit names (the EMF `Unit` field); Prometheus encodes the unit in the name. */
export type MetricUnit = 'Count' | 'Milliseconds' | 'Bytes' | 'Seconds' | 'None';

export interface MetricSpec {
  /** Prometheus name (counters end in `_total`). */
  readonly name: string;
  readonly type: MetricType;
  readonly unit: MetricUnit;
  readonly labels: readonly string[];
  readonly help: string;
}

/** Labels of Istio's request series, in the order the sidecar writes them. */
export const ISTIO_REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_principal',
  'destination_service',
  'destination_workload',
  'response_code',
  'response_flags',
  'request_protocol',
  'grpc_response_status',
  'connection_security_policy',
  // Weft's addition: the route that matched (App Mesh users asked for per-route metrics).
  'route',
] as const;

/** Labels of Istio's TCP series. */
export const ISTIO_TCP_LABELS = [
  'reporter',
  'source_workload',
  'source_principal',
  'destination_service',
  'destination_workload',
  'response_flags',
  'connection_security_policy',
  'route',
] as const;

const CLUSTER_LABELS = ['cluster'] as const;

function metric(name: string, type: MetricType, unit: MetricUnit, labels: readonly string[], help: string): MetricSpec {
  return { name, type, unit, labels, help };
}

export const METRICS = {
  requests: metric('istio_requests_total', 'counter', 'Count', ISTIO_REQUEST_LABELS, 'HTTP and gRPC requests, by response code and flags.'),
  requestDuration: metric('istio_request_duration_milliseconds', 'histogram', 'Milliseconds', ISTIO_REQUEST_LABELS, 'Time from the request\'s arrival to the end of its response.'),
  requestBytes: metric('istio_request_bytes', 'histogram', 'Bytes', ISTIO_REQUEST_LABELS, 'Request body bytes received from the client.'),
  responseBytes: metric('istio_response_bytes', 'histogram', 'Bytes', ISTIO_REQUEST_LABELS, 'Response body bytes sent to the client.'),
  tcpSent: metric('istio_tcp_sent_bytes_total', 'counter', 'Bytes', ISTIO_TCP_LABELS, 'Bytes sent to the client of a TCP connection.'),
  tcpReceived: metric('istio_tcp_received_bytes_total', 'counter', 'Bytes', ISTIO_TCP_LABELS, 'Bytes received from the client of a TCP connection.'),
  tcpOpened: metric('istio_tcp_connections_opened_total', 'counter', 'Count', ISTIO_TCP_LABELS, 'TCP connections opened (counted from the completion record, so when the connection closes).'),
  tcpClosed: metric('istio_tcp_connections_closed_total', 'counter', 'Count', ISTIO_TCP_LABELS, 'TCP connections closed.'),
  clusterActiveRequests: metric('weft_cluster_active_requests', 'gauge', 'Count', CLUSTER_LABELS, 'Requests in flight to the cluster.'),
  clusterRetries: metric('weft_cluster_retries_total', 'counter', 'Count', CLUSTER_LABELS, 'Attempts past the first sent to the cluster.'),
  clusterTimeouts: metric('weft_cluster_timeouts_total', 'counter', 'Count', CLUSTER_LABELS, 'Attempts to the cluster that timed out.'),
  clusterOverflows: metric('weft_cluster_overflows_total', 'counter', 'Count', CLUSTER_LABELS, 'Requests the cluster\'s circuit breaker refused.'),
  clusterConnectFailures: metric('weft_cluster_connect_failures_total', 'counter', 'Count', CLUSTER_LABELS, 'Connections to the cluster\'s endpoints that failed.'),
  clusterNoEndpoint: metric('weft_cluster_no_healthy_upstream_total', 'counter', 'Count', CLUSTER_LABELS, 'Requests that found no endpoint to try.'),
  clusterEjections: metric('weft_cluster_ejections_total', 'counter', 'Count', CLUSTER_LABELS, "The cluster's endpoints ejected by outlier detection (since the cluster's runtime was built)."),
  clusterHealthCheckFailures: metric('weft_cluster_health_check_failures_total', 'counter', 'Count', CLUSTER_LABELS, "Active health checks of the cluster's endpoints that failed (since the cluster's runtime was built)."),
  tlsHandshakeFailures: metric('weft_tls_handshake_failures_total', 'counter', 'Count', ['direction'], 'TLS handshakes that failed: direction="inbound" on this sidecar\'s listeners (refused peers included), "outbound" towards cluster endpoints.'),
  policyDenials: metric('weft_policy_denials_total', 'counter', 'Count', [], 'Requests refused by inbound policy (response flag RBAC).'),
  rateLimited: metric('weft_rate_limited_total', 'counter', 'Count', [], 'Requests refused by a local rate limit (response flag RL).'),
  discoveryErrors: metric('weft_discovery_errors_total', 'counter', 'Count', [], 'Cloud Map discovery calls and node config refreshes that failed.'),
  discoverySinceRefresh: metric('weft_discovery_seconds_since_refresh', 'gauge', 'Seconds', [], 'Seconds since Cloud Map discovery last succeeded (absent before it has, or without Cloud Map clusters).'),
  configReloads: metric('weft_config_reloads_total', 'counter', 'Count', [], 'Node config snapshots applied since start (the first included).'),
  configInfo: metric('weft_config_info', 'gauge', 'None', ['version'], 'Always 1; the label names the node config version in force.'),
  certificateExpiry: metric('weft_certificate_expiry_seconds', 'gauge', 'Seconds', [], 'Seconds until the mesh certificate expires (absent without a mesh identity).'),
  emfDroppedLines: metric('weft_emf_dropped_lines_total', 'counter', 'Count', [], 'EMF lines dropped because stdout was slower than the sidecar wrote (bounded buffer full) or failed; present when both `emf` and `prometheus` are on.'),
  accessLogDroppedLines: metric('weft_access_log_dropped_lines_total', 'counter', 'Count', [], 'Access log lines dropped because their destination (stdout, stderr or the file) was slower than the sidecar wrote (bounded buffer full) or failed; present with `prometheus`.'),
  spansExported: metric('weft_tracing_spans_exported_total', 'counter', 'Count', [], 'Spans the collector accepted.'),
  spansDropped: metric('weft_tracing_spans_dropped_total', 'counter', 'Count', [], 'Spans not exported: the span queue was full, their export failed, or they were still queued at shutdown.'),
  spanExportFailures: metric('weft_tracing_export_failures_total', 'counter', 'Count', [], 'Span exports that failed (refused, timed out, or answered with a non-2xx status).'),
  seriesOverflow: metric('weft_metrics_series_overflow_total', 'counter', 'Count', [], 'Records counted in the overflow series because the series cap was reached.'),
} as const;

export type MetricKey = keyof typeof METRICS;

/**
 * Fixed histogram bucket bounds (upper bounds, `le`). Duration: Istio's default buckets, so
 * Istio's dashboards' `histogram_quantile` reads the same resolution.
 */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000] as const;
export const SIZE_BUCKETS_BYTES = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000] as const;

/** Distinct request and TCP series a sidecar keeps; records past it go to one overflow series. */
export const DEFAULT_MAX_SERIES = 2_000;

/** The label value the overflow series carries in every label. */
export const OVERFLOW_LABEL = 'overflow';

/** CloudWatch Embedded Metric Format: the namespace, metric names and dimension sets the sidecar writes. */
export const EMF_NAMESPACE = 'Weft';

export interface EmfMetricSpec {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly help: string;
}

export const EMF_METRICS = {
  requests: { name: 'Requests', unit: 'Count', help: 'HTTP and gRPC requests completed in the interval.' },
  responses4xx: { name: 'Responses4xx', unit: 'Count', help: 'Requests answered with a 4xx status.' },
  responses5xx: { name: 'Responses5xx', unit: 'Count', help: 'Requests answered with a 5xx status.' },
  requestDuration: { name: 'RequestDuration', unit: 'Milliseconds', help: 'Request durations as a distribution (Values/Counts: bucket representatives and counts), so CloudWatch computes percentiles.' },
  requestBytes: { name: 'RequestBytes', unit: 'Bytes', help: 'Request body bytes received.' },
  responseBytes: { name: 'ResponseBytes', unit: 'Bytes', help: 'Response body bytes sent.' },
} as const satisfies Record<string, EmfMetricSpec>;

/**
 * Dimension sets, one EMF document per value combination. `TargetCluster` is the cluster a request
 * went to (a target virtual node and port); `Route` the route that matched.
 */
export const EMF_DIMENSION_SETS = [['Mesh', 'Node'], ['Mesh', 'Node', 'TargetCluster'], ['Mesh', 'Node', 'Route']] as const;

/**
 * The request metrics' dimension set per virtual service: written from egress and gateway records
 * (the caller's side, where the virtual service a request named is known), so a virtual service's
 * traffic is summed over every node that calls it.
 */
export const EMF_VIRTUAL_SERVICE_DIMENSIONS = ['Mesh', 'VirtualService'] as const;

/** Per-cluster counters: each interval's change, under {@link EMF_CLUSTER_DIMENSION_SETS}. */
export const EMF_CLUSTER_METRICS = {
  retries: { name: 'Retries', unit: 'Count', help: 'Attempts past the first sent to the cluster.' },
  timeouts: { name: 'Timeouts', unit: 'Count', help: 'Attempts to the cluster that timed out (per-try or route timeout).' },
  overflows: { name: 'Overflows', unit: 'Count', help: "Requests the cluster's circuit breakers refused." },
  ejections: { name: 'Ejections', unit: 'Count', help: "The cluster's endpoints ejected by outlier detection." },
  healthCheckFailures: { name: 'HealthCheckFailures', unit: 'Count', help: "Active health checks of the cluster's endpoints that failed." },
} as const satisfies Record<string, EmfMetricSpec>;

export const EMF_CLUSTER_DIMENSION_SETS = [['Mesh', 'Node'], ['Mesh', 'Node', 'TargetCluster']] as const;

/** Per-node security and control metrics, under {@link EMF_NODE_DIMENSIONS}. */
export const EMF_NODE_METRICS = {
  tlsHandshakeFailures: { name: 'TlsHandshakeFailures', unit: 'Count', help: 'TLS handshakes that failed: peers refused on the inbound listener and upstreams that refused this sidecar.' },
  policyDenials: { name: 'PolicyDenials', unit: 'Count', help: 'Requests refused by inbound policy (authorization or JWT; response flag RBAC).' },
  rateLimited: { name: 'RateLimited', unit: 'Count', help: 'Requests refused by a local rate limit (response flag RL).' },
  discoveryErrors: { name: 'DiscoveryErrors', unit: 'Count', help: 'Endpoint and config refreshes that failed.' },
  certificateExpiry: { name: 'CertificateExpiry', unit: 'Seconds', help: 'Seconds until the mesh certificate expires, at the time of the flush (absent without a mesh identity).' },
} as const satisfies Record<string, EmfMetricSpec>;

export const EMF_NODE_DIMENSIONS = ['Mesh', 'Node'] as const;

/** Distinct values per dimension (TargetCluster, Route) per interval; the rest are summed under `other`. */
export const DEFAULT_MAX_DIMENSION_VALUES = 100;
export const OTHER_DIMENSION_VALUE = 'other';

/**
 * The Lambda controllers' own work, as EMF in their logs (Lambda carries stdout to CloudWatch
 * Logs, which extracts the metrics): one document per run, each metric the run's count, under
 * {@link EMF_CONTROLLER_DIMENSIONS} (`Controller`: `discovery-sync`, `certificate-sync`,
 * `config-publish`).
 */
export const EMF_CONTROLLER_METRICS = {
  instancesRegistered: { name: 'InstancesRegistered', unit: 'Count', help: 'Cloud Map instances registered (discovery-sync).' },
  instancesDeregistered: { name: 'InstancesDeregistered', unit: 'Count', help: 'Cloud Map instances deregistered (discovery-sync).' },
  certificatesIssued: { name: 'CertificatesIssued', unit: 'Count', help: 'Node certificates issued for nodes without one (certificate-sync).' },
  certificatesRotated: { name: 'CertificatesRotated', unit: 'Count', help: 'Node certificates renewed before expiry (certificate-sync).' },
  configsPublished: { name: 'ConfigsPublished', unit: 'Count', help: 'Node config and registry objects written to S3 (config-publish).' },
  failures: { name: 'Failures', unit: 'Count', help: 'Items that failed in a run (instances, certificates), or 1 for a run that failed as a whole.' },
} as const satisfies Record<string, EmfMetricSpec>;

export type ControllerMetricKey = keyof typeof EMF_CONTROLLER_METRICS;

export const EMF_CONTROLLER_DIMENSIONS = ['Mesh', 'Controller'] as const;
