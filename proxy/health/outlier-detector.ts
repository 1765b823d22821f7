/**
 * Outlier detection of one cluster (Envoy's consecutive-errors detectors, as App Mesh and Istio
 * configure them): every attempt's outcome updates two counters on its endpoint, and an endpoint
 * that reaches a limit is ejected (its EJECTED bit set) for base × multiplier, up to the cap.
 *
 * - Consecutive 5xx: a 5xx response, or an error of the sidecar's own towards the endpoint
 *   (connect, TLS, reset, malformed response, timeout), which Envoy counts as a 503.
 * - Consecutive gateway errors (only when configured): 502, 503, 504 and those same local errors.
 *   A 500 ends a run of gateway errors; any response below 500 ends both runs.
 * - What is not the endpoint's doing does not count: the client leaving, a body over the limit.
 * - At most `maxEjectionPercent` of the endpoints are ejected at once, but one always may be.
 * - One timer per cluster sweeps every `intervalMs`: it returns endpoints whose ejection time has
 *   passed (so an ejection lasts its time rounded up to the sweep), and lowers by one the
 *   multiplier of each endpoint that has stayed in for a whole interval since its last return.
 *
 * The per-request cost is one observer call and a few integer updates on the endpoint.
 */
import type { OutlierDetection } from '../contracts';
import type { ClusterRuntime, EndpointMonitor, EndpointOutcome } from '../cluster/cluster-runtime';
import { EJECTED, type Endpoint, type OutlierState } from '../endpoints/endpoint';
import type { FailureKind } from '../cluster/upstream-errors';

/** Failures of the endpoint (or the way to it), as opposed to the client's or the sidecar's limits. */
function isLocalOriginError(failure: FailureKind): boolean {
  return failure === 'connect' || failure === 'tls' || failure === 'reset' || failure === 'protocol' || failure === 'timeout';
}

function newState(): OutlierState {
  return { consecutive5xx: 0, consecutiveGatewayErrors: 0, multiplier: 0, ejections: 0, ejected: false, ejectedAt: 0, ejectionMs: 0, returnedAt: -1 };
}

export class OutlierDetector implements EndpointMonitor {
  private ejectedNow = 0;
  private readonly gatewayLimit: number;
  private readonly multiplierCap: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * @param now the monotonic clock (ms); tests pass their own with `sweepEvery: false` and call
   *   {@link sweep} themselves.
   */
  constructor(
    private readonly cluster: ClusterRuntime,
    private readonly config: OutlierDetection,
    private readonly now: () => number = () => performance.now(),
    sweepEvery = true,
  ) {
    this.gatewayLimit = config.consecutiveGatewayErrors ?? 0;
    // base × multiplier never passes the cap (Envoy stops raising the multiplier there).
    this.multiplierCap = Math.max(1, Math.floor(config.maxEjectionMs / config.baseEjectionMs));
    cluster.observe((_c, outcome) => this.onOutcome(outcome));
    if (sweepEvery) {
      this.timer = setInterval(() => this.sweep(), config.intervalMs);
      this.timer.unref();
    }
  }

  /** How many endpoints are ejected now. */
  get ejected(): number {
    return this.ejectedNow;
  }

  endpointsChanged(added: readonly Endpoint[], removed: readonly Endpoint[]): void {
    for (const e of added) e.outlier = newState();
    for (const e of removed) if (e.outlier?.ejected) this.ejectedNow--;
  }

  describe(e: Endpoint): Record<string, unknown> | undefined {
    const s = e.outlier;
    if (s === undefined) return undefined;
    const leftMs = s.ejected ? Math.max(0, Math.ceil(s.ejectedAt + s.ejectionMs - this.now())) : 0;
    return { outlier: { ejected: s.ejected, ejections: s.ejections, ejectionMs: s.ejected ? s.ejectionMs : 0, ejectionLeftMs: leftMs, multiplier: s.multiplier } };
  }

  onOutcome(outcome: EndpointOutcome): void {
    const e = outcome.endpoint;
    const s = e?.outlier;
    if (e === undefined || s === undefined || s.ejected || this.closed) return;
    const failure = outcome.failure;
    let gatewayError: boolean;
    if (failure !== undefined) {
      if (!isLocalOriginError(failure)) return;
      gatewayError = true;
    } else {
      const status = outcome.status;
      if (status === 0) return;
      if (status < 500) {
        s.consecutive5xx = 0;
        s.consecutiveGatewayErrors = 0;
        return;
      }
      gatewayError = status === 502 || status === 503 || status === 504;
    }
    s.consecutive5xx++;
    if (gatewayError) s.consecutiveGatewayErrors++;
    else s.consecutiveGatewayErrors = 0;
    if (s.consecutive5xx >= this.config.consecutive5xx) this.eject(e, s, 'consecutive5xx');
    else if (this.gatewayLimit > 0 && s.consecutiveGatewayErrors >= this.gatewayLimit) this.eject(e, s, 'gateway');
  }

  private eject(e: Endpoint, s: OutlierState, cause: 'consecutive5xx' | 'gateway'): void {
    s.consecutive5xx = 0;
    s.consecutiveGatewayErrors = 0;
    const total = this.cluster.currentEndpoints.length;
    const allowed = Math.max(1, Math.floor((total * this.config.maxEjectionPercent) / 100));
    const stats = this.cluster.stats;
    if (this.ejectedNow >= allowed) {
      stats.ejectionsOverflow++;
      return;
    }
    if (s.multiplier < this.multiplierCap) s.multiplier++;
    s.ejected = true;
    s.ejections++;
    s.ejectedAt = this.now();
    s.ejectionMs = Math.min(this.config.baseEjectionMs * s.multiplier, Math.max(this.config.baseEjectionMs, this.config.maxEjectionMs));
    this.ejectedNow++;
    if (cause === 'consecutive5xx') stats.ejectionsConsecutive5xx++;
    else stats.ejectionsConsecutiveGatewayErrors++;
    this.cluster.setHealth(e, EJECTED, true);
  }

  /** The interval's work: returns endpoints whose time is up, and decays the others' multipliers. */
  sweep(): void {
    if (this.closed) return;
    const now = this.now();
    for (const e of this.cluster.currentEndpoints) {
      const s = e.outlier;
      if (s === undefined) continue;
      if (s.ejected) {
        if (now - s.ejectedAt >= s.ejectionMs) {
          s.ejected = false;
          s.returnedAt = now;
          this.ejectedNow--;
          this.cluster.setHealth(e, EJECTED, false);
        }
      } else if (s.multiplier > 0 && s.returnedAt >= 0 && now - s.returnedAt >= this.config.intervalMs) {
        s.multiplier--;
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
