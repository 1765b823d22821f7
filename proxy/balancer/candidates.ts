/**
 * Which endpoints a balancer chooses among, computed once per update: the healthy ones, narrowed
 * to the caller's zone when zone-aware routing holds, or all of them in panic mode.
 */
import { isHealthy, type Endpoint } from '../endpoints/endpoint';

/** Envoy's default healthy panic threshold: below 50% healthy, balance over every endpoint. */
export const PANIC_THRESHOLD_PERCENT = 50;

export interface ZoneAware {
  minHealthyPercent: number;
}

/**
 * The candidate endpoints.
 * - Panic (Envoy): when fewer than 50% of the endpoints are healthy, all of them, healthy or not,
 *   so that a partial outage of health checking does not concentrate all load on a few hosts.
 * - Zone-aware: with a known local zone, the local zone's healthy endpoints while there is at least
 *   one and they are at least `minHealthyPercent` of the local zone's endpoints; else every healthy
 *   endpoint, whatever its zone.
 * - Otherwise every healthy endpoint.
 */
export function selectCandidates(endpoints: readonly Endpoint[], zoneAware: ZoneAware | undefined, localZone: string | undefined): Endpoint[] {
  const healthy = endpoints.filter(isHealthy);
  if (healthy.length * 100 < endpoints.length * PANIC_THRESHOLD_PERCENT) return endpoints.slice();
  if (zoneAware === undefined || localZone === undefined) return healthy;
  let localTotal = 0;
  for (const e of endpoints) if (e.zone === localZone) localTotal++;
  const local = healthy.filter((e) => e.zone === localZone);
  if (local.length > 0 && local.length * 100 >= zoneAware.minHealthyPercent * localTotal) return local;
  return healthy;
}

/** An endpoint's weight as balancers use it: at least 1, so a bad value never starves a host. */
export function weightOf(e: Endpoint): number {
  const w = e.weight;
  return Number.isFinite(w) && w >= 1 ? w : 1;
}
