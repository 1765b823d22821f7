/**
 * The sidecar's current configuration as one immutable {@link Snapshot}: config, route table,
 * cluster runtimes and resolved TLS. A new document is parsed, validated and fully built before
 * one reference swap makes it current, so a request sees either the old snapshot or the new one,
 * never a mix; requests that started on the old one finish on it. A bad document changes
 * nothing: the store keeps its last good snapshot and records the error for logs and admin.
 */
import type { GrpcRoute, HttpRoute, InboundListener, NodeConfig } from '../contracts/node-config';
import { canonicalJson, NODE_CONFIG_SCHEMA_UNSUPPORTED, parseNodeConfig } from '../contracts/node-config-io';
import { checkFieldsApplied } from '../contracts/fields-not-applied';
import type { RouteTable } from '../routing/types';
import { buildRouteTable } from '../routing/route-table';
import { ClusterRuntime } from '../cluster/cluster-runtime';
import { monitorCluster } from '../health';
import type { EndpointSource } from '../endpoints/endpoint-source';
import { WeftError } from '../errors';
import { RateLimitedLog, type Logger } from '../log';
import type { CertificateProvider } from '../tls/certificate-provider';
import { resolveClientTls, resolveServerTls, type ServerTlsRuntime } from '../tls/tls-options';
import { clusterDispatch } from '../exchange/attempt';
import { compose, type Dispatch, type Layer, type RouteLayerFactory } from '../exchange/stack';
import { faultLayer } from '../resilience/fault';
import { mirrorLayer } from '../resilience/mirror';
import { retryLayerFactory } from '../resilience/retry';
import { compilePolicies, type CompiledPolicies, type PolicyFactory } from '../policy/policy';
import { RateLimits } from '../policy/rate-limit';
import { CONFIG_UNREADABLE, type ConfigSource } from '../sources/config-source';

export const CONFIG_MISMATCH = 'WEFT_ERR_CONFIG_MISMATCH';

/** Everything a request needs, built together and replaced together. */
export interface Snapshot {
  readonly config: NodeConfig;
  readonly version: string;
  readonly routes: RouteTable;
  readonly clusters: ReadonlyMap<string, ClusterRuntime>;
  /**
   * TLS of the inbound port. Peers reach every app port through one inbound port, so the port
   * takes the strictest mode of the node's listeners (STRICT over PERMISSIVE over DISABLED).
   */
  readonly inboundTls: ServerTlsRuntime | undefined;
  /** App port for each node listener port, in listener order. */
  readonly inboundPorts: readonly { listenerPort: number; appPort: number; timeoutMs: number; listener: InboundListener }[];
  /** Gateway nodes: TLS per gateway listener port. */
  readonly gatewayTls: ReadonlyMap<number, ServerTlsRuntime | undefined>;
  /** Inbound and gateway policy, compiled from this config. */
  readonly policy: CompiledPolicies;
  /** The stack a forward decision's request travels down: the route's layers over its cluster. */
  stackFor(route: HttpRoute | GrpcRoute | undefined): Dispatch;
}

export interface ConfigErrorRecord {
  code: string;
  message: string;
  at: string;
  source: string;
}

export interface ConfigStoreOptions {
  source: ConfigSource;
  endpoints: EndpointSource;
  certificates: CertificateProvider;
  logger: Logger;
  /** When set, a config for another node or mesh is refused. */
  expectNode: string | undefined;
  expectMesh: string | undefined;
  /** Overrides the app ports (local mode); in node listener order. */
  appPorts: readonly number[] | undefined;
  localZone: string | undefined;
  /** Random draws of the clusters' balancers and health check jitter; Math.random when unset. */
  random?: () => number;
  /** Scales the clusters' health check intervals and timeouts, in percent (tests, local mode); 100 when unset. */
  healthCheckScalePercent?: number;
  /** Checks compiled into every snapshot's inbound and gateway policy, after the config's own. */
  policy?: readonly PolicyFactory[];
  /** Layers compiled into every route's stack. */
  routeLayers?: readonly RouteLayerFactory[];
  /** WEFT_RETRY_BUFFER_BYTES: request bodies kept for retries (64 KiB when unset). */
  retryBufferBytes?: number;
}

