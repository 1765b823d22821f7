/**
 * Local app health: the node's inbound listener `healthCheck` probes the sidecar's OWN app (App
 * Mesh's listener health check). The result is a cached view that the inbound listener answers
 * callers' active checks from (Envoy's health-check filter without pass-through, so N callers do
 * not multiply probes of the app), that the admin port shows, and that the Cloud Map reporter
 * turns into this task's custom health status. It never drives the sidecar's own readiness: the
 * app container starts only once the sidecar is healthy, so an app check there would deadlock.
 *
 * State is bounded: one prober per inbound listener with a check, replaced when a config changes it.
 */
import type { HealthCheck, InboundListener } from '../contracts/node-config';
import { jittered, type Random } from '../aws/backoff';
import { probeOnce } from './probe';

export type AppHealthStatus = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

/** Interval jitter: ±10% of the interval, drawn from the sidecar's random source. */
const INTERVAL_JITTER = 0.1;

export interface AppHealthOptions {
  /** Address of the local app (the `appHost` setting). */
  appHost: string;
  random: Random;
  /** Replaces every check's interval (tests, local mode); the config keeps App Mesh's limits. */
  intervalOverrideMs?: number;
  /** Called when the overall status changes (the Cloud Map reporter). */
  onChange?: (status: AppHealthStatus) => void;
}

/** One listener's check as the sidecar runs it. */
export interface AppCheckTarget {
  listenerPort: number;
  /** The app port probed: the check's own port when it names another port, else the listener's app port. */
  appPort: number;
  check: HealthCheck;
}

export interface AppCheckView {
  listenerPort: number;
  appPort: number;
  protocol: HealthCheck['protocol'];
  path: string;
  status: AppHealthStatus;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  probes: number;
  failures: number;
  lastFailure: string | null;
  lastCheckedAt: string | null;
}

/** Threshold counting for one listener's check (Envoy's: the first result decides, then thresholds). */
class AppCheck {
  status: AppHealthStatus = 'UNKNOWN';
  successes = 0;
  failuresInRow = 0;
  probes = 0;
  failures = 0;
  lastFailure: string | null = null;
  lastCheckedAt: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly target: AppCheckTarget,
    private readonly owner: AppHealth,
  ) {}

  start(): void {
    // The first probe runs at once: a fresh sidecar should know its app's state quickly.
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const { check, appPort } = this.target;
    // The next probe is timed from the end of this one, so probes never overlap, whatever the
    // interval override.
    const failure = await probeOnce(this.owner.appHost, appPort, check, check.timeoutMs);
    if (this.stopped) return;
    this.record(failure);
    this.schedule(jittered(this.owner.intervalFor(check), this.owner.random, INTERVAL_JITTER));
  }

  /** `failure`: undefined for a passed probe, else why it failed. */
  record(failure: string | undefined): void {
    this.probes++;
    this.lastCheckedAt = new Date().toISOString();
    const before = this.status;
    if (failure === undefined) {
      this.successes++;
      this.failuresInRow = 0;
      if (before === 'UNKNOWN' || (before === 'UNHEALTHY' && this.successes >= this.target.check.healthyThreshold)) this.status = 'HEALTHY';
    } else {
      this.failures++;
      this.failuresInRow++;
      this.successes = 0;
      this.lastFailure = failure;
      if (before === 'UNKNOWN' || (before === 'HEALTHY' && this.failuresInRow >= this.target.check.unhealthyThreshold)) this.status = 'UNHEALTHY';
    }
    if (this.status !== before) this.owner.changed();
  }

  view(): AppCheckView {
    const { listenerPort, appPort, check } = this.target;
    return {
      listenerPort,
      appPort,
      protocol: check.protocol,
      path: check.path,
      status: this.status,
      consecutiveSuccesses: this.successes,
      consecutiveFailures: this.failuresInRow,
      probes: this.probes,
      failures: this.failures,
      lastFailure: this.lastFailure,
      lastCheckedAt: this.lastCheckedAt,
    };
  }
}

/** The checks of every inbound listener that has one, and the app's overall status. */
export class AppHealth {
  readonly appHost: string;
  readonly random: Random;
  private checks = new Map<number, AppCheck>();
  private key = '';
  private overall: AppHealthStatus = 'UNKNOWN';
  private closed = false;

  constructor(private readonly opts: AppHealthOptions) {
    this.appHost = opts.appHost;
    this.random = opts.random;
  }

  /** Whether any listener has a check (without one, the app's health is not known to the sidecar). */
  get configured(): boolean {
    return this.checks.size > 0;
  }

  /**
   * Overall: UNHEALTHY when any checked listener is, HEALTHY when all are, UNKNOWN before every
   * check has its first result (and when no listener has a check).
   */
  get status(): AppHealthStatus {
    return this.overall;
  }

  /** The status of the check on inbound listener `listenerPort`, undefined when it has none. */
  statusOf(listenerPort: number): AppHealthStatus | undefined {
    return this.checks.get(listenerPort)?.status;
  }

  intervalFor(check: HealthCheck): number {
    return this.opts.intervalOverrideMs ?? check.intervalMs;
  }

  /** Applies a config's listeners: checks whose definition did not change keep their state. */
  configure(listeners: readonly { listenerPort: number; appPort: number; listener: InboundListener }[]): void {
    if (this.closed) return;
    const targets: AppCheckTarget[] = [];
    for (const l of listeners) {
      const check = l.listener.healthCheck;
      // A check on the listener's own port probes the app port that listener forwards to (they
      // differ in local mode, where WEFT_APP_PORTS maps listener ports to app ports).
      if (check !== undefined) targets.push({ listenerPort: l.listenerPort, appPort: check.port === undefined || check.port === l.listenerPort ? l.appPort : check.port, check });
    }
    const key = JSON.stringify(targets);
    if (key === this.key) return;
    this.key = key;
    for (const c of this.checks.values()) c.stop();
    this.checks = new Map(targets.map((t) => [t.listenerPort, new AppCheck(t, this)]));
    for (const c of this.checks.values()) c.start();
    this.changed();
  }

  /** Recomputes the overall status and tells `onChange` when it moved. */
  changed(): void {
    let next: AppHealthStatus = this.checks.size === 0 ? 'UNKNOWN' : 'HEALTHY';
    for (const c of this.checks.values()) {
      if (c.status === 'UNHEALTHY') {
        next = 'UNHEALTHY';
        break;
      }
      if (c.status === 'UNKNOWN') next = 'UNKNOWN';
    }
    if (next === this.overall) return;
    this.overall = next;
    this.opts.onChange?.(next);
  }

  view(): { status: AppHealthStatus; checks: AppCheckView[] } {
    return { status: this.overall, checks: [...this.checks.values()].map((c) => c.view()) };
  }

  close(): void {
    this.closed = true;
    for (const c of this.checks.values()) c.stop();
    this.checks.clear();
  }
}
