import { formatModelError } from '../../../../lib/model/errors';
import { loadMeshSources } from '../../../../lib/model/load';

const MESH = 'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n---\n'; // 4 lines

/** Errors of `text` placed after a one-line-per-field Mesh document (so its first line is line 5). */
function errorsOf(text: string): string[] {
  return loadMeshSources([{ file: 'shop.yaml', text: MESH + text }]).errors.map(formatModelError);
}

describe('document shape', () => {
  test('apiVersion must be weft.dev/v1alpha1', () => {
    expect(errorsOf('apiVersion: weft.dev/v1\nkind: VirtualRouter\nmetadata: { name: r }\nspec: { listeners: [{ portMapping: { port: 80, protocol: http } }] }\n')).toEqual([
      'shop.yaml:5: VirtualRouter/r: apiVersion: apiVersion must be weft.dev/v1alpha1, got: weft.dev/v1',
    ]);
    expect(errorsOf('kind: VirtualRouter\nmetadata: { name: r }\n')).toEqual(['shop.yaml:5: VirtualRouter/r: apiVersion: apiVersion must be weft.dev/v1alpha1, got: nothing']);
  });

  test('kind must be a resource kind of the model', () => {
    expect(errorsOf('apiVersion: weft.dev/v1alpha1\nkind: DestinationRule\nmetadata: { name: r }\n')).toEqual([
      'shop.yaml:6: kind: kind must be one of Mesh, VirtualNode, VirtualService, VirtualRouter, Route, VirtualGateway, GatewayRoute, LocalWorkload, got: DestinationRule',
    ]);
  });

  test('metadata.name is required, metadata has only known fields', () => {
    expect(errorsOf('apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata:\n  namespace: default\n')).toEqual([
      'shop.yaml:7: metadata.name: metadata.name must be a non-empty string, got: nothing',
      "shop.yaml:8: metadata.namespace: unknown field 'namespace'; metadata has name, mesh, virtualRouter, virtualGateway, labels",
    ]);
    expect(errorsOf('apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\n')).toEqual(['shop.yaml:5: metadata: metadata with a name is required, got: nothing']);
  });

  test('unknown top-level fields are errors at their key', () => {
    expect(errorsOf('apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: n }\nstatus: {}\n')).toEqual([
      "shop.yaml:8: VirtualNode/n: status: unknown field 'status'; a Weft document has apiVersion, kind, metadata and spec",
    ]);
  });

  test('parents: a Route needs virtualRouter, a GatewayRoute virtualGateway, and no other kind has them', () => {
    expect(
      errorsOf(
        [
          'apiVersion: weft.dev/v1alpha1\nkind: Route\nmetadata: { name: r }\nspec: {}', // 5-8
          'apiVersion: weft.dev/v1alpha1\nkind: GatewayRoute\nmetadata: { name: g }\nspec: {}', // 10-13
          'apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata:\n  name: n\n  virtualRouter: r\n  virtualGateway: g', // 15-20
          'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: other, mesh: shop }', // 22-24
        ].join('\n---\n'),
      ),
    ).toEqual([
      'shop.yaml:7: Route/r: metadata.virtualRouter: a Route needs metadata.virtualRouter, the virtual router it belongs to',
      'shop.yaml:12: GatewayRoute/g: metadata.virtualGateway: a GatewayRoute needs metadata.virtualGateway, the virtual gateway it belongs to',
      'shop.yaml:19: VirtualNode/n: metadata.virtualRouter: only a Route has metadata.virtualRouter, got: r',
      'shop.yaml:20: VirtualNode/n: metadata.virtualGateway: only a GatewayRoute has metadata.virtualGateway, got: g',
      'shop.yaml:24: Mesh/other: metadata.mesh: a Mesh is not inside a mesh; remove metadata.mesh, got: shop',
    ]);
  });

  test('labels are accepted and not part of the model', () => {
    const { meshes, errors } = loadMeshSources([{ file: 'shop.yaml', text: MESH + 'apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: n, labels: { team: payments } }\n' }]);
    expect(errors).toEqual([]);
    expect(meshes[0].virtualNodes[0]).toMatchObject({ kind: 'VirtualNode', name: 'n', meshName: 'shop', spec: {} });
    expect(Object.keys(meshes[0].virtualNodes[0]).sort()).toEqual(['kind', 'meshName', 'name', 'source', 'spec']);
  });

  test('anchors work inside a document; an alias to another document\'s anchor is an error, not null', () => {
    const router = 'apiVersion: weft.dev/v1alpha1\nkind: VirtualRouter\nmetadata: { name: r }\nspec: { listeners: [&l { portMapping: { port: 80, protocol: http } }] }\n';
    expect(errorsOf(router)).toEqual([]);
    expect(errorsOf(`${router}---\napiVersion: weft.dev/v1alpha1\nkind: VirtualRouter\nmetadata: { name: s }\nspec: { listeners: [*l] }\n`)).toEqual([
      "shop.yaml:13: VirtualRouter/s: spec.listeners[0]: unknown alias *l (anchors do not reach across '---' documents)",
    ]);
  });

  test('CloudFormation tags are refused outside CloudFormation templates', () => {
    expect(errorsOf('apiVersion: weft.dev/v1alpha1\nkind: VirtualService\nmetadata: { name: s }\nspec:\n  provider: { virtualNode: { virtualNodeName: !Ref Node } }\n')).toEqual([
      'shop.yaml:9: VirtualService/s: spec.provider.virtualNode.virtualNodeName: CloudFormation functions are only evaluated in CloudFormation templates, got: !Ref',
    ]);
  });
});

