/**
 * The mesh compiler: one validated {@link MeshModel} in, one sealed {@link NodeConfig} per virtual
 * node and per virtual gateway out, each holding only what that node's sidecar needs.
 *
 * Decisions (App Mesh's behaviour unless stated; Weft's own choices are marked "Weft"):
 * - Mesh: `egressFilter` defaults to DROP_ALL (the CDK's default), the trust domain to
 *   `defaultTrustDomain(mesh)`. Each node's identity is `spiffeId(trustDomain, mesh, node)`.
 * - Inbound listeners come from the node's listeners. TLS certificates from `sds`, `acm` or absent
 *   are the node's mesh identity (Weft's mesh CA stands in for SDS and ACM); `file` stays a file.
 *   Validation trust `sds` is the mesh trust bundle. Per-request timeout: the listener's, else
 *   15 s for http/http2/grpc and none (0) for tcp; idle: the listener's, else 300 s.
 * - Inbound policy (Weft): the node's `authorization`, `jwt` and `rateLimit`; default allow all.
 *   A gateway's policy is written to `gateway.policy`; its `inbound` is empty.
 * - Outbound services: a node's backends (a gateway: the services its gateway routes target),
 *   sorted by name. A service without a provider is left out: nothing in the mesh serves it.
 *   A service provided by a virtual node gets one listener per node listener, with the single
 *   route `<service>/default` (priority 1000) sending everything to that listener's cluster.
 *   A service provided by a router gets one listener per router listener with the router's routes
 *   that fit it: http/http2 routes on http and http2 listeners, grpc on grpc, tcp on tcp, and
 *   `match.port` absent or equal to the listener port.
 * - Route order (first match wins): explicit priority ascending, routes without one after all
 *   prioritised routes (written as priority 1000); ties broken by specificity — exact path, then
 *   longer prefix, then regex, then anything else (gRPC: method, then service); then (Weft) more
 *   other conditions (headers, method, query, scheme, port) first; then route name.
 * - Route names are `<router>/<route>`; gateway route names `<gateway>/<gatewayRoute>`.
 * - Matches: a header or query parameter match without `match` means "present"; `invert`
 *   defaults to false.
 * - Retries: the route's policy, else the mesh default (`meshDefaultRetryPolicy`): 2 retries each
 *   bounded by the route's per-request timeout, on `connection-error` and `stream-error` (Istio's
 *   connect-failure and refused-stream), plus `gateway-error` for HTTP and
 *   `unavailable`/`cancelled` for gRPC.
 * - Timeouts: the route's, else (Weft) the longest one set on its target listeners, else 15 s per
 *   request and 300 s idle. TCP routes have no per-request timeout (0).
 * - Weighted targets become clusters `<virtualNode>:<port>` (the target's port, else the node's
 *   only listener); weights are kept exactly as written, never normalised.
 * - Clusters: every cluster a route of this node targets or mirrors to, sorted by name, built
 *   from the target node's listener on that port: discovery (Cloud Map attributes become a
 *   record; DNS dials the listener port), load balancer (Weft; default ROUND_ROBIN), connection
 *   pool over Envoy's defaults, outlier detection, health check.
 * - Cluster TLS is the caller's client policy for the backend through which the cluster is first
 *   reached (services in name order): the backend's own `clientPolicy`, else `backendDefaults`.
 *   Enforced TLS on a matching port (no `ports` means every port) is MUTUAL with a client
 *   certificate, else SIMPLE; ACM and SDS trust are the mesh trust bundle. Without listed SANs, a
 *   MUTUAL connection on mesh trust accepts only the target node's SPIFFE id. Otherwise DISABLED.
 * - Gateway routes: each must reach a provided service, on a listener port of that service (the
 *   target's `port` is required when the service listens on several ports).
 *   A prefix match with no rewrite rewrites the matched prefix to `/`;
 *   `defaultPrefix: DISABLED` keeps it; `value` replaces it with that value. An exact or regex
 *   path match with `rewrite.path.exact` replaces the whole path. The Host is rewritten to the
 *   target service unless `defaultTargetHostname: DISABLED`.
 * - Access logs: `logging.accessLog.file`; a JSON format's key/value list becomes a record.
 * - Tracing (Weft): the mesh's `tracing`, unless `enabled: false`, in every node's config, with
 *   Istio's 1% sampling and the ADOT collector sidecar's endpoint as defaults. No `tracing`: off,
 *   and the configs stay at schema v1.
 * - Problems the validator does not catch but the compiler meets (a target without a matching
 *   listener, a config the contract parser refuses) are collected as ModelErrors against the
 *   resource at fault and thrown together as one MeshValidationError.
 * - Deterministic: resources are looked up by name and every list the model does not order
 *   itself is sorted, so the same mesh in any document order gives byte-identical configs.
 */
