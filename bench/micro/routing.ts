/**
 * Micro-benchmark of the sidecar's per-request routing work: `outbound()` + `route()`,
 * `gateway()` and each balancer's `pick()`, in ns/op (median of several timed rounds after warm-up).
 * Not a test: numbers depend on the machine. Run:
 *
 *   npx esbuild bench/micro/routing.ts --bundle --platform=node --outfile=/tmp/bench-routing.js && node /tmp/bench-routing.js [--json]
 *
 * or import {@link runRoutingMicroBench} from another bench script.
 */
import { LoadBalancerSchema, sealNodeConfig, type NodeConfigInput } from '../../proxy/contracts';
import { createBalancer } from '../../proxy/balancer';
import { buildRouteTable } from '../../proxy/routing/route-table';
import type { PickContext } from '../../proxy/balancer/balancer';
import type { Endpoint } from '../../proxy/endpoints/endpoint';
import type { RouteRequest } from '../../proxy/routing/types';
import { measure, type MicroResult } from './measure';

export type { MicroResult };

const retryPolicy = { maxRetries: 2, perTryTimeoutMs: 1000 };
const timeout = { perRequestMs: 15000, idleMs: 300000 };

function httpRoute(name: string, match: Record<string, unknown>, targets: Record<string, number>, extra: Record<string, unknown> = {}) {
  return {
    protocol: 'http',
    name,
    priority: 0,
    match,
    action: { weightedTargets: Object.entries(targets).map(([cluster, weight]) => ({ cluster, weight })) },
    retryPolicy,
    timeout,
    ...extra,
  };
}

/** A listener with 10 routes of the usual kinds; the last one is a 90/10 split that catches the rest. */
function benchConfig() {
  const routes = [
    httpRoute('canary-header', { headers: [{ name: 'x-canary', match: { exact: 'always' } }] }, { 'orders-v2:8080': 1 }),
    httpRoute('beta-users', { headers: [{ name: 'cookie', match: { regex: '.*beta=1.*' } }] }, { 'orders-v2:8080': 1 }),
    httpRoute('admin', { path: { prefix: '/admin/' }, method: 'POST' }, { 'orders-v1:8080': 1 }),
    httpRoute('legacy', { path: { prefix: '/legacy/' } }, { 'orders-v1:8080': 1 }, { rewrite: { prefix: '/' } }),
    httpRoute('item', { path: { regex: '/items/[0-9]+/reviews' } }, { 'orders-v1:8080': 1 }),
    httpRoute('debug', { queryParameters: [{ name: 'debug', match: { exact: 'true' } }] }, { 'orders-v1:8080': 1 }),
    httpRoute('tenant', { headers: [{ name: 'x-tenant', match: { prefix: 'acme-' } }, { name: 'x-env', match: { exact: 'prod' }, invert: true }] }, { 'orders-v2:8080': 1 }),
    httpRoute('health', { path: { exact: '/healthz' }, ignoreCase: true }, { 'orders-v1:8080': 1 }),
    httpRoute('grpcish', { headers: [{ name: 'content-type', match: { prefix: 'application/grpc' } }] }, { 'orders-v1:8080': 1 }),
    httpRoute('split', { path: { prefix: '/' } }, { 'orders-v1:8080': 90, 'orders-v2:8080': 10 }),
  ];
  const cluster = (name: string) => ({
    name,
    virtualNode: name.split(':')[0],
    port: 8080,
    protocol: 'http',
    discovery: { type: 'static', endpoints: [{ address: '127.0.0.1', port: 8080 }] },
  });
  return sealNodeConfig({
    mesh: { name: 'bench', egressFilter: 'DROP_ALL', trustDomain: 'weft.bench' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.bench/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [{ port: 8080, protocol: 'http' }],
      routes: [
        { name: 'api', priority: 0, protocol: 'http', match: { hostname: { suffix: '.example.com' }, path: { prefix: '/api/' } }, target: { virtualService: 'orders.bench.local' }, rewrite: { prefix: '/' } },
      ],
      policy: {},
    },
    outbound: { services: [{ name: 'orders.bench.local', listeners: [{ port: 8080, protocol: 'http', routes }] }] },
    clusters: [cluster('orders-v1:8080'), cluster('orders-v2:8080')],
  } as unknown as Omit<NodeConfigInput, 'version' | 'schema'>);
}

