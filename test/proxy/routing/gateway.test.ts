import { type ContractError } from '../../../proxy/contracts';
import { buildRouteTable, ROUTE_TABLE_INVALID } from '../../../proxy/routing/route-table';
import type { RouteTable } from '../../../proxy/routing/types';
import { httpRoute, grpcRoute, nodeConfig, request, type GatewayRouteInput } from './fixtures';

function gatewayRoute(name: string, match: Record<string, unknown>, target: { virtualService: string; port?: number }, rewrite: Record<string, unknown> = {}, protocol: 'http' | 'grpc' = 'http'): GatewayRouteInput {
  return { name, priority: 0, protocol, match, target, rewrite } as GatewayRouteInput;
}

const services = [
  { name: 'app.demo.local', listeners: [{ port: 8080, protocol: 'http' as const, routes: [httpRoute('app', {}, { 'app:8080': 1 })] }] },
  {
    name: 'api.demo.local',
    listeners: [
      { port: 8080, protocol: 'http' as const, routes: [httpRoute('api', {}, { 'api:8080': 1 })] },
      { port: 9090, protocol: 'grpc' as const, routes: [grpcRoute('api-grpc', {}, { 'api:9090': 1 })] },
    ],
  },
];

function gateway(routes: GatewayRouteInput[]): RouteTable {
  return buildRouteTable(nodeConfig(services, routes));
}

describe('gateway route matching', () => {
  test('routes are tried in order; hostname exact (case-insensitive, port ignored) and suffix', () => {
    const table = gateway([
      gatewayRoute('exact', { hostname: { exact: 'Shop.Example.com' } }, { virtualService: 'app.demo.local' }),
      gatewayRoute('suffix', { hostname: { suffix: '.example.com' } }, { virtualService: 'api.demo.local' }),
    ]);
    expect(table.gateway(request('/', { host: 'shop.example.com', port: 8443 }))?.route.name).toBe('exact');
    expect(table.gateway(request('/', { host: 'SHOP.example.com' }))?.route.name).toBe('exact');
    expect(table.gateway(request('/', { host: 'www.example.com' }))?.route.name).toBe('suffix');
    expect(table.gateway(request('/', { host: 'example.org' }))).toBeUndefined();
    // A Host that still carries its port is tolerated.
    expect(table.gateway(request('/', { host: 'shop.example.com:8443' }))?.route.name).toBe('exact');
  });

  test('path exact, prefix and regex; headers, method, query and port', () => {
    const table = gateway([
      gatewayRoute('exact', { path: { exact: '/status' } }, { virtualService: 'app.demo.local' }),
      gatewayRoute('regex', { path: { regex: '/v[0-9]+/.*' } }, { virtualService: 'app.demo.local' }),
      gatewayRoute('header', { path: { prefix: '/h' }, headers: [{ name: 'x-beta', match: { exact: '1' } }] }, { virtualService: 'app.demo.local' }),
      gatewayRoute('method', { path: { prefix: '/m' }, method: 'DELETE' }, { virtualService: 'app.demo.local' }),
      gatewayRoute('query', { path: { prefix: '/q' }, queryParameters: [{ name: 'a', match: { exact: 'b' } }] }, { virtualService: 'app.demo.local' }),
      gatewayRoute('port', { path: { prefix: '/p' }, port: 8443 }, { virtualService: 'app.demo.local' }),
    ]);
    const name = (path: string, opts: Parameters<typeof request>[1] = {}) => table.gateway(request(path, opts))?.route.name;
    expect(name('/status')).toBe('exact');
    expect(name('/status/x')).toBeUndefined();
    expect(name('/v2/items')).toBe('regex');
    expect(name('/x/v2/items')).toBeUndefined();
    expect(name('/h', { headers: { 'x-beta': '1' } })).toBe('header');
    expect(name('/h')).toBeUndefined();
    expect(name('/m', { method: 'DELETE' })).toBe('method');
    expect(name('/m')).toBeUndefined();
    expect(name('/q?a=b')).toBe('query');
    expect(name('/q?a=c')).toBeUndefined();
    expect(name('/p', { port: 8443 })).toBe('port');
    expect(name('/p', { port: 8080 })).toBeUndefined();
    expect(name('/p')).toBeUndefined();
  });

  test('gRPC routes match gRPC requests by service name', () => {
    const table = gateway([
      gatewayRoute('grpc', { serviceName: 'shop.Catalog' }, { virtualService: 'api.demo.local', port: 9090 }, {}, 'grpc'),
      gatewayRoute('http', { path: { prefix: '/' } }, { virtualService: 'app.demo.local' }),
    ]);
    const grpc = { 'content-type': 'application/grpc+proto' };
    const d = table.gateway(request('/shop.Catalog/List', { headers: grpc }));
    expect(d?.route.name).toBe('grpc');
    expect(d?.target.listener.port).toBe(9090);
    expect(d?.path).toBe('/shop.Catalog/List');
    expect(table.gateway(request('/shop.Other/List', { headers: grpc }))?.route.name).toBe('http');
    // A plain HTTP request to the same path is not a gRPC call.
    expect(table.gateway(request('/shop.Catalog/List'))?.route.name).toBe('http');
  });
});