describe('spec schema errors point at the field', () => {
  const node = (spec: string) => `apiVersion: weft.dev/v1alpha1\nkind: VirtualNode\nmetadata: { name: n }\nspec:\n${spec}`; // spec body from line 9

  test('an unknown field is reported at its own key, a missing one at its parent', () => {
    expect(
      errorsOf(
        node(
          [
            '  listeners:', // 9
            '    - portMapping:', // 10
            '        port: 8080',
            '        protocole: http', // 12
            '      healthCheck:', // 13
            '        protocol: http',
            '        healthyThreshold: 2',
            '        unhealthyThreshold: 2',
            '        intervalMillis: 5000',
            '  serviceDiscovery: { dns: { hostname: n.shop.local } }',
          ].join('\n'),
        ),
      ),
    ).toEqual([
      'shop.yaml:10: VirtualNode/n: spec.listeners[0].portMapping.protocol: is required',
      "shop.yaml:12: VirtualNode/n: spec.listeners[0].portMapping.protocole: unknown field 'protocole'; did you mean 'protocol'?",
      'shop.yaml:13: VirtualNode/n: spec.listeners[0].healthCheck.timeoutMillis: is required',
    ]);
  });

  test('types, enums, ranges and string formats', () => {
    expect(
      errorsOf(
        node(
          [
            '  listeners:', // 9
            '    - portMapping: { port: "8080", protocol: HTTP }', // 10
            '      timeout:', // 11
            '        http: { perRequest: 2h }', // 12
            '      healthCheck: { protocol: http, path: health, healthyThreshold: 1, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000 }', // 13
            '  serviceDiscovery: { dns: { hostname: n.shop.local } }',
          ].join('\n'),
        ),
      ),
    ).toEqual([
      'shop.yaml:10: VirtualNode/n: spec.listeners[0].portMapping.port: must be a number, got: 8080',
      'shop.yaml:10: VirtualNode/n: spec.listeners[0].portMapping.protocol: must be one of http, http2, grpc, tcp, got: HTTP',
      'shop.yaml:12: VirtualNode/n: spec.listeners[0].timeout.http.perRequest: must be a duration like "500ms", "2s" or "1m", got: 2h',
      'shop.yaml:13: VirtualNode/n: spec.listeners[0].healthCheck.path: must start with "/", got: health',
      'shop.yaml:13: VirtualNode/n: spec.listeners[0].healthCheck.healthyThreshold: must be at least 2, got: 1',
    ]);
  });

  test('one-of forms: the form whose key is present is checked; two forms at once are refused', () => {
    expect(
      errorsOf(
        node(
          [
            '  listeners:', // 9
            '    - portMapping: { port: 8443, protocol: http }', // 10
            '      tls:', // 11
            '        mode: STRICT', // 12
            '        certificate:', // 13
            '          sds: { secretName: a }', // 14
            '          file: { certificateChain: /c.pem, privateKey: /k.pem }', // 15
            '  serviceDiscovery:', // 16
            '    awsCloudMap: { namespaceName: shop.local, serviceNmae: n }', // 17
          ].join('\n'),
        ),
      ),
    ).toEqual([
      'shop.yaml:13: VirtualNode/n: spec.listeners[0].tls.certificate: must set exactly one of acm, file, sds, got: sds, file',
      'shop.yaml:17: VirtualNode/n: spec.serviceDiscovery.awsCloudMap.serviceName: is required',
      "shop.yaml:17: VirtualNode/n: spec.serviceDiscovery.awsCloudMap.serviceNmae: unknown field 'serviceNmae'; did you mean 'serviceName'?",
    ]);
  });

  test('Weft documents may be JSON, with lines', () => {
    const json = JSON.stringify({ apiVersion: 'weft.dev/v1alpha1', kind: 'VirtualRouter', metadata: { name: 'r' }, spec: { listeners: [{ portMapping: { port: 0, protocol: 'http' } }] } }, null, 2);
    const { errors } = loadMeshSources([
      { file: 'mesh.yaml', text: 'apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n' },
      { file: 'router.json', text: json },
    ]);
    expect(errors).toEqual([
      { file: 'router.json', line: 11, document: 0, resource: 'VirtualRouter/r', path: 'spec.listeners[0].portMapping.port', message: 'must be at least 1, got: 0' },
    ]);
  });
});