export class ConfigStore {
  private snapshot: Snapshot | undefined;
  private lastText: string | undefined;
  private certGeneration = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly appliedListeners: ((s: Snapshot) => void)[] = [];
  private closed = false;
  /** The last rejected document's error; cleared when a good one is applied. */
  lastError: ConfigErrorRecord | undefined;
  /** Documents refused for a schema version newer than this sidecar reads (an upgrade out of order). */
  refusedNewer = 0;
  /** Config reads and documents that failed after the first (a refresh that kept the last good snapshot). */
  refreshErrors = 0;
  appliedAt: string | undefined;

  /** The retry layer's factory (its settings are the sidecar's, not the config's). */
  private readonly retry: RouteLayerFactory;
  private readonly tlsFailureLog: RateLimitedLog;
  /** The config's rate limits, compiled into each snapshot's policy after authorization; their buckets outlive a reload that keeps them. */
  private readonly rateLimits = new RateLimits();

  constructor(private readonly opts: ConfigStoreOptions) {
    this.retry = retryLayerFactory({ bufferBytes: opts.retryBufferBytes ?? DEFAULT_RETRY_BUFFER_BYTES, random: opts.random ?? Math.random });
    this.tlsFailureLog = new RateLimitedLog(opts.logger);
  }

  /** The snapshot in force (undefined only before {@link start} resolved). */
  get current(): Snapshot | undefined {
    return this.snapshot;
  }

  /** Reads and applies the first config (rejecting on failure), then follows changes. */
  async start(): Promise<Snapshot> {
    const text = await this.opts.source.read();
    await this.apply(text, true);
    this.opts.source.watch(
      (next) => void this.apply(next, false).catch(() => undefined),
      (err) => this.recordError(err),
      () => {
        // Only a read error has passed; a rejected document is still what the source holds.
        if (this.lastError?.code === CONFIG_UNREADABLE) this.lastError = undefined;
      },
    );
    this.opts.certificates.onChange(() => {
      this.certGeneration++;
      void this.refresh().catch(() => undefined);
    });
    return this.snapshot!;
  }

  onApplied(listener: (s: Snapshot) => void): void {
    this.appliedListeners.push(listener);
  }

