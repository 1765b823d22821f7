import { loadMeshSources } from '../../lib/model/load';
import { desiredUnits, diffUnits, endpointsFile, localMeshes, portsFile, type UnitPorts, type UnitSpec } from '../../local/plan';

const mesh = (workloads: string) =>
  loadMeshSources([
    {
      file: 'mesh.yaml',
      text: `apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: cart }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
  serviceDiscovery: { dns: { hostname: cart.shop.local } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: pay }
spec:
  listeners: [{ portMapping: { port: 9090, protocol: http } }]
  serviceDiscovery: { awsCloudMap: { namespaceName: shop.local, serviceName: pay, attributes: [{ key: version, value: v2 }] } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualGateway
metadata: { name: edge }
spec:
  listeners: [{ portMapping: { port: 8443, protocol: http } }]
---
${workloads}`,
    },
  ]);
const workload = (name: string, replicas: number, env = '{}') => `apiVersion: weft.dev/v1alpha1\nkind: LocalWorkload\nmetadata: { name: ${name} }\nspec: { command: [node, app.js], replicas: ${replicas}, env: ${env} }\n`;

function unitsOf(workloads: string): UnitSpec[] {
  const { meshes, workloads: w, errors } = mesh(workloads);
  expect(errors).toEqual([]);
  return desiredUnits(localMeshes(meshes, w), w).units;
}

test('a unit per replica and per gateway; a DNS node is found under local/<node>, a Cloud Map node under its own service', () => {
  const units = unitsOf(`${workload('cart', 2)}---\n${workload('pay', 1)}`);
  expect(units.map((u) => [u.key, u.kind, u.listenerPorts, u.discovery])).toEqual([
    ['edge', 'gateway', [8443], undefined],
    ['cart/0', 'node', [8080], { namespaceName: 'local', serviceName: 'cart', attributes: {} }],
    ['cart/1', 'node', [8080], { namespaceName: 'local', serviceName: 'cart', attributes: {} }],
    ['pay/0', 'node', [9090], { namespaceName: 'shop.local', serviceName: 'pay', attributes: { version: 'v2' } }],
  ]);
});

test('the diff starts only new replicas when the count rises, and restarts replicas whose workload changed', () => {
  const running = new Map(unitsOf(workload('cart', 1)).map((u) => [u.key, u]));
  const more = diffUnits(running, unitsOf(workload('cart', 2)));
  expect([more.start.map((u) => u.key), more.stop.map((u) => u.key)]).toEqual([['cart/1'], []]);
  const changed = diffUnits(running, unitsOf(workload('cart', 1, '{ A: b }')));
  expect([changed.start.map((u) => u.key), changed.stop.map((u) => u.key)]).toEqual([['cart/0'], ['cart/0']]);
  const gone = diffUnits(running, unitsOf(workload('pay', 1)));
  expect([gone.start.map((u) => u.key), gone.stop.map((u) => u.key)]).toEqual([['pay/0'], ['cart/0']]);
});

test("the endpoints file lists each replica's inbound port with the node's attributes; the ports file each port", () => {
  const running = unitsOf(`${workload('pay', 1)}`).map((spec, i): { spec: UnitSpec; ports: UnitPorts } => ({
    spec,
    ports: spec.kind === 'node' ? { inbound: 1000 + i, egress: 2000 + i, admin: 3000 + i, metrics: 4000 + i, listeners: { 9090: 5000 + i } } : { admin: 3000 + i, metrics: 4000 + i, listeners: { 8443: 6000 + i } },
  }));
  expect(endpointsFile(running)).toEqual({
    schema: 'weft.dev/endpoints/v1',
    services: {
      'shop.local/pay': [
        {
          instanceId: 'pay-0',
          attributes: { version: 'v2', AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: '1001', WEFT_NODE: 'pay', WEFT_MESH: 'shop' },
          healthStatus: 'HEALTHY',
        },
      ],
    },
  });
  expect(portsFile(running)).toEqual({ nodes: { pay: [{ inbound: 1001, egress: 2001, admin: 3001, app: 5001 }] }, gateways: { edge: { 8443: 6000 } } });
});
