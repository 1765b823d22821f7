import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatModelError } from '../../../lib/model/errors';
import { loadMeshFiles, loadMeshSources } from '../../../lib/model/load';
import { type MeshModel } from '../../../lib/model/schema';
import { validateMesh } from '../../../lib/model/validate';

const FIXTURES = join(__dirname, '../../fixtures/model');

/** The model without `source`, which legitimately differs between front ends. */
function withoutSource(model: MeshModel): unknown {
  return JSON.parse(JSON.stringify(model, (key, value: unknown) => (key === 'source' ? undefined : value)));
}

describe('the order-service mesh loads to the same model from every front end', () => {
  let reference: MeshModel;

  beforeAll(async () => {
    const { meshes, errors } = await loadMeshFiles([join(FIXTURES, 'order-service/weft.yaml')]);
    expect(errors).toEqual([]);
    expect(meshes).toHaveLength(1);
    reference = meshes[0];
  });

  test('Weft YAML gives the expected model, which validates cleanly', () => {
    expect(validateMesh(reference)).toEqual([]);
    expect(reference.mesh.name).toBe('order-mesh');
    expect(reference.virtualNodes.map((n) => n.name)).toEqual(['order-v1', 'order-v2']);
    expect(reference.routes[0]).toMatchObject({
      name: 'order-canary',
      meshName: 'order-mesh',
      virtualRouterName: 'order-router',
      spec: {
        priority: 10,
        httpRoute: {
          action: { weightedTargets: [{ virtualNode: 'order-v1', weight: 90 }, { virtualNode: 'order-v2', weight: 10 }] },
          retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: 'ms', value: 2000 } },
        },
      },
    });
    expect(reference.virtualNodes[1].spec.serviceDiscovery).toEqual({
      awsCloudMap: { namespaceName: 'orders.local', serviceName: 'order', attributes: [{ key: 'version', value: 'v2' }] },
    });
  });

  test.each([['describe'], ['cloudformation.yaml']])('%s', async (fixture) => {
    const { meshes, errors } = await loadMeshFiles([join(FIXTURES, 'order-service', fixture)]);
    expect(errors).toEqual([]);
    expect(meshes).toHaveLength(1);
    expect(withoutSource(meshes[0])).toEqual(withoutSource(reference));
    expect(validateMesh(meshes[0])).toEqual([]);
  });

  test('sources point back at their files, documents and logical ids', async () => {
    const { meshes } = await loadMeshFiles([join(FIXTURES, 'order-service/cloudformation.yaml'), join(FIXTURES, 'order-service/describe')]);
    // Both define order-mesh: the second definition is a duplicate, so nothing is returned.
    expect(meshes).toEqual([]);
    const cfn = (await loadMeshFiles([join(FIXTURES, 'order-service/cloudformation.yaml')])).meshes[0];
    expect(cfn.routes[0].source).toMatchObject({ file: join(FIXTURES, 'order-service/cloudformation.yaml'), document: 0, id: 'OrderCanary' });
    expect(cfn.routes[0].source.lineOf?.('spec.httpRoute.action.weightedTargets[1].weight')).toBe(89);
    const described = (await loadMeshFiles([join(FIXTURES, 'order-service/describe')])).meshes[0];
    expect(described.virtualNodes.map((n) => n.source.file)).toEqual([
      join(FIXTURES, 'order-service/describe/virtual-node-order-v1.json'),
      join(FIXTURES, 'order-service/describe/virtual-node-order-v2.json'),
    ]);
    expect(described.virtualNodes[0].source.lineOf?.('spec.listeners[0].portMapping.port')).toBe(25);
  });
});

