/**
 * The counters besides the records' series: per cluster (retries, timeouts, overflows, ejections,
 * health-check failures, TLS failures towards its endpoints) and per sidecar (TLS handshakes
 * refused, discovery errors). Read the same way by the Prometheus renderer (totals since start)
 * and the EMF and CloudWatch flushes (each interval's change), so both sinks say the same thing.
 * Read at render or flush time only, never per request.
 */
import type { ClusterStats } from '../cluster/cluster-runtime';
import type { ListenerStats } from '../stats';

/** What the renderer and the flushes read besides the records: cluster counters and the control plane's state. */
export interface ControlState {
  clusters: Iterable<{ readonly name: string; readonly stats: ClusterStats }>;
  certificateNotAfter: Date | undefined;
  now: number;
  /** EMF lines dropped so far, when the `emf` sink is on. */
  emfDroppedLines?: number;
  /** Access log lines dropped so far. */
  accessLogDroppedLines?: number;
  /** The span exporter's counters, while tracing is on. */
  tracing?: { exported: number; dropped: number; exportFailures: number };
  /** The sidecar's listeners (their TLS handshake failures). */
  listeners?: Iterable<ListenerStats>;
  /** Discovery and config refreshes that failed, and when discovery last succeeded (absent without a polling source). */
  discovery?: { errors: number; lastSuccessAt: number | undefined };
}

/** A cluster's counters, in {@link CLUSTER_COUNTERS} order. */
export const CLUSTER_COUNTERS = ['retries', 'timeouts', 'overflows', 'ejections', 'healthCheckFailures', 'tlsFailures'] as const;
export type ClusterCounter = (typeof CLUSTER_COUNTERS)[number];

/** Fills `out` (indexed as {@link CLUSTER_COUNTERS}) with a cluster's counters since its runtime was built. */
export function clusterCounters(stats: ClusterStats, retries: number, out: Float64Array): Float64Array {
  out[0] = retries;
  out[1] = stats.timeouts;
  out[2] = stats.overflow;
  out[3] = stats.ejectionsConsecutive5xx + stats.ejectionsConsecutiveGatewayErrors;
  out[4] = stats.healthCheckFailures;
  out[5] = stats.tlsFailures;
  return out;
}

/** TLS handshakes this sidecar's listeners failed or refused, since start. */
export function inboundTlsFailures(control: ControlState): number {
  let n = 0;
  for (const l of control.listeners ?? []) n += l.tlsHandshakeFailures;
  return n;
}

/** Whole seconds until the certificate expires (0 once expired); undefined without one. */
export function certificateSecondsLeft(control: ControlState): number | undefined {
  const notAfter = control.certificateNotAfter;
  return notAfter === undefined ? undefined : Math.max(0, Math.floor((notAfter.getTime() - control.now) / 1000));
}

/** Whole seconds since discovery last succeeded; undefined before it has, or without a polling source. */
export function secondsSinceRefresh(control: ControlState): number | undefined {
  const at = control.discovery?.lastSuccessAt;
  return at === undefined ? undefined : Math.max(0, Math.floor((control.now - at) / 1000));
}
