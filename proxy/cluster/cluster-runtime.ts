/**
 * A cluster at run time: its endpoints (from discovery), its balancer, one keep-alive upstream
 * per endpoint, circuit-breaker counters and stats. Envoy's "cluster" layer: routes pick a cluster
 * by name, the cluster picks an endpoint, the endpoint's upstream carries the request.
 *
 * The upstream speaks the cluster's protocol: HTTP/1.1 ({@link H1Upstream}) for `http` and `tcp`,
 * HTTP/2 (node:http2 sessions, h2c or TLS+ALPN) for `http2` and `grpc`. Upgrade requests
 * (WebSocket) always take an HTTP/1.1 pool: HTTP/2 has no Upgrade.
 */
import { H1Upstream } from './h1-upstream';
import { SERVER_KEEP_ALIVE_MS } from '../h1/server-connection';
import { H2Upstream, type Upstream } from './h2-upstream';
import type { Cluster } from '../contracts';
import type { Balancer, PickContext } from '../balancer/balancer';
import { healthReasons, UNHEALTHY_DISCOVERY, type Endpoint, type HealthBit } from '../endpoints/endpoint';
import { createBalancer } from '../balancer';
import type { DiscoveredEndpoint, EndpointSource } from '../endpoints/endpoint-source';
import { countResponse, newTrafficStats, type TrafficStats } from '../stats';
import type { FailureKind } from './upstream-errors';
import { ConnectFailures } from './connect-failures';
import type { ClientTlsOptions } from '../tls/tls-options';

/**
 * Idle limit of pooled connections to endpoints, which are peer sidecars' inbound listeners: below
 * the peer's own keep-alive limit, so that this side closes an idle connection before the peer
 * does and no request is sent on a connection the peer is closing (only idempotent requests
 * without a body could be sent again; docs/decisions/0010-upstream-peer-idle-limit.md).
 */
const PEER_IDLE_LIMIT_MS = SERVER_KEEP_ALIVE_MS - 10_000;

/** Draws a retry makes for an endpoint other than its last try's. */
const PICKS_TO_AVOID = 3;
/** Envoy's retry budget: retries in flight may be this share of the cluster's active requests... */
const RETRY_BUDGET_SHARE = 0.2;
/** ...and at least this many. */
const RETRY_BUDGET_MIN = 3;

export interface ClusterStats extends TrafficStats {
  /** Requests refused by the circuit breaker (`x-weft-overloaded`). */
  overflow: number;
  connectFailures: number;
  /** Connections to endpoints whose TLS handshake failed (also counted in connectFailures). */
  tlsFailures: number;
  timeouts: number;
  /** Requests that found no endpoint. */
  noEndpoint: number;
  /** Outlier ejections, by cause, and those the max ejection percent refused. */
  ejectionsConsecutive5xx: number;
  ejectionsConsecutiveGatewayErrors: number;
  ejectionsOverflow: number;
  /** Active health checks run, and those that failed. */
  healthChecks: number;
  healthCheckFailures: number;
  /** Retries sent (each retry of a request counts). */
  retries: number;
  /** Retries refused by the retry budget or the `maxRetries` breaker (the failure went to the client). */
  retryOverflow: number;
  /** Retries in flight now (decided, waiting out their backoff, or sent and not yet over). */
  retriesActive: number;
}

/**
 * Something that watches a cluster's endpoints and sets its own health bit on them (outlier
 * detection, active health checks; proxy/health/). It hears of endpoints as discovery adds and
 * removes them, before the balancer sees the change, and is closed with its cluster.
 */
export interface EndpointMonitor {
  endpointsChanged(added: readonly Endpoint[], removed: readonly Endpoint[]): void;
  /** What the monitor knows of one endpoint, for the admin `/clusters` output. */
  describe(endpoint: Endpoint): Record<string, unknown> | undefined;
  close(): void;
}

/** What an attempt came to, as its cluster hears it (proxy/exchange/attempt.ts reports it). */
export interface EndpointOutcome {
  readonly endpoint: Endpoint | undefined;
  /** The upstream's status; 0 when no response head arrived. */
  readonly status: number;
  readonly failure: FailureKind | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly responseBytes: number;
}

