import { type ContractError } from '../../../proxy/contracts';
import { buildRouteTable, ROUTE_TABLE_INVALID } from '../../../proxy/routing/route-table';
import type { RouteDecision, RouteTable } from '../../../proxy/routing/types';
import { seededRandom } from '../../seeded-random';
import { grpcRoute, httpRoute, nodeConfig, redirectRoute, request, tcpRoute, type RouteInput } from './fixtures';

/** A table with one service `orders` on port 8080 whose listener has `routes`. */
function ordersTable(routes: RouteInput[], protocol: 'http' | 'grpc' = 'http'): RouteTable {
  return buildRouteTable(nodeConfig([{ name: 'orders', listeners: [{ port: 8080, protocol, routes }] }]));
}

/** The cluster a request is forwarded to, or why not. */
function clusterFor(table: RouteTable, req: ReturnType<typeof request>, random = 0): string {
  const target = table.outbound(req.host, req.port);
  if (!target) return 'no-service';
  const d = table.route(target, req, random);
  if (!d) return 'no-route';
  return d.kind === 'forward' ? d.cluster : `redirect ${d.location}`;
}

function forward(d: RouteDecision | undefined): Extract<RouteDecision, { kind: 'forward' }> {
  if (d?.kind !== 'forward') throw new Error(`expected a forward decision, got ${JSON.stringify(d)}`);
  return d;
}

describe('outbound', () => {
  const table = buildRouteTable(
    nodeConfig([
      { name: 'orders', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('o', {}, { 'orders-v1:8080': 1 })] }] },
      {
        name: 'Payments.Demo.Local',
        listeners: [
          { port: 9000, protocol: 'http', routes: [httpRoute('p1', {}, { 'pay:9000': 1 })] },
          { port: 9001, protocol: 'grpc', routes: [grpcRoute('p2', {}, { 'pay:9001': 1 })] },
        ],
      },
    ]),
  );

  test('host is compared case-insensitively and exactly', () => {
    expect(table.outbound('ORDERS', 8080)?.service.name).toBe('orders');
    expect(table.outbound('payments.demo.local', 9000)?.service.name).toBe('Payments.Demo.Local');
    expect(table.outbound('payments', 9000)).toBeUndefined();
    expect(table.outbound('orders.other', undefined)).toBeUndefined();
  });

  test('the listener is chosen by port; no port or 80/443 falls back to the first listener', () => {
    expect(table.outbound('payments.demo.local', 9001)?.listener.port).toBe(9001);
    expect(table.outbound('payments.demo.local', undefined)?.listener.port).toBe(9000);
    expect(table.outbound('orders', undefined)?.listener.port).toBe(8080);
    expect(table.outbound('orders', 80)?.listener.port).toBe(8080);
    expect(table.outbound('orders', 443)?.listener.port).toBe(8080);
    expect(table.outbound('orders', 8081)).toBeUndefined();
    expect(table.outbound('payments.demo.local', 9002)).toBeUndefined();
  });

  test('the same target object is returned every time (no per-request allocation)', () => {
    expect(table.outbound('orders', 8080)).toBe(table.outbound('orders', undefined));
  });
});