test('every error of every file is reported at once, in source order', () => {
  const text = [
    'apiVersion: weft.dev/v1alpha1', // 1
    'kind: Mesh',
    'metadata: { name: shop }',
    '---',
    'apiVersion: weft.dev/v2', // 5
    'kind: VirtualNode',
    'metadata: { name: cart }',
    '---',
    'apiVersion: weft.dev/v1alpha1', // 9
    'kind: VirtualNode',
    'metadata: { name: pay }',
    'spec:',
    '  listeners:',
    '    - portMapping: { port: 70000, protocol: https }', // 14
    '      tls: { mode: STRICT }',
    '  serviceDiscovery: { dns: { hostname: pay.shop.local }, colour: blue }',
    '---',
    'kind: [VirtualRouter', // 18
    '---',
    'apiVersion: weft.dev/v1alpha1', // 20
    'kind: Gateway',
    'metadata: { name: edge }',
  ].join('\n');
  const other = 'apiVersion: weft.dev/v1alpha1\nkind: VirtualService\nmetadata: { name: pay.shop.local, labels: { team: 7 } }\n';
  const { meshes, errors } = loadMeshSources([
    { file: 'shop.yaml', text },
    { file: 'services.yaml', text: other },
  ]);
  expect(errors.map(formatModelError)).toEqual([
    'shop.yaml:5: VirtualNode/cart: apiVersion: apiVersion must be weft.dev/v1alpha1, got: weft.dev/v2',
    'shop.yaml:14: VirtualNode/pay: spec.listeners[0].portMapping.port: must be at most 65535, got: 70000',
    'shop.yaml:14: VirtualNode/pay: spec.listeners[0].portMapping.protocol: must be one of http, http2, grpc, tcp, got: https',
    'shop.yaml:15: VirtualNode/pay: spec.listeners[0].tls.certificate: is required',
    "shop.yaml:16: VirtualNode/pay: spec.serviceDiscovery.colour: unknown field 'colour'",
    'shop.yaml:18: Flow sequence in block collection must be sufficiently indented and end with a ]',
    'shop.yaml:21: kind: kind must be one of Mesh, VirtualNode, VirtualService, VirtualRouter, Route, VirtualGateway, GatewayRoute, LocalWorkload, got: Gateway',
    'services.yaml:3: VirtualService/pay.shop.local: metadata.labels: metadata.labels must map names to strings, got: {"team":7}',
  ]);
  expect(errors[1]).toEqual({
    file: 'shop.yaml',
    line: 14,
    document: 2,
    resource: 'VirtualNode/pay',
    path: 'spec.listeners[0].portMapping.port',
    message: 'must be at most 65535, got: 70000',
  });
  // The mesh lost resources to errors, so it is held back rather than returned half-loaded.
  expect(meshes).toEqual([]);
});

describe('meshes', () => {
  const mesh = (name: string) => `apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: ${name} }\n`;
  const router = (name: string, mesh?: string) =>
    `apiVersion: weft.dev/v1alpha1\nkind: VirtualRouter\nmetadata: { name: ${name}${mesh ? `, mesh: ${mesh}` : ''} }\nspec: { listeners: [{ portMapping: { port: 80, protocol: http } }] }\n`;

  test('with one mesh in the sources, resources without metadata.mesh belong to it, wherever they come', () => {
    const { meshes, errors } = loadMeshSources([
      { file: 'a.yaml', text: router('r1') },
      { file: 'b.yaml', text: mesh('shop') },
    ]);
    expect(errors).toEqual([]);
    expect(meshes.map((m) => [m.mesh.name, m.virtualRouters.map((r) => [r.name, r.meshName])])).toEqual([['shop', [['r1', 'shop']]]]);
  });

  test('with several meshes, metadata.mesh is required and must name one of them', () => {
    const { meshes, errors } = loadMeshSources([
      { file: 'a.yaml', text: `${mesh('shop')}---\n${mesh('bank')}---\n${router('r1', 'shop')}---\n${router('r2')}---\n${router('r3', 'zoo')}` },
      { file: 'b.yaml', text: `${router('r4', 'bank')}---\n${router('r4', 'bank')}` },
    ]);
    expect(errors.map(formatModelError)).toEqual([
      'a.yaml:16: VirtualRouter/r2: metadata.mesh: the mesh must be named when the sources define 2 meshes (shop, bank)',
      'a.yaml:21: VirtualRouter/r3: metadata.mesh: the mesh is not defined in the sources (defined: shop, bank), got: zoo',
      'b.yaml:8: VirtualRouter/r4: metadata.name: VirtualRouter names must be unique in mesh bank; first defined at b.yaml:3, got: r4',
    ]);
    // r2 might have been meant for either mesh, so neither is complete.
    expect(meshes).toEqual([]);
  });

  test('a mesh whose resource failed its schema is held back; the other meshes are not', () => {
    const broken = `apiVersion: weft.dev/v1alpha1\nkind: VirtualRouter\nmetadata: { name: r1, mesh: bank }\nspec: { listeners: [] }\n`;
    const { meshes, errors } = loadMeshSources([{ file: 'a.yaml', text: `${mesh('shop')}---\n${mesh('bank')}---\n${broken}` }]);
    expect(errors.map(formatModelError)).toEqual(['a.yaml:12: VirtualRouter/r1: spec.listeners: must have at least 1 item(s), got: 0']);
    expect(meshes.map((m) => m.mesh.name)).toEqual(['shop']);
  });

  test('a Mesh that failed its schema is one error, not one more per resource of the mesh', () => {
    const typo = `apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\nspec: { egresFilter: { type: DROP_ALL } }\n`;
    const { meshes, errors } = loadMeshSources([{ file: 'a.yaml', text: `${typo}---\n${router('r1', 'shop')}---\n${router('r2')}---\n${router('r3', 'zoo')}` }]);
    expect(errors.map(formatModelError)).toEqual([
      "a.yaml:4: Mesh/shop: spec.egresFilter: unknown field 'egresFilter'; did you mean 'egressFilter'?",
      // A mesh no Mesh resource names is still reported.
      'a.yaml:18: VirtualRouter/r3: metadata.mesh: the mesh is not defined in the sources (defined: shop), got: zoo',
    ]);
    expect(meshes).toEqual([]);
  });

  test('an unknown field is matched against its siblings: a near one is suggested, a far one is not', () => {
    const node = (listener: string) =>
      `apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: n }\nspec: { listeners: [{ ${listener} }], serviceDiscovery: { dns: { hostname: n.local } } }\n`;
    const { errors } = loadMeshSources([{ file: 'a.yaml', text: `${mesh('shop')}---\n${node('portMapping: { port: 80, protocol: http }, HealthCheck: {}, colour: blue, tsl: {}')}` }]);
    expect(errors.map((e) => e.message)).toEqual([
      "unknown field 'HealthCheck'; did you mean 'healthCheck'?",
      "unknown field 'colour'",
      "unknown field 'tsl'; did you mean 'tls'?",
    ]);
  });

  test('route names are unique per router, not per mesh', () => {
    const route = (router: string) =>
      `apiVersion: weft.dev/v1alpha1\nkind: Route\nmetadata: { name: default, virtualRouter: ${router} }\nspec: { tcpRoute: { action: { weightedTargets: [{ virtualNode: n, weight: 1 }] } } }\n`;
    const { meshes, errors } = loadMeshSources([{ file: 'a.yaml', text: `${mesh('shop')}---\n${route('r1')}---\n${route('r2')}---\n${route('r2')}` }]);
    expect(errors.map(formatModelError)).toEqual(['a.yaml:17: Route/default: metadata.name: Route names must be unique in virtual router r2; first defined at a.yaml:12, got: default']);
    expect(meshes).toEqual([]);
  });

  test('a document of no known shape is an error; empty documents are skipped', () => {
    const { errors } = loadMeshSources([{ file: 'a.yaml', text: `${mesh('shop')}---\n# nothing here\n---\nhosts: [a, b]\n---\n- 1\n` }]);
    expect(errors.map(formatModelError)).toEqual([
      'a.yaml:7: not a Weft resource (apiVersion, kind), an App Mesh describe-* output or a CloudFormation template, got: {"hosts":["a","b"]}',
      'a.yaml:9: not a Weft resource (apiVersion, kind), an App Mesh describe-* output or a CloudFormation template, got: [1]',
    ]);
  });
});

