import { parseNodeConfig, serializeNodeConfig, type NodeConfig, type Route } from '../../../proxy/contracts';
import { compileMesh, UnknownNodeError } from '../../../lib/model/compile';
import { MeshValidationError } from '../../../lib/model/errors';
import type {
  GatewayRouteResource,
  GatewayRouteSpec,
  MeshModel,
  MeshSpec,
  RouteResource,
  RouteSpec,
  VirtualGatewayResource,
  VirtualGatewaySpec,
  VirtualNodeResource,
  VirtualNodeSpec,
  VirtualRouterResource,
  VirtualServiceResource,
  VirtualServiceSpec,
} from '../../../lib/model/schema';

// --- A small builder for models, as a front end would produce them ---

const MESH = 'production';
const source = (id: string) => ({ file: 'mesh.yaml', id });

function node(name: string, spec: VirtualNodeSpec): VirtualNodeResource {
  return { kind: 'VirtualNode', name, meshName: MESH, source: source(name), spec };
}
function service(name: string, provider: VirtualServiceSpec['provider']): VirtualServiceResource {
  return { kind: 'VirtualService', name, meshName: MESH, source: source(name), spec: { provider } };
}
function router(name: string, ...listeners: { port: number; protocol: 'http' | 'http2' | 'grpc' | 'tcp' }[]): VirtualRouterResource {
  return { kind: 'VirtualRouter', name, meshName: MESH, source: source(name), spec: { listeners: listeners.map((portMapping) => ({ portMapping })) } };
}
function route(virtualRouterName: string, name: string, spec: RouteSpec): RouteResource {
  return { kind: 'Route', name, virtualRouterName, meshName: MESH, source: source(name), spec };
}
function gateway(name: string, spec: VirtualGatewaySpec): VirtualGatewayResource {
  return { kind: 'VirtualGateway', name, meshName: MESH, source: source(name), spec };
}
function gatewayRoute(virtualGatewayName: string, name: string, spec: GatewayRouteSpec): GatewayRouteResource {
  return { kind: 'GatewayRoute', name, virtualGatewayName, meshName: MESH, source: source(name), spec };
}
function model(parts: Partial<Omit<MeshModel, 'mesh'>>, meshSpec: MeshSpec = {}): MeshModel {
  return {
    mesh: { kind: 'Mesh', name: MESH, meshName: MESH, source: source(MESH), spec: meshSpec },
    virtualNodes: [],
    virtualServices: [],
    virtualRouters: [],
    routes: [],
    virtualGateways: [],
    gatewayRoutes: [],
    ...parts,
  };
}

const cloudMap = (version: string) => ({
  awsCloudMap: { namespaceName: 'production.local', serviceName: 'order-service', attributes: [{ key: 'version', value: version }] },
});
const httpListener = (port = 8080) => ({ portMapping: { port, protocol: 'http' as const } });

/** The seed's canary: a header route to v2, then 90/10 between v1 and v2. */
function canaryModel(): MeshModel {
  const retryPolicy = { maxRetries: 3, perRetryTimeout: '2s', httpRetryEvents: ['server-error' as const, 'gateway-error' as const], tcpRetryEvents: ['connection-error' as const] };
  return model(
    {
      virtualNodes: [
        node('order-service-v1', { listeners: [httpListener()], serviceDiscovery: cloudMap('v1'), loadBalancer: { policy: 'LEAST_REQUEST' } }),
        node('order-service-v2', { listeners: [httpListener()], serviceDiscovery: cloudMap('v2'), loadBalancer: { policy: 'LEAST_REQUEST' } }),
        node('api-gateway', {
          listeners: [httpListener(3000)],
          serviceDiscovery: { dns: { hostname: 'api-gateway.production.local' } },
          backends: [{ virtualService: { virtualServiceName: 'order-service.production.local' } }],
        }),
      ],
      virtualServices: [service('order-service.production.local', { virtualRouter: { virtualRouterName: 'order-router' } })],
      virtualRouters: [router('order-router', { port: 8080, protocol: 'http' })],
      routes: [
        route('order-router', 'default', {
          priority: 10,
          httpRoute: {
            match: { prefix: '/' },
            action: { weightedTargets: [{ virtualNode: 'order-service-v1', weight: 90 }, { virtualNode: 'order-service-v2', weight: 10 }] },
            retryPolicy,
            timeout: { perRequest: '10s' },
          },
        }),
        route('order-router', 'canary-header', {
          priority: 0,
          httpRoute: {
            match: { prefix: '/', headers: [{ name: 'x-canary', match: { exact: 'true' } }] },
            action: { weightedTargets: [{ virtualNode: 'order-service-v2', weight: 100 }] },
            retryPolicy,
            timeout: { perRequest: '10s' },
          },
        }),
      ],
    },
    { egressFilter: { type: 'DROP_ALL' } },
  );
}

function configOf(configs: NodeConfig[], name: string): NodeConfig {
  const c = configs.find((x) => x.node.name === name);
  if (!c) throw new Error(`no config for ${name}`);
  return c;
}

