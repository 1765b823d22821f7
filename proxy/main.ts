/**
 * The sidecar: wires config, discovery, certificates, listeners and the admin port together,
 * and runs its lifecycle. `startSidecar` has no process-wide side effects (no signal handlers, no
 * exit), so tests start several in one process; `proxyCommand` is `weft proxy`, which adds the
 * signals and the exit code.
 *
 * Lifecycle on SIGTERM: readiness fails, listeners stop accepting, kept-alive connections get
 * `connection: close` on their next response, in-flight requests have `drainDeadlineMs` to
 * finish, then everything closes and the process exits 0.
 */
import { parseSettings, SETTINGS, type Settings } from './contracts/settings';
import { ContractError } from './contracts/validation';
import { AdminServer } from './admin/admin-server';
import { MetricsServer } from './admin/metrics-server';
import { metricSinks } from './telemetry/metric-sinks';
import { MeshMetrics, type ControlState } from './telemetry/mesh-metrics';
import { EmfEmitter } from './telemetry/emf';
import { LineBuffer, type ChunkWriter } from './telemetry/line-buffer';
import { AccessLog } from './telemetry/access-log';
import { SpanExporter } from './telemetry/span-exporter';
import { Tracer } from './telemetry/tracer';
import { FileConfigSource, type ConfigSource } from './sources/config-source';
import { createS3ConfigSource } from './aws/s3-config-source';
import { ConfigStore } from './config/config-store';
import type { ProxyContext } from './config/proxy-context';
import type { NodeConfig } from './contracts/node-config';
import type { RecordSink } from './exchange/record';
import type { RouteLayerFactory } from './exchange/stack';
import type { PolicyFactory } from './policy/policy';
import { DiscoveryRouter, type EndpointSource } from './endpoints/endpoint-source';
import { FileEndpointSource } from './endpoints/file-endpoint-source';
import { createCloudMapEndpointSource } from './aws/cloud-map-endpoint-source';
import { CloudMapHealthReporter } from './aws/cloud-map-health-reporter';
import { lazyServiceDiscoveryClient } from './aws/clients';
import { instanceIdFromTaskMetadata } from './aws/task-metadata';
import { AppHealth } from './health/app-health';
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { WeftError } from './errors';
import { EgressHandler } from './http/egress';
import { GatewayHandler } from './http/gateway';
import { InboundHandler } from './http/inbound';
import { Listener, type ListenerLimits } from './http/listener';
import { createLogger, RateLimitedLog, type Logger } from './log';
import { randomSource } from './seeded-random';
import { newSidecarStats, type SidecarStats } from './stats';
import { certificateProviderFor, type CertificateProvider } from './tls/certificate-provider';
import { InboundTcp } from './tcp/inbound-tcp';
import { TcpProxy, type TcpStats } from './tcp/tcp-proxy';
import { TransparentEgress } from './transparent/transparent-egress';
import { originalDstAvailable, originalDstUnavailableReason } from './tcp/original-dst';

export const SIDECAR_START_FAILED = 'WEFT_ERR_SIDECAR_START_FAILED';

/** Connect timeout to destinations outside the mesh (Istio's default for its passthrough). */
const PASSTHROUGH_CONNECT_TIMEOUT_MS = 10_000;

/** Replaceable parts; each defaults to what the settings name. */
export interface SidecarDeps {
  logger?: Logger;
  configSource?: ConfigSource;
  /** Cloud Map discovery (the endpoints file when `endpoints` is `file:<path>`). */
  cloudMapEndpoints?: EndpointSource;
  certificates?: CertificateProvider;
  /** Random numbers in [0, 1) for weighted routing. */
  random?: () => number;
  /** Port a gateway listener configured on `configPort` binds (tests bind 0). */
  bindGatewayPort?: (configPort: number) => number;
  /** Checks compiled into each config snapshot's inbound and gateway policy. */
  policy?: PolicyFactory[];
  /** Layers compiled into each route's stack. */
  routeLayers?: RouteLayerFactory[];
  /** Where EMF lines go (stdout, asynchronously, by default). */
  emfWriter?: ChunkWriter;
  /** The writer of an access log path (default: stdout, stderr or the file, asynchronously). */
  accessLogWriter?: (path: string) => ChunkWriter;
  /** Sees every completion record (after the sidecar's own counters). */
  onRecord?: RecordSink;
  /** Cloud Map client of the custom health status (default: built from the settings on first use). */
  cloudMapHealthClient?: ServiceDiscoveryClient;
}

