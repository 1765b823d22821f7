/**
 * Counts completion records into the catalog's series (proxy/contracts/metrics-catalog.ts) and
 * renders them as Prometheus text.
 *
 * The request path stays cheap: a record's series is found by walking nested maps keyed by the
 * record's own field values (listener, route, cluster, status, flags, gRPC status, peer), which
 * allocates nothing once the series exists; label text is built once, when a series is created.
 * Distinct series are capped: past the cap, records count into one overflow series, and the
 * overflow is itself counted.
 */
import { DEFAULT_MAX_SERIES, DURATION_BUCKETS_MS, ISTIO_REQUEST_LABELS, ISTIO_TCP_LABELS, METRICS, OVERFLOW_LABEL, SIZE_BUCKETS_BYTES, type MetricSpec } from '../contracts/metrics-catalog';
import { RESPONSE_FLAGS, type CompletionRecord } from '../exchange/record';
import { certificateSecondsLeft, CLUSTER_COUNTERS, clusterCounters, inboundTlsFailures, secondsSinceRefresh, type ControlState } from './control-counters';

export type { ControlState } from './control-counters';

/** Counts per bucket (not cumulative), the last slot for values above the highest bound. */
export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class RequestSeries {
  requests = 0;
  readonly duration = new Histogram(DURATION_BUCKETS_MS);
  readonly requestBytes = new Histogram(SIZE_BUCKETS_BYTES);
  readonly responseBytes = new Histogram(SIZE_BUCKETS_BYTES);
  /**
   * @param labels `name="value",...` without braces, built once.
   * @param virtualService the virtual service the requests named (egress and gateway), for EMF's per-service set.
   */
  constructor(
    readonly labels: string,
    readonly values: Readonly<Record<string, string>>,
    readonly virtualService: string | undefined = undefined,
  ) {}
}

export class TcpSeries {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
  constructor(readonly labels: string, readonly values: Readonly<Record<string, string>>) {}
}

export interface MeshMetricsOptions {
  /** This sidecar's node (its workload). */
  node: string;
  /** This sidecar's own principal (SPIFFE id), read when a series is created. */
  ownPrincipal: () => string | undefined;
  maxSeries?: number;
}

type Tree = Map<unknown, unknown>;

const HTTP_KEYS = 9;
const TCP_KEYS = 5;

export class MeshMetrics {
  readonly requestSeries: RequestSeries[] = [];
  readonly tcpSeries: TcpSeries[] = [];
  /** Records counted into the overflow series. */
  overflowed = 0;
  configReloads = 0;
  /** Requests refused by inbound policy (flag RBAC) and by a local rate limit (flag RL). */
  policyDenials = 0;
  rateLimited = 0;
  configVersion: string | undefined = undefined;
  private readonly http: Tree = new Map();
  private readonly tcp: Tree = new Map();
  private readonly retries = new Map<string, { count: number }>();
  private readonly keys: unknown[] = new Array<unknown>(HTTP_KEYS).fill(undefined);
  private readonly maxSeries: number;
  private readonly overflowRequests: RequestSeries;
  private readonly overflowTcp: TcpSeries;

