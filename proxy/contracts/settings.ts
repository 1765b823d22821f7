/**
 * The sidecar's settings: one table that the sidecar's parser, the constructs (which write the
 * container's environment) and docs/contracts.md all follow. Each setting has an environment
 * variable and a `weft proxy` flag; a flag beats the environment, which beats the default.
 */
import { ContractError, type ContractIssue } from './validation';

export const SETTINGS_INVALID = 'WEFT_ERR_SETTINGS_INVALID';

type Kind = 'string' | 'port' | 'int' | 'bool' | 'list';

interface SettingSpec<K extends Kind = Kind> {
  env: string;
  flag: string;
  kind: K;
  /** `undefined`: the setting is optional and has no default. */
  default: ValueOf<K> | undefined;
  doc: string;
  /** Refuses a value the kind alone lets through: returns what is wrong, naming what is allowed. */
  check?: (value: string) => string | undefined;
}

type ValueOf<K extends Kind> = K extends 'port' | 'int' ? number : K extends 'bool' ? boolean : K extends 'list' ? string[] : string;

function setting<K extends Kind>(env: string, flag: string, kind: K, def: ValueOf<K> | undefined, doc: string, check?: (value: string) => string | undefined): SettingSpec<K> {
  return check === undefined ? { env, flag, kind, default: def, doc } : { env, flag, kind, default: def, doc, check };
}

/** The sidecar's log levels, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The metrics sinks `--metrics` can name (or `none` alone). */
export const METRIC_SINKS = ['prometheus', 'emf'] as const;
export type MetricSink = (typeof METRIC_SINKS)[number];

const oneOf = (allowed: readonly string[]) => (value: string): string | undefined =>
  allowed.includes(value) ? undefined : `expected one of ${allowed.join(', ')}, got: ${JSON.stringify(value)}`;

/** `none`, or a comma-separated list of {@link METRIC_SINKS}; `cloudwatch` is named in the plans but not built, so it is refused with its own reason. */
export function checkMetricSinks(value: string): string | undefined {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return undefined;
  if (names.includes('cloudwatch')) return `'cloudwatch' (PutMetricData) is not built yet; use 'emf' (CloudWatch through the log driver) or 'prometheus', got: ${JSON.stringify(value)}`;
  if (names.length === 0 || names.some((n) => !(METRIC_SINKS as readonly string[]).includes(n))) return `expected 'none' or a comma-separated list of ${METRIC_SINKS.join(', ')}, got: ${JSON.stringify(value)}`;
  return undefined;
}

/** The default ports and uid, as App Mesh's Envoy used them where it had an equivalent. */
export const DEFAULT_INBOUND_PORT = 15000;
export const DEFAULT_EGRESS_PORT = 15001;
export const DEFAULT_ADMIN_PORT = 9901;
/** Istio's Prometheus port (its sidecar's `/stats/prometheus`). */
export const DEFAULT_METRICS_PORT = 15090;
export const SIDECAR_UID = 1337;

