/**
 * Route compilation: App Mesh routes and gateway routes turned into the node config's routes, in
 * the order the sidecar evaluates them (first match wins). The rules are stated in compile.ts.
 */
import type { z } from 'zod';
import {
  meshDefaultRetryPolicy,
  type GatewayRouteSchema as ConfigGatewayRouteSchema,
  type HeaderMatchSchema as ConfigHeaderMatchSchema,
  type HeaderRulesSchema as ConfigHeaderRulesSchema,
  type PathMatchSchema,
  type QueryMatchSchema,
  type RetryPolicySchema,
  type RouteSchema,
  type TimeoutSchema,
} from '../../proxy/contracts';
import { durationMs } from './duration';
import type {
  Duration,
  GatewayRouteResource,
  GrpcRetryPolicySchema,
  GrpcRouteSchema,
  HeaderMatchSchema,
  HeaderRulesSchema,
  HttpRetryPolicySchema,
  HttpRouteSchema,
  MirrorSchema,
  QueryParameterMatchSchema,
  RouteResource,
  RouteSpec,
  TcpRouteSchema,
  VirtualNodeListenerSchema,
  WeightedTargetSchema,
} from './schema';

export type RouteInput = z.input<typeof RouteSchema>;
export type GatewayRouteInput = z.input<typeof ConfigGatewayRouteSchema>;
type RetryInput = z.input<typeof RetryPolicySchema>;
type TimeoutInput = z.input<typeof TimeoutSchema>;
type HeaderMatchInput = z.input<typeof ConfigHeaderMatchSchema>;
type HeaderRulesInput = z.input<typeof ConfigHeaderRulesSchema>;

type HttpRouteSpec = z.infer<typeof HttpRouteSchema>;
type GrpcRouteSpec = z.infer<typeof GrpcRouteSchema>;
type TcpRouteSpec = z.infer<typeof TcpRouteSchema>;
type WeightedTargetSpec = z.infer<typeof WeightedTargetSchema>;
export type VirtualNodeListener = z.infer<typeof VirtualNodeListenerSchema>;
type ListenerProtocol = VirtualNodeListener['portMapping']['protocol'];

/** App Mesh's per-request timeout when neither the route nor the target listener sets one. */
export const DEFAULT_PER_REQUEST_MS = 15_000;
/** App Mesh's (and Envoy's) idle timeout when nothing sets one. */
export const DEFAULT_IDLE_MS = 300_000;
/** Priority written for routes that state none: evaluated after every prioritised route. */
export const UNPRIORITISED = 1000;

/** A weighted target or mirror resolved to a cluster, or undefined after an error was recorded. */
export interface ResolvedTarget {
  cluster: string;
  listener: VirtualNodeListener;
}
/** Resolves `virtualNode` (+ optional port) of the target or mirror at `path` (its `.virtualNode` and `.port`). */
export type TargetResolver = (path: string, virtualNode: string, port: number | undefined) => ResolvedTarget | undefined;

// --- Evaluation order ---

interface OrderKey {
  name: string;
  priority?: number;
  /** 0 exact path, 1 prefix, 2 regex, 3 anything else. */
  rank: number;
  /** Prefix length: longer prefixes are more specific. */
  length: number;
  /** Number of other conditions (headers, method, ...): more conditions are more specific. */
  conditions: number;
}

function compareOrder(a: OrderKey, b: OrderKey): number {
  const pa = a.priority ?? Number.POSITIVE_INFINITY;
  const pb = b.priority ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.length !== b.length) return b.length - a.length;
  if (a.conditions !== b.conditions) return b.conditions - a.conditions;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface PathLike {
  prefix?: string;
  path?: { exact: string } | { regex: string };
}

function pathRank(m: PathLike): Pick<OrderKey, 'rank' | 'length'> {
  if (m.path && 'exact' in m.path) return { rank: 0, length: m.path.exact.length };
  if (m.prefix !== undefined) return { rank: 1, length: m.prefix.length };
  if (m.path && 'regex' in m.path) return { rank: 2, length: 0 };
  return { rank: 3, length: 0 };
}

function count(...items: unknown[]): number {
  return items.reduce<number>((n, item) => n + (Array.isArray(item) ? item.length : item !== undefined ? 1 : 0), 0);
}

function routeOrderKey(route: RouteResource): OrderKey {
  const s = route.spec;
  const base = { name: route.name, priority: s.priority };
  const http = s.httpRoute ?? s.http2Route;
  if (http) {
    const m = http.match;
    return { ...base, ...pathRank(m), conditions: count(m.headers, m.method, m.queryParameters, m.scheme, m.port) };
  }
  if (s.grpcRoute) {
    const m = s.grpcRoute.match;
    const rank = m.methodName !== undefined ? 0 : m.serviceName !== undefined ? 1 : 3;
    return { ...base, rank, length: 0, conditions: count(m.metadata, m.port) };
  }
  return { ...base, rank: 3, length: 0, conditions: count(s.tcpRoute?.match?.port) };
}

