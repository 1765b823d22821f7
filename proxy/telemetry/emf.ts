/**
 * CloudWatch Embedded Metric Format: every interval, the request series' change since the last
 * interval, summed per dimension set (mesh + node, mesh + node + target cluster, mesh + node +
 * route), one JSON document per value combination, through a {@link LineBuffer} to stdout (the
 * ECS log driver carries it to CloudWatch Logs, which extracts the metrics).
 *
 * Requests from egress and gateway records are also summed per virtual service (mesh + virtual
 * service). Each flush also writes the clusters' counters (retries, timeouts, overflows, ejections,
 * health-check failures: their change since the last flush) per node and per target cluster, and
 * the node's security and control metrics (TLS handshake failures, policy denials, rate-limited
 * requests, discovery errors: changes; certificate expiry: the value at the flush).
 *
 * Durations are written as a distribution, `{ Values, Counts }`: each non-empty histogram bucket's
 * representative value and its count, so CloudWatch computes percentiles. Distinct values per
 * dimension are capped per interval; the rest are summed under `other`.
 */
import {
  DEFAULT_MAX_DIMENSION_VALUES,
  DURATION_BUCKETS_MS,
  EMF_CLUSTER_DIMENSION_SETS,
  EMF_CLUSTER_METRICS,
  EMF_DIMENSION_SETS,
  EMF_METRICS,
  EMF_NAMESPACE,
  EMF_NODE_DIMENSIONS,
  EMF_NODE_METRICS,
  EMF_VIRTUAL_SERVICE_DIMENSIONS,
  OTHER_DIMENSION_VALUE,
} from '../contracts/metrics-catalog';
import { certificateSecondsLeft, CLUSTER_COUNTERS, clusterCounters, inboundTlsFailures, type ControlState } from './control-counters';
import type { LineBuffer } from './line-buffer';
import type { MeshMetrics, RequestSeries } from './mesh-metrics';

export interface EmfOptions {
  metrics: MeshMetrics;
  buffer: LineBuffer;
  mesh: () => string;
  node: string;
  maxDimensionValues?: number;
  namespace?: string;
  /** The clusters' and the node's counters; without it only the request metrics are written. */
  control?: () => ControlState;
}

/** What a series had at the last flush. */
interface Flushed {
  requests: number;
  duration: Float64Array;
  requestBytes: number;
  responseBytes: number;
}

class Aggregate {
  requests = 0;
  responses4xx = 0;
  responses5xx = 0;
  requestBytes = 0;
  responseBytes = 0;
  readonly duration = new Float64Array(DURATION_BUCKETS_MS.length + 1);
}

/** Representative value of each duration bucket: the middle of its range (the top bound for the last). */
export const DURATION_REPRESENTATIVES: readonly number[] = [...DURATION_BUCKETS_MS.map((b, i) => (i === 0 ? b / 2 : (DURATION_BUCKETS_MS[i - 1] + b) / 2)), DURATION_BUCKETS_MS[DURATION_BUCKETS_MS.length - 1]];

export class EmfEmitter {
  /** Dimension values summed under `other` because the cap was reached (since start). */
  capped = 0;
  private readonly flushed = new Map<RequestSeries, Flushed>();
  /** Each cluster's counters at the last flush, by runtime (a reload that rebuilds a cluster starts it over). */
  private readonly clustersFlushed = new WeakMap<object, Float64Array>();
  /** Retries are counted from the records by cluster name, so they outlive a rebuilt runtime. */
  private readonly retriesFlushed = new Map<string, number>();
  private readonly scratch = new Float64Array(CLUSTER_COUNTERS.length);
  /** The node's own counters at the last flush: inbound TLS failures, policy denials, rate limited, discovery errors. */
  private readonly nodeFlushed = new Float64Array(4);
  private readonly maxValues: number;

  constructor(private readonly opts: EmfOptions) {
    this.maxValues = opts.maxDimensionValues ?? DEFAULT_MAX_DIMENSION_VALUES;
  }

