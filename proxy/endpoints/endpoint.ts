/**
 * A concrete upstream address of a cluster, as balancers and the data path see it. Its health has
 * one bit per source, so that no source can overwrite another's verdict: discovery (Cloud Map's
 * health status), active health checks and outlier ejection each set and clear only their own.
 * An endpoint is healthy when no bit is set.
 */

/** Discovery reports the endpoint unhealthy (Cloud Map `UNHEALTHY`). */
export const UNHEALTHY_DISCOVERY = 1;
/** Active health checks failed it. */
export const UNHEALTHY_CHECKS = 2;
/** Outlier detection ejected it. */
export const EJECTED = 4;
/** A connect to it failed and no reconnect has succeeded since (proxy/cluster/connect-failures.ts). */
export const CONNECT_FAILING = 8;
export type HealthBit = typeof UNHEALTHY_DISCOVERY | typeof UNHEALTHY_CHECKS | typeof EJECTED | typeof CONNECT_FAILING;

export interface Endpoint {
  /** Stable id (Cloud Map instance id, or `address:port`). */
  id: string;
  address: string;
  port: number;
  zone: string | undefined;
  /** Relative weight, ≥ 1. */
  weight: number;
  /** Health bits (UNHEALTHY_DISCOVERY, UNHEALTHY_CHECKS, EJECTED, CONNECT_FAILING); 0 is healthy. */
  health: number;
  /** Requests in flight to this endpoint (maintained by its cluster; read by LEAST_REQUEST and breakers). */
  active: number;
  /** Outlier detection's counters (proxy/health/outlier-detector.ts); absent while its cluster has none. */
  outlier?: OutlierState;
  /** Connect failures in a row since the last successful connect (its cluster keeps it; absent counts as 0). */
  connectFailures?: number;
}

/** Outlier detection's state of one endpoint: a few numbers, updated in place by each attempt's outcome. */
export interface OutlierState {
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  /** The ejection time multiplier: +1 at each ejection (up to the cap), -1 per healthy interval. */
  multiplier: number;
  /** Ejections since the endpoint appeared. */
  ejections: number;
  ejected: boolean;
  /** When the current or last ejection began, and how long it lasts (ms, monotonic clock). */
  ejectedAt: number;
  ejectionMs: number;
  /** When the last ejection ended; -1 before any. */
  returnedAt: number;
}

/** One address as discovery reports it, before the cluster tracks it. */
export interface DiscoveredEndpoint {
  id: string;
  address: string;
  port: number;
  zone: string | undefined;
  weight: number;
  /** What discovery says of its health (only the UNHEALTHY_DISCOVERY bit follows it). */
  healthy: boolean;
}

export function isHealthy(e: Endpoint): boolean {
  return e.health === 0;
}

/** The health bits by name, for the admin endpoint and logs. */
export function healthReasons(health: number): string[] {
  const out: string[] = [];
  if (health & UNHEALTHY_DISCOVERY) out.push('discovery');
  if (health & UNHEALTHY_CHECKS) out.push('health_checks');
  if (health & EJECTED) out.push('outlier_ejected');
  if (health & CONNECT_FAILING) out.push('connect_failing');
  return out;
}