export interface SidecarHandle {
  /** Bound ports: `inbound` and `egress` for virtual nodes, `gateway` (config port -> bound port) for gateways. */
  readonly ports: { admin: number; inbound?: number; egress?: number; metrics?: number; gateway: Record<number, number> };
  /** The request and connection counters; undefined unless `--metrics` names `prometheus`. */
  readonly metrics: MeshMetrics | undefined;
  readonly store: ConfigStore;
  readonly stats: SidecarStats;
  /** Byte-stream counters (TCP listeners, transparent TLS and TCP). */
  readonly tcpStats: TcpStats;
  /** The local app's health, as the inbound listener's health checks see it. */
  readonly appHealth: AppHealth;
  /** The access log of the config in force (writes nothing when it has none). */
  readonly accessLog: AccessLog;
  /** Graceful: stop accepting, let in-flight requests finish (up to `deadlineMs`), then close. */
  shutdown(deadlineMs?: number): Promise<void>;
  /** Immediate: closes every connection. */
  close(): Promise<void>;
}

/** Starts a sidecar. Rejects with a coded error when the first config, certificate or port fails. */
export async function startSidecar(settings: Settings, deps: SidecarDeps = {}): Promise<SidecarHandle> {
  const logger = deps.logger ?? createLogger(settings.logLevel);
  const sinks = metricSinks(settings.metrics);
  checkTracingEndpoint(settings.tracingEndpoint);
  const bindGatewayPort = deps.bindGatewayPort ?? gatewayPortMap(settings.gatewayPorts);
  if (!settings.config && !deps.configSource) throw new WeftError(SIDECAR_START_FAILED, 'no node config location: set WEFT_CONFIG or --config');
  const certificates = deps.certificates ?? certificateProviderFor(settings.certSource, logger, { pollMs: settings.certPollMs, region: settings.region });
  await certificates.start();
  let cloudMap: EndpointSource;
  try {
    cloudMap = deps.cloudMapEndpoints ?? (await endpointSourceFor(settings, logger));
  } catch (err) {
    certificates.close();
    throw err;
  }
  const endpoints = new DiscoveryRouter(cloudMap);
  const random = deps.random ?? randomSource(settings.randomSeed);
  const store = new ConfigStore({
    random,
    policy: deps.policy,
    routeLayers: deps.routeLayers,
    retryBufferBytes: settings.retryBufferBytes,
    source: deps.configSource ?? configSourceFor(settings.config!, { pollMs: settings.configPollMs, region: settings.region, logger }),
    endpoints,
    certificates,
    logger,
    expectNode: settings.node,
    expectMesh: settings.mesh,
    appPorts: settings.appPorts?.map(toPort),
    localZone: settings.zone,
    healthCheckScalePercent: settings.healthCheckScalePercent,
  });
  const cleanup = async (): Promise<void> => {
    await store.close(true);
    endpoints.close();
    certificates.close();
  };
  let snapshot;
  try {
    snapshot = await store.start();
  } catch (err) {
    await cleanup();
    throw err;
  }

  let draining = false;
  // Counting is on only when a sink reads it: with `--metrics none` the record goes straight to
  // `onRecord` and nothing is counted.
  const metrics = sinks.has('prometheus') || sinks.has('emf')
    ? new MeshMetrics({ node: snapshot.config.node.name, ownPrincipal: () => certificates.current()?.spiffeId })
    : undefined;
  const accessLog = new AccessLog({ random, writerFor: deps.accessLogWriter });
  try {
    accessLog.apply(snapshot.config.logging.accessLog);
  } catch (err) {
    await cleanup();
    throw err;
  }
  store.onApplied((s) => accessLog.apply(s.config.logging.accessLog));
  const tracing = startTracing(settings, store, random, logger);
  const complete: RecordSink = recordSinkOf([metrics?.record, accessLog.record, tracing.spans, deps.onRecord]);
  if (metrics !== undefined) {
    metrics.configApplied(snapshot.version);
    store.onApplied((s) => metrics.configApplied(s.version));
  }
  const emfBuffer = metrics !== undefined && sinks.has('emf') ? new LineBuffer(deps.emfWriter) : undefined;
  const stats = newSidecarStats();
  const control = (): ControlState => ({
    clusters: store.current?.clusters.values() ?? [],
    certificateNotAfter: certificates.current()?.notAfter,
    now: Date.now(),
    emfDroppedLines: emfBuffer?.dropped,
    accessLogDroppedLines: accessLog.dropped,
    tracing: tracing.exporter?.stats(),
    listeners: Object.values(stats.listeners),
    discovery: discoveryState(store, endpoints),
  });
  const emf =
    metrics !== undefined && emfBuffer !== undefined
      ? new EmfEmitter({ metrics, buffer: emfBuffer, mesh: () => store.current?.config.mesh.name ?? snapshot.config.mesh.name, node: snapshot.config.node.name, control })
      : undefined;
  const emfTimer = emf === undefined ? undefined : setInterval(() => emf.flush(), settings.emfIntervalMs);
  emfTimer?.unref();
  const renderPrometheus =
    metrics === undefined || !sinks.has('prometheus')
      ? undefined
      : (): string => metrics.renderPrometheus(control());
  const metricsServer = renderPrometheus === undefined ? undefined : new MetricsServer(renderPrometheus);
  const ctx: ProxyContext = {
    store,
    stats,
    trustedHops: settings.trustedHops,
    maxBodyBytes: settings.maxRequestBodyBytes,
    random,
    draining: () => draining,
    complete,
    tracer: tracing.tracer,
    events: new RateLimitedLog(logger),
  };
  const limits: ListenerLimits = {
    maxHeaderBytes: settings.maxRequestHeadersBytes,
    maxHeaders: settings.maxRequestHeaders,
    maxBodyBytes: settings.maxRequestBodyBytes,
    headersTimeoutMs: settings.requestHeadersTimeoutMs,
  };
  const listeners: Listener[] = [];
  // One line per listener and reason a minute: a peer can fail handshakes at will; the counter
  // (weft_tls_handshake_failures_total) has the full count.
  const onTlsFailure = (listener: string) => (reason: string, peer: string): void =>
    ctx.events.log('warn', 'tls_handshake_failed', `${listener}|${reason}`, () => ({ direction: 'inbound', listener, peer, reason }));
  const onInternalError = (err: unknown, listener: string): void => {
    stats.internalErrors++;
    const e = err as Error;
    ctx.events.log('error', 'connection_internal_error', `${listener}|${e?.name}|${e?.message}`, () => ({
      code: 'WEFT_ERR_INTERNAL',
      listener,
      count: stats.internalErrors,
      message: e?.message ?? String(err),
      stack: e?.stack,
    }));
  };
  const ports: { admin: number; inbound?: number; egress?: number; metrics?: number; gateway: Record<number, number> } = { admin: 0, gateway: {} };
  // Byte streams: TCP listeners on the inbound port, CONNECT to TCP services and outside the mesh;
  // in transparent mode, the egress port's TLS (routed by SNI) and plain TCP (by original destination).
  const tcp = new TcpProxy(ctx);
  // Local app health: only with a Cloud Map service id does it reach Cloud Map, and only an
  // operator's fail or the app's checks make the wanted status UNHEALTHY.
  const reporter = settings.cloudMapServiceId
    ? new CloudMapHealthReporter({
        serviceId: settings.cloudMapServiceId,
        instanceId: settings.cloudMapInstanceId ? () => Promise.resolve(settings.cloudMapInstanceId!) : () => instanceIdFromTaskMetadata(),
        client: deps.cloudMapHealthClient ? () => deps.cloudMapHealthClient! : lazyServiceDiscoveryClient({ region: settings.region }),
        logger,
        random,
      })
    : undefined;
  let operatorFailed = false;
  const appHealth = new AppHealth({
    appHost: settings.appHost,
    random,
    intervalOverrideMs: settings.appHealthIntervalMs,
    onChange: (status) => {
      logger.log(status === 'UNHEALTHY' ? 'warn' : 'info', 'app_health_changed', { status });
      reportHealth();
    },
  });
  const reportHealth = (): void => reporter?.set(operatorFailed || appHealth.status === 'UNHEALTHY' ? 'UNHEALTHY' : 'HEALTHY');
  if (snapshot.config.node.kind !== 'virtualGateway') appHealth.configure(snapshot.inboundPorts);
  const inbound = new InboundHandler(ctx, settings.appHost, appHealth);
  const egress = new EgressHandler(ctx, tcp, { responseTimeoutMs: settings.passthroughResponseTimeoutMs, idleTimeoutMs: settings.passthroughIdleTimeoutMs });
  const inboundTcp = new InboundTcp(ctx, tcp, settings.appHost, settings.transparent);
  const transparentEgress = settings.transparent
    ? new TransparentEgress(ctx, tcp, settings.requestHeadersTimeoutMs, { connectTimeoutMs: PASSTHROUGH_CONNECT_TIMEOUT_MS, idleTimeoutMs: settings.passthroughIdleTimeoutMs })
    : undefined;
  const admin = new AdminServer({
    store,
    stats,
    tcp: tcp.stats,
    ports: () => ({ ...ports }),
    draining: () => draining,
    drain: () => void shutdown(settings.drainDeadlineMs, false),
    prometheus: renderPrometheus,
    appHealth: () => ({ ...appHealth.view(), cloudMap: reporter?.view() ?? null }),
    connections: () => listeners.filter((l) => l.kind !== 'egress').flatMap((l) => l.connections()),
    tracing: () => (tracing.exporter === undefined ? null : { on: tracing.tracer.on, endpoint: tracing.endpoint() ?? null, ...tracing.exporter.stats() }),
    onHealthcheckFailed: (failed) => {
      operatorFailed = failed;
      reportHealth();
    },
  });

  try {
    if (snapshot.config.node.kind === 'virtualGateway') {
      const gateway = new GatewayHandler(ctx);
      for (const gl of snapshot.config.gateway?.listeners ?? []) {
        const l = new Listener({
          name: `gateway:${gl.port}`,
          kind: 'gateway',
          complete,
          host: settings.listenAddress,
          port: bindGatewayPort(gl.port),
          limits,
          maxConnections: settings.maxConnections,
          stats,
          onInternalError,
          onTlsFailure: onTlsFailure(`gateway:${gl.port}`),
          tls: () => store.current?.gatewayTls.get(gl.port),
          onRequest: gateway.forPort(gl.port),
        });
        listeners.push(l);
        ports.gateway[gl.port] = await listenNamed(() => l.listen(), `gateway listener port ${gl.port}`, undefined);
      }
    } else {
      const inboundListener = new Listener({
        name: 'inbound',
        kind: 'inbound',
        complete,
        host: settings.listenAddress,
        port: settings.inboundPort,
        limits,
        maxConnections: settings.maxConnections,
        stats,
        onInternalError,
        onTlsFailure: onTlsFailure('inbound'),
        tls: () => store.current?.inboundTls,
        onRequest: inbound.onRequest,
        divert: inboundTcp,
      });
      listeners.push(inboundListener);
      ports.inbound = await listenNamed(() => inboundListener.listen(), 'the inbound port', SETTINGS.inboundPort);
      const egressListener = new Listener({
        name: 'egress',
        kind: 'egress',
        complete,
        host: settings.egressAddress,
        port: settings.egressPort,
        limits,
        maxConnections: settings.maxConnections,
        stats,
        onInternalError,
        tls: () => undefined,
        onRequest: egress.onRequest,
        onConnect: egress.onConnect,
        divert: transparentEgress,
      });
      egress.attach(egressListener);
      listeners.push(egressListener);
      ports.egress = await listenNamed(() => egressListener.listen(), 'the egress port', SETTINGS.egressPort);
    }
    ports.admin = await listenNamed(() => admin.listen(settings.adminPort, settings.adminAddress), 'the admin port', SETTINGS.adminPort);
    if (metricsServer !== undefined) ports.metrics = await listenNamed(() => metricsServer.listen(settings.metricsPort, settings.listenAddress), 'the metrics port', SETTINGS.metricsPort);
  } catch (err) {
    for (const l of listeners) l.destroy();
    await admin.close();
    await metricsServer?.close();
    clearInterval(emfTimer);
    appHealth.close();
    reporter?.close();
    await tracing.exporter?.close(0);
    await cleanup();
    throw new WeftError(SIDECAR_START_FAILED, `cannot listen: ${(err as Error).message}`);
  }
  // Listening ports are fixed at start; a reload that changes them is applied to routing but
  // the port set itself needs a restart, which the log says.
  const gatewayPorts = (s: typeof snapshot): string => (s.config.gateway?.listeners ?? []).map((l) => l.port).join(',');
  store.onApplied((s) => {
    for (const l of listeners) l.retireStale();
    if (s.config.node.kind !== 'virtualGateway') appHealth.configure(s.inboundPorts);
    if (s.config.node.kind !== snapshot.config.node.kind || gatewayPorts(s) !== gatewayPorts(snapshot)) {
      logger.log('warn', 'config_needs_restart', { message: 'node kind or gateway listener ports changed; restart the sidecar to apply them', version: s.version });
    }
  });
  if (settings.transparent && !originalDstAvailable()) {
    logger.log('warn', 'original_dst_unavailable', {
      code: 'WEFT_ERR_ORIGINAL_DST_UNAVAILABLE',
      message: 'transparent mode without the native/original-dst addon: HTTP routes by Host and TLS by SNI, plain TCP is refused; list plain TCP ports in EgressIgnoredPorts',
      reason: originalDstUnavailableReason(),
    });
  }
  logger.log('info', 'sidecar_started', { node: snapshot.config.node.name, mesh: snapshot.config.mesh.name, version: snapshot.version, ports });

  let shutdownPromise: Promise<void> | undefined;
  let closed = false;
  const finalClose = async (force: boolean): Promise<void> => {
    if (closed) return;
    closed = true;
    appHealth.close();
    reporter?.close();
    for (const l of listeners) l.destroy();
    await Promise.all([inbound.close(force), egress.close(), store.close(force)]);
    endpoints.close();
    certificates.close();
    await admin.close();
    await metricsServer?.close();
    clearInterval(emfTimer);
    await tracing.exporter?.close(0);
  };
  const active = (): number => stats.inbound.active + stats.egress.active + stats.gateway.active + stats.tunnels;
  const shutdown = (deadlineMs: number, exit: boolean): Promise<void> => {
    shutdownPromise ??= (async () => {
      draining = true;
      logger.log('info', 'drain_started', { active: active(), deadlineMs });
      for (const l of listeners) l.drain();
      const deadline = Date.now() + deadlineMs;
      while (active() > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        for (const l of listeners) l.closeIdle();
      }
      const abandoned = active();
      logger.log('info', 'drain_finished', { abandoned });
      // Spans of the drained requests go out in what is left of the drain deadline.
      await tracing.exporter?.close(deadline);
      // Past the deadline, pools must not wait for the requests we are abandoning.
      if (exit) await finalClose(abandoned > 0);
    })();
    return shutdownPromise;
  };

  return {
    ports,
    store,
    stats,
    metrics,
    tcpStats: tcp.stats,
    appHealth,
    accessLog,
    async shutdown(deadlineMs = settings.drainDeadlineMs) {
      await shutdown(deadlineMs, true);
      await finalClose(active() > 0);
    },
    async close() {
      draining = true;
      await finalClose(true);
    },
  };
}

