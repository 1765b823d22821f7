import { compileMesh } from '../../../lib/model/compile';
import { formatModelError } from '../../../lib/model/errors';
import { loadMeshSources } from '../../../lib/model/load';

const MESH = `apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: cart, mesh: shop }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
  serviceDiscovery: { awsCloudMap: { namespaceName: shop.local, serviceName: cart } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: pay, mesh: shop }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
  serviceDiscovery: { static: { endpoints: [{ address: 127.0.0.1, port: 9000 }] } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: loadgen, mesh: shop }
`;

const load = (workloads: string) => loadMeshSources([{ file: 'mesh.yaml', text: MESH }, { file: 'local.yaml', text: workloads }]);
const errorsOf = (workloads: string) => load(workloads).errors.map(formatModelError);

test('a LocalWorkload loads beside its mesh with its defaults, and the compiled configs do not change', () => {
  const { meshes, workloads, errors } = load('apiVersion: weft.dev/v1alpha1\nkind: LocalWorkload\nmetadata: { name: cart, mesh: shop }\nspec:\n  command: [node, cart.js]\n');
  expect(errors).toEqual([]);
  expect(workloads).toEqual([
    expect.objectContaining({ kind: 'LocalWorkload', name: 'cart', meshName: 'shop', spec: { command: ['node', 'cart.js'], replicas: 1, env: {} } }),
  ]);
  const alone = loadMeshSources([{ file: 'mesh.yaml', text: MESH }]);
  expect(compileMesh(meshes[0])).toEqual(compileMesh(alone.meshes[0]));
});

test('the mesh is the only one when metadata.mesh is left out', () => {
  const { workloads, errors } = load('apiVersion: weft.dev/v1alpha1\nkind: LocalWorkload\nmetadata: { name: loadgen }\nspec: { command: [sh, -c, "true"], replicas: 0 }\n');
  expect(errors).toEqual([]);
  expect(workloads.map((w) => [w.meshName, w.name, w.spec.replicas])).toEqual([['shop', 'loadgen', 0]]);
});

test('bad fields are errors with file, line and field path', () => {
  expect(
    errorsOf(
      [
        'apiVersion: weft.dev/v1alpha1',
        'kind: LocalWorkload',
        'metadata: { name: cart, mesh: shop }',
        'spec:',
        '  command: []',
        '  replicas: -1',
        '  healthPath: health',
        '  restart: always',
      ].join('\n'),
    ),
  ).toEqual([
    'local.yaml:5: LocalWorkload/cart: spec.command: must have at least 1 item(s), got: 0',
    'local.yaml:6: LocalWorkload/cart: spec.replicas: must be at least 0, got: -1',
    'local.yaml:7: LocalWorkload/cart: spec.healthPath: must start with "/", got: health',
    "local.yaml:8: LocalWorkload/cart: spec.restart: unknown field 'restart'",
  ]);
});

test('an unknown node or mesh, a second workload and contradictions with the node are errors', () => {
  const doc = (name: string, extra = '', mesh = 'shop') => `apiVersion: weft.dev/v1alpha1\nkind: LocalWorkload\nmetadata: { name: ${name}, mesh: ${mesh} }\nspec:\n  command: [node, app.js]\n${extra}`;
  expect(
    errorsOf(
      [
        doc('carts'),
        doc('cart'),
        doc('cart'),
        doc('pay'),
        doc('loadgen', '  healthPath: /health\n  env: { PORT: "1", "1BAD": x }\n'),
        doc('cart', '', 'other'),
      ].join('---\n'),
    ),
  ).toEqual([
    'local.yaml:3: LocalWorkload/carts: metadata.name: a LocalWorkload names a virtual node of mesh shop; known: cart, loadgen, pay, got: carts',
    'local.yaml:15: LocalWorkload/cart: metadata.name: a virtual node has at most one LocalWorkload; first defined at local.yaml:9, got: cart',
    'local.yaml:21: LocalWorkload/pay: metadata.name: virtual node pay lists static endpoints, which its LocalWorkload\'s replicas would replace; remove one of the two, got: pay',
    "local.yaml:30: LocalWorkload/loadgen: spec.healthPath: is polled on the app's port, and virtual node loadgen has no listener, got: /health",
    'local.yaml:31: LocalWorkload/loadgen: spec.env.PORT: is set by weft up for each replica (PORT, HTTP_PROXY, http_proxy, NODE_USE_ENV_PROXY), got: PORT',
    'local.yaml:31: LocalWorkload/loadgen: spec.env.1BAD: must be an environment variable name (letters, digits and _, not starting with a digit), got: 1BAD',
    'local.yaml:35: LocalWorkload/cart: metadata.mesh: the mesh is not defined in the sources (defined: shop), got: other',
  ]);
});