  constructor(private readonly opts: MeshMetricsOptions) {
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    const overflowValues = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, OVERFLOW_LABEL]));
    const rv = overflowValues(ISTIO_REQUEST_LABELS);
    const tv = overflowValues(ISTIO_TCP_LABELS);
    this.overflowRequests = new RequestSeries(labelText(ISTIO_REQUEST_LABELS, rv), rv);
    this.overflowTcp = new TcpSeries(labelText(ISTIO_TCP_LABELS, tv), tv);
  }

  /** The record sink: counts one completed request or connection. */
  readonly record = (r: CompletionRecord): void => {
    if (r.attempts > 1 && r.cluster !== undefined) this.retriesOf(r.cluster).count += r.attempts - 1;
    // `includes` scans a few bytes and allocates nothing; most records carry `-`.
    if (r.flags !== '-') {
      if (r.flags.includes(RESPONSE_FLAGS.policyDenied)) this.policyDenials++;
      if (hasFlag(r.flags, RESPONSE_FLAGS.rateLimited)) this.rateLimited++;
    }
    if (r.kind === 'http') {
      const s = this.httpSeriesOf(r);
      s.requests++;
      s.duration.observe(r.durationMs);
      s.requestBytes.observe(r.bytesReceived);
      s.responseBytes.observe(r.bytesSent);
    } else {
      const s = this.tcpSeriesOf(r);
      s.opened++;
      s.closed++;
      s.sent += r.bytesSent;
      s.received += r.bytesReceived;
    }
  };

  /** Every request series, the overflow series included once it has counted. */
  allRequestSeries(): readonly RequestSeries[] {
    return this.overflowRequests.requests > 0 ? [...this.requestSeries, this.overflowRequests] : this.requestSeries;
  }

  /** A node config snapshot was applied. */
  configApplied(version: string): void {
    this.configReloads++;
    this.configVersion = version;
  }

  /** Retries counted per cluster (from the records' attempts). */
  retriesFor(cluster: string): number {
    return this.retries.get(cluster)?.count ?? 0;
  }

  private retriesOf(cluster: string): { count: number } {
    let c = this.retries.get(cluster);
    if (c === undefined) {
      c = { count: 0 };
      this.retries.set(cluster, c);
    }
    return c;
  }

  private httpSeriesOf(r: CompletionRecord): RequestSeries {
    const k = this.keys;
    k[0] = r.listener;
    k[1] = r.route;
    k[2] = r.cluster;
    k[3] = r.status;
    k[4] = r.flags;
    k[5] = r.grpcStatus;
    k[6] = r.peerPrincipal;
    k[7] = r.protocol;
    k[8] = r.virtualService;
    const found = walk(this.http, k, HTTP_KEYS);
    if (found !== undefined) return found as RequestSeries;
    if (this.atCap()) return this.overflowRequests;
    const values = this.requestValues(r);
    const s = new RequestSeries(labelText(ISTIO_REQUEST_LABELS, values), values, r.virtualService);
    insert(this.http, k, HTTP_KEYS, s);
    this.requestSeries.push(s);
    return s;
  }

  private tcpSeriesOf(r: CompletionRecord): TcpSeries {
    const k = this.keys;
    k[0] = r.listener;
    k[1] = r.route;
    k[2] = r.cluster;
    k[3] = r.flags;
    k[4] = r.peerPrincipal;
    const found = walk(this.tcp, k, TCP_KEYS);
    if (found !== undefined) return found as TcpSeries;
    if (this.atCap()) return this.overflowTcp;
    const values = this.tcpValues(r);
    const s = new TcpSeries(labelText(ISTIO_TCP_LABELS, values), values);
    insert(this.tcp, k, TCP_KEYS, s);
    this.tcpSeries.push(s);
    return s;
  }

  private atCap(): boolean {
    if (this.requestSeries.length + this.tcpSeries.length < this.maxSeries) return false;
    this.overflowed++;
    return true;
  }

  /** Istio's peer labels: inbound reports as the destination, egress and gateways as the source. */
  private peerValues(r: CompletionRecord): Record<string, string> {
    const inbound = r.listener === 'inbound';
    return {
      reporter: inbound ? 'destination' : 'source',
      source_workload: inbound ? 'unknown' : this.opts.node,
      source_principal: (inbound ? r.peerPrincipal : this.opts.ownPrincipal()) ?? 'unknown',
      destination_service: r.cluster ?? 'unknown',
      destination_workload: inbound ? this.opts.node : 'unknown',
      connection_security_policy: inbound ? (r.peerPrincipal !== undefined ? 'mutual_tls' : 'none') : 'unknown',
    };
  }

  private requestValues(r: CompletionRecord): Record<string, string> {
    const grpc = r.grpcStatus !== undefined;
    return {
      ...this.peerValues(r),
      response_code: String(r.status),
      response_flags: r.flags,
      request_protocol: grpc ? 'grpc' : 'http',
      grpc_response_status: grpc ? String(r.grpcStatus) : '',
      route: r.route ?? '',
    };
  }

  private tcpValues(r: CompletionRecord): Record<string, string> {
    return { ...this.peerValues(r), response_flags: r.flags, route: r.route ?? '' };
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  renderPrometheus(control: ControlState): string {
    const out: string[] = [];
    const requests = this.overflowed > 0 ? [...this.requestSeries, this.overflowRequests] : this.requestSeries;
    const tcp = this.overflowed > 0 ? [...this.tcpSeries, this.overflowTcp] : this.tcpSeries;
    header(out, METRICS.requests);
    for (const s of requests) out.push(`${METRICS.requests.name}{${s.labels}} ${s.requests}`);
    histogram(out, METRICS.requestDuration, requests, (s) => s.duration);
    histogram(out, METRICS.requestBytes, requests, (s) => s.requestBytes);
    histogram(out, METRICS.responseBytes, requests, (s) => s.responseBytes);
    const tcpCounter = (spec: MetricSpec, value: (s: TcpSeries) => number): void => {
      header(out, spec);
      for (const s of tcp) out.push(`${spec.name}{${s.labels}} ${value(s)}`);
    };
    tcpCounter(METRICS.tcpSent, (s) => s.sent);
    tcpCounter(METRICS.tcpReceived, (s) => s.received);
    tcpCounter(METRICS.tcpOpened, (s) => s.opened);
    tcpCounter(METRICS.tcpClosed, (s) => s.closed);

    const clusters = [...control.clusters].map((c) => ({ name: c.name, stats: c.stats, counters: clusterCounters(c.stats, this.retriesFor(c.name), new Float64Array(CLUSTER_COUNTERS.length)) }));
    const perCluster = (spec: MetricSpec, value: (c: (typeof clusters)[number]) => number): void => {
      header(out, spec);
      for (const c of clusters) out.push(`${spec.name}{cluster="${escapeLabel(c.name)}"} ${value(c)}`);
    };
    const at = (counter: (typeof CLUSTER_COUNTERS)[number]): number => CLUSTER_COUNTERS.indexOf(counter);
    perCluster(METRICS.clusterActiveRequests, (c) => c.stats.active);
    perCluster(METRICS.clusterRetries, (c) => c.counters[at('retries')]);
    perCluster(METRICS.clusterTimeouts, (c) => c.counters[at('timeouts')]);
    perCluster(METRICS.clusterOverflows, (c) => c.counters[at('overflows')]);
    perCluster(METRICS.clusterConnectFailures, (c) => c.stats.connectFailures);
    perCluster(METRICS.clusterNoEndpoint, (c) => c.stats.noEndpoint);
    perCluster(METRICS.clusterEjections, (c) => c.counters[at('ejections')]);
    perCluster(METRICS.clusterHealthCheckFailures, (c) => c.counters[at('healthCheckFailures')]);

    header(out, METRICS.tlsHandshakeFailures);
    out.push(`${METRICS.tlsHandshakeFailures.name}{direction="inbound"} ${inboundTlsFailures(control)}`);
    out.push(`${METRICS.tlsHandshakeFailures.name}{direction="outbound"} ${clusters.reduce((n, c) => n + c.counters[at('tlsFailures')], 0)}`);
    header(out, METRICS.policyDenials);
    out.push(`${METRICS.policyDenials.name} ${this.policyDenials}`);
    header(out, METRICS.rateLimited);
    out.push(`${METRICS.rateLimited.name} ${this.rateLimited}`);
    header(out, METRICS.discoveryErrors);
    out.push(`${METRICS.discoveryErrors.name} ${control.discovery?.errors ?? 0}`);
    const sinceRefresh = secondsSinceRefresh(control);
    if (sinceRefresh !== undefined) {
      header(out, METRICS.discoverySinceRefresh);
      out.push(`${METRICS.discoverySinceRefresh.name} ${sinceRefresh}`);
    }

    header(out, METRICS.configReloads);
    out.push(`${METRICS.configReloads.name} ${this.configReloads}`);
    if (this.configVersion !== undefined) {
      header(out, METRICS.configInfo);
      out.push(`${METRICS.configInfo.name}{version="${escapeLabel(this.configVersion)}"} 1`);
    }
    const certificateLeft = certificateSecondsLeft(control);
    if (certificateLeft !== undefined) {
      header(out, METRICS.certificateExpiry);
      out.push(`${METRICS.certificateExpiry.name} ${certificateLeft}`);
    }
    if (control.emfDroppedLines !== undefined) {
      header(out, METRICS.emfDroppedLines);
      out.push(`${METRICS.emfDroppedLines.name} ${control.emfDroppedLines}`);
    }
    if (control.accessLogDroppedLines !== undefined) {
      header(out, METRICS.accessLogDroppedLines);
      out.push(`${METRICS.accessLogDroppedLines.name} ${control.accessLogDroppedLines}`);
    }
    const tracing = control.tracing;
    if (tracing !== undefined) {
      for (const [spec, value] of [[METRICS.spansExported, tracing.exported], [METRICS.spansDropped, tracing.dropped], [METRICS.spanExportFailures, tracing.exportFailures]] as const) {
        header(out, spec);
        out.push(`${spec.name} ${value}`);
      }
    }
    header(out, METRICS.seriesOverflow);
    out.push(`${METRICS.seriesOverflow.name} ${this.overflowed}`);
    return `${out.join('\n')}\n`;
  }
}