import type { z } from 'zod';
import {
  ContractError,
  DEFAULT_TRACING_ENDPOINT,
  defaultTrustDomain,
  sealNodeConfig,
  spiffeId,
  type ClusterSchema,
  type InboundPolicySchema,
  type NodeConfig,
  type NodeConfigInput,
} from '../../proxy/contracts';
import { durationMs } from './duration';
import { errorAt, MeshValidationError, type ModelError } from './errors';
import {
  compileGatewayRoute,
  compileRoute,
  gatewayRouteTarget,
  inboundTimeout,
  orderGatewayRoutes,
  orderRoutes,
  providerNodeRoute,
  routeFitsListener,
  type ResolvedTarget,
  type RouteInput,
  type TargetResolver,
  type VirtualNodeListener,
} from './compile-routes';
import type {
  ClientPolicySchema,
  ConnectionPoolSchema,
  GatewayRouteResource,
  HealthCheckSchema,
  ListenerTlsSchema,
  MeshModel,
  OutlierDetectionSchema,
  Resource,
  RouteResource,
  VirtualGatewayResource,
  VirtualNodeResource,
  VirtualNodeSpec,
  VirtualRouterResource,
  VirtualServiceResource,
} from './schema';
import { validateMesh } from './validate';

/** Istio's default sampling: 1% of new traces. */
const DEFAULT_SAMPLING_PERCENTAGE = 1;

/** Which configs to produce. */
export interface CompileOptions {
  /** Only these virtual nodes and gateways (by name). Default: all of them. */
  nodes?: string[];
}

/** Thrown when {@link CompileOptions.nodes} names something the mesh does not have. */
export class UnknownNodeError extends Error {
  readonly code = 'WEFT_ERR_UNKNOWN_NODE';
  constructor(
    readonly mesh: string,
    readonly names: readonly string[],
  ) {
    super(`mesh '${mesh}' has no virtual node or virtual gateway named ${names.map((n) => `'${n}'`).join(', ')}`);
    this.name = 'UnknownNodeError';
  }
}

type ClusterInput = z.input<typeof ClusterSchema>;
type ClientPolicy = z.infer<typeof ClientPolicySchema>;
type OutboundServiceInput = NodeConfigInput['outbound']['services'][number];
type ServerTlsInput = NodeConfigInput['inbound']['listeners'][number]['tls'];
type PolicyInput = z.input<typeof InboundPolicySchema>;

/**
 * Compiles every virtual node and gateway of `model` (or those named in `options.nodes`) into
 * sealed node configs, sorted by node name.
 * @throws MeshValidationError when the mesh has errors (from validateMesh or found while compiling)
 * @throws UnknownNodeError when `options.nodes` names a node the mesh does not have
 */
