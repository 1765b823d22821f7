/**
 * Sets this task's Cloud Map custom health status (`UpdateInstanceCustomHealthStatus`) from the
 * sidecar's view of its local app and the operator's `POST /healthcheck/fail`. Calls are made only
 * when the wanted status differs from the last one Cloud Map accepted, one at a time, and a failed
 * call is retried with exponential backoff (Cloud Map throttles per account, and the controller may
 * not have registered the task yet, which answers InstanceNotFound).
 *
 * Cloud Map registers an instance of a service with a custom health config as HEALTHY, so that is
 * the status assumed at start: a healthy app costs no call at all.
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { Logger } from '../log';
import { Backoff, type Random } from './backoff';
import { serviceDiscoverySdk } from './clients';

export type CustomHealthStatus = 'HEALTHY' | 'UNHEALTHY';

export interface CloudMapHealthReporterOptions {
  serviceId: string;
  /** This task's instance id (the ECS task id), resolved once on the first call. */
  instanceId: () => Promise<string>;
  client: () => ServiceDiscoveryClient;
  logger: Logger;
  random: Random;
  /** Backoff of failed calls. Default: 1 s doubling to 60 s. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export class CloudMapHealthReporter {
  private wanted: CustomHealthStatus = 'HEALTHY';
  /** What Cloud Map holds as far as this sidecar knows. */
  private reported: CustomHealthStatus = 'HEALTHY';
  private inFlight = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private instance: string | undefined;
  private closed = false;
  /** Calls made and failed, for the admin port. */
  readonly stats = { updates: 0, failures: 0, lastError: null as string | null };

  constructor(private readonly opts: CloudMapHealthReporterOptions) {
    this.backoff = new Backoff({ baseMs: opts.backoffBaseMs, capMs: opts.backoffCapMs, random: opts.random });
  }

  /** The status Cloud Map should hold; a call follows only when it differs from the last accepted one. */
  set(status: CustomHealthStatus): void {
    this.wanted = status;
    this.sync();
  }

  view(): Record<string, unknown> {
    return { serviceId: this.opts.serviceId, instanceId: this.instance ?? null, wanted: this.wanted, reported: this.reported, ...this.stats, retrying: this.retryTimer !== undefined };
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private sync(): void {
    // A retry already scheduled sends the newest wanted status when it fires.
    if (this.closed || this.inFlight || this.retryTimer !== undefined || this.wanted === this.reported) return;
    this.inFlight = true;
    const status = this.wanted;
    void this.send(status).then(
      () => {
        this.inFlight = false;
        this.reported = status;
        this.backoff.reset();
        this.opts.logger.log('info', 'app_health_reported', { status, serviceId: this.opts.serviceId, instanceId: this.instance });
        this.sync();
      },
      (err: unknown) => {
        this.inFlight = false;
        this.stats.failures++;
        const e = err as Error & { name?: string };
        this.stats.lastError = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
        const delayMs = this.backoff.next();
        this.opts.logger.log('warn', 'app_health_report_failed', { code: 'WEFT_ERR_CLOUD_MAP_HEALTH', status, error: this.stats.lastError, retryInMs: delayMs, failures: this.backoff.failures });
        if (this.closed) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.sync();
        }, delayMs);
        this.retryTimer.unref();
      },
    );
  }

  private async send(status: CustomHealthStatus): Promise<void> {
    this.instance ??= await this.opts.instanceId();
    const { UpdateInstanceCustomHealthStatusCommand } = serviceDiscoverySdk();
    this.stats.updates++;
    await this.opts.client().send(new UpdateInstanceCustomHealthStatusCommand({ ServiceId: this.opts.serviceId, InstanceId: this.instance, Status: status }));
  }
}