function walk(root: Tree, keys: readonly unknown[], n: number): unknown {
  let node: Tree | undefined = root;
  for (let i = 0; i < n - 1; i++) {
    node = node.get(keys[i]) as Tree | undefined;
    if (node === undefined) return undefined;
  }
  return node.get(keys[n - 1]);
}

function insert(root: Tree, keys: readonly unknown[], n: number, value: unknown): void {
  let node = root;
  for (let i = 0; i < n - 1; i++) {
    let next = node.get(keys[i]) as Tree | undefined;
    if (next === undefined) {
      next = new Map();
      node.set(keys[i], next);
    }
    node = next;
  }
  node.set(keys[n - 1], value);
}

/** Whether a comma-separated flag list holds `flag` as a whole entry (`RL` is not `URX`'s or `RBAC`'s tail). */
function hasFlag(flags: string, flag: string): boolean {
  const i = flags.indexOf(flag);
  if (i < 0) return false;
  const end = i + flag.length;
  return (i === 0 || flags.charCodeAt(i - 1) === 44) && (end === flags.length || flags.charCodeAt(end) === 44);
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: Readonly<Record<string, string>>): string {
  return names.map((n) => `${n}="${escapeLabel(values[n] ?? '')}"`).join(',');
}

function header(out: string[], spec: MetricSpec): void {
  out.push(`# HELP ${spec.name} ${spec.help}`, `# TYPE ${spec.name} ${spec.type}`);
}

function histogram(out: string[], spec: MetricSpec, series: readonly RequestSeries[], of: (s: RequestSeries) => Histogram): void {
  header(out, spec);
  for (const s of series) {
    const h = of(s);
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i];
      out.push(`${spec.name}_bucket{${s.labels},le="${h.bounds[i]}"} ${cumulative}`);
    }
    out.push(`${spec.name}_bucket{${s.labels},le="+Inf"} ${h.count}`);
    out.push(`${spec.name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${spec.name}_count{${s.labels}} ${h.count}`);
  }
}
