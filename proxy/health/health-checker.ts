/**
 * Active health checks of one cluster's endpoints (Envoy's health checker, as App Mesh configures
 * it from a listener's `healthCheck`): each endpoint is checked every interval (plus up to 10%
 * jitter from the sidecar's random source), each check bounded by the timeout; `unhealthyThreshold`
 * failures in a row set the endpoint's UNHEALTHY_CHECKS bit, `healthyThreshold` successes in a row
 * clear it. The balancer then leaves it out, unless too few are healthy (panic mode).
 *
 * A new endpoint starts unhealthy for checks and is checked at once; its first success makes it
 * healthy (Envoy: a host added to an actively checked cluster waits for its first check). So that
 * a fresh start does not black-hole traffic, panic mode routes to every endpoint while fewer than
 * half have passed.
 *
 * State is one small record and at most one timer and one check per endpoint; an endpoint that
 * goes away stops being checked, its check in flight is aborted.
 */
import type { HealthCheck } from '../contracts';
import type { ClusterRuntime, EndpointMonitor } from '../cluster/cluster-runtime';
import { UNHEALTHY_CHECKS, type Endpoint } from '../endpoints/endpoint';
import { probe, type ProbeTarget } from './probes';

/** Extra random wait added to each interval, as a fraction of it. */
const JITTER = 0.1;

interface CheckState {
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
  successes: number;
  failures: number;
  /** False until the first check has answered. */
  checked: boolean;
  last: string;
}

export interface HealthCheckerOptions {
  /** Scales intervals and timeouts, in percent (WEFT_HEALTH_CHECK_SCALE_PERCENT; tests and local mode). */
  scalePercent: number;
}

export class HealthChecker implements EndpointMonitor {
  private readonly states = new Map<Endpoint, CheckState>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(
    private readonly cluster: ClusterRuntime,
    private readonly config: HealthCheck,
    options: HealthCheckerOptions,
  ) {
    const scale = Math.max(1, options.scalePercent) / 100;
    this.intervalMs = Math.max(1, Math.round(config.intervalMs * scale));
    this.timeoutMs = Math.max(1, Math.round(config.timeoutMs * scale));
  }

  endpointsChanged(added: readonly Endpoint[], removed: readonly Endpoint[]): void {
    for (const e of removed) this.stop(e);
    for (const e of added) {
      if (this.closed || this.states.has(e)) continue;
      // Called before the balancer sees the endpoint: it starts out of rotation until checked.
      e.health |= UNHEALTHY_CHECKS;
      const state: CheckState = { timer: undefined, abort: undefined, successes: 0, failures: 0, checked: false, last: 'pending' };
      this.states.set(e, state);
      this.run(e, state);
    }
  }

  describe(e: Endpoint): Record<string, unknown> | undefined {
    const s = this.states.get(e);
    if (s === undefined) return undefined;
    return { healthCheck: { healthy: (e.health & UNHEALTHY_CHECKS) === 0, checked: s.checked, successes: s.successes, failures: s.failures, last: s.last } };
  }

  close(): void {
    this.closed = true;
    for (const e of [...this.states.keys()]) this.stop(e);
  }

  private stop(e: Endpoint): void {
    const s = this.states.get(e);
    if (s === undefined) return;
    this.states.delete(e);
    if (s.timer !== undefined) clearTimeout(s.timer);
    s.abort?.abort();
  }

  private target(e: Endpoint): ProbeTarget {
    const { def, tls, meshPeers } = this.cluster;
    return { host: e.address, port: e.port, authority: def.virtualNode, path: this.config.path, tls, targetPort: meshPeers ? def.port : undefined };
  }

  private run(e: Endpoint, s: CheckState): void {
    s.timer = undefined;
    const abort = new AbortController();
    s.abort = abort;
    void probe(this.config.protocol, this.target(e), this.timeoutMs, abort.signal).then((result) => {
      if (this.states.get(e) !== s) return; // the endpoint went away, or the cluster closed
      s.abort = undefined;
      this.record(e, s, result.healthy, result.detail);
      const wait = this.intervalMs + Math.floor(this.cluster.random() * this.intervalMs * JITTER);
      s.timer = setTimeout(() => this.run(e, s), wait);
      s.timer.unref();
    });
  }

  private record(e: Endpoint, s: CheckState, healthy: boolean, detail: string): void {
    const stats = this.cluster.stats;
    stats.healthChecks++;
    s.last = detail;
    const firstAnswer = !s.checked;
    s.checked = true;
    const failing = (e.health & UNHEALTHY_CHECKS) !== 0;
    if (healthy) {
      s.failures = 0;
      s.successes++;
      if (failing && (firstAnswer || s.successes >= this.config.healthyThreshold)) this.cluster.setHealth(e, UNHEALTHY_CHECKS, false);
    } else {
      stats.healthCheckFailures++;
      s.successes = 0;
      s.failures++;
      if (!failing && s.failures >= this.config.unhealthyThreshold) this.cluster.setHealth(e, UNHEALTHY_CHECKS, true);
    }
  }
}