export function compileMesh(model: MeshModel, options: CompileOptions = {}): NodeConfig[] {
  const invalid = validateMesh(model);
  if (invalid.length > 0) throw new MeshValidationError(invalid);

  const index = new MeshIndex(model);
  const wanted = options.nodes && new Set(options.nodes);
  if (wanted) {
    const unknown = [...wanted].filter((n) => !index.nodes.has(n) && !index.gateways.has(n)).sort();
    if (unknown.length > 0) throw new UnknownNodeError(model.mesh.name, unknown);
  }
  const selected = <T extends { name: string }>(items: T[]) => items.filter((i) => !wanted || wanted.has(i.name));

  const errors: ModelError[] = [];
  const out: { name: string; kind: string; compile: () => NodeConfig | undefined }[] = [
    ...selected(model.virtualNodes).map((n) => ({ name: n.name, kind: 'virtualNode', compile: () => compileVirtualNode(index, n, errors) })),
    ...selected(model.virtualGateways).map((g) => ({ name: g.name, kind: 'virtualGateway', compile: () => compileVirtualGateway(index, g, errors) })),
  ];
  out.sort((a, b) => compareStrings(a.name, b.name) || compareStrings(a.kind, b.kind));
  const configs = out.map((o) => o.compile());
  if (errors.length > 0) throw new MeshValidationError(dedupe(errors));
  return configs as NodeConfig[];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupe(errors: ModelError[]): ModelError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Where a part of a node config came from. With `samePaths`, fields below the part have the same
 * path in the model (inbound policy); otherwise the config field is named in the message.
 */
interface Origin {
  resource: Resource;
  path: string;
  samePaths?: boolean;
}

/** Records `origin` for `part` and returns `part`. */
function from<T extends object>(index: MeshIndex, part: T, origin: Origin): T {
  index.origins.set(part, origin);
  return part;
}

/** Name lookups over one mesh, so results never depend on document order. */
class MeshIndex {
  readonly nodes: Map<string, VirtualNodeResource>;
  readonly services: Map<string, VirtualServiceResource>;
  readonly routers: Map<string, VirtualRouterResource>;
  readonly gateways: Map<string, VirtualGatewayResource>;
  readonly routesByRouter = new Map<string, RouteResource[]>();
  readonly routesByGateway = new Map<string, GatewayRouteResource[]>();
  /** Which model resource (and field) each compiled part came from, for error reports. */
  readonly origins = new WeakMap<object, Origin>();

  constructor(readonly model: MeshModel) {
    this.nodes = byName(model.virtualNodes);
    this.services = byName(model.virtualServices);
    this.routers = byName(model.virtualRouters);
    this.gateways = byName(model.virtualGateways);
    for (const r of model.routes) push(this.routesByRouter, r.virtualRouterName, r);
    for (const r of model.gatewayRoutes) push(this.routesByGateway, r.virtualGatewayName, r);
  }

  get meshName(): string {
    return this.model.mesh.name;
  }
  get trustDomain(): string {
    return this.model.mesh.spec.trustDomain ?? defaultTrustDomain(this.model.mesh.name);
  }
  spiffeIdOf(node: string): string {
    return spiffeId(this.trustDomain, this.meshName, node);
  }
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// --- Nodes and gateways ---

function meshPart(index: MeshIndex): NodeConfigInput['mesh'] {
  return { name: index.meshName, egressFilter: index.model.mesh.spec.egressFilter?.type ?? 'DROP_ALL', trustDomain: index.trustDomain };
}

function tracingOf(index: MeshIndex): NodeConfigInput['tracing'] {
  const tracing = index.model.mesh.spec.tracing;
  if (tracing === undefined || tracing.enabled === false) return undefined;
  return { samplingPercentage: tracing.samplingPercentage ?? DEFAULT_SAMPLING_PERCENTAGE, endpoint: tracing.endpoint ?? DEFAULT_TRACING_ENDPOINT };
}

function policyOf(spec: Pick<VirtualNodeSpec, 'authorization' | 'jwt' | 'rateLimit'>): PolicyInput {
  return { authorization: spec.authorization ?? [], jwt: spec.jwt ?? [], rateLimit: spec.rateLimit };
}

function loggingOf(spec: Pick<VirtualNodeSpec, 'logging'>): NodeConfigInput['logging'] {
  const file = spec.logging?.accessLog?.file;
  if (!file) return {};
  const format = file.format && ('text' in file.format ? { text: file.format.text } : { json: Object.fromEntries(file.format.json.map((kv) => [kv.key, kv.value])) });
  // samplePercent is written only when set: a config without it stays at schema v1.
  const sample = file.samplePercent === undefined ? {} : { samplePercent: file.samplePercent };
  return { accessLog: { path: file.path, format, ...sample } };
}

function compileVirtualNode(index: MeshIndex, node: VirtualNodeResource, errors: ModelError[]): NodeConfig | undefined {
  const spec = node.spec;
  const policies = new Map<string, ClientPolicy | undefined>();
  for (const b of spec.backends ?? []) {
    const name = b.virtualService.virtualServiceName;
    if (!policies.has(name) || b.virtualService.clientPolicy) policies.set(name, b.virtualService.clientPolicy ?? spec.backendDefaults?.clientPolicy);
  }
  const { services, clusters } = compileOutbound(index, policies, errors);
  return seal(index, node, errors, {
    mesh: meshPart(index),
    node: { kind: 'virtualNode', name: node.name, spiffeId: index.spiffeIdOf(node.name) },
    inbound: {
      listeners: (spec.listeners ?? []).map((l, i) => from(index, {
        port: l.portMapping.port,
        protocol: l.portMapping.protocol,
        tls: serverTls(l.tls),
        timeout: inboundTimeout(l),
        connectionPool: connectionPool(l.connectionPool),
        outlierDetection: outlierDetection(l.outlierDetection),
        healthCheck: healthCheck(l.healthCheck),
      }, { resource: node, path: `spec.listeners[${i}]` })),
      policy: from(index, policyOf(spec), { resource: node, path: 'spec', samePaths: true }),
    },
    outbound: { services },
    clusters,
    logging: loggingOf(spec),
    tracing: tracingOf(index),
  });
}

function compileVirtualGateway(index: MeshIndex, gateway: VirtualGatewayResource, errors: ModelError[]): NodeConfig | undefined {
  const spec = gateway.spec;
  const routes = orderGatewayRoutes(index.routesByGateway.get(gateway.name) ?? []);
  const policies = new Map<string, ClientPolicy | undefined>();
  for (const r of routes) {
    const target = gatewayRouteTarget(r);
    if (target !== undefined) policies.set(target, spec.backendDefaults?.clientPolicy);
  }
  const { services, clusters } = compileOutbound(index, policies, errors);
  for (const r of routes) checkGatewayTarget(index, r, services, errors);
  return seal(index, gateway, errors, {
    mesh: meshPart(index),
    node: { kind: 'virtualGateway', name: gateway.name, spiffeId: index.spiffeIdOf(gateway.name) },
    inbound: { listeners: [], policy: { authorization: [], jwt: [] } },
    gateway: {
      listeners: spec.listeners.map((l) => ({
        port: l.portMapping.port,
        protocol: l.portMapping.protocol,
        tls: serverTls(l.tls),
        connectionPool: connectionPool(l.connectionPool),
        healthCheck: healthCheck(l.healthCheck),
      })),
      routes: routes.map((r) => from(index, compileGatewayRoute(gateway.name, r), { resource: r, path: `spec.${routeKindOf(r.spec)}` })),
      policy: from(index, policyOf(spec), { resource: gateway, path: 'spec', samePaths: true }),
    },
    outbound: { services },
    clusters,
    logging: loggingOf(spec),
    tracing: tracingOf(index),
  });
}

/** A gateway route must reach a listener of a service that something in the mesh provides. */
function checkGatewayTarget(index: MeshIndex, route: GatewayRouteResource, services: OutboundServiceInput[], errors: ModelError[]): void {
  const kind = route.spec.httpRoute ? 'httpRoute' : route.spec.http2Route ? 'http2Route' : 'grpcRoute';
  const target = route.spec[kind]?.action.target;
  if (!target) return;
  const name = target.virtualService.virtualServiceName;
  const path = `spec.${kind}.action.target`;
  const service = index.services.get(name);
  if (!service) {
    errors.push(errorAt(route, `${path}.virtualService.virtualServiceName`, `unknown virtual service '${name}'`));
    return;
  }
  if (!service.spec.provider) {
    errors.push(errorAt(route, `${path}.virtualService.virtualServiceName`, `virtual service '${name}' has no provider, so nothing can serve this route`));
    return;
  }
  const listeners = services.find((s) => s.name === name)?.listeners;
  if (!listeners) return; // the provider's own error is already recorded
  if (target.port !== undefined && !listeners.some((l) => l.port === target.port)) {
    errors.push(errorAt(route, `${path}.port`, `virtual service '${name}' has no listener on port ${target.port}; its ports: ${listeners.map((l) => l.port).join(', ')}`));
  } else if (target.port === undefined && listeners.length > 1) {
    errors.push(errorAt(route, `${path}.port`, `is required: virtual service '${name}' listens on ${listeners.length} ports (${listeners.map((l) => l.port).join(', ')})`));
  }
}

function seal(index: MeshIndex, owner: Resource, errors: ModelError[], body: Omit<NodeConfigInput, 'schema' | 'version'>): NodeConfig | undefined {
  try {
    return sealNodeConfig(body);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    // The validator should have caught these; report each against the resource it came from.
    for (const issue of err.issues) errors.push(locateIssue(index, owner, body, issue.path, issue.message));
    return undefined;
  }
}

/** Follows a config field path through `body` to the deepest part whose model origin is known. */
function locateIssue(index: MeshIndex, owner: Resource, body: object, path: string, message: string): ModelError {
  const segments: string[] = path.match(/[^.[\]]+/g) ?? [];
  let origin: Origin = { resource: owner, path: '' };
  let rest = segments;
  let part: unknown = body;
  segments.forEach((seg, i) => {
    part = part !== null && typeof part === 'object' ? (part as Record<string, unknown>)[seg] : undefined;
    const found = part !== null && typeof part === 'object' ? index.origins.get(part) : undefined;
    if (found) {
      origin = found;
      rest = segments.slice(i + 1);
    }
  });
  const restPath = rest.map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`)).join('');
  if (origin.samePaths) return errorAt(origin.resource, `${origin.path}${restPath}`, message);
  const field = restPath.replace(/^\./, '');
  return errorAt(origin.resource, origin.path, field ? `${message} (node config field ${field})` : message);
}

function routeKindOf(spec: RouteResource['spec'] | GatewayRouteResource['spec']): string {
  return (['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const).find((k) => k in spec && spec[k as keyof typeof spec] !== undefined) ?? 'httpRoute';
}

// --- Outbound services and clusters ---

interface ClusterUse {
  node: VirtualNodeResource;
  listener: VirtualNodeListener;
  policy: ClientPolicy | undefined;
}

/**
 * Outbound services (sorted by name) for the given backends and their client policies, and the
 * clusters their routes use.
 */
function compileOutbound(
  index: MeshIndex,
  policies: Map<string, ClientPolicy | undefined>,
  errors: ModelError[],
): { services: OutboundServiceInput[]; clusters: ClusterInput[] } {
  const uses = new Map<string, ClusterUse>();
  const services: OutboundServiceInput[] = [];
  for (const name of [...policies.keys()].sort(compareStrings)) {
    const service = index.services.get(name);
    if (!service?.spec.provider) continue;
    const resolverFor = (owner: Resource): TargetResolver => (path, nodeName, port) => {
      const target = resolveTarget(index, owner, path, nodeName, port, errors);
      if (target && !uses.has(target.cluster)) uses.set(target.cluster, { node: index.nodes.get(nodeName)!, listener: target.listener, policy: policies.get(name) });
      return target;
    };
    const listeners = outboundListeners(index, service, resolverFor, errors);
    if (listeners.length > 0) services.push({ name, listeners });
  }
  const clusters = [...uses.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, use]) => from(index, cluster(index, name, use, errors), { resource: use.node, path: `spec.listeners[${use.node.spec.listeners!.indexOf(use.listener)}]` }));
  return { services, clusters };
}

function outboundListeners(
  index: MeshIndex,
  service: VirtualServiceResource,
  resolverFor: (owner: Resource) => TargetResolver,
  errors: ModelError[],
): OutboundServiceInput['listeners'] {
  const provider = service.spec.provider!;
  if ('virtualNode' in provider) {
    const nodeName = provider.virtualNode.virtualNodeName;
    const node = index.nodes.get(nodeName);
    const path = 'spec.provider.virtualNode.virtualNodeName';
    if (!node) {
      errors.push(errorAt(service, path, `unknown virtual node '${nodeName}'`));
      return [];
    }
    if (!node.spec.listeners?.length) {
      errors.push(errorAt(service, path, `virtual node '${nodeName}' has no listeners, so the service cannot be called`));
      return [];
    }
    const resolve = resolverFor(service);
    return node.spec.listeners.flatMap((l) => {
      const target = resolve('spec.provider.virtualNode', nodeName, l.portMapping.port);
      if (!target) return [];
      const route = from(index, providerNodeRoute(service.name, l, target.cluster), { resource: service, path: 'spec.provider' });
      return [{ port: l.portMapping.port, protocol: l.portMapping.protocol, routes: [route] }];
    });
  }
  const routerName = provider.virtualRouter.virtualRouterName;
  const router = index.routers.get(routerName);
  if (!router) {
    errors.push(errorAt(service, 'spec.provider.virtualRouter.virtualRouterName', `unknown virtual router '${routerName}'`));
    return [];
  }
  const ordered = orderRoutes(index.routesByRouter.get(routerName) ?? []);
  return router.spec.listeners.map(({ portMapping: { port, protocol } }) => ({
    port,
    protocol,
    routes: ordered
      .filter((r) => routeFitsListener(r, port, protocol))
      .map((r): RouteInput => from(index, compileRoute(routerName, r, resolverFor(r)), { resource: r, path: `spec.${routeKindOf(r.spec)}` })),
  }));
}

function resolveTarget(
  index: MeshIndex,
  owner: Resource,
  path: string,
  nodeName: string,
  port: number | undefined,
  errors: ModelError[],
): ResolvedTarget | undefined {
  const node = index.nodes.get(nodeName);
  if (!node) {
    errors.push(errorAt(owner, `${path}.virtualNode`, `unknown virtual node '${nodeName}'`));
    return undefined;
  }
  const listeners = node.spec.listeners ?? [];
  let listener: VirtualNodeListener | undefined;
  if (port !== undefined) {
    listener = listeners.find((l) => l.portMapping.port === port);
    if (!listener) errors.push(errorAt(owner, `${path}.port`, `virtual node '${nodeName}' has no listener on port ${port}`));
  } else if (listeners.length === 1) {
    listener = listeners[0];
  } else if (listeners.length === 0) {
    errors.push(errorAt(owner, `${path}.virtualNode`, `virtual node '${nodeName}' has no listeners`));
  } else {
    errors.push(errorAt(owner, `${path}.port`, `is required: virtual node '${nodeName}' has ${listeners.length} listeners`));
  }
  return listener && { cluster: `${nodeName}:${listener.portMapping.port}`, listener };
}

function cluster(index: MeshIndex, name: string, use: ClusterUse, errors: ModelError[]): ClusterInput {
  const { node, listener, policy } = use;
  const port = listener.portMapping.port;
  return {
    name,
    virtualNode: node.name,
    port,
    protocol: listener.portMapping.protocol,
    discovery: discovery(index, node, port, errors),
    loadBalancer: loadBalancer(node.spec.loadBalancer),
    connectionPool: connectionPool(listener.connectionPool),
    outlierDetection: outlierDetection(listener.outlierDetection),
    healthCheck: healthCheck(listener.healthCheck),
    tls: clientTls(policy, port, index.spiffeIdOf(node.name)),
  };
}

function discovery(index: MeshIndex, node: VirtualNodeResource, port: number, errors: ModelError[]): ClusterInput['discovery'] {
  const sd = node.spec.serviceDiscovery;
  if (sd && 'awsCloudMap' in sd) {
    const cm = sd.awsCloudMap;
    return {
      type: 'cloudMap',
      namespaceName: cm.namespaceName,
      serviceName: cm.serviceName,
      attributes: Object.fromEntries((cm.attributes ?? []).map((a) => [a.key, a.value])),
      ipPreference: cm.ipPreference ?? index.model.mesh.spec.serviceDiscovery?.ipPreference,
    };
  }
  if (sd && 'dns' in sd) return { type: 'dns', hostname: sd.dns.hostname, responseType: sd.dns.responseType ?? 'LOADBALANCER', port };
  if (sd && 'static' in sd) return { type: 'static', endpoints: sd.static.endpoints };
  errors.push(errorAt(node, 'spec.serviceDiscovery', 'is required: routes send traffic to this virtual node'));
  // A placeholder keeps the remaining checks going; the collected error stops the compile.
  return { type: 'static', endpoints: [{ address: '0.0.0.0', port }] };
}

function loadBalancer(lb: VirtualNodeSpec['loadBalancer']): ClusterInput['loadBalancer'] {
  if (!lb) return { policy: 'ROUND_ROBIN' };
  const h = lb.consistentHash;
  return {
    policy: lb.policy,
    consistentHash:
      h === undefined
        ? undefined
        : 'cookie' in h
          ? { cookie: { name: h.cookie.name, ttlMs: h.cookie.ttl === undefined ? undefined : durationMs(h.cookie.ttl), path: h.cookie.path } }
          : h,
    zoneAware: lb.zoneAware && { minHealthyPercent: lb.zoneAware.minHealthyPercent },
  };
}

function clientTls(policy: ClientPolicy | undefined, port: number, targetSpiffeId: string): ClusterInput['tls'] {
  const tls = policy?.tls;
  const portCovered = !tls?.ports?.length || tls.ports.includes(port);
  if (!tls || tls.enforce === false || !portCovered) return { mode: 'DISABLED' };
  const cert = tls.certificate;
  const mode = cert ? 'MUTUAL' : 'SIMPLE';
  const trust = 'file' in tls.validation.trust ? { file: { certificateChain: tls.validation.trust.file.certificateChain } } : { mesh: true as const };
  const sans = tls.validation.subjectAlternativeNames?.match.exact ?? (mode === 'MUTUAL' && 'mesh' in trust ? [targetSpiffeId] : []);
  return {
    mode,
    certificate: cert && ('file' in cert ? { file: cert.file } : { mesh: true }),
    trust,
    subjectAlternativeNames: sans,
  };
}

// --- Listener parts ---

function serverTls(tls: z.infer<typeof ListenerTlsSchema> | undefined): ServerTlsInput {
  if (!tls) return undefined;
  const v = tls.validation;
  return {
    mode: tls.mode,
    certificate: 'file' in tls.certificate ? { file: tls.certificate.file } : { mesh: true },
    validation: v && {
      trust: 'file' in v.trust ? { file: v.trust.file } : { mesh: true },
      subjectAlternativeNames: v.subjectAlternativeNames?.match.exact ?? [],
    },
  };
}

function connectionPool(pool: z.infer<typeof ConnectionPoolSchema> | undefined): ClusterInput['connectionPool'] {
  if (!pool) return undefined;
  return {
    maxConnections: pool.http?.maxConnections ?? pool.tcp?.maxConnections,
    maxPendingRequests: pool.http?.maxPendingRequests,
    maxRequests: pool.http2?.maxRequests ?? pool.grpc?.maxRequests,
  };
}

function outlierDetection(od: z.infer<typeof OutlierDetectionSchema> | undefined): ClusterInput['outlierDetection'] {
  if (!od) return undefined;
  return {
    consecutive5xx: od.maxServerErrors,
    intervalMs: durationMs(od.interval),
    baseEjectionMs: durationMs(od.baseEjectionDuration),
    maxEjectionPercent: od.maxEjectionPercent,
  };
}

function healthCheck(hc: z.infer<typeof HealthCheckSchema> | undefined): ClusterInput['healthCheck'] {
  if (!hc) return undefined;
  return {
    protocol: hc.protocol,
    path: hc.path,
    port: hc.port,
    intervalMs: hc.intervalMillis,
    timeoutMs: hc.timeoutMillis,
    healthyThreshold: hc.healthyThreshold,
    unhealthyThreshold: hc.unhealthyThreshold,
  };
}