/**
 * Listens, turning a port someone else holds into an error that says which setting moves it (a
 * gateway's ports come from the mesh, so for those the mesh is what changes).
 */
async function listenNamed(listen: () => Promise<number>, what: string, setting: { flag: string; env: string } | undefined): Promise<number> {
  try {
    return await listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (e.code !== 'EADDRINUSE') throw err;
    const move = setting === undefined ? 'change the listener port in the mesh, or stop what holds it' : `set ${setting.flag} (or ${setting.env}) to another port, or stop what holds it`;
    throw new Error(`${what} (${e.address ?? ''}:${e.port ?? ''}) is already in use: ${move}`);
  }
}

/**
 * The record sink: metrics first (when on), then the access log, then spans, then the embedder's
 * `onRecord`. The access log and spans are always in the chain, since a later config may turn them
 * on; off, each costs one field test per record.
 */
function recordSinkOf(chain: readonly (RecordSink | undefined)[]): RecordSink {
  const sinks = chain.filter((s): s is RecordSink => s !== undefined);
  // Composed once into nested calls, so that no array is walked per request.
  return sinks.reduce((first, next) => (record) => {
    first(record);
    next(record);
  });
}

/** Tracing's parts: the per-request tracer, and the span exporter once a config turns tracing on. */
interface TracingParts {
  readonly tracer: Tracer;
  readonly exporter: SpanExporter | undefined;
  /** The collector endpoint in force (the setting beats the config); undefined while tracing is off. */
  endpoint(): string | undefined;
  /** The record sink of spans: one property read for a record without a span. */
  readonly spans: RecordSink;
}