export type OutcomeObserver = (cluster: ClusterRuntime, outcome: EndpointOutcome) => void;

export class ClusterRuntime {
  /**
   * Told of every failed TLS handshake towards an endpoint (after it is counted in `stats`), with
   * the endpoint's `address:port` and why, when known; the config store logs it, rate-limited.
   */
  onTlsFailure: ((endpoint: string, reason: string | undefined) => void) | undefined = undefined;
  readonly stats: ClusterStats = {
    ...newTrafficStats(),
    overflow: 0,
    connectFailures: 0,
    tlsFailures: 0,
    timeouts: 0,
    noEndpoint: 0,
    ejectionsConsecutive5xx: 0,
    ejectionsConsecutiveGatewayErrors: 0,
    ejectionsOverflow: 0,
    healthChecks: 0,
    healthCheckFailures: 0,
    retries: 0,
    retryOverflow: 0,
    retriesActive: 0,
  };
  private endpoints: Endpoint[] = [];
  private readonly pools = new Map<string, Upstream>();
  /** HTTP/1.1 pools of an HTTP/2 cluster's endpoints, for upgrade requests only. */
  private readonly upgradePools = new Map<string, H1Upstream>();
  private readonly balancer: Balancer;
  private readonly stopWatching: () => void;
  private readonly scheme: 'http:' | 'https:';
  private readonly maxRequests: number;
  private readonly maxConnections: number;
  private readonly maxPending: number;
  private readonly maxRetries: number;
  private closed = false;
  private readonly observers: OutcomeObserver[] = [];
  private readonly monitors: EndpointMonitor[] = [];
  /** Endpoints out of rotation since a connect to them failed, until a reconnect succeeds. */
  private readonly connectState = new ConnectFailures(this);
  /**
   * The endpoints are sidecars of this mesh, proven by mutual TLS with the mesh identity and
   * trust: only their `x-weft-*` response fields (errors, overload) are believed and relayed, and
   * only they are sent control fields (`x-weft-target-port`).
   */
  readonly meshPeers: boolean;

  /**
   * @param key identity of the definition (and TLS material) this runtime was built from; a
   *   config reload keeps the runtime, its pools and their connections while the key is unchanged.
   */
  constructor(
    readonly def: Cluster,
    readonly key: string,
    /** TLS towards the endpoints (also used by CONNECT tunnels to TCP services). */
    readonly tls: ClientTlsOptions | undefined,
    source: EndpointSource,
    localZone: string | undefined,
    /** The balancer's and health checks' random draws (seeded with WEFT_RANDOM_SEED). */
    readonly random: () => number = Math.random,
  ) {
    this.scheme = tls ? 'https:' : 'http:';
    const t = def.tls;
    this.meshPeers = tls !== undefined && t.mode === 'MUTUAL' && t.trust !== undefined && 'mesh' in t.trust && (t.certificate === undefined || 'mesh' in t.certificate);
    this.balancer = createBalancer(def.loadBalancer, localZone, random);
    this.maxRequests = def.connectionPool.maxRequests;
    this.maxConnections = def.connectionPool.maxConnections;
    this.maxPending = def.connectionPool.maxPendingRequests;
    this.maxRetries = def.connectionPool.maxRetries;
    this.stopWatching = source.watch(def, (eps) => this.setEndpoints(eps));
  }

  get name(): string {
    return this.def.name;
  }

  get connectTimeoutMs(): number {
    return this.def.connectTimeoutMs;
  }

  /** The balancer's choice, or undefined when the cluster has no endpoints. */
  pick(ctx: PickContext): Endpoint | undefined {
    const first = this.balancer.pick(ctx);
    const avoid = ctx.exclude;
    if (avoid === undefined || first !== avoid || this.endpoints.length < 2) return first;
    // A retry: a few more draws for another endpoint (Envoy's previous-hosts predicate); a
    // balancer that always answers the same (consistent hashing) keeps its choice.
    for (let i = 0; i < PICKS_TO_AVOID; i++) {
      const other = this.balancer.pick(ctx);
      if (other !== avoid) return other;
    }
    return first;
  }