// --- Tests ---

describe('tracing', () => {
  const nodes = { virtualNodes: [node('orders', { listeners: [httpListener()], serviceDiscovery: { dns: { hostname: 'orders.internal' } } })] };

  test('absent: no tracing section, schema v1', () => {
    const [c] = compileMesh(model(nodes));
    expect(c.tracing).toBeUndefined();
    expect(c.schema).toBe('weft.dev/node-config/v1');
  });

  test('present: the defaults (1%, the ADOT collector) or the values written, at schema v2', () => {
    expect(compileMesh(model(nodes, { tracing: {} }))[0]).toMatchObject({ schema: 'weft.dev/node-config/v2', tracing: { samplingPercentage: 1, endpoint: 'http://localhost:4318/v1/traces' } });
    const [c] = compileMesh(model(nodes, { tracing: { samplingPercentage: 12.5, endpoint: 'https://otel.internal:4318/v1/traces' } }));
    expect(c.tracing).toEqual({ samplingPercentage: 12.5, endpoint: 'https://otel.internal:4318/v1/traces' });
    expect(parseNodeConfig(serializeNodeConfig(c)).tracing).toEqual(c.tracing);
  });

  test('enabled: false is off', () => {
    expect(compileMesh(model(nodes, { tracing: { enabled: false, samplingPercentage: 100 } }))[0].tracing).toBeUndefined();
  });
});

describe('the canary mesh', () => {
  const configs = compileMesh(canaryModel());
  const caller = configOf(configs, 'api-gateway');

  test('one config per node, sorted by name, each accepted by the sidecar parser', () => {
    expect(configs.map((c) => c.node.name)).toEqual(['api-gateway', 'order-service-v1', 'order-service-v2']);
    for (const c of configs) expect(parseNodeConfig(JSON.parse(serializeNodeConfig(c)))).toEqual(c);
  });

  test('stamped v1, the lowest schema version that expresses it: sidecars of every release read it', () => {
    for (const c of configs) expect(c.schema).toBe('weft.dev/node-config/v1');
  });

  test('mesh identity and defaults', () => {
    expect(caller.mesh).toEqual({ name: 'production', egressFilter: 'DROP_ALL', trustDomain: 'production' });
    expect(caller.node).toEqual({ kind: 'virtualNode', name: 'api-gateway', spiffeId: 'spiffe://production/ns/production/sa/api-gateway' });
  });

  test('the header route comes first and weights stay 90/10', () => {
    const [svc] = caller.outbound.services;
    expect(svc.name).toBe('order-service.production.local');
    expect(svc.listeners).toHaveLength(1);
    const [l] = svc.listeners;
    expect(l).toMatchObject({ port: 8080, protocol: 'http' });
    expect(l.routes.map((r) => r.name)).toEqual(['order-router/canary-header', 'order-router/default']);
    const [header, split] = l.routes as Extract<Route, { protocol: 'http' }>[];
    expect(header.priority).toBe(0);
    expect(header.match).toEqual({ path: { prefix: '/' }, ignoreCase: false, headers: [{ name: 'x-canary', match: { exact: 'true' }, invert: false }], queryParameters: [] });
    expect(header.action).toEqual({ weightedTargets: [{ cluster: 'order-service-v2:8080', weight: 100 }] });
    expect(split.priority).toBe(10);
    expect(split.action).toEqual({
      weightedTargets: [
        { cluster: 'order-service-v1:8080', weight: 90 },
        { cluster: 'order-service-v2:8080', weight: 10 },
      ],
    });
  });

  test('retry policy and timeout as written', () => {
    const split = caller.outbound.services[0].listeners[0].routes[1];
    expect(split.retryPolicy).toEqual({
      maxRetries: 3,
      perTryTimeoutMs: 2000,
      httpRetryEvents: ['server-error', 'gateway-error'],
      tcpRetryEvents: ['connection-error'],
      grpcRetryEvents: [],
      retriableStatusCodes: [],
      backoffBaseMs: 25,
      backoffMaxMs: 250,
    });
    expect(split.timeout).toEqual({ perRequestMs: 10000, idleMs: 300000 });
  });

  test('clusters carry Cloud Map attributes and the target node load balancer', () => {
    expect(caller.clusters.map((c) => c.name)).toEqual(['order-service-v1:8080', 'order-service-v2:8080']);
    const [v1, v2] = caller.clusters;
    expect(v1).toMatchObject({
      virtualNode: 'order-service-v1',
      port: 8080,
      protocol: 'http',
      discovery: { type: 'cloudMap', namespaceName: 'production.local', serviceName: 'order-service', attributes: { version: 'v1' } },
      loadBalancer: { policy: 'LEAST_REQUEST' },
      tls: { mode: 'DISABLED', subjectAlternativeNames: [] },
    });
    expect(v2.discovery).toEqual({ type: 'cloudMap', namespaceName: 'production.local', serviceName: 'order-service', attributes: { version: 'v2' } });
  });

  test('nodes without backends have inbound listeners with default timeouts and no clusters', () => {
    const v1 = configOf(configs, 'order-service-v1');
    expect(v1.outbound.services).toEqual([]);
    expect(v1.clusters).toEqual([]);
    expect(v1.inbound).toEqual({
      listeners: [{ port: 8080, protocol: 'http', tls: { mode: 'DISABLED' }, timeout: { perRequestMs: 15000, idleMs: 300000 } }],
      policy: { authorization: [], jwt: [] },
    });
  });

  test('the same mesh in any document order compiles to byte-identical configs', () => {
    const m = canaryModel();
    const shuffled: MeshModel = {
      ...m,
      virtualNodes: [...m.virtualNodes].reverse(),
      routes: [...m.routes].reverse(),
    };
    const again = compileMesh(shuffled);
    expect(again.map(serializeNodeConfig)).toEqual(configs.map(serializeNodeConfig));
    expect(again.map((c) => c.version)).toEqual(configs.map((c) => c.version));
  });

  test('only the requested nodes are compiled', () => {
    expect(compileMesh(canaryModel(), { nodes: ['order-service-v2'] }).map((c) => c.node.name)).toEqual(['order-service-v2']);
  });

  test('an unknown requested node is refused', () => {
    expect(() => compileMesh(canaryModel(), { nodes: ['nope'] })).toThrow(UnknownNodeError);
  });
});

