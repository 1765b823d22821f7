import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { endpointsFileKey, parseEndpointsFile, parseNodeConfig, serializeNodeConfig } from '../proxy/contracts';
import { matchesAttributes } from '../proxy/endpoints/instance-endpoint';
import { compileMesh } from '../lib/model/compile';
import { formatModelError } from '../lib/model/errors';
import { loadMeshFiles, loadMeshSources } from '../lib/model/load';

const dir = join(__dirname, '..', 'examples');
const ENDPOINTS_FILE = /\.endpoints\.json$/;
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f) && !ENDPOINTS_FILE.test(f)).sort();

test('there are examples', () => {
  expect(files).toEqual(expect.arrayContaining(['gateway.yaml', 'order-service-canary.yaml']));
});

describe.each(files)('examples/%s', (file) => {
  test('loads, validates and compiles; every config round-trips through the sidecar parser', async () => {
    const { meshes, errors } = await loadMeshFiles([join(dir, file)]);
    expect(errors.map(formatModelError)).toEqual([]);
    expect(meshes.length).toBeGreaterThan(0);
    for (const mesh of meshes) {
      const configs = compileMesh(mesh);
      expect(configs).toHaveLength(mesh.virtualNodes.length + mesh.virtualGateways.length);
      for (const c of configs) expect(parseNodeConfig(serializeNodeConfig(c))).toEqual(c);
      // Nothing in the examples needs more than v1, so sidecars of every release read them.
      for (const c of configs) expect(c.schema).toBe('weft.dev/node-config/v1');
    }
  });
});

test('examples/order-service-canary.endpoints.json: an instance for each cluster of the api-gateway, and nothing added to the mesh', async () => {
  const endpointsFile = join(dir, 'order-service-canary.endpoints.json');
  const endpoints = parseEndpointsFile(JSON.parse(readFileSync(endpointsFile, 'utf8')));
  const { meshes, errors } = await loadMeshFiles([join(dir, 'order-service-canary.yaml'), endpointsFile]);
  expect(errors).toEqual([]);
  const [caller] = compileMesh(meshes[0], { nodes: ['api-gateway'] });
  expect(caller.clusters.length).toBeGreaterThan(0);
  for (const c of caller.clusters) {
    if (c.discovery.type !== 'cloudMap') throw new Error(`${c.name} is not discovered through Cloud Map`);
    const wanted = c.discovery.attributes ?? {};
    const instances = endpoints.services[endpointsFileKey(c.discovery.namespaceName, c.discovery.serviceName)] ?? [];
    expect(instances.filter((i) => matchesAttributes(i.attributes, wanted)).map((i) => i.attributes.version)).toEqual([wanted.version]);
  }
});

test('the canary example compiles to the header route first, then 90/10', async () => {
  const { meshes } = await loadMeshFiles([join(dir, 'order-service-canary.yaml')]);
  const [caller] = compileMesh(meshes[0], { nodes: ['api-gateway'] });
  const routes = caller.outbound.services[0].listeners[0].routes;
  expect(routes.map((r) => [r.name, r.action])).toEqual([
    ['order-service-router/canary-header', { weightedTargets: [{ cluster: 'order-service-v2:8080', weight: 100 }] }],
    [
      'order-service-router/default',
      {
        weightedTargets: [
          { cluster: 'order-service-v1:8080', weight: 90 },
          { cluster: 'order-service-v2:8080', weight: 10 },
        ],
      },
    ],
  ]);
  expect(routes[1].retryPolicy).toMatchObject({ maxRetries: 3, perTryTimeoutMs: 2000, httpRetryEvents: ['server-error', 'gateway-error'], tcpRetryEvents: ['connection-error'] });
  expect(routes[1].timeout.perRequestMs).toBe(10000);
  expect(caller.clusters.map((c) => [c.name, c.discovery, c.loadBalancer.policy, c.connectionPool.maxConnections])).toEqual([
    ['order-service-v1:8080', { type: 'cloudMap', namespaceName: 'production.local', serviceName: 'order-service', attributes: { version: 'v1' } }, 'LEAST_REQUEST', 100],
    ['order-service-v2:8080', { type: 'cloudMap', namespaceName: 'production.local', serviceName: 'order-service', attributes: { version: 'v2' } }, 'LEAST_REQUEST', 100],
  ]);
});

test('the gateway example rewrites prefixes as App Mesh does', async () => {
  const { meshes } = await loadMeshFiles([join(dir, 'gateway.yaml')]);
  const [ingress] = compileMesh(meshes[0], { nodes: ['ingress'] });
  expect(ingress.gateway!.routes.map((r) => [r.name, r.match.path, r.rewrite])).toEqual([
    ['ingress/status', { prefix: '/status' }, { hostnameToTarget: true }],
    ['ingress/catalog', { prefix: '/catalog/' }, { prefix: '/v2/', hostnameToTarget: true }],
    ['ingress/orders', { prefix: '/orders/' }, { prefix: '/', hostnameToTarget: true }],
  ]);
  expect(ingress.clusters.map((c) => [c.name, c.tls.mode, c.tls.subjectAlternativeNames])).toEqual([
    ['catalog:8080', 'MUTUAL', ['spiffe://storefront/ns/storefront/sa/catalog']],
    ['orders:8080', 'MUTUAL', ['spiffe://storefront/ns/storefront/sa/orders']],
  ]);
});

test.each(files)('examples/%s compiles to the same bytes with its documents in reverse order', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');
  const reversed = text.split(/^---$/m).reverse().join('\n---\n');
  const compileAll = (t: string) => {
    const { meshes, errors } = loadMeshSources([{ file, text: t }]);
    expect(errors).toEqual([]);
    return meshes.flatMap((m) => compileMesh(m)).map(serializeNodeConfig);
  };
  expect(compileAll(reversed)).toEqual(compileAll(text));
});