function gatewayRouteOrderKey(route: GatewayRouteResource): OrderKey {
  const s = route.spec;
  const base = { name: route.name, priority: s.priority };
  const http = s.httpRoute ?? s.http2Route;
  if (http) {
    const m = http.match;
    return { ...base, ...pathRank(m), conditions: count(m.hostname, m.headers, m.method, m.queryParameters, m.port) };
  }
  const m = s.grpcRoute?.match;
  return { ...base, rank: m?.serviceName !== undefined ? 1 : 3, length: 0, conditions: count(m?.hostname, m?.metadata, m?.port) };
}

/** Routes in evaluation order (see compile.ts). */
export function orderRoutes(routes: readonly RouteResource[]): RouteResource[] {
  return routes.map((r) => ({ r, k: routeOrderKey(r) })).sort((a, b) => compareOrder(a.k, b.k)).map((x) => x.r);
}

/** Gateway routes in evaluation order (see compile.ts). */
export function orderGatewayRoutes(routes: readonly GatewayRouteResource[]): GatewayRouteResource[] {
  return routes.map((r) => ({ r, k: gatewayRouteOrderKey(r) })).sort((a, b) => compareOrder(a.k, b.k)).map((x) => x.r);
}

// --- Which routes serve which router listener ---

type RouteKind = 'httpRoute' | 'http2Route' | 'grpcRoute' | 'tcpRoute';

function routeKind(spec: RouteSpec): RouteKind | undefined {
  const kinds: RouteKind[] = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'];
  return kinds.find((k) => spec[k] !== undefined);
}

/** Whether `route` is served on a router listener of this port and protocol. */
export function routeFitsListener(route: RouteResource, port: number, protocol: ListenerProtocol): boolean {
  const kind = routeKind(route.spec);
  const fits =
    (kind === 'httpRoute' || kind === 'http2Route') ? protocol === 'http' || protocol === 'http2' : kind === 'grpcRoute' ? protocol === 'grpc' : kind === 'tcpRoute' && protocol === 'tcp';
  if (!fits) return false;
  const matchPort = (route.spec.httpRoute ?? route.spec.http2Route ?? route.spec.grpcRoute)?.match.port ?? route.spec.tcpRoute?.match?.port;
  return matchPort === undefined || matchPort === port;
}

// --- Conversions shared by routes and gateway routes ---

function headerMatch(h: z.infer<typeof HeaderMatchSchema>): HeaderMatchInput {
  return { name: h.name, match: h.match ?? { present: true }, invert: h.invert ?? false };
}

function queryMatch(q: z.infer<typeof QueryParameterMatchSchema>): z.input<typeof QueryMatchSchema> {
  return { name: q.name, match: q.match ?? { present: true } };
}

function pathMatch(m: PathLike): z.input<typeof PathMatchSchema> | undefined {
  if (m.path) return m.path;
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return undefined;
}

function headerRules(h: z.infer<typeof HeaderRulesSchema> | undefined): HeaderRulesInput | undefined {
  if (!h) return undefined;
  const ops = (o: NonNullable<typeof h.request>) => ({ set: o.set ?? [], add: o.add ?? [], remove: o.remove ?? [] });
  return { request: h.request && ops(h.request), response: h.response && ops(h.response) };
}

function listenerTimeouts(l: VirtualNodeListener): { perRequestMs?: number; idleMs?: number } {
  const p = l.portMapping.protocol;
  if (p === 'tcp') {
    const idle = l.timeout?.tcp?.idle;
    return { idleMs: idle === undefined ? undefined : durationMs(idle) };
  }
  const t = l.timeout?.[p];
  return {
    perRequestMs: t?.perRequest === undefined ? undefined : durationMs(t.perRequest),
    idleMs: t?.idle === undefined ? undefined : durationMs(t.idle),
  };
}

/** A node listener's own timeouts as its inbound side applies them. */
export function inboundTimeout(l: VirtualNodeListener): TimeoutInput {
  const t = listenerTimeouts(l);
  const tcp = l.portMapping.protocol === 'tcp';
  return { perRequestMs: tcp ? 0 : (t.perRequestMs ?? DEFAULT_PER_REQUEST_MS), idleMs: t.idleMs ?? DEFAULT_IDLE_MS };
}

/**
 * The route's timeout, else the longest one set on its target listeners (so no target is cut
 * short by another's setting), else the App Mesh default.
 */