describe('services provided by a virtual node', () => {
  const m = model({
    virtualNodes: [
      node('db', {
        listeners: [
          { portMapping: { port: 5432, protocol: 'tcp' }, timeout: { tcp: { idle: '1m' } } },
          { portMapping: { port: 9000, protocol: 'grpc' }, timeout: { grpc: { perRequest: '3s' } } },
        ],
        serviceDiscovery: { dns: { hostname: 'db.internal', responseType: 'ENDPOINTS' } },
      }),
      node('app', { backends: [{ virtualService: { virtualServiceName: 'db.svc' } }] }),
    ],
    virtualServices: [service('db.svc', { virtualNode: { virtualNodeName: 'db' } })],
  });
  const app = configOf(compileMesh(m), 'app');

  test('one listener per provider listener with a default route per listener', () => {
    expect(app.outbound.services).toHaveLength(1);
    const [tcp, grpc] = app.outbound.services[0].listeners;
    expect(tcp).toEqual({
      port: 5432,
      protocol: 'tcp',
      routes: [
        {
          protocol: 'tcp',
          name: 'db.svc/default',
          priority: 1000,
          match: {},
          action: { weightedTargets: [{ cluster: 'db:5432', weight: 100 }] },
          retryPolicy: { maxRetries: 2, perTryTimeoutMs: 0, httpRetryEvents: [], tcpRetryEvents: ['connection-error'], grpcRetryEvents: [], retriableStatusCodes: [], backoffBaseMs: 25, backoffMaxMs: 250 },
          timeout: { perRequestMs: 0, idleMs: 60000 },
        },
      ],
    });
    expect(grpc.routes[0]).toMatchObject({
      protocol: 'grpc',
      name: 'db.svc/default',
      action: { weightedTargets: [{ cluster: 'db:9000', weight: 100 }] },
      retryPolicy: { maxRetries: 2, perTryTimeoutMs: 3000, httpRetryEvents: ['stream-error'], tcpRetryEvents: ['connection-error'], grpcRetryEvents: ['unavailable', 'cancelled'] },
      timeout: { perRequestMs: 3000, idleMs: 300000 },
    });
  });

  test('DNS clusters dial the listener port', () => {
    expect(app.clusters.map((c) => [c.name, c.discovery])).toEqual([
      ['db:5432', { type: 'dns', hostname: 'db.internal', responseType: 'ENDPOINTS', port: 5432 }],
      ['db:9000', { type: 'dns', hostname: 'db.internal', responseType: 'ENDPOINTS', port: 9000 }],
    ]);
    expect(app.clusters[0].loadBalancer).toEqual({ policy: 'ROUND_ROBIN', ringSize: 1024 });
  });
});

