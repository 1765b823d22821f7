/**
 * An App Mesh user's existing mesh, exported with `aws appmesh describe-*`, compiles to the same
 * node configs as the mesh written as Weft documents or as a CloudFormation template, and those
 * configs carry what the App Mesh JSON said.
 */
import { join } from 'node:path';
import { compileMesh } from '../../../lib/model/compile';
import { loadMeshFiles } from '../../../lib/model/load';
import { serializeNodeConfig, type NodeConfig } from '../../../proxy/contracts';

const FIXTURES = join(__dirname, '../../fixtures/model');

async function compiled(...paths: string[]): Promise<NodeConfig[]> {
  const { meshes, errors } = await loadMeshFiles(paths.map((p) => join(FIXTURES, p)));
  expect(errors).toEqual([]);
  expect(meshes).toHaveLength(1);
  return compileMesh(meshes[0]);
}

describe('App Mesh describe-* JSON -> model -> node config', () => {
  let fromDescribe: NodeConfig[];

  beforeAll(async () => {
    fromDescribe = await compiled('order-service/describe', 'order-client/virtual-node-frontend.json');
  });

  test('the client node routes as the App Mesh route said: 90/10 kept, retries, priority', () => {
    const frontend = fromDescribe.find((c) => c.node.name === 'frontend')!;
    expect(frontend.node.spiffeId).toBe('spiffe://order-mesh/ns/order-mesh/sa/frontend');
    const [service] = frontend.outbound.services;
    expect(service.name).toBe('order.orders.local');
    expect(service.listeners[0].routes).toEqual([
      expect.objectContaining({
        name: 'order-router/order-canary',
        priority: 10,
        action: { weightedTargets: [{ cluster: 'order-v1:8080', weight: 90 }, { cluster: 'order-v2:8080', weight: 10 }] },
        retryPolicy: expect.objectContaining({ maxRetries: 2, perTryTimeoutMs: 2000, httpRetryEvents: ['server-error', 'gateway-error'], tcpRetryEvents: ['connection-error'] }),
      }),
    ]);
    expect(frontend.clusters.map((c) => [c.name, c.discovery])).toEqual([
      ['order-v1:8080', { type: 'cloudMap', namespaceName: 'orders.local', serviceName: 'order', attributes: { version: 'v1' } }],
      ['order-v2:8080', { type: 'cloudMap', namespaceName: 'orders.local', serviceName: 'order', attributes: { version: 'v2' } }],
    ]);
  });

  test.each([
    ['Weft YAML', ['order-service/weft.yaml', 'order-client/frontend.yaml']],
    ['CloudFormation', ['order-service/cloudformation.yaml', 'order-client/frontend-cloudformation.yaml']],
  ])('%s compiles to byte-identical node configs', async (_name, paths) => {
    const other = await compiled(...paths);
    expect(other.map(serializeNodeConfig)).toEqual(fromDescribe.map(serializeNodeConfig));
  });
});