  /** Writes one document per dimension value combination that saw requests since the last flush. */
  flush(timestamp = Date.now()): number {
    const node = new Aggregate();
    const byCluster = new Map<string, Aggregate>();
    const byRoute = new Map<string, Aggregate>();
    const byService = new Map<string, Aggregate>();
    for (const s of this.opts.metrics.allRequestSeries()) {
      let last = this.flushed.get(s);
      if (last === undefined) {
        last = { requests: 0, duration: new Float64Array(s.duration.counts.length), requestBytes: 0, responseBytes: 0 };
        this.flushed.set(s, last);
      }
      const requests = s.requests - last.requests;
      if (requests === 0) continue;
      const targets = [node, this.slot(byCluster, s.values.destination_service)];
      if (s.values.route !== '') targets.push(this.slot(byRoute, s.values.route));
      if (s.virtualService !== undefined) targets.push(this.slot(byService, s.virtualService));
      const cls = s.values.response_code.charAt(0);
      for (const a of targets) {
        a.requests += requests;
        if (cls === '4') a.responses4xx += requests;
        if (cls === '5') a.responses5xx += requests;
        a.requestBytes += s.requestBytes.sum - last.requestBytes;
        a.responseBytes += s.responseBytes.sum - last.responseBytes;
        for (let i = 0; i < a.duration.length; i++) a.duration[i] += s.duration.counts[i] - last.duration[i];
      }
      last.requests = s.requests;
      last.duration.set(s.duration.counts);
      last.requestBytes = s.requestBytes.sum;
      last.responseBytes = s.responseBytes.sum;
    }
    const mesh = this.opts.mesh();
    const base = { Mesh: mesh, Node: this.opts.node };
    let docs = 0;
    const write = (doc: Record<string, unknown>): void => {
      this.opts.buffer.push(JSON.stringify(doc));
      docs++;
    };
    const emit = (dimensions: readonly string[], values: Record<string, string>, a: Aggregate): void => write(this.document(timestamp, dimensions, values, a));
    if (node.requests > 0) {
      emit(EMF_DIMENSION_SETS[0], base, node);
      for (const [cluster, a] of byCluster) emit(EMF_DIMENSION_SETS[1], { ...base, TargetCluster: cluster }, a);
      for (const [route, a] of byRoute) emit(EMF_DIMENSION_SETS[2], { ...base, Route: route }, a);
      for (const [service, a] of byService) emit(EMF_VIRTUAL_SERVICE_DIMENSIONS, { Mesh: mesh, VirtualService: service }, a);
    }
    const control = this.opts.control?.();
    if (control !== undefined) this.flushControl(timestamp, control, base, write);
    return docs;
  }