describe('route order, matches and conversions', () => {
  const target = { weightedTargets: [{ virtualNode: 'web', weight: 1 }] };
  const m = model({
    virtualNodes: [
      node('web', {
        listeners: [
          {
            portMapping: { port: 80, protocol: 'http' },
            timeout: { http: { perRequest: { unit: 's', value: 30 }, idle: { unit: 'ms', value: 5000 } } },
            connectionPool: { http: { maxConnections: 50, maxPendingRequests: 10 } },
            outlierDetection: { maxServerErrors: 5, interval: '10s', baseEjectionDuration: '30s', maxEjectionPercent: 20 },
            healthCheck: { protocol: 'http', path: '/health', healthyThreshold: 2, unhealthyThreshold: 3, intervalMillis: 5000, timeoutMillis: 2000 },
          },
        ],
        serviceDiscovery: { static: { endpoints: [{ address: '127.0.0.1', port: 8081, weight: 1 }] } },
        loadBalancer: { policy: 'CONSISTENT_HASH', consistentHash: { cookie: { name: 'sticky', ttl: '1m' } } },
      }),
      node('shadow', { listeners: [httpListener(80)], serviceDiscovery: { dns: { hostname: 'shadow.internal' } } }),
      node('unused', { listeners: [httpListener(80)], serviceDiscovery: { dns: { hostname: 'unused.internal' } } }),
      node('client', { backends: [{ virtualService: { virtualServiceName: 'web.svc' } }] }),
    ],
    virtualServices: [service('web.svc', { virtualRouter: { virtualRouterName: 'web' } }), service('unused.svc', { virtualNode: { virtualNodeName: 'unused' } })],
    virtualRouters: [router('web', { port: 80, protocol: 'http' })],
    routes: [
      route('web', 'catch-all', { httpRoute: { match: { prefix: '/' }, action: target } }),
      route('web', 'api', { httpRoute: { match: { prefix: '/api' }, action: target } }),
      route('web', 'api-v2', { httpRoute: { match: { prefix: '/api/v2' }, action: target } }),
      route('web', 'regex', { httpRoute: { match: { path: { regex: '^/x/[0-9]+$' } }, action: target } }),
      route('web', 'exact', { httpRoute: { match: { path: { exact: '/login' } }, action: target } }),
      route('web', 'headers', {
        httpRoute: {
          match: { prefix: '/', headers: [{ name: 'X-Debug' }, { name: 'x-mode', invert: true, match: { prefix: 'b' } }], queryParameters: [{ name: 'trace' }, { name: 'v', match: { exact: '2' } }] },
          action: target,
          mirror: { virtualNode: 'shadow', percentage: 25 },
          fault: { delay: { percentage: 10, fixedDelay: '500ms' }, abort: { percentage: 1, httpStatus: 503 } },
          headers: { request: { set: [{ name: 'x-env', value: 'prod' }] }, response: { remove: ['server'] } },
          rewrite: { prefix: '/v1', hostname: 'web.internal' },
        },
      }),
      route('web', 'explicit', { priority: 500, httpRoute: { match: { prefix: '/' }, action: { redirect: { scheme: 'https' } } } }),
    ],
  });
  const client = configOf(compileMesh(m), 'client');
  const [l80] = client.outbound.services[0].listeners;

  test('prioritised routes first, then exact, longer prefix, regex, others; more conditions, then name, break ties', () => {
    expect(l80.routes.map((r) => r.name)).toEqual(['web/explicit', 'web/exact', 'web/api-v2', 'web/api', 'web/headers', 'web/catch-all', 'web/regex']);
    expect(l80.routes.map((r) => r.priority)).toEqual([500, 1000, 1000, 1000, 1000, 1000, 1000]);
  });

  test('absent header and query matches mean present; invert defaults to false', () => {
    const r = l80.routes.find((x) => x.name === 'web/headers') as Extract<Route, { protocol: 'http' }>;
    expect(r.match).toEqual({
      path: { prefix: '/' },
      ignoreCase: false,
      headers: [
        { name: 'x-debug', match: { present: true }, invert: false },
        { name: 'x-mode', match: { prefix: 'b' }, invert: true },
      ],
      queryParameters: [
        { name: 'trace', match: { present: true } },
        { name: 'v', match: { exact: '2' } },
      ],
    });
    expect(r.mirror).toEqual({ cluster: 'shadow:80', percentage: 25 });
    expect(r.fault).toEqual({ delay: { percentage: 10, fixedDelayMs: 500 }, abort: { percentage: 1, httpStatus: 503 } });
    expect(r.headers).toEqual({ request: { set: [{ name: 'x-env', value: 'prod' }], add: [], remove: [] }, response: { set: [], add: [], remove: ['server'] } });
    expect(r.rewrite).toEqual({ prefix: '/v1', hostname: 'web.internal' });
  });

  test('without a retry policy or timeout the mesh defaults and the target listener timeouts apply', () => {
    const r = l80.routes.find((x) => x.name === 'web/api')!;
    expect(r.timeout).toEqual({ perRequestMs: 30000, idleMs: 5000 });
    expect(r.retryPolicy).toMatchObject({ maxRetries: 2, perTryTimeoutMs: 30000, httpRetryEvents: ['gateway-error', 'stream-error'], tcpRetryEvents: ['connection-error'], grpcRetryEvents: [] });
  });

  test('redirects keep their default code', () => {
    expect(l80.routes[0].action).toEqual({ redirect: { scheme: 'https', responseCode: 301 } });
  });

  test('only referenced clusters are present, with the target listener limits', () => {
    expect(client.clusters.map((c) => c.name)).toEqual(['shadow:80', 'web:80']);
    const web = client.clusters[1];
    expect(web.connectionPool).toEqual({ maxConnections: 50, maxPendingRequests: 10, maxRequests: 1024, maxRetries: 3, maxRequestsPerConnection: 0 });
    expect(web.outlierDetection).toEqual({ consecutive5xx: 5, intervalMs: 10000, baseEjectionMs: 30000, maxEjectionMs: 300000, maxEjectionPercent: 20 });
    expect(web.healthCheck).toEqual({ protocol: 'http', path: '/health', intervalMs: 5000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3 });
    expect(web.loadBalancer).toEqual({ policy: 'CONSISTENT_HASH', consistentHash: { cookie: { name: 'sticky', ttlMs: 60000 } }, ringSize: 1024 });
    expect(web.discovery).toEqual({ type: 'static', endpoints: [{ address: '127.0.0.1', port: 8081, weight: 1 }] });
  });
});