function routeTimeout(
  own: { perRequest?: Duration; idle?: Duration } | undefined,
  targets: readonly ResolvedTarget[],
  tcp: boolean,
): TimeoutInput {
  const fromTargets = targets.map((t) => listenerTimeouts(t.listener));
  const longest = (vals: (number | undefined)[]) => {
    const set = vals.filter((v): v is number => v !== undefined);
    return set.length === 0 ? undefined : Math.max(...set);
  };
  const perRequestMs = tcp
    ? 0
    : own?.perRequest !== undefined
      ? durationMs(own.perRequest)
      : (longest(fromTargets.map((t) => t.perRequestMs)) ?? DEFAULT_PER_REQUEST_MS);
  const idleMs = own?.idle !== undefined ? durationMs(own.idle) : (longest(fromTargets.map((t) => t.idleMs)) ?? DEFAULT_IDLE_MS);
  return { perRequestMs, idleMs };
}

function retryPolicy(p: z.infer<typeof HttpRetryPolicySchema> | z.infer<typeof GrpcRetryPolicySchema>): RetryInput {
  return {
    maxRetries: p.maxRetries,
    perTryTimeoutMs: durationMs(p.perRetryTimeout),
    httpRetryEvents: p.httpRetryEvents ?? [],
    tcpRetryEvents: p.tcpRetryEvents ?? [],
    grpcRetryEvents: 'grpcRetryEvents' in p ? (p.grpcRetryEvents ?? []) : [],
    retriableStatusCodes: p.retriableStatusCodes ?? [],
  };
}

function fault(f: HttpRouteSpec['fault']) {
  if (!f) return undefined;
  return {
    delay: f.delay && { percentage: f.delay.percentage, fixedDelayMs: durationMs(f.delay.fixedDelay) },
    abort: f.abort,
  };
}

function mirror(m: z.infer<typeof MirrorSchema> | undefined, path: string, resolve: TargetResolver) {
  if (!m) return undefined;
  const t = resolve(`${path}.mirror`, m.virtualNode, m.port);
  return t && { cluster: t.cluster, percentage: m.percentage ?? 100 };
}

function weightedTargets(targets: readonly WeightedTargetSpec[], path: string, resolve: TargetResolver) {
  const resolved: { cluster: string; weight: number; target: ResolvedTarget }[] = [];
  targets.forEach((t, i) => {
    const r = resolve(`${path}.action.weightedTargets[${i}]`, t.virtualNode, t.port);
    if (r) resolved.push({ cluster: r.cluster, weight: t.weight, target: r });
  });
  return resolved;
}

// --- Routes ---

/** Compiles one route of a virtual router for a listener it fits (see {@link routeFitsListener}). */
export function compileRoute(router: string, route: RouteResource, resolve: TargetResolver): RouteInput {
  const s = route.spec;
  const name = `${router}/${route.name}`;
  const priority = s.priority ?? UNPRIORITISED;
  const kind = routeKind(s);
  if (kind === 'httpRoute' || kind === 'http2Route') return httpRoute(name, priority, s[kind]!, `spec.${kind}`, resolve);
  if (kind === 'grpcRoute') return grpcRoute(name, priority, s.grpcRoute!, 'spec.grpcRoute', resolve);
  return tcpRoute(name, priority, s.tcpRoute!, 'spec.tcpRoute', resolve);
}

function httpRoute(name: string, priority: number, r: HttpRouteSpec, path: string, resolve: TargetResolver): RouteInput {
  const targets = 'weightedTargets' in r.action ? weightedTargets(r.action.weightedTargets, path, resolve) : [];
  const timeout = routeTimeout(r.timeout, targets.map((t) => t.target), false);
  const m = r.match;
  return {
    protocol: 'http',
    name,
    priority,
    match: {
      path: pathMatch(m),
      ignoreCase: m.ignoreCase ?? false,
      headers: (m.headers ?? []).map(headerMatch),
      method: m.method,
      queryParameters: (m.queryParameters ?? []).map(queryMatch),
      scheme: m.scheme,
      port: m.port,
    },
    action: 'redirect' in r.action ? { redirect: r.action.redirect } : { weightedTargets: targets.map(({ cluster, weight }) => ({ cluster, weight })) },
    retryPolicy: r.retryPolicy ? retryPolicy(r.retryPolicy) : meshDefaultRetryPolicy('http', timeout.perRequestMs),
    timeout,
    rewrite: r.rewrite,
    headers: headerRules(r.headers),
    fault: fault(r.fault),
    mirror: mirror(r.mirror, path, resolve),
  };
}