  /**
   * Parses, validates, builds and switches to `text`. Applies are serialised so a slow build
   * can never overtake a newer document. Rejects (after recording) when the document is bad.
   */
  apply(text: string, initial = false): Promise<void> {
    const run = this.queue.then(() => this.applyNow(text, initial, false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Rebuilds from the last good document (after a certificate rotation). */
  refresh(): Promise<void> {
    const run = this.queue.then(() => (this.lastText === undefined ? undefined : this.applyNow(this.lastText, false, true)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes every cluster (gracefully unless `force`). */
  async close(force = false): Promise<void> {
    this.closed = true;
    this.opts.source.close();
    const clusters = this.snapshot ? [...this.snapshot.clusters.values()] : [];
    await Promise.all(clusters.map((c) => (force ? c.destroy() : c.close())));
  }

  private async applyNow(text: string, initial: boolean, rebuild: boolean): Promise<void> {
    if (this.closed) return;
    let next: Snapshot;
    let notApplied: string[];
    try {
      const config = parseNodeConfig(text, this.opts.source.location);
      if (!rebuild && this.snapshot && config.version === this.snapshot.version) {
        // The config in force came back (e.g. a bad object in S3 was reverted): the source is
        // healthy again, so the error of the document in between no longer describes it.
        this.lastError = undefined;
        return;
      }
      this.checkIdentity(config);
      notApplied = checkFieldsApplied(config, this.opts.source.location);
      next = await this.build(config);
    } catch (err) {
      this.recordError(err as Error, initial);
      throw err;
    }
    if (this.closed) {
      // Closed while the build awaited its TLS files: close() never saw the runtimes built
      // since, and they are already following discovery.
      for (const [name, runtime] of next.clusters) if (this.snapshot?.clusters.get(name) !== runtime) void runtime.destroy();
      return;
    }
    const previous = this.snapshot;
    this.snapshot = next;
    this.lastText = text;
    this.lastError = undefined;
    this.appliedAt = new Date().toISOString();
    this.opts.logger.log('info', 'config_applied', { version: next.version, previous: previous?.version, source: this.opts.source.location });
    if (!rebuild && notApplied.length > 0) this.opts.logger.log('warn', 'config_fields_not_applied', { version: next.version, fields: notApplied });
    if (previous) {
      for (const [name, runtime] of previous.clusters) {
        if (next.clusters.get(name) !== runtime) void runtime.close();
      }
    }
    for (const l of this.appliedListeners) l(next);
  }

  /** An outbound handshake failed: one line per cluster and reason a minute (a peer can make them at will). */
  private logTlsFailure(cluster: string, endpoint: string, reason: string | undefined): void {
    this.tlsFailureLog.log('warn', 'tls_handshake_failed', `${cluster}|${reason}`, () => ({ direction: 'outbound', cluster, endpoint, reason: reason ?? 'handshake failed' }));
  }

  private checkIdentity(config: NodeConfig): void {
    // A sidecar's identity never changes by reload: without settings, the first config pins it.
    const expectNode = this.opts.expectNode ?? this.snapshot?.config.node.name;
    const expectMesh = this.opts.expectMesh ?? this.snapshot?.config.mesh.name;
    if (expectNode !== undefined && config.node.name !== expectNode) {
      throw new WeftError(CONFIG_MISMATCH, `${this.opts.source.location}: node.name is '${config.node.name}', but this sidecar is node '${expectNode}'`);
    }
    if (expectMesh !== undefined && config.mesh.name !== expectMesh) {
      throw new WeftError(CONFIG_MISMATCH, `${this.opts.source.location}: mesh.name is '${config.mesh.name}', but this sidecar is in mesh '${expectMesh}'`);
    }
    // The certificate is the node's identity to every peer: one that names another node would
    // have this sidecar present itself as that node (or be refused by every caller that expects
    // this one), so a config and certificate that disagree never run together.
    const cert = this.opts.certificates.current();
    if (cert !== undefined && cert.spiffeId !== config.node.spiffeId) {
      throw new WeftError(
        CONFIG_MISMATCH,
        `${this.opts.source.location}: node.spiffeId is '${config.node.spiffeId}', but the mesh certificate (WEFT_CERT_SOURCE) names ${cert.spiffeId === undefined ? 'no SPIFFE id' : `'${cert.spiffeId}'`}`,
      );
    }
  }

  private async build(config: NodeConfig): Promise<Snapshot> {
    const routes = buildRouteTable(config);
    const certs = this.opts.certificates;
    // An unchanged TLS keeps its object: listeners key their TLS servers by it, and retire the
    // connections accepted under another one (proxy/http/listener.ts).
    const previous = this.snapshot;
    const inboundTls = sameServerTls(previous?.inboundTls, await resolveServerTls(strictestTls(config), certs, 'inbound.listeners[].tls'));
    const gatewayTls = new Map<number, ServerTlsRuntime | undefined>();
    for (const [i, l] of (config.gateway?.listeners ?? []).entries()) {
      gatewayTls.set(l.port, sameServerTls(previous?.gatewayTls.get(l.port), await resolveServerTls(l.tls, certs, `gateway.listeners[${i}].tls`)));
    }
    const appPorts = this.opts.appPorts;
    const inboundPorts = config.inbound.listeners.map((l, i) => ({
      listenerPort: l.port,
      appPort: appPorts?.[i] ?? appPorts?.[0] ?? l.port,
      timeoutMs: l.timeout.perRequestMs,
      listener: l,
    }));

    // Resolve every cluster's TLS before creating any runtime, so a failure leaks nothing.
    const resolved = await Promise.all(
      config.clusters.map(async (c, i) => {
        const tls = await resolveClientTls(c.tls, certs, `clusters[${i}].tls`);
        const key = `${tls ? this.certGeneration : '-'}|${canonicalJson(c)}`;
        return { def: c, tls, key };
      }),
    );
    const clusters = new Map<string, ClusterRuntime>();
    // A runtime subscribes to discovery as it is created (a Cloud Map poller, a file watch): if a
    // later cluster cannot be built (e.g. CONSISTENT_HASH without a key), the ones built so far
    // must unsubscribe, or a rejected document leaves pollers running forever.
    const created: ClusterRuntime[] = [];
    try {
      for (const { def, tls, key } of resolved) {
        const old = this.snapshot?.clusters.get(def.name);
        if (old && old.key === key) {
          clusters.set(def.name, old);
        } else {
          const runtime = new ClusterRuntime(def, key, tls, this.opts.endpoints, this.opts.localZone, this.opts.random);
          if (tls !== undefined) runtime.onTlsFailure = (endpoint, reason) => this.logTlsFailure(def.name, endpoint, reason);
          created.push(runtime);
          monitorCluster(runtime, { scalePercent: this.opts.healthCheckScalePercent ?? 100 });
          clusters.set(def.name, runtime);
        }
      }
    } catch (err) {
      for (const runtime of created) void runtime.destroy();
      throw err;
    }
    const policy = compilePolicies(config, [this.rateLimits.policy, ...(this.opts.policy ?? [])], this.snapshot?.policy, this.opts.logger);
    const stacks = buildStacks(config, clusters, this.opts.random ?? Math.random, this.retry, this.opts.routeLayers ?? []);
    const stackFor = stacks === undefined ? bottomOnly : (route: HttpRoute | GrpcRoute | undefined) => (route === undefined ? clusterDispatch : (stacks.get(route) ?? clusterDispatch));
    return { config, version: config.version, routes, clusters, inboundTls, inboundPorts, gatewayTls, policy, stackFor };
  }

  private recordError(err: Error, initial = false): void {
    const code = (err as { code?: string }).code ?? 'WEFT_ERR_CONFIG_INVALID';
    if (code === NODE_CONFIG_SCHEMA_UNSUPPORTED) this.refusedNewer++;
    this.lastError = { code, message: err.message, at: new Date().toISOString(), source: this.opts.source.location };
    if (initial) return; // the caller reports a failed start itself
    this.refreshErrors++;
    this.opts.logger.log('error', 'config_rejected', { code, message: err.message, source: this.opts.source.location, keeping: this.snapshot?.version });
  }
}

const bottomOnly = (): Dispatch => clusterDispatch;

const DEFAULT_RETRY_BUFFER_BYTES = 64 * 1024;

/**
 * Each HTTP and gRPC route's stack, for the routes that need a layer; undefined when none does.
 * Outermost first: fault, mirror, retry, then `factories` (test layers). A route whose config
 * needs no layer gets none and dispatches straight to its cluster.
 *
 * Istio's rule: a route with a fault gets neither retries nor a route timeout (the timeout is
 * dropped in proxy/http/pipeline.ts), so an injected delay is not cut and an injected abort is
 * not retried away. The retry layer therefore goes under the `route.fault === undefined` guard.
 */
function buildStacks(
  config: NodeConfig,
  clusters: ReadonlyMap<string, ClusterRuntime>,
  random: () => number,
  retry: RouteLayerFactory,
  factories: readonly RouteLayerFactory[],
): Map<HttpRoute | GrpcRoute, Dispatch> | undefined {
  let stacks: Map<HttpRoute | GrpcRoute, Dispatch> | undefined;
  for (const svc of config.outbound.services) {
    for (const l of svc.listeners) {
      for (const route of l.routes) {
        if (route.protocol === 'tcp') continue;
        const layers: Layer[] = [];
        const add = (layer: Layer | undefined): void => {
          if (layer !== undefined) layers.push(layer);
        };
        add(faultLayer(route, random));
        add(mirrorLayer(route, clusters, random));
        // A route with a fault has no retries (Istio); the retry factory also says so itself.
        if (route.fault === undefined) add(retry(route, config));
        for (const f of factories) add(f(route, config));
        if (layers.length > 0) (stacks ??= new Map()).set(route, compose(layers, clusterDispatch));
      }
    }
  }
  return stacks;
}

/** `previous` when `next` says the same, so an unchanged TLS stays the same object across reloads. */
function sameServerTls(previous: ServerTlsRuntime | undefined, next: ServerTlsRuntime | undefined): ServerTlsRuntime | undefined {
  if (previous === undefined || next === undefined) return next;
  const same =
    previous.mode === next.mode &&
    previous.key === next.key &&
    previous.cert === next.cert &&
    previous.ca === next.ca &&
    previous.mutual === next.mutual &&
    previous.subjectAlternativeNames.join('\n') === next.subjectAlternativeNames.join('\n');
  return same ? previous : next;
}

const TLS_RANK = { DISABLED: 0, PERMISSIVE: 1, STRICT: 2 } as const;

function strictestTls(config: NodeConfig): NodeConfig['inbound']['listeners'][number]['tls'] {
  let best: NodeConfig['inbound']['listeners'][number]['tls'] = { mode: 'DISABLED' };
  for (const l of config.inbound.listeners) if (TLS_RANK[l.tls.mode] > TLS_RANK[best.mode]) best = l.tls;
  return best;
}