describe('router listeners', () => {
  test('routes are placed on listeners by protocol and match port', () => {
    const m = model({
      virtualNodes: [
        node('web', { listeners: [httpListener(80), { portMapping: { port: 90, protocol: 'tcp' } }], serviceDiscovery: { dns: { hostname: 'web.internal' } } }),
        node('client', { backends: [{ virtualService: { virtualServiceName: 'web.svc' } }] }),
      ],
      virtualServices: [service('web.svc', { virtualRouter: { virtualRouterName: 'web' } })],
      virtualRouters: [router('web', { port: 80, protocol: 'http' }, { port: 81, protocol: 'http' }, { port: 90, protocol: 'tcp' })],
      routes: [
        route('web', 'on-80', { httpRoute: { match: { prefix: '/', port: 80 }, action: { weightedTargets: [{ virtualNode: 'web', port: 80, weight: 1 }] } } }),
        route('web', 'on-81', { httpRoute: { match: { prefix: '/', port: 81 }, action: { weightedTargets: [{ virtualNode: 'web', port: 80, weight: 1 }] } } }),
        route('web', 'on-90', { tcpRoute: { match: { port: 90 }, action: { weightedTargets: [{ virtualNode: 'web', port: 90, weight: 1 }] } } }),
      ],
    });
    const listeners = configOf(compileMesh(m), 'client').outbound.services[0].listeners;
    expect(listeners.map((l) => [l.port, l.protocol, l.routes.map((r) => r.name)])).toEqual([
      [80, 'http', ['web/on-80']],
      [81, 'http', ['web/on-81']],
      [90, 'tcp', ['web/on-90']],
    ]);
    expect(listeners[2].routes[0]).toMatchObject({ protocol: 'tcp', match: { port: 90 }, action: { weightedTargets: [{ cluster: 'web:90', weight: 1 }] }, timeout: { perRequestMs: 0 } });
  });
});

describe('gRPC routes', () => {
  const m = model({
    virtualNodes: [
      node('rpc', { listeners: [{ portMapping: { port: 50051, protocol: 'grpc' } }], serviceDiscovery: { dns: { hostname: 'rpc.internal' } } }),
      node('client', { backends: [{ virtualService: { virtualServiceName: 'rpc.svc' } }] }),
    ],
    virtualServices: [service('rpc.svc', { virtualRouter: { virtualRouterName: 'rpc' } })],
    virtualRouters: [router('rpc', { port: 50051, protocol: 'grpc' })],
    routes: [
      route('rpc', 'service', { grpcRoute: { match: { serviceName: 'shop.Orders' }, action: { weightedTargets: [{ virtualNode: 'rpc', weight: 1 }] } } }),
      route('rpc', 'method', {
        grpcRoute: {
          match: { serviceName: 'shop.Orders', methodName: 'Create', metadata: [{ name: 'x-tenant', match: { exact: 'a' } }] },
          action: { weightedTargets: [{ virtualNode: 'rpc', weight: 1 }] },
          retryPolicy: { maxRetries: 4, perRetryTimeout: { unit: 'ms', value: 800 }, grpcRetryEvents: ['deadline-exceeded', 'unavailable'] },
          timeout: { perRequest: '5s', idle: '30s' },
        },
      }),
    ],
  });
  const routes = configOf(compileMesh(m), 'client').outbound.services[0].listeners[0].routes;

  test('a method match comes before a service match', () => {
    expect(routes.map((r) => [r.name, r.protocol])).toEqual([
      ['rpc/method', 'grpc'],
      ['rpc/service', 'grpc'],
    ]);
  });

  test('match, retry policy and timeout are converted', () => {
    expect(routes[0]).toMatchObject({
      match: { serviceName: 'shop.Orders', methodName: 'Create', metadata: [{ name: 'x-tenant', match: { exact: 'a' }, invert: false }] },
      retryPolicy: { maxRetries: 4, perTryTimeoutMs: 800, httpRetryEvents: [], tcpRetryEvents: [], grpcRetryEvents: ['deadline-exceeded', 'unavailable'] },
      timeout: { perRequestMs: 5000, idleMs: 30000 },
    });
    expect(routes[1].retryPolicy).toMatchObject({ maxRetries: 2, perTryTimeoutMs: 15000, grpcRetryEvents: ['unavailable', 'cancelled'] });
  });
});