export const SETTINGS = {
  node: setting('WEFT_NODE', '--node', 'string', undefined, 'Virtual node or gateway name. Required unless the config names it.'),
  mesh: setting('WEFT_MESH', '--mesh', 'string', undefined, 'Mesh name; checked against the config when set.'),
  config: setting('WEFT_CONFIG', '--config', 'string', undefined, 'Node config location: a file path (watched) or `s3://bucket/key` (polled). Required.'),
  configPollMs: setting('WEFT_CONFIG_POLL_MS', '--config-poll-ms', 'int', 60_000, 'S3 config poll interval (conditional GET; ±20% jitter).'),
  endpoints: setting('WEFT_ENDPOINTS', '--endpoints', 'string', 'cloudmap', 'Endpoint source for Cloud Map clusters: `cloudmap` or `file:<path>` (local mode).'),
  discoveryIntervalMs: setting('WEFT_DISCOVERY_INTERVAL_MS', '--discovery-interval-ms', 'int', 60_000, 'Cloud Map revision check interval per backend service (±20% jitter).'),
  discoveryFullRefreshMs: setting('WEFT_DISCOVERY_FULL_REFRESH_MS', '--discovery-full-refresh-ms', 'int', 900_000, 'Full DiscoverInstances refresh even when the revision is unchanged.'),
  inboundPort: setting('WEFT_INBOUND_PORT', '--inbound-port', 'port', DEFAULT_INBOUND_PORT, 'Port peers connect to (also `AWS_INSTANCE_PORT` in Cloud Map).'),
  egressPort: setting('WEFT_EGRESS_PORT', '--egress-port', 'port', DEFAULT_EGRESS_PORT, 'Port the local app sends outbound traffic to (explicit mode or iptables redirect).'),
  adminPort: setting('WEFT_ADMIN_PORT', '--admin-port', 'port', DEFAULT_ADMIN_PORT, 'Admin server port.'),
  adminAddress: setting('WEFT_ADMIN_ADDRESS', '--admin-address', 'string', '127.0.0.1', 'Admin server bind address (loopback by default).'),
  listenAddress: setting('WEFT_LISTEN_ADDRESS', '--listen-address', 'string', '0.0.0.0', 'Bind address of the inbound listener.'),
  egressAddress: setting('WEFT_EGRESS_ADDRESS', '--egress-address', 'string', '127.0.0.1', 'Bind address of the egress listener.'),
  appHost: setting('WEFT_APP_HOST', '--app-host', 'string', '127.0.0.1', 'Address of the local app.'),
  appPorts: setting('WEFT_APP_PORTS', '--app-ports', 'list', undefined, 'Local app ports; default: the node config listener ports.'),
  gatewayPorts: setting('WEFT_GATEWAY_PORTS', '--gateway-ports', 'list', undefined, 'Gateways: binds listeners elsewhere than their configured port, as `<listener port>=<port>` pairs, comma-separated (local mode runs several gateways on one host). Unset: the configured ports.'),
  transparent: setting('WEFT_TRANSPARENT', '--transparent', 'bool', false, 'Traffic arrives by iptables redirect (ECS APPMESH ProxyConfiguration).'),
  uid: setting('WEFT_UID', '--uid', 'int', SIDECAR_UID, 'The uid the sidecar runs as (IgnoredUID of the ProxyConfiguration).'),
  trustedHops: setting('WEFT_TRUSTED_HOPS', '--trusted-hops', 'int', 0, 'How many X-Forwarded-For hops in front of this sidecar are trusted.'),
  drainDeadlineMs: setting('WEFT_DRAIN_DEADLINE_MS', '--drain-deadline-ms', 'int', 20_000, 'How long SIGTERM waits for in-flight requests before closing.'),
  certSource: setting('WEFT_CERT_SOURCE', '--cert-source', 'string', 'none', 'Mesh identity: `none`, `file:<dir>` or `secretsmanager:<secret id>`.'),
  certPollMs: setting('WEFT_CERT_POLL_MS', '--cert-poll-ms', 'int', 600_000, 'Certificate secret poll interval (±20% jitter).'),
  zone: setting('WEFT_ZONE', '--zone', 'string', undefined, 'This task\'s availability zone (zone-aware routing); on ECS read from task metadata when unset.'),
  region: setting('AWS_REGION', '--region', 'string', undefined, 'AWS Region of the mesh.'),
  metrics: setting('WEFT_METRICS', '--metrics', 'string', 'emf', 'Metrics sinks, comma-separated: `prometheus` (counts requests and serves `/stats/prometheus` on the admin port and the metrics port), `emf` (CloudWatch Embedded Metric Format on stdout), or `none`. `cloudwatch` (PutMetricData) is not built yet and is refused.', checkMetricSinks),
  emfIntervalMs: setting('WEFT_EMF_INTERVAL_MS', '--emf-interval-ms', 'int', 60_000, 'How often the `emf` sink writes its CloudWatch Embedded Metric Format documents to stdout.'),
  tracingEndpoint: setting('WEFT_TRACING_ENDPOINT', '--tracing-endpoint', 'string', undefined, 'Replaces the node config\'s tracing collector endpoint (an OTLP/HTTP traces URL, `http://` or `https://`); tracing is still turned on and sampled by the node config. Unset: the config\'s endpoint.'),
  tracingMaxQueue: setting('WEFT_TRACING_MAX_QUEUE', '--tracing-max-queue', 'int', 2_048, 'Spans waiting for export at most (OpenTelemetry\'s batch default); a span past it is dropped and counted. Bounds the memory a slow or dead collector costs.'),
  tracingIntervalMs: setting('WEFT_TRACING_INTERVAL_MS', '--tracing-interval-ms', 'int', 5_000, 'How often queued spans are exported when fewer than a full batch (512) wait.'),
  metricsPort: setting('WEFT_METRICS_PORT', '--metrics-port', 'port', DEFAULT_METRICS_PORT, 'Read-only metrics listener (only `GET /stats/prometheus`), bound to the listen address; opened when `--metrics` names `prometheus`.'),
  logLevel: setting('WEFT_LOG_LEVEL', '--log-level', 'string', 'info', 'Log level: `debug`, `info`, `warn` or `error`.', oneOf(LOG_LEVELS)),
  maxRequestHeadersBytes: setting('WEFT_MAX_REQUEST_HEADERS_BYTES', '--max-request-headers-bytes', 'int', 60 * 1024, 'Request header block limit (431 past it).'),
  maxRequestHeaders: setting('WEFT_MAX_REQUEST_HEADERS', '--max-request-headers', 'int', 100, 'Request header count limit (431 past it).'),
  maxRequestBodyBytes: setting('WEFT_MAX_REQUEST_BODY_BYTES', '--max-request-body-bytes', 'int', 0, 'Request body limit (413 past it); 0 is unlimited.'),
  requestHeadersTimeoutMs: setting('WEFT_REQUEST_HEADERS_TIMEOUT_MS', '--request-headers-timeout-ms', 'int', 10_000, 'Time a client has to send the request headers (408 past it).'),
  maxConnections: setting('WEFT_MAX_CONNECTIONS', '--max-connections', 'int', 4_096, 'Open connections per listening port; more are closed at accept and counted. 0 is unlimited.'),
  passthroughResponseTimeoutMs: setting('WEFT_PASSTHROUGH_RESPONSE_TIMEOUT_MS', '--passthrough-response-timeout-ms', 'int', 15_000, 'Time a destination outside the mesh (ALLOW_ALL) has to start its response (504 past it); 0 is none.'),
  passthroughIdleTimeoutMs: setting('WEFT_PASSTHROUGH_IDLE_TIMEOUT_MS', '--passthrough-idle-timeout-ms', 'int', 300_000, 'Idle limit of CONNECT tunnels and upgraded connections to destinations outside the mesh; 0 is none.'),
  appHealthIntervalMs: setting('WEFT_APP_HEALTH_INTERVAL_MS', '--app-health-interval-ms', 'int', undefined, 'Replaces the interval of the local app health check (inbound listener `healthCheck`; ±10% jitter) for tests and local mode; the node config keeps App Mesh\'s 5–300 s. Unset: the configured interval.'),
  cloudMapServiceId: setting('WEFT_CLOUD_MAP_SERVICE_ID', '--cloud-map-service-id', 'string', undefined, 'This node\'s Cloud Map service id; when set, local app health sets this task\'s custom health status (`UpdateInstanceCustomHealthStatus`). Set by the constructs.'),
  cloudMapInstanceId: setting('WEFT_CLOUD_MAP_INSTANCE_ID', '--cloud-map-instance-id', 'string', undefined, 'This task\'s Cloud Map instance id (the ECS task id); on ECS read from task metadata when unset.'),
  healthCheckScalePercent: setting(
    'WEFT_HEALTH_CHECK_SCALE_PERCENT',
    '--health-check-scale-percent',
    'int',
    100,
    "Scales the interval and timeout of every cluster's active health checks, in percent (1: a 5 s interval becomes 50 ms). For tests and local mode only: the node config keeps App Mesh's limits (interval ≥ 5 s).",
  ),
  retryBufferBytes: setting('WEFT_RETRY_BUFFER_BYTES', '--retry-buffer-bytes', 'int', 65_536, 'Request bodies up to this size are kept so that a retry can send them again; a larger body is sent once and its request is not retried. Bodiless requests keep nothing.'),
  randomSeed: setting('WEFT_RANDOM_SEED', '--random-seed', 'int', undefined, 'Seeds the random draws of route decisions (weighted targets, fault injection, mirroring), retry backoff and load balancing, taken modulo 2^32: the same seed and the same requests give the same choices. For tests; unset: unseeded.'),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type Settings = {
  [K in SettingName]: (typeof SETTINGS)[K]['default'] extends undefined
    ? ValueOf<(typeof SETTINGS)[K]['kind']> | undefined
    : ValueOf<(typeof SETTINGS)[K]['kind']>;
};

/**
 * Reads settings from flags (`--name value` or `--name=value`) and the environment. Throws a
 * {@link ContractError} naming every bad value and where it came from.
 */
export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): Settings {
  const issues: ContractIssue[] = [];
  const flags = readFlags(argv, issues);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    const fromFlag = flags.get(spec.flag);
    const raw = fromFlag ?? env[spec.env];
    const where = fromFlag !== undefined ? spec.flag : spec.env;
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    const value = convert(spec.kind, raw);
    const problem = value === undefined ? `expected ${describeKind(spec.kind)}, got: ${JSON.stringify(raw)}` : spec.check?.(raw);
    if (problem !== undefined) issues.push({ path: where, message: problem });
    else out[key] = value;
    flags.delete(spec.flag);
  }
  for (const flag of flags.keys()) issues.push({ path: flag, message: 'unknown flag' });
  if (issues.length > 0) throw new ContractError(SETTINGS_INVALID, 'sidecar settings', issues);
  return out as Settings;
}

function readFlags(argv: readonly string[], issues: ContractIssue[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      issues.push({ path: arg, message: 'unexpected argument' });
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    } else if (isBoolFlag(arg) && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) {
      flags.set(arg, 'true');
    } else if (i + 1 < argv.length) {
      flags.set(arg, argv[++i]);
    } else {
      issues.push({ path: arg, message: 'needs a value' });
    }
  }
  return flags;
}

function isBoolFlag(flag: string): boolean {
  return Object.values(SETTINGS).some((s) => s.flag === flag && s.kind === 'bool');
}

function convert(kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'port': {
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      return n >= 1 && n <= 65535 ? n : undefined;
    }
    case 'int':
      return /^\d+$/.test(raw) ? Number(raw) : undefined;
    case 'bool':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : undefined;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

function describeKind(kind: Kind): string {
  return { string: 'a string', port: 'a port (1-65535)', int: 'a non-negative integer', bool: 'true or false', list: 'a comma-separated list' }[kind];
}

/** The environment a container needs to get `values` (used by the constructs and local mode). */
export function settingsToEnv(values: Partial<Settings>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const spec = SETTINGS[key as SettingName];
    env[spec.env] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}
