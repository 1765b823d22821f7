import {
  checkFieldsApplied,
  fieldsNotApplied,
  meshDefaultRetryPolicy,
  parseNodeConfig,
  sealNodeConfig,
  type NodeConfig,
} from '../../../proxy/contracts';
import { loadMeshSources } from '../../../lib/model/load';
import { compileMesh } from '../../../lib/model/compile';
import { httpRoute, nodeBody, staticCluster, tcpRoute, type ConfigBody } from '../harness';

const HEALTH_CHECK = { protocol: 'http' as const, intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 };
const OUTLIER_DETECTION = { consecutive5xx: 5, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 50 };

const paths = (config: NodeConfig) => fieldsNotApplied(config).map((f) => [f.severity, f.path]);

describe('fieldsNotApplied', () => {
  test('names every field the sidecar does not apply, with its path and severity, in document order', () => {
    const body: ConfigBody = {
      ...nodeBody({
        inbound: [{ port: 8080, protocol: 'http', timeout: { perRequestMs: 15_000, idleMs: 300_000 }, healthCheck: HEALTH_CHECK, outlierDetection: OUTLIER_DETECTION }],
        services: [
          {
            name: 'orders.demo.local',
            listeners: [
              {
                port: 8080,
                protocol: 'http',
                routes: [
                  httpRoute('orders/plain', { 'a:8080': 1 }),
                  httpRoute('orders/chaos', { 'a:8080': 1 }, undefined, {
                    // Applied by the sidecar: not reported.
                    retryPolicy: { maxRetries: 3, perTryTimeoutMs: 1_000, httpRetryEvents: ['server-error'] },
                    fault: { abort: { percentage: 10, httpStatus: 503 } },
                    mirror: { cluster: 'b:8080' },
                  }),
                ],
              },
            ],
          },
        ],
        clusters: [staticCluster('a:8080', [1], { healthCheck: HEALTH_CHECK }), staticCluster('b:8080', [2], { outlierDetection: OUTLIER_DETECTION })],
      }),
      logging: { accessLog: { path: '/dev/stdout' } },
    };
    // Security policy is all enforced: authorization, JWT and rate limits are not reported.
    body.inbound.policy = { authorization: [{ name: 'p', rules: [{}] }], jwt: [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' }], rateLimit: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1 } };
    expect(paths(sealNodeConfig(body))).toEqual([]);
  });

  test('a gateway\'s listener health checks and policy have gateway paths', () => {
    const body: ConfigBody = {
      ...nodeBody({ name: 'edge', inbound: [] }),
      node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
      gateway: { listeners: [{ port: 8080, protocol: 'http', healthCheck: HEALTH_CHECK }], routes: [], policy: { rateLimit: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1 } } },
    };
    expect(paths(sealNodeConfig(body))).toEqual([
      ['warning', 'gateway.listeners[0].healthCheck'],
    ]);
  });

  test('retry policies are applied, so none is reported: not the compiler\'s default, not one a user wrote', () => {
    const route = (name: string, retryPolicy: object) => httpRoute(name, { 'a:8080': 1 }, undefined, { retryPolicy });
    const body = nodeBody({
      services: [
        { name: 'none.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [route('none/r', { maxRetries: 0, perTryTimeoutMs: 0, httpRetryEvents: ['server-error'] })] }] },
        { name: 'default.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [route('default/r', meshDefaultRetryPolicy('http', 15_000))] }] },
        { name: 'tcp.demo.local', listeners: [{ port: 5432, protocol: 'tcp', routes: [{ ...tcpRoute('tcp/r', 'a:8080'), retryPolicy: { maxRetries: 3, perTryTimeoutMs: 0, tcpRetryEvents: ['connection-error'] } }] }] },
        { name: 'other.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [route('other/r', meshDefaultRetryPolicy('http', 1_000))] }] },
      ],
      clusters: [staticCluster('a:8080', [1])],
    });
    expect(paths(sealNodeConfig(body))).toEqual([]);
  });

  test('neither the default policy the compiler writes for routes without one nor the one a user wrote is reported', () => {
    const mesh = (retries: string) => `
apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: { name: m }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: server }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }, { portMapping: { port: 9090, protocol: grpc } }]
  serviceDiscovery: { dns: { hostname: server.m.local } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualService
metadata: { name: server.m.local }
spec: { provider: { virtualNode: { virtualNodeName: server } } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualRouter
metadata: { name: router }
spec: { listeners: [{ portMapping: { port: 8080, protocol: http } }] }
---
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: r, virtualRouter: router }
spec:
  httpRoute:
    match: { prefix: / }
    action: { weightedTargets: [{ virtualNode: server, weight: 1, port: 8080 }] }
    timeout: { perRequest: 3s }
${retries}
---
apiVersion: weft.dev/v1alpha1
kind: VirtualService
metadata: { name: routed.m.local }
spec: { provider: { virtualRouter: { virtualRouterName: router } } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: client }
spec: { backends: [{ virtualService: { virtualServiceName: server.m.local } }, { virtualService: { virtualServiceName: routed.m.local } }] }
`;
    const compileClient = (retries: string) => {
      const { meshes, errors } = loadMeshSources([{ file: 'm.yaml', text: mesh(retries) }]);
      expect(errors).toEqual([]);
      return compileMesh(meshes[0], { nodes: ['client'] })[0];
    };
    expect(paths(compileClient(''))).toEqual([]);
    expect(paths(compileClient('    retryPolicy: { maxRetries: 1, perRetryTimeout: 1s, httpRetryEvents: [gateway-error] }'))).toEqual([]);
  });
});

describe('checkFieldsApplied (the sidecar\'s load check)', () => {
  test('accepts enforced security policy and returns the fields the sidecar runs without', () => {
    const body = nodeBody({ clusters: [], services: [] });
    body.inbound.policy = { jwt: [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' }], rateLimit: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1 } };
    expect(checkFieldsApplied(sealNodeConfig(body), 'file:/node.json')).toEqual([]);
    const gateway: ConfigBody = {
      ...nodeBody({ name: 'edge', inbound: [] }),
      node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
      gateway: { listeners: [{ port: 8080, protocol: 'http', healthCheck: HEALTH_CHECK }], routes: [], policy: {} },
    };
    expect(checkFieldsApplied(sealNodeConfig(gateway), 'file:/node.json')).toEqual(['gateway.listeners[0].healthCheck']);
  });

  test('the contract still parses inbound policy: refusing it is the sidecar\'s and the validator\'s job', () => {
    const body = nodeBody({});
    body.inbound.policy = { authorization: [{ name: 'p', action: 'DENY', rules: [{ to: [{ paths: ['/admin*'] }] }] }] };
    expect(parseNodeConfig(JSON.stringify(sealNodeConfig(body))).inbound.policy.authorization).toEqual([{ name: 'p', action: 'DENY', rules: [{ to: [{ paths: ['/admin*'] }] }] }]);
  });
});