  /**
   * Takes a slot for one retry, or refuses it (counted as retry overflow): at no instant more
   * retries in flight than the retry budget, max(3, 20% of the cluster's active requests), nor
   * than the cluster's `maxRetries` circuit breaker (Envoy's). Each slot taken is given back once
   * with {@link endRetry}.
   */
  beginRetry(): boolean {
    const stats = this.stats;
    const budget = Math.max(RETRY_BUDGET_MIN, Math.floor(stats.active * RETRY_BUDGET_SHARE));
    if (stats.retriesActive >= budget || stats.retriesActive >= this.maxRetries) {
      stats.retryOverflow++;
      return false;
    }
    stats.retriesActive++;
    stats.retries++;
    return true;
  }

  endRetry(): void {
    this.stats.retriesActive--;
  }

  /**
   * Circuit breaker: the cluster's concurrent requests, or the queue behind one endpoint's
   * connections, are at their limit.
   */
  overloaded(endpoint: Endpoint): boolean {
    return this.stats.active >= this.maxRequests || endpoint.active - this.maxConnections >= this.maxPending;
  }

  /** True when requests travel to the endpoints over HTTP/2. */
  get http2(): boolean {
    return this.def.protocol === 'http2' || this.def.protocol === 'grpc';
  }

  /** The endpoint's upstream, created on first use. */
  pool(endpoint: Endpoint): Upstream {
    let pool = this.pools.get(endpoint.id);
    if (pool === undefined) {
      pool = this.http2
        ? new H2Upstream(this.origin(endpoint), {
            tls: this.tls,
            connectTimeoutMs: this.def.connectTimeoutMs,
            idleTimeoutMs: this.def.idleTimeoutMs || 4_000,
            // Streams multiplex: a few sessions carry what HTTP/1.1 needs many connections for.
            maxSessions: Math.min(this.maxConnections, 4),
          })
        : this.h1Pool(endpoint);
      this.pools.set(endpoint.id, pool);
    }
    return pool;
  }

  /** An HTTP/1.1 pool to the endpoint, for requests that must stay HTTP/1.1 (upgrades). */
  upgradePool(endpoint: Endpoint): Upstream {
    if (!this.http2) return this.pool(endpoint);
    let pool = this.upgradePools.get(endpoint.id);
    if (pool === undefined) {
      pool = this.h1Pool(endpoint);
      this.upgradePools.set(endpoint.id, pool);
    }
    return pool;
  }

  private origin(endpoint: Endpoint): string {
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    return `${this.scheme}//${host}:${endpoint.port}`;
  }

  private h1Pool(endpoint: Endpoint): H1Upstream {
    // The route timeout bounds the whole exchange: the pool has no response timers of its own.
    return new H1Upstream({
      host: endpoint.address,
      port: endpoint.port,
      tls: this.tls,
      maxConnections: this.maxConnections,
      connectTimeoutMs: this.def.connectTimeoutMs,
      idleTimeoutMs: Math.min(this.def.idleTimeoutMs || PEER_IDLE_LIMIT_MS, PEER_IDLE_LIMIT_MS),
      maxRequestsPerConnection: this.def.connectionPool.maxRequestsPerConnection,
    });
  }

  begin(endpoint: Endpoint): void {
    this.stats.requests++;
    this.stats.active++;
    endpoint.active++;
  }

  /** An attempt on `endpoint` is over; `status` is the upstream's (0 when none came). */
  end(endpoint: Endpoint, status = 0): void {
    this.stats.active--;
    endpoint.active--;
    if (status !== 0) countResponse(this.stats, status);
  }

  /** Every attempt's outcome goes to the observers (outlier detection, tests). */
  observe(observer: OutcomeObserver): void {
    this.observers.push(observer);
  }