  /**
   * The clusters' counters (each interval's change) per target cluster, and one node document
   * with their sums and the node's own metrics. A target cluster without change writes nothing;
   * the node document is written every flush (its certificate expiry is a gauge).
   */
  private flushControl(timestamp: number, control: ControlState, base: { Mesh: string; Node: string }, write: (doc: Record<string, unknown>) => void): void {
    const totals = new Float64Array(CLUSTER_COUNTERS.length);
    const byCluster = new Map<string, Float64Array>();
    for (const c of control.clusters) {
      const now = clusterCounters(c.stats, this.opts.metrics.retriesFor(c.name), this.scratch);
      let last = this.clustersFlushed.get(c.stats);
      if (last === undefined) {
        last = new Float64Array(CLUSTER_COUNTERS.length);
        this.clustersFlushed.set(c.stats, last);
      }
      let changed = false;
      const delta = new Float64Array(CLUSTER_COUNTERS.length);
      for (let i = 0; i < delta.length; i++) {
        delta[i] = now[i] - last[i];
        if (delta[i] !== 0) changed = true;
        totals[i] += delta[i];
      }
      last.set(now);
      // Retries by name: a runtime rebuilt by a reload must not count the name's retries again.
      const retriedBefore = this.retriesFlushed.get(c.name) ?? 0;
      totals[0] += now[0] - retriedBefore - delta[0];
      delta[0] = now[0] - retriedBefore;
      this.retriesFlushed.set(c.name, now[0]);
      if (delta[0] !== 0) changed = true;
      if (!changed) continue;
      const slot = this.slotOf(byCluster, c.name, () => new Float64Array(CLUSTER_COUNTERS.length));
      for (let i = 0; i < delta.length; i++) slot[i] += delta[i];
    }
    const clusterMetrics = Object.values(EMF_CLUSTER_METRICS);
    const clusterMembers = (counts: Float64Array): Record<string, number> => Object.fromEntries(clusterMetrics.map((m, i) => [m.name, counts[i]]));
    const directive = (dimensions: readonly string[], metrics: readonly { name: string; unit: string }[]): Record<string, unknown> => ({
      Namespace: this.opts.namespace ?? EMF_NAMESPACE,
      Dimensions: [[...dimensions]],
      Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
    });
    for (const [cluster, counts] of byCluster) {
      write({ _aws: { Timestamp: timestamp, CloudWatchMetrics: [directive(EMF_CLUSTER_DIMENSION_SETS[1], clusterMetrics)] }, ...base, TargetCluster: cluster, ...clusterMembers(counts) });
    }

    const m = this.opts.metrics;
    const own = [inboundTlsFailures(control), m.policyDenials, m.rateLimited, control.discovery?.errors ?? 0];
    const ownDelta = own.map((v, i) => v - this.nodeFlushed[i]);
    this.nodeFlushed.set(own);
    const certificateLeft = certificateSecondsLeft(control);
    const nodeMetrics = Object.values(EMF_NODE_METRICS).filter((spec) => spec !== EMF_NODE_METRICS.certificateExpiry || certificateLeft !== undefined);
    const node: Record<string, number> = {
      [EMF_NODE_METRICS.tlsHandshakeFailures.name]: ownDelta[0] + totals[CLUSTER_COUNTERS.indexOf('tlsFailures')],
      [EMF_NODE_METRICS.policyDenials.name]: ownDelta[1],
      [EMF_NODE_METRICS.rateLimited.name]: ownDelta[2],
      [EMF_NODE_METRICS.discoveryErrors.name]: ownDelta[3],
    };
    if (certificateLeft !== undefined) node[EMF_NODE_METRICS.certificateExpiry.name] = certificateLeft;
    // One document, two directives: the same Mesh + Node set carries the clusters' sums and the node's own metrics.
    write({
      _aws: { Timestamp: timestamp, CloudWatchMetrics: [directive(EMF_CLUSTER_DIMENSION_SETS[0], clusterMetrics), directive(EMF_NODE_DIMENSIONS, nodeMetrics)] },
      ...base,
      ...clusterMembers(totals),
      ...node,
    });
  }

  private slot(map: Map<string, Aggregate>, value: string): Aggregate {
    return this.slotOf(map, value, () => new Aggregate());
  }

  /** The value's entry, or `other`'s once the map holds the cap's number of values. */
  private slotOf<T>(map: Map<string, T>, value: string, create: () => T): T {
    let a = map.get(value);
    if (a !== undefined) return a;
    if (map.size >= this.maxValues) {
      this.capped++;
      value = OTHER_DIMENSION_VALUE;
      a = map.get(value);
      if (a !== undefined) return a;
    }
    a = create();
    map.set(value, a);
    return a;
  }

  private document(timestamp: number, dimensions: readonly string[], values: Record<string, string>, a: Aggregate): Record<string, unknown> {
    const distribution = { Values: [] as number[], Counts: [] as number[] };
    for (let i = 0; i < a.duration.length; i++) {
      if (a.duration[i] === 0) continue;
      distribution.Values.push(DURATION_REPRESENTATIVES[i]);
      distribution.Counts.push(a.duration[i]);
    }
    return {
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [{ Namespace: this.opts.namespace ?? EMF_NAMESPACE, Dimensions: [[...dimensions]], Metrics: Object.values(EMF_METRICS).map((m) => ({ Name: m.name, Unit: m.unit })) }],
      },
      ...values,
      [EMF_METRICS.requests.name]: a.requests,
      [EMF_METRICS.responses4xx.name]: a.responses4xx,
      [EMF_METRICS.responses5xx.name]: a.responses5xx,
      [EMF_METRICS.requestDuration.name]: distribution,
      [EMF_METRICS.requestBytes.name]: a.requestBytes,
      [EMF_METRICS.responseBytes.name]: a.responseBytes,
    };
  }
}