/** `WEFT_TRACING_ENDPOINT`, checked before anything starts. */
function checkTracingEndpoint(value: string | undefined): void {
  if (value !== undefined && !(URL.canParse(value) && /^https?:\/\/[^/?#]/.test(value))) {
    throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `WEFT_TRACING_ENDPOINT: expected an http:// or https:// URL, got: '${value}'`);
  }
}

function startTracing(settings: Settings, store: ConfigStore, random: () => number, logger: Logger): TracingParts {
  const override = settings.tracingEndpoint;
  const tracer = new Tracer(random);
  const parts: { -readonly [K in keyof TracingParts]: TracingParts[K] } = {
    tracer,
    exporter: undefined,
    endpoint: () => (tracer.on ? (override ?? store.current?.config.tracing?.endpoint) : undefined),
    spans: (record) => {
      if (record.spanId !== undefined) parts.exporter?.record(record);
    },
  };
  const apply = (tracing: NodeConfig['tracing']): void => {
    tracer.configure(tracing);
    // Made on first use, so that a sidecar whose config never traces has no exporter or timer.
    if (tracing !== undefined && parts.exporter === undefined) {
      const config = store.current!.config;
      parts.exporter = new SpanExporter({
        maxQueue: settings.tracingMaxQueue,
        intervalMs: settings.tracingIntervalMs,
        endpoint: parts.endpoint,
        source: () => ({ serviceName: config.node.name, mesh: store.current?.config.mesh.name ?? config.mesh.name }),
        logger,
      });
    }
  };
  apply(store.current?.config.tracing);
  store.onApplied((s) => apply(s.config.tracing));
  return parts;
}

/** `WEFT_GATEWAY_PORTS` (`<listener port>=<port>` pairs) as a function; listeners it does not name keep their port. */
function gatewayPortMap(pairs: readonly string[] | undefined): (configPort: number) => number {
  const map = new Map<number, number>();
  for (const pair of pairs ?? []) {
    const m = /^(\d+)=(\d+)$/.exec(pair);
    const [from, to] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
    if (!m || from < 1 || from > 65535 || to < 1 || to > 65535) {
      throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `WEFT_GATEWAY_PORTS: expected <listener port>=<port> pairs (ports 1-65535), got: '${pair}'`);
    }
    map.set(from, to);
  }
  return (configPort) => map.get(configPort) ?? configPort;
}

function toPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `WEFT_APP_PORTS: expected ports (1-65535), got: '${value}'`);
  return n;
}

/** The source named by the `config` setting: `s3://bucket/key` is polled, anything else is a watched file. */
export function configSourceFor(location: string, options: { pollMs: number; region: string | undefined; logger: Logger }): ConfigSource {
  if (location.startsWith('s3://')) return createS3ConfigSource(location, options);
  return new FileConfigSource(location);
}

async function endpointSourceFor(settings: Settings, logger: Logger): Promise<EndpointSource> {
  const setting = settings.endpoints;
  if (setting.startsWith('file:') && setting.length > 5) {
    const source = new FileEndpointSource(setting.slice(5), logger);
    await source.start();
    return source;
  }
  if (setting === 'cloudmap') {
    return createCloudMapEndpointSource({
      region: settings.region,
      intervalMs: settings.discoveryIntervalMs,
      fullRefreshMs: settings.discoveryFullRefreshMs,
      logger,
    });
  }
  throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `endpoints must be 'cloudmap' or 'file:<path>', got: '${setting}'`);
}

/**
 * Installs SIGTERM/SIGINT handling for a started sidecar: a graceful shutdown, then `onExit(0)`.
 * A second signal forces an immediate close.
 */
export function handleSignals(handle: SidecarHandle, deadlineMs: number, onExit: (code: number) => void): () => void {
  let signalled = false;
  const onSignal = (): void => {
    if (signalled) {
      void handle.close().then(() => onExit(0));
      return;
    }
    signalled = true;
    handle.shutdown(deadlineMs).then(
      () => onExit(0),
      () => onExit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

/** Usage text of `weft proxy`: every setting with its flag, environment variable and default, from the settings table. */
export function proxyUsage(): string {
  const lines = Object.values(SETTINGS).flatMap((s) => [`  ${s.flag}, ${s.env}${s.default === undefined ? '' : ` (default: ${String(s.default)})`}`, `      ${s.doc}`]);
  return [
    'usage: weft proxy [flags]',
    '',
    'Runs the Weft sidecar until SIGTERM. Every flag can also be set by its environment variable; a',
    'flag beats the environment, which beats the default.',
    '',
    ...lines,
  ].join('\n');
}

/**
 * `weft proxy [flags]`: runs the sidecar until SIGTERM. Resolves with the exit code: 0 after a
 * graceful shutdown, 2 for bad settings, 1 when the sidecar cannot start.
 */
export async function proxyCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${proxyUsage()}\n`);
    return 0;
  }
  let settings: Settings;
  try {
    settings = parseSettings(argv, process.env);
  } catch (err) {
    if (err instanceof ContractError) {
      // The JSON line for log pipelines, then the usage for the person who typed the command.
      process.stderr.write(`${JSON.stringify({ level: 'error', event: 'settings_invalid', code: err.code, issues: err.issues })}\n\n${proxyUsage()}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(settings.logLevel);
  let handle: SidecarHandle;
  try {
    handle = await startSidecar(settings, { logger });
  } catch (err) {
    const e = err as Error & { code?: string; issues?: unknown };
    logger.log('error', 'sidecar_start_failed', { code: e.code ?? SIDECAR_START_FAILED, message: e.message, issues: e.issues });
    return 1;
  }
  return new Promise<number>((resolve) => {
    const remove = handleSignals(handle, settings.drainDeadlineMs, (code) => {
      remove();
      logger.log('info', 'sidecar_stopped', { code });
      resolve(code);
    });
  });
}

/** Discovery errors (Cloud Map calls and config refreshes that failed) and Cloud Map's last good answer. */
function discoveryState(store: ConfigStore, endpoints: DiscoveryRouter): ControlState['discovery'] {
  const cloudMap = endpoints.health();
  return { errors: store.refreshErrors + (cloudMap?.errors ?? 0), lastSuccessAt: cloudMap?.lastSuccessAt };
}