describe('client TLS policy', () => {
  const tlsNodes = (clientPolicy: VirtualNodeSpec['backendDefaults'], backendPolicy?: NonNullable<VirtualNodeSpec['backends']>[number]['virtualService']['clientPolicy']) =>
    model({
      virtualNodes: [
        node('server', { listeners: [httpListener(8443)], serviceDiscovery: { dns: { hostname: 'server.internal' } } }),
        node('client', { backendDefaults: clientPolicy, backends: [{ virtualService: { virtualServiceName: 'server.svc', clientPolicy: backendPolicy } }] }),
      ],
      virtualServices: [service('server.svc', { virtualNode: { virtualNodeName: 'server' } })],
    });
  const tlsOf = (m: MeshModel) => configOf(compileMesh(m), 'client').clusters[0].tls;

  test('a client certificate from SDS with mesh trust is MUTUAL and pins the target SPIFFE id', () => {
    const m = tlsNodes({ clientPolicy: { tls: { enforce: true, certificate: { sds: { secretName: 'client' } }, validation: { trust: { sds: { secretName: 'ca' } } } } } });
    expect(tlsOf(m)).toEqual({
      mode: 'MUTUAL',
      certificate: { mesh: true },
      trust: { mesh: true },
      subjectAlternativeNames: ['spiffe://production/ns/production/sa/server'],
    });
  });

  test('ACM trust without a client certificate is SIMPLE on mesh trust with no SAN pinning', () => {
    const m = tlsNodes({ clientPolicy: { tls: { enforce: true, validation: { trust: { acm: { certificateAuthorityArns: ['arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/x'] } } } } } });
    expect(tlsOf(m)).toEqual({ mode: 'SIMPLE', trust: { mesh: true }, subjectAlternativeNames: [] });
  });

  test('the backend policy wins over backend defaults; file trust and listed SANs are kept', () => {
    const m = tlsNodes(
      { clientPolicy: { tls: { enforce: true, validation: { trust: { sds: { secretName: 'ca' } } } } } },
      {
        tls: {
          enforce: true,
          certificate: { file: { certificateChain: '/certs/c.pem', privateKey: '/certs/k.pem' } },
          validation: { trust: { file: { certificateChain: '/certs/ca.pem' } }, subjectAlternativeNames: { match: { exact: ['server.internal'] } } },
        },
      },
    );
    expect(tlsOf(m)).toEqual({
      mode: 'MUTUAL',
      certificate: { file: { certificateChain: '/certs/c.pem', privateKey: '/certs/k.pem' } },
      trust: { file: { certificateChain: '/certs/ca.pem' } },
      subjectAlternativeNames: ['server.internal'],
    });
  });

  test('not enforced, or on another port, is DISABLED', () => {
    const validation = { trust: { sds: { secretName: 'ca' } } };
    expect(tlsOf(tlsNodes({ clientPolicy: { tls: { enforce: false, validation } } }))).toEqual({ mode: 'DISABLED', subjectAlternativeNames: [] });
    expect(tlsOf(tlsNodes({ clientPolicy: { tls: { enforce: true, ports: [443], validation } } }))).toEqual({ mode: 'DISABLED', subjectAlternativeNames: [] });
    expect(tlsOf(tlsNodes({ clientPolicy: { tls: { enforce: true, ports: [8443], validation } } })).mode).toBe('SIMPLE');
  });
});