function grpcRoute(name: string, priority: number, r: GrpcRouteSpec, path: string, resolve: TargetResolver): RouteInput {
  const targets = weightedTargets(r.action.weightedTargets, path, resolve);
  const timeout = routeTimeout(r.timeout, targets.map((t) => t.target), false);
  return {
    protocol: 'grpc',
    name,
    priority,
    match: {
      serviceName: r.match.serviceName,
      methodName: r.match.methodName,
      metadata: (r.match.metadata ?? []).map(headerMatch),
      port: r.match.port,
    },
    action: { weightedTargets: targets.map(({ cluster, weight }) => ({ cluster, weight })) },
    retryPolicy: r.retryPolicy ? retryPolicy(r.retryPolicy) : meshDefaultRetryPolicy('grpc', timeout.perRequestMs),
    timeout,
    headers: headerRules(r.headers),
    fault: fault(r.fault),
    mirror: mirror(r.mirror, path, resolve),
  };
}

function tcpRoute(name: string, priority: number, r: TcpRouteSpec, path: string, resolve: TargetResolver): RouteInput {
  const targets = weightedTargets(r.action.weightedTargets, path, resolve);
  const timeout = routeTimeout(r.timeout, targets.map((t) => t.target), true);
  return {
    protocol: 'tcp',
    name,
    priority,
    match: { port: r.match?.port },
    action: { weightedTargets: targets.map(({ cluster, weight }) => ({ cluster, weight })) },
    retryPolicy: meshDefaultRetryPolicy('tcp', timeout.perRequestMs),
    timeout,
  };
}

/**
 * The single route of a virtual service provided directly by a virtual node: everything on the
 * listener goes to that node's listener of the same port.
 */
export function providerNodeRoute(service: string, listener: VirtualNodeListener, cluster: string): RouteInput {
  const protocol = listener.portMapping.protocol;
  const timeout = routeTimeout(undefined, [{ cluster, listener }], protocol === 'tcp');
  const common = {
    name: `${service}/default`,
    priority: UNPRIORITISED,
    action: { weightedTargets: [{ cluster, weight: 100 }] },
    timeout,
  };
  if (protocol === 'tcp') return { ...common, protocol: 'tcp', match: {}, retryPolicy: meshDefaultRetryPolicy('tcp', timeout.perRequestMs) };
  if (protocol === 'grpc') return { ...common, protocol: 'grpc', match: {}, retryPolicy: meshDefaultRetryPolicy('grpc', timeout.perRequestMs) };
  return { ...common, protocol: 'http', match: { path: { prefix: '/' } }, retryPolicy: meshDefaultRetryPolicy('http', timeout.perRequestMs) };
}

// --- Gateway routes ---

/** Compiles one gateway route with App Mesh's rewrite defaults. */
export function compileGatewayRoute(gateway: string, route: GatewayRouteResource): GatewayRouteInput {
  const s = route.spec;
  const name = `${gateway}/${route.name}`;
  const priority = s.priority ?? UNPRIORITISED;
  const http = s.httpRoute ?? s.http2Route;
  if (http) {
    const m = http.match;
    const rw = http.action.rewrite;
    let prefix: string | undefined;
    if (m.prefix !== undefined) {
      if (rw?.prefix?.value !== undefined) prefix = rw.prefix.value;
      else if (rw?.prefix?.defaultPrefix !== 'DISABLED') prefix = '/';
    }
    return {
      name,
      priority,
      protocol: 'http',
      match: {
        hostname: m.hostname,
        path: pathMatch(m),
        headers: (m.headers ?? []).map(headerMatch),
        method: m.method,
        queryParameters: (m.queryParameters ?? []).map(queryMatch),
        port: m.port,
      },
      target: { virtualService: http.action.target.virtualService.virtualServiceName, port: http.action.target.port },
      rewrite: {
        prefix,
        path: m.path !== undefined ? rw?.path?.exact : undefined,
        hostnameToTarget: rw?.hostname?.defaultTargetHostname !== 'DISABLED',
      },
    };
  }
  const g = s.grpcRoute!;
  return {
    name,
    priority,
    protocol: 'grpc',
    match: {
      hostname: g.match.hostname,
      serviceName: g.match.serviceName,
      headers: (g.match.metadata ?? []).map(headerMatch),
      port: g.match.port,
    },
    target: { virtualService: g.action.target.virtualService.virtualServiceName, port: g.action.target.port },
    rewrite: { hostnameToTarget: g.action.rewrite?.hostname?.defaultTargetHostname !== 'DISABLED' },
  };
}

/** The virtual service a gateway route sends to. */
export function gatewayRouteTarget(route: GatewayRouteResource): string | undefined {
  const s = route.spec;
  return (s.httpRoute ?? s.http2Route ?? s.grpcRoute)?.action.target.virtualService.virtualServiceName;
}