/** A browser-like request with a dozen headers. */
function benchRequest(path: string, host = 'orders.bench.local'): RouteRequest {
  return {
    method: 'GET',
    path,
    scheme: 'http',
    host,
    port: 8080,
    headers: {
      host: `${host}:8080`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      accept: 'application/json',
      'accept-encoding': 'gzip, deflate, br',
      'accept-language': 'en-GB,en;q=0.9',
      cookie: 'session=7f3a9c1e2b; theme=dark; lang=en',
      'x-request-id': '0d8f6a1c-5b0e-4c6e-9d7b-3a2f1e0c9b8a',
      'x-tenant': 'globex-eu',
      'x-env': 'prod',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      connection: 'keep-alive',
    },
  };
}

function endpoints(n: number, weighted: boolean): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `10.0.${i >> 8}.${i & 255}:8080`,
    address: `10.0.${i >> 8}.${i & 255}`,
    port: 8080,
    zone: i % 3 === 0 ? 'eu-west-1a' : 'eu-west-1b',
    weight: weighted ? 1 + (i % 4) : 1,
    health: 0,
    active: i % 5,
  }));
}

/** Runs every case and returns ns/op per case. */
export function runRoutingMicroBench(iterations = 200_000): MicroResult[] {
  const table = buildRouteTable(benchConfig());
  const results: MicroResult[] = [];
  const lastRoute = benchRequest('/orders/42?page=2');
  const firstRoute = { ...benchRequest('/orders/42'), headers: { ...benchRequest('/').headers, 'x-canary': 'always' } };
  const gatewayReq = benchRequest('/api/orders/42?page=2', 'shop.example.com');
  const target = table.outbound('orders.bench.local', 8080);
  if (target === undefined) throw new Error('bench config has no orders listener');

  results.push(measure('outbound() + route(): 10 routes, match the last', iterations, (i) => {
    const t = table.outbound(lastRoute.host, lastRoute.port);
    return t && table.route(t, lastRoute, (i % 100) / 100);
  }));
  results.push(measure('route(): match the first (header)', iterations, (i) => table.route(target, firstRoute, (i % 100) / 100)));
  results.push(measure('gateway(): suffix host + prefix rewrite', iterations, () => table.gateway(gatewayReq)));

  const ctx: PickContext = { headers: lastRoute.headers, sourceIp: '10.9.8.7' };
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['ROUND_ROBIN equal weights', { policy: 'ROUND_ROBIN' }, false],
    ['ROUND_ROBIN weighted (smooth)', { policy: 'ROUND_ROBIN' }, true],
    ['LEAST_REQUEST (P2C)', { policy: 'LEAST_REQUEST' }, true],
    ['RANDOM weighted', { policy: 'RANDOM' }, true],
    ['CONSISTENT_HASH cookie', { policy: 'CONSISTENT_HASH', consistentHash: { cookie: { name: 'session' } } }, false],
    ['CONSISTENT_HASH header', { policy: 'CONSISTENT_HASH', consistentHash: { header: 'x-request-id' } }, false],
    ['ROUND_ROBIN zone-aware', { policy: 'ROUND_ROBIN', zoneAware: { minHealthyPercent: 70 } }, false],
  ];
  for (const n of [10, 100]) {
    for (const [label, lb, weighted] of cases) {
      const b = createBalancer(LoadBalancerSchema.parse(lb), 'eu-west-1a');
      b.update(endpoints(n, weighted));
      results.push(measure(`pick() ${label}, ${n} endpoints`, iterations, () => b.pick(ctx)));
    }
  }
  const big = endpoints(100, true);
  const ring = createBalancer(LoadBalancerSchema.parse({ policy: 'CONSISTENT_HASH', consistentHash: { header: 'x-request-id' } }), undefined);
  results.push(measure('update() CONSISTENT_HASH ring of 1024, 100 endpoints', 200, () => ring.update(big)));
  return results;
}

if (require.main === module) {
  const results = runRoutingMicroBench();
  if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, results }, null, 2));
  else {
    console.log(`node ${process.version}`);
    for (const r of results) console.log(`${r.nsPerOp.toFixed(1).padStart(10)} ns/op  ${r.name}`);
  }
}