describe('gateway rewrites', () => {
  test('App Mesh default: the matched prefix becomes /, Host becomes the target service', () => {
    const table = gateway([gatewayRoute('app', { path: { prefix: '/path-to-app/' } }, { virtualService: 'app.demo.local' }, { prefix: '/' })]);
    const d = table.gateway(request('/path-to-app/x', { host: 'edge.example.com' }));
    expect(d).toMatchObject({ path: '/x', authority: 'app.demo.local' });
    expect(d?.target.service.name).toBe('app.demo.local');
    expect(d?.target.listener.port).toBe(8080);
    expect(table.gateway(request('/path-to-app/?q=1'))?.path).toBe('/?q=1');
  });

  test('a prefix without trailing slash: /path-to-app/x -> /x (not //x), /path-to-app -> /', () => {
    const table = gateway([gatewayRoute('app', { path: { prefix: '/path-to-app' } }, { virtualService: 'app.demo.local' }, { prefix: '/' })]);
    expect(table.gateway(request('/path-to-app/x'))?.path).toBe('/x');
    expect(table.gateway(request('/path-to-app/x/y?z=1'))?.path).toBe('/x/y?z=1');
    expect(table.gateway(request('/path-to-app'))?.path).toBe('/');
    expect(table.gateway(request('/path-to-app?z=1'))?.path).toBe('/?z=1');
  });

  test('a non-root prefix rewrite concatenates like Envoy, keeping one slash at the seam', () => {
    const table = gateway([
      gatewayRoute('a', { path: { prefix: '/a' } }, { virtualService: 'app.demo.local' }, { prefix: '/b/' }),
      gatewayRoute('c', { path: { prefix: '/c/' } }, { virtualService: 'app.demo.local' }, { prefix: '/d' }),
    ]);
    expect(table.gateway(request('/a/x'))?.path).toBe('/b/x');
    expect(table.gateway(request('/a'))?.path).toBe('/b/');
    expect(table.gateway(request('/c/x'))?.path).toBe('/dx');
  });

  test('no rewrite.prefix: the path is kept; rewrite.path replaces the whole path, query kept', () => {
    const table = gateway([
      gatewayRoute('keep', { path: { prefix: '/keep/' } }, { virtualService: 'app.demo.local' }),
      gatewayRoute('whole', { path: { exact: '/old' } }, { virtualService: 'app.demo.local' }, { path: '/new' }),
      gatewayRoute('re', { path: { regex: '/r/[a-z]+' } }, { virtualService: 'app.demo.local' }, { path: '/regexed' }),
    ]);
    expect(table.gateway(request('/keep/x?y'))?.path).toBe('/keep/x?y');
    expect(table.gateway(request('/old?v=1'))?.path).toBe('/new?v=1');
    expect(table.gateway(request('/r/abc'))?.path).toBe('/regexed');
  });

  test('hostnameToTarget false keeps the original Host', () => {
    const table = gateway([gatewayRoute('app', {}, { virtualService: 'app.demo.local' }, { hostnameToTarget: false })]);
    expect(table.gateway(request('/', { host: 'edge.example.com', port: 8443 }))?.authority).toBe('edge.example.com:8443');
  });

  test('a target that is not an outbound service (or port) is refused with its location', () => {
    let error: ContractError | undefined;
    try {
      gateway([
        gatewayRoute('ok', {}, { virtualService: 'app.demo.local' }),
        gatewayRoute('missing', {}, { virtualService: 'nope.demo.local' }),
        gatewayRoute('bad-port', {}, { virtualService: 'api.demo.local', port: 7000 }),
      ]);
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe(ROUTE_TABLE_INVALID);
    expect(error?.issues.map((i) => i.path)).toEqual(['gateway.routes[1].target', 'gateway.routes[2].target']);
  });
});
