/**
 * Endpoints of `cloudMap` clusters from the Cloud Map API.
 *
 * One poller per distinct (namespace, service, attribute filter), shared by every cluster that
 * watches it, so a sidecar with many routes to one service costs one poll loop. Each poller calls
 * DiscoverInstancesRevision every `intervalMs` (±20%) and DiscoverInstances only when the revision
 * moved, plus a full DiscoverInstances every `fullRefreshMs`: the revision changes on
 * register/deregister only, never on a health flip. DiscoverInstances is throttled per account and
 * Region, so this keeps a fleet's steady state to one cheap call per service and interval.
 *
 * Static stability: a failed or throttled call backs off exponentially and the last good set
 * stays in force; only an answer (possibly empty) from Cloud Map replaces it.
 */
import type { HttpInstanceSummary, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { Cluster } from '../contracts/node-config';
import { canonicalJson } from '../contracts/node-config-io';
import { SETTINGS } from '../contracts/settings';
import type { DiscoveredEndpoint, DiscoveryHealth, EndpointSource } from '../endpoints/endpoint-source';
import { WeftError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { awsErrorName, describeAwsError, isThrottle } from './aws-errors';
import { Backoff, jittered, type BackoffOptions, type Random } from './backoff';
import { lazyServiceDiscoveryClient, serviceDiscoverySdk, type AwsClientOptions } from './clients';
import { endpointFromInstance } from '../endpoints/instance-endpoint';

export const DISCOVERY_UNSUPPORTED = 'WEFT_ERR_DISCOVERY_UNSUPPORTED';

/** DiscoverInstances' largest page; it has no pagination, so this is every instance it returns. */
const MAX_RESULTS = 1000;

export interface CloudMapEndpointSourceOptions {
  /**
   * The client, or a function that builds it: called when the first Cloud Map cluster is polled,
   * so a sidecar whose clusters all use other discovery never loads the SDK.
   */
  client: ServiceDiscoveryClient | (() => ServiceDiscoveryClient);
  /** Revision check interval (the `discoveryIntervalMs` setting). */
  intervalMs?: number;
  /** Full refresh interval (the `discoveryFullRefreshMs` setting). */
  fullRefreshMs?: number;
  /** Failure backoff; default 1 s doubling to 60 s. */
  backoff?: Omit<BackoffOptions, 'random'>;
  logger?: Logger;
  random?: Random;
  /** close() also destroys the client (set when the source created it). */
  ownClient?: boolean;
}

type CloudMapDiscovery = Extract<Cluster['discovery'], { type: 'cloudMap' }>;
type OnUpdate = (endpoints: readonly DiscoveredEndpoint[]) => void;

export interface CloudMapErrorRecord {
  code: string;
  message: string;
  at: string;
  throttled: boolean;
}

/** One poller's counters, for the admin endpoint. */
export interface CloudMapServiceStats {
  namespaceName: string;
  serviceName: string;
  attributes: Record<string, string>;
  /** Clusters following this poller. */
  watchers: number;
  calls: { discoverInstances: number; discoverInstancesRevision: number };
  errors: number;
  throttles: number;
  consecutiveFailures: number;
  /** Endpoints in force (the last good answer), or undefined before the first answer. */
  endpoints: number | undefined;
  /** Instances of the last answer without a usable AWS_INSTANCE_IPV4/AWS_INSTANCE_PORT. */
  skippedInstances: number;
  revision: number | undefined;
  lastSuccessAt: string | undefined;
  lastError: CloudMapErrorRecord | undefined;
}

/** Totals since start (pollers that were stopped included) and the live pollers. */
export interface CloudMapStats {
  calls: number;
  errors: number;
  throttles: number;
  lastSuccessAt: string | undefined;
  services: CloudMapServiceStats[];
}

interface Totals {
  calls: number;
  errors: number;
  throttles: number;
  lastSuccessAt: string | undefined;
}

export class CloudMapEndpointSource implements EndpointSource {
  private readonly pollers = new Map<string, ServicePoller>();
  private readonly totals: Totals = { calls: 0, errors: 0, throttles: 0, lastSuccessAt: undefined };
  private readonly settings: PollerSettings;
  private client: ServiceDiscoveryClient | undefined;
  private closed = false;

  constructor(private readonly opts: CloudMapEndpointSourceOptions) {
    const random = opts.random ?? Math.random;
    const given = opts.client;
    this.settings = {
      client: () => (this.client ??= typeof given === 'function' ? given() : given),
      intervalMs: opts.intervalMs ?? SETTINGS.discoveryIntervalMs.default ?? 30_000,
      fullRefreshMs: opts.fullRefreshMs ?? SETTINGS.discoveryFullRefreshMs.default ?? 300_000,
      backoff: { ...opts.backoff, random },
      logger: opts.logger ?? silentLogger,
      random,
      totals: this.totals,
    };
  }

  watch(cluster: Cluster, onUpdate: OnUpdate): () => void {
    const d = cluster.discovery;
    if (d.type !== 'cloudMap') {
      throw new WeftError(DISCOVERY_UNSUPPORTED, `cluster '${cluster.name}': the Cloud Map endpoint source only serves cloudMap discovery, not ${d.type}`);
    }
    if (this.closed) return () => {};
    const key = canonicalJson([d.namespaceName, d.serviceName, d.attributes]);
    let poller = this.pollers.get(key);
    const created = !poller;
    if (!poller) {
      poller = new ServicePoller(d, this.settings);
      this.pollers.set(key, poller);
    }
    const subscriber = { onUpdate };
    poller.subscribers.add(subscriber);
    // A cluster joining a running poller starts from its last good set instead of waiting.
    if (poller.lastGood) onUpdate(poller.lastGood);
    if (created) poller.start();
    const p = poller;
    return () => {
      if (!p.subscribers.delete(subscriber) || p.subscribers.size > 0) return;
      p.close();
      if (this.pollers.get(key) === p) this.pollers.delete(key);
    };
  }

  /** Failed calls and the last good answer, for the discovery metrics. */
  health(): DiscoveryHealth {
    const last = this.totals.lastSuccessAt;
    return { errors: this.totals.errors, lastSuccessAt: last === undefined ? undefined : Date.parse(last) };
  }

  /** Counters for the admin endpoint. */
  stats(): CloudMapStats {
    return { ...this.totals, services: [...this.pollers.values()].map((p) => p.stats()) };
  }

  close(): void {
    if (!this.closed && this.opts.ownClient) this.client?.destroy();
    this.closed = true;
    for (const p of this.pollers.values()) p.close();
    this.pollers.clear();
  }
}

/**
 * The Cloud Map source with its own client (honouring AWS_ENDPOINT_URL_SERVICEDISCOVERY /
 * AWS_ENDPOINT_URL, checked now), built when the first Cloud Map cluster is polled, e.g.
 * `createCloudMapEndpointSource({ region: settings.region, intervalMs: settings.discoveryIntervalMs,
 * fullRefreshMs: settings.discoveryFullRefreshMs, logger })`.
 */
export function createCloudMapEndpointSource(opts: Omit<CloudMapEndpointSourceOptions, 'client'> & AwsClientOptions = {}): CloudMapEndpointSource {
  const { region, env, credentials, ...rest } = opts;
  return new CloudMapEndpointSource({ ...rest, client: lazyServiceDiscoveryClient({ region, env, credentials }), ownClient: true });
}

interface PollerSettings {
  client: () => ServiceDiscoveryClient;
  intervalMs: number;
  fullRefreshMs: number;
  backoff: BackoffOptions;
  logger: Logger;
  random: Random;
  totals: Totals;
}

class ServicePoller {
  readonly subscribers = new Set<{ onUpdate: OnUpdate }>();
  /** The last set Cloud Map answered; never replaced because of a failure. */
  lastGood: readonly DiscoveredEndpoint[] | undefined;
  private signature: string | undefined;
  private revision: number | undefined;
  private lastFullAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly backoff: Backoff;
  private readonly counters = { discoverInstances: 0, discoverInstancesRevision: 0, errors: 0, throttles: 0, skipped: 0 };
  private lastSuccessAt: string | undefined;
  private lastError: CloudMapErrorRecord | undefined;

  constructor(
    private readonly discovery: CloudMapDiscovery,
    private readonly s: PollerSettings,
  ) {
    this.backoff = new Backoff(s.backoff);
  }

  start(): void {
    void this.tick();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  stats(): CloudMapServiceStats {
    const d = this.discovery;
    return {
      namespaceName: d.namespaceName,
      serviceName: d.serviceName,
      attributes: { ...d.attributes },
      watchers: this.subscribers.size,
      calls: { discoverInstances: this.counters.discoverInstances, discoverInstancesRevision: this.counters.discoverInstancesRevision },
      errors: this.counters.errors,
      throttles: this.counters.throttles,
      consecutiveFailures: this.backoff.failures,
      endpoints: this.lastGood?.length,
      skippedInstances: this.counters.skipped,
      revision: this.revision,
      lastSuccessAt: this.lastSuccessAt,
      lastError: this.lastError,
    };
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    const d = this.discovery;
    try {
      const client = this.s.client();
      const { DiscoverInstancesCommand, DiscoverInstancesRevisionCommand } = serviceDiscoverySdk();
      const startedAt = Date.now();
      let checked: number | undefined;
      if (this.lastGood !== undefined && startedAt - this.lastFullAt < this.s.fullRefreshMs) {
        this.count('discoverInstancesRevision');
        const rev = await client.send(new DiscoverInstancesRevisionCommand({ NamespaceName: d.namespaceName, ServiceName: d.serviceName }));
        if (this.closed) return;
        checked = rev.InstancesRevision;
        if (checked !== undefined && checked === this.revision) {
          this.succeeded();
          return;
        }
      }
      this.count('discoverInstances');
      const res = await client.send(
        new DiscoverInstancesCommand({
          NamespaceName: d.namespaceName,
          ServiceName: d.serviceName,
          ...(Object.keys(d.attributes).length > 0 ? { QueryParameters: { ...d.attributes } } : {}),
          HealthStatus: 'HEALTHY_OR_ELSE_ALL',
          MaxResults: MAX_RESULTS,
        }),
      );
      if (this.closed) return;
      this.lastFullAt = startedAt;
      this.revision = res.InstancesRevision ?? checked;
      this.accept(res.Instances ?? []);
      this.succeeded();
    } catch (err) {
      if (this.closed) return;
      this.failed(err);
    }
  }

  private count(call: 'discoverInstances' | 'discoverInstancesRevision'): void {
    this.counters[call]++;
    this.s.totals.calls++;
  }

  private accept(instances: readonly HttpInstanceSummary[]): void {
    const endpoints: DiscoveredEndpoint[] = [];
    let skipped = 0;
    for (const inst of instances) {
      const ep = inst.InstanceId
        ? endpointFromInstance({ instanceId: inst.InstanceId, attributes: inst.Attributes ?? {}, healthStatus: inst.HealthStatus })
        : undefined;
      if (ep) endpoints.push(ep);
      else skipped++;
    }
    if (skipped > 0 && skipped !== this.counters.skipped) {
      this.s.logger.log('warn', 'cloud_map_instances_skipped', {
        namespace: this.discovery.namespaceName,
        service: this.discovery.serviceName,
        skipped,
        reason: 'no usable AWS_INSTANCE_IPV4/AWS_INSTANCE_PORT',
      });
    }
    this.counters.skipped = skipped;
    // Cloud Map's order is not meaningful; a stable order makes "unchanged" detectable.
    endpoints.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const signature = JSON.stringify(endpoints);
    if (signature === this.signature) return;
    this.signature = signature;
    this.lastGood = Object.freeze(endpoints);
    for (const sub of [...this.subscribers]) {
      try {
        sub.onUpdate(this.lastGood);
      } catch (err) {
        this.s.logger.log('error', 'endpoints_update_failed', { service: this.discovery.serviceName, message: (err as Error).message });
      }
    }
  }

  private succeeded(): void {
    const at = new Date().toISOString();
    if (this.backoff.failures > 0) {
      this.s.logger.log('info', 'cloud_map_discovery_recovered', { namespace: this.discovery.namespaceName, service: this.discovery.serviceName, failures: this.backoff.failures });
    }
    this.backoff.reset();
    this.lastSuccessAt = at;
    this.s.totals.lastSuccessAt = at;
    this.schedule(jittered(this.s.intervalMs, this.s.random));
  }

  private failed(err: unknown): void {
    const throttled = isThrottle(err);
    this.counters.errors++;
    this.s.totals.errors++;
    if (throttled) {
      this.counters.throttles++;
      this.s.totals.throttles++;
    }
    const delay = this.backoff.next();
    this.lastError = { code: awsErrorName(err), message: describeAwsError(err), at: new Date().toISOString(), throttled };
    this.s.logger.log('warn', 'cloud_map_discovery_failed', {
      namespace: this.discovery.namespaceName,
      service: this.discovery.serviceName,
      code: this.lastError.code,
      message: this.lastError.message,
      throttled,
      retryInMs: delay,
      keeping: this.lastGood?.length,
    });
    this.schedule(delay);
  }
}