  reportOutcome(outcome: EndpointOutcome): void {
    const endpoint = outcome.endpoint;
    if (endpoint !== undefined) {
      if (outcome.failure === 'connect') this.connectState.failed(endpoint);
      else if (endpoint.connectFailures !== 0 && outcome.status !== 0) this.connectState.connected(endpoint);
    }
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i](this, outcome);
  }

  /**
   * Sets or clears one source's health bit on `endpoint` (active health checks, outlier
   * ejection); the balancer then picks among the endpoints no source holds unhealthy.
   */
  setHealth(endpoint: Endpoint, bit: HealthBit, unhealthy: boolean): void {
    const health = unhealthy ? endpoint.health | bit : endpoint.health & ~bit;
    if (health === endpoint.health) return;
    endpoint.health = health;
    if (this.endpoints.includes(endpoint)) this.balancer.update(this.endpoints);
  }

  /**
   * Adds a monitor of the endpoints; it hears of the current ones at once (discovery may have
   * answered already) and of every change after.
   */
  addMonitor(monitor: EndpointMonitor): void {
    if (this.closed) {
      monitor.close();
      return;
    }
    this.monitors.push(monitor);
    if (this.endpoints.length > 0) {
      monitor.endpointsChanged(this.endpoints, []);
      this.balancer.update(this.endpoints);
    }
  }

  /** The endpoints now, with their live state. */
  get currentEndpoints(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** Endpoints with their live counters, for the admin endpoint. */
  describe(): Record<string, unknown> {
    return {
      name: this.def.name,
      virtualNode: this.def.virtualNode,
      port: this.def.port,
      tls: this.tls ? this.def.tls.mode : 'DISABLED',
      loadBalancer: this.def.loadBalancer.policy,
      endpoints: this.endpoints.map((e) => {
        const out: Record<string, unknown> = { id: e.id, address: e.address, port: e.port, zone: e.zone, weight: e.weight, healthy: e.health === 0, unhealthy: healthReasons(e.health), active: e.active };
        Object.assign(out, this.connectState.describe(e));
        for (const m of this.monitors) Object.assign(out, m.describe(e));
        return out;
      }),
    };
  }

  /** Stops following discovery and closes the pools once their in-flight requests finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    this.closeMonitors();
    const pools = this.takePools();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  /** Destroys every connection at once (shutdown past the drain deadline). */
  async destroy(): Promise<void> {
    this.closed = true;
    this.stopWatching();
    this.closeMonitors();
    const pools = this.takePools();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private closeMonitors(): void {
    this.connectState.close();
    for (const m of this.monitors.splice(0)) m.close();
  }

  private takePools(): Upstream[] {
    const pools: Upstream[] = [...this.pools.values(), ...this.upgradePools.values()];
    this.pools.clear();
    this.upgradePools.clear();
    return pools;
  }

  private setEndpoints(discovered: readonly DiscoveredEndpoint[]): void {
    if (this.closed) return;
    // Endpoint objects are kept across updates so in-flight counts (LEAST_REQUEST, breakers) survive.
    const previous = new Map(this.endpoints.map((e) => [e.id, e]));
    const next: Endpoint[] = [];
    const added: Endpoint[] = [];
    for (const d of discovered) {
      const old = previous.get(d.id);
      if (old && old.address === d.address && old.port === d.port) {
        old.zone = d.zone;
        old.weight = d.weight;
        // Only discovery's own bit follows discovery: health checks and ejection keep theirs.
        old.health = (old.health & ~UNHEALTHY_DISCOVERY) | (d.healthy ? 0 : UNHEALTHY_DISCOVERY);
        next.push(old);
        previous.delete(d.id);
      } else {
        // `outlier` is present from the start (undefined unless outlier detection fills it), so that
        // every endpoint object has one shape and the balancers' property reads stay monomorphic.
        const endpoint: Endpoint = { id: d.id, address: d.address, port: d.port, zone: d.zone, weight: d.weight, health: d.healthy ? 0 : UNHEALTHY_DISCOVERY, active: 0, outlier: undefined, connectFailures: 0 };
        next.push(endpoint);
        added.push(endpoint);
      }
    }
    this.connectState.removed(previous.values());
    for (const gone of previous.values()) {
      for (const pools of [this.pools, this.upgradePools] as Map<string, Upstream>[]) {
        const pool = pools.get(gone.id);
        if (pool) {
          pools.delete(gone.id);
          void pool.close().catch(() => undefined);
        }
      }
    }
    this.endpoints = next;
    if (this.monitors.length > 0 && (added.length > 0 || previous.size > 0)) {
      const removed = [...previous.values()];
      for (const m of this.monitors) m.endpointsChanged(added, removed);
    }
    this.balancer.update(next);
  }
}