describe('loadMeshFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-load-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads files and directories recursively (*.yaml, *.yml, *.json), in name order, ignoring other files', async () => {
    await mkdir(join(dir, 'b-nodes'));
    await writeFile(join(dir, 'a-mesh.yml'), 'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n');
    await writeFile(join(dir, 'b-nodes', 'z.json'), JSON.stringify({ apiVersion: 'weft.dev/v1alpha1', kind: 'VirtualNode', metadata: { name: 'z', mesh: 'shop' } }));
    await writeFile(join(dir, 'b-nodes', 'a.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: a, mesh: shop }\n');
    await writeFile(join(dir, 'b-nodes', 'notes.txt'), 'not a mesh');
    await writeFile(join(dir, 'c.yaml.bak'), 'kind: [');
    const { meshes, errors } = await loadMeshFiles([dir]);
    expect(errors).toEqual([]);
    expect(meshes.map((m) => [m.mesh.name, m.virtualNodes.map((n) => n.source.file)])).toEqual([
      ['shop', [join(dir, 'b-nodes', 'a.yaml'), join(dir, 'b-nodes', 'z.json')]],
    ]);
  });

  test('a file named twice, directly, through its directory or through a link, is read once', async () => {
    await mkdir(join(dir, 'nodes'));
    await writeFile(join(dir, 'mesh.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n');
    await writeFile(join(dir, 'nodes', 'a.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: a }\nspec: { serviceDiscovery: { dns: { hostname: a.local } } }\n');
    await symlink(join(dir, 'nodes'), join(dir, 'linked'));
    const { meshes, errors } = await loadMeshFiles([dir, join(dir, 'nodes', 'a.yaml'), `${dir}/`, join(dir, 'linked')]);
    expect(errors).toEqual([]);
    expect(meshes.map((m) => [m.mesh.name, m.virtualNodes.map((n) => n.source.file)])).toEqual([['shop', [join(dir, 'nodes', 'a.yaml')]]]);
  });

  test('a missing path is an I/O error (the CLI reports it)', async () => {
    await expect(loadMeshFiles([join(dir, 'nope.yaml')])).rejects.toThrow(/ENOENT/);
  });

  test('loadMeshSources gives the same result for the same text', async () => {
    const file = join(FIXTURES, 'order-service/weft.yaml');
    const fromFiles = await loadMeshFiles([file]);
    const fromText = loadMeshSources([{ file, text: await readFile(file, 'utf8') }]);
    expect(withoutSource(fromText.meshes[0])).toEqual(withoutSource(fromFiles.meshes[0]));
  });
});
