/**
 * CloudWatch Embedded Metric Format: every interval, the request series' change since the last
 * interval, summed per dimension set (mesh + node, mesh + node + target cluster, mesh + node +
 * route), one JSON document per value combination, through a {@link LineBuffer} to stdout (the
 * ECS log driver carries it to CloudWatch Logs, which extracts the metrics).
 *
 * Durations are written as a distribution, `{ Values, Counts }`: each non-empty histogram bucket's
 * representative value and its count, so CloudWatch computes percentiles. Distinct values per
 * dimension are capped per interval; the rest are summed under `other`.
 */
import { DEFAULT_MAX_DIMENSION_VALUES, DURATION_BUCKETS_MS, EMF_DIMENSION_SETS, EMF_METRICS, EMF_NAMESPACE, OTHER_DIMENSION_VALUE } from '../contracts/metrics-catalog';
import type { LineBuffer } from './line-buffer';
import type { MeshMetrics, RequestSeries } from './mesh-metrics';

export interface EmfOptions {
  metrics: MeshMetrics;
  buffer: LineBuffer;
  mesh: () => string;
  node: string;
  maxDimensionValues?: number;
  namespace?: string;
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
  private readonly maxValues: number;

  constructor(private readonly opts: EmfOptions) {
    this.maxValues = opts.maxDimensionValues ?? DEFAULT_MAX_DIMENSION_VALUES;
  }

  /** Writes one document per dimension value combination that saw requests since the last flush. */
  flush(timestamp = Date.now()): number {
    const node = new Aggregate();
    const byCluster = new Map<string, Aggregate>();
    const byRoute = new Map<string, Aggregate>();
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
    if (node.requests === 0) return 0;
    const base = { Mesh: this.opts.mesh(), Node: this.opts.node };
    let docs = 0;
    const emit = (dimensions: readonly string[], values: Record<string, string>, a: Aggregate): void => {
      this.opts.buffer.push(JSON.stringify(this.document(timestamp, dimensions, values, a)));
      docs++;
    };
    emit(EMF_DIMENSION_SETS[0], base, node);
    for (const [cluster, a] of byCluster) emit(EMF_DIMENSION_SETS[1], { ...base, TargetCluster: cluster }, a);
    for (const [route, a] of byRoute) emit(EMF_DIMENSION_SETS[2], { ...base, Route: route }, a);
    return docs;
  }

  private slot(map: Map<string, Aggregate>, value: string): Aggregate {
    let a = map.get(value);
    if (a !== undefined) return a;
    if (map.size >= this.maxValues) {
      this.capped++;
      value = OTHER_DIMENSION_VALUE;
      a = map.get(value);
      if (a !== undefined) return a;
    }
    a = new Aggregate();
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
