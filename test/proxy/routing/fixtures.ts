/** Small builders for node configs and requests used by the routing tests. */
import type { IncomingHttpHeaders } from 'node:http';
import { sealNodeConfig, type NodeConfig, type NodeConfigInput } from '../../../proxy/contracts';
import type { RouteRequest } from '../../../proxy/routing/types';

type Input = Omit<NodeConfigInput, 'version' | 'schema'>;
export type RouteInput = Input['outbound']['services'][number]['listeners'][number]['routes'][number];
export type GatewayRouteInput = NonNullable<Input['gateway']>['routes'][number];
type ServiceInput = Input['outbound']['services'][number];

const retryPolicy = { maxRetries: 2, perTryTimeoutMs: 1000 };
const timeout = { perRequestMs: 15000, idleMs: 300000 };

/** An HTTP route; `targets` maps cluster names to weights. */
export function httpRoute(name: string, match: Record<string, unknown>, targets: Record<string, number>, extra: Record<string, unknown> = {}): RouteInput {
  return {
    protocol: 'http',
    name,
    priority: 0,
    match,
    action: { weightedTargets: Object.entries(targets).map(([cluster, weight]) => ({ cluster, weight })) },
    retryPolicy,
    timeout,
    ...extra,
  } as RouteInput;
}

export function redirectRoute(name: string, match: Record<string, unknown>, redirect: Record<string, unknown>): RouteInput {
  return { protocol: 'http', name, priority: 0, match, action: { redirect }, retryPolicy, timeout } as RouteInput;
}

export function grpcRoute(name: string, match: Record<string, unknown>, targets: Record<string, number>): RouteInput {
  return {
    protocol: 'grpc',
    name,
    priority: 0,
    match,
    action: { weightedTargets: Object.entries(targets).map(([cluster, weight]) => ({ cluster, weight })) },
    retryPolicy,
    timeout,
  } as RouteInput;
}

export function tcpRoute(name: string, targets: Record<string, number>, port?: number): RouteInput {
  return {
    protocol: 'tcp',
    name,
    priority: 0,
    match: port === undefined ? {} : { port },
    action: { weightedTargets: Object.entries(targets).map(([cluster, weight]) => ({ cluster, weight })) },
    retryPolicy,
    timeout,
  } as RouteInput;
}

/** A virtual node's config with the given outbound services (and a gateway section when routes are given). */
export function nodeConfig(services: ServiceInput[], gatewayRoutes?: GatewayRouteInput[]): NodeConfig {
  const clusters = new Set<string>();
  for (const s of services) {
    for (const l of s.listeners) {
      for (const r of l.routes) {
        if ('weightedTargets' in r.action) for (const t of r.action.weightedTargets) clusters.add(t.cluster);
      }
    }
  }
  return sealNodeConfig({
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: {
      kind: gatewayRoutes ? 'virtualGateway' : 'virtualNode',
      name: 'client',
      spiffeId: 'spiffe://weft.test/mesh/demo/virtualNode/client',
    },
    inbound: { listeners: [], policy: {} },
    gateway: gatewayRoutes ? { listeners: [{ port: 8080, protocol: 'http' }], routes: gatewayRoutes, policy: {} } : undefined,
    outbound: { services },
    clusters: [...clusters].map((name, i) => ({
      name,
      virtualNode: name.split(':')[0],
      port: 8080,
      protocol: 'http',
      discovery: { type: 'static', endpoints: [{ address: '127.0.0.1', port: 9000 + i }] },
    })),
  } as Input);
}

/** A GET request for `path` on `host`, with lowercased headers. */
export function request(path: string, opts: { host?: string; port?: number; method?: string; scheme?: 'http' | 'https'; headers?: IncomingHttpHeaders } = {}): RouteRequest {
  const host = opts.host ?? 'orders';
  return {
    method: opts.method ?? 'GET',
    path,
    headers: { host: opts.port === undefined ? host : `${host}:${opts.port}`, ...opts.headers },
    scheme: opts.scheme ?? 'http',
    host,
    port: opts.port,
  };
}