describe('inbound listeners and policy', () => {
  test('server TLS and the access log are carried over; the inbound policy is empty', () => {
    const m = model(
      {
        virtualNodes: [
          node('secure', {
            listeners: [
              {
                portMapping: { port: 8443, protocol: 'http2' },
                tls: {
                  mode: 'STRICT',
                  certificate: { sds: { secretName: 'secure' } },
                  validation: { trust: { sds: { secretName: 'ca' } }, subjectAlternativeNames: { match: { exact: ['spiffe://corp/ns/production/sa/client'] } } },
                },
              },
              { portMapping: { port: 9000, protocol: 'tcp' }, tls: { mode: 'PERMISSIVE', certificate: { file: { certificateChain: '/c.pem', privateKey: '/k.pem' } } } },
            ],
            serviceDiscovery: { dns: { hostname: 'secure.internal' } },
            logging: { accessLog: { file: { path: '/dev/stdout', format: { json: [{ key: 'status', value: '%RESPONSE_CODE%' }] } } } },
          }),
        ],
      },
      { trustDomain: 'corp', egressFilter: { type: 'ALLOW_ALL' } },
    );
    const [c] = compileMesh(m);
    expect(c.mesh).toEqual({ name: 'production', egressFilter: 'ALLOW_ALL', trustDomain: 'corp' });
    expect(c.node.spiffeId).toBe('spiffe://corp/ns/production/sa/secure');
    expect(c.inbound.listeners).toEqual([
      {
        port: 8443,
        protocol: 'http2',
        tls: { mode: 'STRICT', certificate: { mesh: true }, validation: { trust: { mesh: true }, subjectAlternativeNames: ['spiffe://corp/ns/production/sa/client'] } },
        timeout: { perRequestMs: 15000, idleMs: 300000 },
      },
      {
        port: 9000,
        protocol: 'tcp',
        tls: { mode: 'PERMISSIVE', certificate: { file: { certificateChain: '/c.pem', privateKey: '/k.pem' } } },
        timeout: { perRequestMs: 0, idleMs: 300000 },
      },
    ]);
    expect(c.inbound.policy).toEqual({ authorization: [], jwt: [] });
    expect(c.logging).toEqual({ accessLog: { path: '/dev/stdout', format: { json: { status: '%RESPONSE_CODE%' } } } });
  });

  test("a rate limit compiles into the node's and the gateway's policy; keyed limits make the config schema v2", () => {
    const bucket = { maxTokens: 10, tokensPerFill: 10, fillIntervalMs: 1000, statusCode: 429 };
    const perKey = [{ key: { header: 'x-user' }, maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000, maxKeys: 100 }];
    const m = model({
      virtualNodes: [
        node('plain', { listeners: [httpListener()], serviceDiscovery: { dns: { hostname: 'plain.internal' } }, rateLimit: bucket }),
        node('keyed', { listeners: [httpListener()], serviceDiscovery: { dns: { hostname: 'keyed.internal' } }, rateLimit: { ...bucket, perKey } }),
      ],
      virtualGateways: [gateway('edge', { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }], rateLimit: bucket })],
    });
    const byName = new Map(compileMesh(m).map((c) => [c.node.name, c]));
    expect(byName.get('plain')!.inbound.policy.rateLimit).toEqual(bucket);
    expect(byName.get('plain')!.schema).toBe('weft.dev/node-config/v1');
    expect(byName.get('keyed')!.inbound.policy.rateLimit).toEqual({ ...bucket, perKey });
    expect(byName.get('keyed')!.schema).toBe('weft.dev/node-config/v2');
    expect(byName.get('edge')!.gateway!.policy.rateLimit).toEqual(bucket);
  });

  test('JWT rules compile into the node\'s and the gateway\'s policy with their defaults', () => {
    const rule = { issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json', audiences: [], fromHeaders: [], fromParams: [], forwardOriginalToken: false, outputClaimToHeaders: [] };
    const m = model({
      virtualNodes: [node('secure', { listeners: [httpListener()], serviceDiscovery: { dns: { hostname: 'secure.internal' } }, jwt: [rule] })],
      virtualGateways: [gateway('edge', { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }], jwt: [rule] })],
    });
    const byName = new Map(compileMesh(m).map((c) => [c.node.name, c]));
    expect(byName.get('secure')!.inbound.policy.jwt).toEqual([expect.objectContaining({ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' })]);
    expect(byName.get('edge')!.gateway!.policy.jwt).toEqual([expect.objectContaining({ issuer: 'https://issuer.example' })]);
    // JWT rules are v1 fields: the config keeps schema v1.
    expect(byName.get('secure')!.schema).toBe('weft.dev/node-config/v1');
  });
});

describe('virtual gateways', () => {
  const target = (port?: number) => ({ virtualService: { virtualServiceName: 'orders.svc' }, port });
  const m = model({
    virtualNodes: [node('orders', { listeners: [httpListener(8080)], serviceDiscovery: { dns: { hostname: 'orders.internal' } } })],
    virtualServices: [service('orders.svc', { virtualNode: { virtualNodeName: 'orders' } })],
    virtualGateways: [
      gateway('edge', {
        listeners: [{ portMapping: { port: 8088, protocol: 'http' } }],
        backendDefaults: { clientPolicy: { tls: { enforce: true, certificate: { sds: { secretName: 'edge' } }, validation: { trust: { sds: { secretName: 'ca' } } } } } },
      }),
    ],
    gatewayRoutes: [
      gatewayRoute('edge', 'orders', { httpRoute: { match: { prefix: '/orders/' }, action: { target: target() } } }),
      gatewayRoute('edge', 'keep-prefix', { httpRoute: { match: { prefix: '/keep/' }, action: { target: target(), rewrite: { prefix: { defaultPrefix: 'DISABLED' } } } } }),
      gatewayRoute('edge', 'v2', {
        priority: 1,
        httpRoute: { match: { prefix: '/v2/', hostname: { suffix: '.example.com' } }, action: { target: target(8080), rewrite: { prefix: { value: '/api/' }, hostname: { defaultTargetHostname: 'DISABLED' } } } },
      }),
      gatewayRoute('edge', 'login', { httpRoute: { match: { path: { exact: '/login' } }, action: { target: target(), rewrite: { path: { exact: '/auth/login' } } } } }),
    ],
  });
  const [edge, orders] = compileMesh(m);

  test('gateway config: kind, listeners, policy and no inbound listeners', () => {
    expect(edge.node).toEqual({ kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://production/ns/production/sa/edge' });
    expect(orders.node.name).toBe('orders');
    expect(edge.inbound).toEqual({ listeners: [], policy: { authorization: [], jwt: [] } });
    expect(edge.gateway!.listeners).toEqual([{ port: 8088, protocol: 'http', tls: { mode: 'DISABLED' } }]);
    expect(edge.gateway!.policy).toEqual({ authorization: [], jwt: [] });
  });

  test('rewrite defaults: matched prefix to /, DISABLED keeps it, value replaces it, exact path rewrite', () => {
    const routes = edge.gateway!.routes;
    expect(routes.map((r) => r.name)).toEqual(['edge/v2', 'edge/login', 'edge/orders', 'edge/keep-prefix']);
    const by = Object.fromEntries(routes.map((r) => [r.name, r]));
    expect(by['edge/orders'].rewrite).toEqual({ prefix: '/', hostnameToTarget: true });
    expect(by['edge/keep-prefix'].rewrite).toEqual({ hostnameToTarget: true });
    expect(by['edge/v2']).toEqual({
      name: 'edge/v2',
      priority: 1,
      protocol: 'http',
      match: { hostname: { suffix: '.example.com' }, path: { prefix: '/v2/' }, headers: [], queryParameters: [] },
      target: { virtualService: 'orders.svc', port: 8080 },
      rewrite: { prefix: '/api/', hostnameToTarget: false },
    });
    expect(by['edge/login'].rewrite).toEqual({ path: '/auth/login', hostnameToTarget: true });
  });

  test('the gateway reaches targeted services with its backend defaults TLS', () => {
    expect(edge.outbound.services.map((s) => s.name)).toEqual(['orders.svc']);
    expect(edge.clusters).toHaveLength(1);
    expect(edge.clusters[0]).toMatchObject({ name: 'orders:8080', tls: { mode: 'MUTUAL', certificate: { mesh: true }, subjectAlternativeNames: ['spiffe://production/ns/production/sa/orders'] } });
  });
});

describe('errors', () => {
  test('validation errors stop the compile and are reported against the resource', () => {
    const m = model({
      virtualNodes: [
        node('multi', { listeners: [httpListener(80), httpListener(81)], serviceDiscovery: { dns: { hostname: 'multi.internal' } } }),
        node('client', { backends: [{ virtualService: { virtualServiceName: 'multi.svc' } }] }),
      ],
      virtualServices: [service('multi.svc', { virtualRouter: { virtualRouterName: 'r' } })],
      virtualRouters: [router('r', { port: 80, protocol: 'http' })],
      routes: [route('r', 'all', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'multi', weight: 1 }] } } })],
    });
    let caught: unknown;
    try {
      compileMesh(m);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MeshValidationError);
    const errors = (caught as MeshValidationError).errors;
    expect(errors.map((e) => [e.resource, e.path])).toContainEqual(['Route/all', 'spec.httpRoute.action.weightedTargets[0].port']);
  });
});