describe('HTTP route matching', () => {
  test('path exact, prefix and regex; the query string is not part of the path', () => {
    const table = ordersTable([
      httpRoute('exact', { path: { exact: '/health' } }, { exact: 1 }),
      httpRoute('regex', { path: { regex: '/items/[0-9]+' } }, { regex: 1 }),
      httpRoute('prefix', { path: { prefix: '/api/' } }, { prefix: 1 }),
    ]);
    expect(clusterFor(table, request('/health'))).toBe('exact');
    expect(clusterFor(table, request('/health?verbose=1'))).toBe('exact');
    expect(clusterFor(table, request('/health/x'))).toBe('no-route');
    expect(clusterFor(table, request('/items/42'))).toBe('regex');
    expect(clusterFor(table, request('/items/42?x=/items/1'))).toBe('regex');
    // The regex must match the whole path, not a part of it.
    expect(clusterFor(table, request('/items/42/reviews'))).toBe('no-route');
    expect(clusterFor(table, request('/v1/items/42'))).toBe('no-route');
    expect(clusterFor(table, request('/api/orders'))).toBe('prefix');
    expect(clusterFor(table, request('/API/orders'))).toBe('no-route');
  });

  test('ignoreCase applies to exact and prefix, not to regex', () => {
    const table = ordersTable([
      httpRoute('exact', { path: { exact: '/Health' }, ignoreCase: true }, { exact: 1 }),
      httpRoute('prefix', { path: { prefix: '/Api/' }, ignoreCase: true }, { prefix: 1 }),
      httpRoute('regex', { path: { regex: '/items' }, ignoreCase: true }, { regex: 1 }),
    ]);
    expect(clusterFor(table, request('/hEALTH'))).toBe('exact');
    expect(clusterFor(table, request('/health/'))).toBe('no-route');
    expect(clusterFor(table, request('/aPI/x'))).toBe('prefix');
    expect(clusterFor(table, request('/items'))).toBe('regex');
    expect(clusterFor(table, request('/ITEMS'))).toBe('no-route');
  });

  test.each([
    ['exact', { exact: 'beta' }, 'beta', 'Beta'],
    ['prefix', { prefix: 'be' }, 'beta', 'abet'],
    ['suffix', { suffix: 'ta' }, 'beta', 'tab'],
    ['regex (full match)', { regex: 'b[a-z]+' }, 'beta', 'beta1'],
    ['range (start inclusive)', { range: { start: 10, end: 20 } }, '10', '20'],
    ['range (negative)', { range: { start: -5, end: 0 } }, '-5', '0'],
    ['range (not an integer)', { range: { start: 0, end: 100 } }, '42', '4.2'],
    ['present', { present: true }, '', undefined],
  ])('header %s match and its inversion', (_kind, match, yes, no) => {
    const table = ordersTable([
      httpRoute('plain', { headers: [{ name: 'x-track', match }] }, { plain: 1 }),
      httpRoute('default', {}, { fallback: 1 }),
    ]);
    const inverted = ordersTable([
      httpRoute('inv', { headers: [{ name: 'x-track', match, invert: true }] }, { inv: 1 }),
      httpRoute('default', {}, { fallback: 1 }),
    ]);
    const withValue = (v: string | undefined) => request('/', { headers: v === undefined ? {} : { 'x-track': v } });
    expect(clusterFor(table, withValue(yes))).toBe('plain');
    expect(clusterFor(table, withValue(no))).toBe('fallback');
    expect(clusterFor(inverted, withValue(yes))).toBe('fallback');
    expect(clusterFor(inverted, withValue(no))).toBe('inv');
  });

  test('an absent header fails a value match and passes its inversion', () => {
    const table = ordersTable([httpRoute('inv', { headers: [{ name: 'x-env', match: { exact: 'prod' }, invert: true }] }, { inv: 1 })]);
    expect(clusterFor(table, request('/'))).toBe('inv');
    expect(clusterFor(table, request('/', { headers: { 'x-env': 'prod' } }))).toBe('no-route');
  });

  test('header names are case-insensitive and a multi-valued header is joined with ","', () => {
    const table = ordersTable([httpRoute('h', { headers: [{ name: 'X-Tags', match: { exact: 'a,b' } }] }, { h: 1 })]);
    expect(clusterFor(table, request('/', { headers: { 'x-tags': ['a', 'b'] } }))).toBe('h');
    expect(clusterFor(table, request('/', { headers: { 'x-tags': ['a'] } }))).toBe('no-route');
  });

  test('all header conditions must hold', () => {
    const table = ordersTable([
      httpRoute('both', { headers: [{ name: 'a', match: { exact: '1' } }, { name: 'b', match: { present: true } }] }, { both: 1 }),
    ]);
    expect(clusterFor(table, request('/', { headers: { a: '1', b: 'x' } }))).toBe('both');
    expect(clusterFor(table, request('/', { headers: { a: '1' } }))).toBe('no-route');
    expect(clusterFor(table, request('/', { headers: { a: '2', b: 'x' } }))).toBe('no-route');
  });

  test('method, scheme and port', () => {
    const table = ordersTable([
      httpRoute('post', { method: 'POST' }, { post: 1 }),
      httpRoute('https', { scheme: 'https' }, { https: 1 }),
      httpRoute('port', { port: 9999 }, { port: 1 }),
      httpRoute('listener-port', { port: 8080, path: { prefix: '/lp' } }, { lp: 1 }),
    ]);
    expect(clusterFor(table, request('/', { method: 'POST' }))).toBe('post');
    expect(clusterFor(table, request('/', { scheme: 'https' }))).toBe('https');
    expect(clusterFor(table, request('/'))).toBe('no-route');
    // Without a port in the request, the listener's port is the request's port.
    expect(clusterFor(table, request('/lp'))).toBe('lp');
  });

  test('query parameters: exact and present, parsed only from the query, decoded', () => {
    const table = ordersTable([
      httpRoute('q', { queryParameters: [{ name: 'version', match: { exact: 'v 2' } }, { name: 'debug', match: { present: true } }] }, { q: 1 }),
      httpRoute('default', {}, { fallback: 1 }),
    ]);
    expect(clusterFor(table, request('/x?debug&version=v+2'))).toBe('q');
    expect(clusterFor(table, request('/x?version=v%202&debug=0'))).toBe('q');
    expect(clusterFor(table, request('/x?version=v%202'))).toBe('fallback');
    expect(clusterFor(table, request('/x?versionx=v+2&debug'))).toBe('fallback');
    expect(clusterFor(table, request('/version=v+2/debug'))).toBe('fallback');
    // The first value of a repeated parameter counts.
    expect(clusterFor(table, request('/x?version=v1&version=v+2&debug'))).toBe('fallback');
    // A malformed escape is compared as sent instead of failing the request.
    expect(clusterFor(table, request('/x?version=%zz&debug'))).toBe('fallback');
  });

  test('routes are evaluated in order: a header route beats the weighted default after it', () => {
    const table = ordersTable([
      httpRoute('canary-by-header', { headers: [{ name: 'x-canary', match: { exact: 'true' } }] }, { 'orders-v2': 1 }),
      httpRoute('split', { path: { prefix: '/' } }, { 'orders-v1': 90, 'orders-v2': 10 }),
    ]);
    for (const r of [0, 0.5, 0.95]) {
      expect(clusterFor(table, request('/', { headers: { 'x-canary': 'true' } }), r)).toBe('orders-v2');
    }
    expect(clusterFor(table, request('/'), 0.5)).toBe('orders-v1');
    expect(clusterFor(table, request('/'), 0.95)).toBe('orders-v2');
  });

  test('weighted draw uses the weights as written; zero-weight targets are never drawn', () => {
    const table = ordersTable([httpRoute('split', {}, { a: 90, zero: 0, b: 10 })]);
    expect(clusterFor(table, request('/'), 0)).toBe('a');
    expect(clusterFor(table, request('/'), 0.8999)).toBe('a');
    expect(clusterFor(table, request('/'), 0.9)).toBe('b');
    expect(clusterFor(table, request('/'), 0.9999)).toBe('b');
    expect(clusterFor(table, request('/'), 1)).toBe('b');
    const random = seededRandom(90);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const c = clusterFor(table, request('/'), random());
      counts[c] = (counts[c] ?? 0) + 1;
    }
    expect(counts.zero).toBeUndefined();
    expect(counts.a / 10_000).toBeGreaterThan(0.88);
    expect(counts.a / 10_000).toBeLessThan(0.92);
  });

  test('a route whose weights are all zero is refused with a coded error and its location', () => {
    let error: ContractError | undefined;
    try {
      ordersTable([httpRoute('none', {}, { a: 0, b: 0 })]);
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe(ROUTE_TABLE_INVALID);
    expect(error?.issues.map((i) => i.path)).toEqual(['outbound.services[0].listeners[0].routes[0].action.weightedTargets']);
  });

  test('every invalid regex is reported at once, with its path', () => {
    let error: ContractError | undefined;
    try {
      ordersTable([
        httpRoute('bad-path', { path: { regex: '/items/(' } }, { a: 1 }),
        httpRoute('bad-header', { headers: [{ name: 'x', match: { regex: '[' } }] }, { a: 1 }),
        httpRoute('bad-range', { headers: [{ name: 'x', match: { range: { start: 5, end: 5 } } }] }, { a: 1 }),
        httpRoute('escapes-anchors', { path: { regex: '/a)|(/b' } }, { a: 1 }),
      ]);
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe(ROUTE_TABLE_INVALID);
    expect(error?.issues.map((i) => i.path)).toEqual([
      'outbound.services[0].listeners[0].routes[0].match.path.regex',
      'outbound.services[0].listeners[0].routes[1].match.headers[0].match.regex',
      'outbound.services[0].listeners[0].routes[2].match.headers[0].match.range',
      'outbound.services[0].listeners[0].routes[3].match.path.regex',
    ]);
  });

  test('a regex with a backreference or lookaround is refused: it could not fall back to linear time', () => {
    let error: ContractError | undefined;
    try {
      ordersTable([
        httpRoute('lookahead', { path: { regex: '/items/(?!secret).*' } }, { a: 1 }),
        httpRoute('backreference', { headers: [{ name: 'x', match: { regex: '(a)\\1' } }] }, { a: 1 }),
      ]);
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe(ROUTE_TABLE_INVALID);
    expect(error?.issues.map((i) => [i.path, i.message.split(':')[0]])).toEqual([
      ['outbound.services[0].listeners[0].routes[0].match.path.regex', 'must not use a lookahead ((?!)'],
      ['outbound.services[0].listeners[0].routes[1].match.headers[0].match.regex', 'must not use a backreference (\\1)'],
    ]);
  });
});

describe('rewrites and authority', () => {
  test('without a rewrite the path (with query) and Host are forwarded unchanged', () => {
    const table = ordersTable([httpRoute('r', { path: { prefix: '/api' } }, { a: 1 })]);
    const req = request('/api/x?y=1', { port: 8080 });
    const d = forward(table.route(table.outbound('orders', 8080)!, req, 0));
    expect(d.path).toBe('/api/x?y=1');
    expect(d.authority).toBe('orders:8080');
    expect(d.route.name).toBe('r');
  });

  test('prefix rewrite replaces the matched prefix and keeps the query', () => {
    const table = ordersTable([
      httpRoute('v1', { path: { prefix: '/v1/' } }, { a: 1 }, { rewrite: { prefix: '/api/v2/' } }),
      httpRoute('legacy', { path: { prefix: '/legacy' } }, { a: 1 }, { rewrite: { prefix: '/' } }),
      httpRoute('ci', { path: { prefix: '/CI/' }, ignoreCase: true }, { a: 1 }, { rewrite: { prefix: '/ci-new/' } }),
    ]);
    const target = table.outbound('orders', 8080)!;
    expect(forward(table.route(target, request('/v1/items?page=2'), 0)).path).toBe('/api/v2/items?page=2');
    expect(forward(table.route(target, request('/legacy/x'), 0)).path).toBe('/x');
    expect(forward(table.route(target, request('/legacy'), 0)).path).toBe('/');
    expect(forward(table.route(target, request('/ci/x'), 0)).path).toBe('/ci-new/x');
  });

  test('path rewrite replaces the whole path, keeps the query; hostname rewrite sets the authority', () => {
    const table = ordersTable([httpRoute('r', { path: { regex: '/old/.*' } }, { a: 1 }, { rewrite: { path: '/new', hostname: 'orders.internal' } })]);
    const d = forward(table.route(table.outbound('orders', 8080)!, request('/old/thing?k=v'), 0));
    expect(d.path).toBe('/new?k=v');
    expect(d.authority).toBe('orders.internal');
  });

  test('authority falls back to HTTP/2 :authority, then to host and port', () => {
    const table = ordersTable([httpRoute('r', {}, { a: 1 })]);
    const target = table.outbound('orders', 8080)!;
    const h2 = { method: 'GET', path: '/', headers: { ':authority': 'orders:8080' }, scheme: 'http' as const, host: 'orders', port: 8080 };
    expect(forward(table.route(target, h2, 0)).authority).toBe('orders:8080');
    expect(forward(table.route(target, { ...h2, headers: {} }, 0)).authority).toBe('orders:8080');
    expect(forward(table.route(target, { ...h2, headers: {}, port: undefined }, 0)).authority).toBe('orders');
  });
});

describe('redirects', () => {
  test('default code 301, request parts kept where the redirect sets none, query kept', () => {
    const table = ordersTable([redirectRoute('r', {}, { hostname: 'shop.example.com' })]);
    const d = table.route(table.outbound('orders', 8080)!, request('/cart?id=7', { port: 8080 }), 0);
    expect(d).toMatchObject({ kind: 'redirect', status: 301, location: 'http://shop.example.com:8080/cart?id=7' });
  });

  test('scheme change drops the old port; default ports are left out', () => {
    const table = ordersTable([redirectRoute('r', {}, { scheme: 'https', responseCode: 308 })]);
    const d = table.route(table.outbound('orders', 8080)!, request('/a', { port: 8080 }), 0);
    expect(d).toMatchObject({ kind: 'redirect', status: 308, location: 'https://orders/a' });
    const withPort = ordersTable([redirectRoute('r', {}, { scheme: 'https', port: 8443 })]);
    expect(withPort.route(withPort.outbound('orders', 8080)!, request('/a'), 0)).toMatchObject({ location: 'https://orders:8443/a' });
    const toDefault = ordersTable([redirectRoute('r', {}, { port: 80 })]);
    expect(toDefault.route(toDefault.outbound('orders', 8080)!, request('/a', { port: 8080 }), 0)).toMatchObject({ location: 'http://orders/a' });
  });

  test('path replaces the whole path; prefix replaces the matched prefix', () => {
    const table = ordersTable([
      redirectRoute('whole', { path: { exact: '/old' } }, { path: '/new', responseCode: 302 }),
      redirectRoute('prefix', { path: { prefix: '/docs/' } }, { prefix: '/manual/' }),
    ]);
    const target = table.outbound('orders', 8080)!;
    expect(table.route(target, request('/old?q=1'), 0)).toMatchObject({ status: 302, location: 'http://orders/new?q=1' });
    expect(table.route(target, request('/docs/intro'), 0)).toMatchObject({ status: 301, location: 'http://orders/manual/intro' });
  });
});

describe('gRPC routes', () => {
  const table = ordersTable(
    [
      grpcRoute('method', { serviceName: 'shop.Orders', methodName: 'Get' }, { get: 1 }),
      grpcRoute('service', { serviceName: 'shop.Orders' }, { orders: 1 }),
      grpcRoute('metadata', { metadata: [{ name: 'x-tenant', match: { prefix: 'acme' } }] }, { acme: 1 }),
      grpcRoute('method-only', { methodName: 'Ping' }, { ping: 1 }),
    ],
    'grpc',
  );

  test('service and method are the parts of /package.Service/Method', () => {
    expect(clusterFor(table, request('/shop.Orders/Get'))).toBe('get');
    expect(clusterFor(table, request('/shop.Orders/GetMore'))).toBe('orders');
    expect(clusterFor(table, request('/shop.Orders/List'))).toBe('orders');
    expect(clusterFor(table, request('/shop.OrdersX/Get'))).toBe('no-route');
    expect(clusterFor(table, request('/shop.Orders'))).toBe('no-route');
    expect(clusterFor(table, request('/other.Svc/Ping'))).toBe('ping');
    expect(clusterFor(table, request('/other.Svc/XPing'))).toBe('no-route');
  });

  test('metadata are headers', () => {
    expect(clusterFor(table, request('/other.Svc/List', { headers: { 'x-tenant': 'acme-eu' } }))).toBe('acme');
    expect(clusterFor(table, request('/other.Svc/List', { headers: { 'x-tenant': 'globex' } }))).toBe('no-route');
  });
});

describe('TCP routes', () => {
  test('the first TCP route of the listener, weighted draw', () => {
    const table = buildRouteTable(
      nodeConfig([{ name: 'db', listeners: [{ port: 5432, protocol: 'tcp', routes: [tcpRoute('other-port', { x: 1 }, 9999), tcpRoute('db', { primary: 80, replica: 20 })] }] }]),
    );
    const target = table.outbound('db', 5432)!;
    expect(table.routeTcp(target, 0.1)).toMatchObject({ cluster: 'primary', route: { name: 'db' } });
    expect(table.routeTcp(target, 0.85)?.cluster).toBe('replica');
    // TCP listeners have no HTTP routes.
    expect(table.route(target, request('/'), 0)).toBeUndefined();
  });

  test('no TCP route: undefined', () => {
    const table = ordersTable([httpRoute('r', {}, { a: 1 })]);
    expect(table.routeTcp(table.outbound('orders', 8080)!, 0)).toBeUndefined();
  });
});

describe('targets from another table', () => {
  test('a target resolved by a previous table (config reload) is routed by its own routes', () => {
    const old = ordersTable([httpRoute('old', {}, { 'orders-v1': 1 })]);
    const current = ordersTable([httpRoute('new', {}, { 'orders-v2': 1 })]);
    const target = old.outbound('orders', 8080)!;
    expect(forward(current.route(target, request('/'), 0)).cluster).toBe('orders-v1');
    expect(forward(current.route(current.outbound('orders', 8080)!, request('/'), 0)).cluster).toBe('orders-v2');
  });
});
