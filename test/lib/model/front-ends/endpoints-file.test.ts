import { formatModelError } from '../../../../lib/model/errors';
import { loadMeshSources } from '../../../../lib/model/load';

const mesh = 'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n';

test('an endpoints file beside the mesh is checked with the sidecar parser and adds nothing to the mesh', () => {
  const endpoints = { schema: 'weft.dev/endpoints/v1', services: { 'shop.local/a': [{ instanceId: 'i-1', attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: '8081' } }] } };
  const { meshes, errors } = loadMeshSources([
    { file: 'mesh.yaml', text: mesh },
    { file: 'e.json', text: JSON.stringify(endpoints) },
  ]);
  expect(errors).toEqual([]);
  expect(meshes.map((m) => [m.mesh.name, m.virtualNodes.length])).toEqual([['shop', 0]]);
});

test('a broken endpoints file: every problem at its line and field path', () => {
  const text = JSON.stringify({ schema: 'weft.dev/endpoints/v1', services: { 'ns/svc': [{ instanceId: 'i-1', attributes: {}, healthStatus: 'SICK' }], nons: [] } }, null, 2);
  const { errors } = loadMeshSources([{ file: 'e.json', text }]);
  expect(errors.map(formatModelError)).toEqual([
    expect.stringMatching(/^e\.json:8: services\.ns\/svc\[0\]\.healthStatus: /),
    "e.json:11: services.nons: Invalid key in record",
  ]);
});