describe('gateway route targets', () => {
  const build = (provider: VirtualServiceSpec['provider'], port?: number) =>
    model({
      virtualNodes: [node('two', { listeners: [httpListener(80), httpListener(81)], serviceDiscovery: { dns: { hostname: 'two.internal' } } })],
      virtualServices: [service('two.svc', provider)],
      virtualGateways: [gateway('edge', { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }] })],
      gatewayRoutes: [gatewayRoute('edge', 'r', { httpRoute: { match: { prefix: '/' }, action: { target: { virtualService: { virtualServiceName: 'two.svc' }, port } } } })],
    });
  const errorsOf = (m: MeshModel) => {
    try {
      compileMesh(m);
      return [];
    } catch (err) {
      return (err as MeshValidationError).errors.map((e) => [e.resource, e.path]);
    }
  };

  test('a port is required when the target service listens on several', () => {
    expect(errorsOf(build({ virtualNode: { virtualNodeName: 'two' } }))).toContainEqual(['GatewayRoute/r', 'spec.httpRoute.action.target.port']);
    expect(errorsOf(build({ virtualNode: { virtualNodeName: 'two' } }, 9999))).toContainEqual(['GatewayRoute/r', 'spec.httpRoute.action.target.port']);
    expect(errorsOf(build({ virtualNode: { virtualNodeName: 'two' } }, 81))).toEqual([]);
  });

  test('a target service without a provider is an error', () => {
    expect(errorsOf(build(undefined, 80))).toContainEqual(['GatewayRoute/r', 'spec.httpRoute.action.target.virtualService.virtualServiceName']);
  });
});

describe('configs the node config contract refuses', () => {
  test('are reported against the route they came from, naming the config field', () => {
    const m = canaryModel();
    const [split] = m.routes;
    split.spec.httpRoute!.retryPolicy = { ...split.spec.httpRoute!.retryPolicy!, maxRetries: 30 };
    let caught: unknown;
    try {
      compileMesh(m);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MeshValidationError);
    const errors = (caught as MeshValidationError).errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'mesh.yaml', resource: 'Route/default' });
    expect(errors[0].path).toMatch(/^spec\.httpRoute/);
    expect(errors[0].message).toMatch(/maxRetries/);
  });
});
