import { join } from 'node:path';
import { formatModelError } from '../../../../lib/model/errors';
import { cfnKeyToModel } from '../../../../lib/model/front-ends/cloudformation';
import { loadMeshFiles, loadMeshSources } from '../../../../lib/model/load';
import { validateMesh } from '../../../../lib/model/validate';

const SEED = join(__dirname, '../../../fixtures/model/seed');

test.each([
  ['AWSCloudMap', 'awsCloudMap'],
  ['DNS', 'dns'],
  ['ACM', 'acm'],
  ['SDS', 'sds'],
  ['TLS', 'tls'],
  ['HTTP', 'http'],
  ['HTTP2', 'http2'],
  ['GRPC', 'grpc'],
  ['TCP', 'tcp'],
  ['IpPreference', 'ipPreference'],
  ['TimeoutMillis', 'timeoutMillis'],
  ['Http2Route', 'http2Route'],
  ['PortMapping', 'portMapping'],
  ['SubjectAlternativeNames', 'subjectAlternativeNames'],
])('CloudFormation key %s is model key %s', (cfn, model) => expect(cfnKeyToModel(cfn)).toBe(model));

describe('the published App Mesh snippet (seed "Pattern 5")', () => {
  test('as published, it refers to an InventoryService it does not define: one clear error, no mesh', async () => {
    const file = join(SEED, 'app-mesh-snippet.yaml');
    const { meshes, errors } = await loadMeshFiles([file]);
    expect(errors).toEqual([
      {
        file,
        line: 31,
        document: 1,
        resource: 'VirtualNode/order-service',
        path: 'VirtualNode.Properties.Spec.Backends[0].VirtualService.VirtualServiceName',
        message: '!GetAtt InventoryService.VirtualServiceName: this template has no resource InventoryService; only App Mesh resources of the same template can be resolved, got: InventoryService',
      },
    ]);
    expect(meshes).toEqual([]);
  });

  test('completed with the inventory service, it loads and validates cleanly', async () => {
    const { meshes, errors } = await loadMeshFiles([join(SEED, 'app-mesh-completed.yaml')]);
    expect(errors).toEqual([]);
    expect(meshes).toHaveLength(1);
    const [model] = meshes;
    expect(validateMesh(model)).toEqual([]);
    expect(model.mesh).toMatchObject({ name: 'production-mesh', spec: { egressFilter: { type: 'ALLOW_ALL' } } });
    expect(model.virtualNodes.map((n) => [n.source.id, n.name, n.meshName])).toEqual([
      ['VirtualNode', 'order-service', 'production-mesh'],
      ['InventoryNode', 'inventory-service', 'production-mesh'],
    ]);
    expect(model.virtualNodes[0].spec).toEqual({
      listeners: [
        {
          portMapping: { port: 8080, protocol: 'http' },
          healthCheck: { protocol: 'http', path: '/health', healthyThreshold: 2, unhealthyThreshold: 3, timeoutMillis: 5000, intervalMillis: 15000 },
        },
      ],
      backends: [{ virtualService: { virtualServiceName: 'inventory-service.production.local' } }],
      serviceDiscovery: { awsCloudMap: { namespaceName: 'production.local', serviceName: 'order-service' } },
    });
    expect(model.virtualServices.map((s) => [s.name, s.spec])).toEqual([
      ['order-service.production.local', { provider: { virtualNode: { virtualNodeName: 'order-service' } } }],
      ['inventory-service.production.local', { provider: { virtualNode: { virtualNodeName: 'inventory-service' } } }],
    ]);
  });
});

test('PascalCase keys with App Mesh spellings (TLS, SDS, DNS, HTTP2) convert; other resource types are ignored', () => {
  const template = `
Resources:
  Mesh:
    Type: AWS::AppMesh::Mesh
    Properties:
      MeshName: shop
      Spec:
        ServiceDiscovery: { IpPreference: IPv4_ONLY }
  Edge:
    Type: AWS::AppMesh::VirtualGateway
    Properties:
      MeshName: !GetAtt Mesh.MeshName
      VirtualGatewayName: edge
      Spec:
        Listeners:
          - PortMapping: { Port: 8443, Protocol: http2 }
            ConnectionPool:
              HTTP2: { MaxRequests: 512 }
            TLS:
              Mode: STRICT
              Certificate:
                SDS: { SecretName: edge-identity }
        BackendDefaults:
          ClientPolicy:
            TLS:
              Validation:
                Trust:
                  ACM: { CertificateAuthorityArns: ["arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/1"] }
  Cart:
    Type: AWS::AppMesh::VirtualNode
    Properties:
      MeshName: !Ref Mesh
      VirtualNodeName: cart
      Tags: [{ Key: team, Value: cart }]
      Spec:
        Listeners:
          - PortMapping: { Port: 8080, Protocol: grpc }
            Timeout:
              GRPC: { PerRequest: { Unit: s, Value: 5 } }
        ServiceDiscovery:
          DNS: { Hostname: cart.shop.local, ResponseType: ENDPOINTS }
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "\${AWS::StackName}-orders"
`;
  const { meshes, errors } = loadMeshSources([{ file: 'template.yaml', text: template }]);
  expect(errors).toEqual([]);
  const [model] = meshes;
  expect(model.mesh.spec).toEqual({ serviceDiscovery: { ipPreference: 'IPv4_ONLY' } });
  expect(model.virtualGateways[0]).toMatchObject({
    name: 'edge',
    meshName: 'shop',
    spec: {
      listeners: [
        {
          portMapping: { port: 8443, protocol: 'http2' },
          connectionPool: { http2: { maxRequests: 512 } },
          tls: { mode: 'STRICT', certificate: { sds: { secretName: 'edge-identity' } } },
        },
      ],
      backendDefaults: { clientPolicy: { tls: { enforce: true, validation: { trust: { acm: { certificateAuthorityArns: ['arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/1'] } } } } } },
    },
  });
  expect(model.virtualNodes[0].spec).toEqual({
    listeners: [{ portMapping: { port: 8080, protocol: 'grpc' }, timeout: { grpc: { perRequest: { unit: 's', value: 5 } } } }],
    serviceDiscovery: { dns: { hostname: 'cart.shop.local', responseType: 'ENDPOINTS' } },
  });
});

test('JSON templates resolve {"Ref"} and {"Fn::GetAtt"}', () => {
  const template = JSON.stringify(
    {
      AWSTemplateFormatVersion: '2010-09-09',
      Resources: {
        Mesh: { Type: 'AWS::AppMesh::Mesh', Properties: { MeshName: 'shop' } },
        Router: {
          Type: 'AWS::AppMesh::VirtualRouter',
          Properties: { MeshName: { Ref: 'Mesh' }, VirtualRouterName: 'cart-router', Spec: { Listeners: [{ PortMapping: { Port: 80, Protocol: 'tcp' } }] } },
        },
        Route: {
          Type: 'AWS::AppMesh::Route',
          Properties: {
            MeshName: { 'Fn::GetAtt': ['Router', 'MeshName'] },
            VirtualRouterName: { 'Fn::GetAtt': ['Router', 'VirtualRouterName'] },
            RouteName: 'cart',
            Spec: { TcpRoute: { Action: { WeightedTargets: [{ VirtualNode: 'cart', Weight: 1 }] } } },
          },
        },
      },
    },
    null,
    2,
  );
  const { meshes, errors } = loadMeshSources([{ file: 'template.json', text: template }]);
  expect(errors).toEqual([]);
  expect(meshes[0].routes[0]).toMatchObject({
    name: 'cart',
    meshName: 'shop',
    virtualRouterName: 'cart-router',
    spec: { tcpRoute: { action: { weightedTargets: [{ virtualNode: 'cart', weight: 1 }] } } },
    source: { file: 'template.json', document: 0, id: 'Route' },
  });
});

test('what cannot be known offline is an error naming the logical id and property', () => {
  const template = [
    'Parameters:', // 1
    '  Env: { Type: String }',
    'Resources:', // 3
    '  Mesh:',
    '    Type: AWS::AppMesh::Mesh',
    '    Properties: { MeshName: shop }', // 6
    '  Role:',
    '    Type: AWS::IAM::Role',
    '  Node:', // 9
    '    Type: AWS::AppMesh::VirtualNode',
    '    Properties:',
    '      MeshName: !Ref Mesh',
    '      VirtualNodeName: !Sub "cart-${Env}"', // 13
    '  Service:', // 14
    '    Type: AWS::AppMesh::VirtualService',
    '    Properties:',
    '      MeshName: !GetAtt Mesh.Arn', // 17
    '      VirtualServiceName: cart.shop.local',
    '      Spec:',
    '        Provider:',
    '          VirtualNode: { VirtualNodeName: !Ref Role }', // 21
    '  Router:',
    '    Type: AWS::AppMesh::VirtualRouter',
    '    Properties:',
    '      MeshName: !Ref Mesh',
    '      VirtualRouterName: !Ref Env', // 26
    '      Spec: { Listeners: [{ PortMapping: { Port: 80, Protocol: http } }] }',
  ].join('\n');
  expect(loadMeshSources([{ file: 't.yaml', text: template }]).errors.map(formatModelError)).toEqual([
    't.yaml:13: Resources.Node.Properties.VirtualNodeName: only Ref and GetAtt to App Mesh resources of the same template can be resolved offline, got: Fn::Sub',
    't.yaml:17: VirtualService/cart.shop.local: Resources.Service.Properties.MeshName: !GetAtt Mesh.Arn: only MeshName of AWS::AppMesh::Mesh are known before deployment, got: Arn',
    't.yaml:21: VirtualService/cart.shop.local: Resources.Service.Properties.Spec.Provider.VirtualNode.VirtualNodeName: !Ref Role: only App Mesh resources of the same template can be resolved, got: Role (AWS::IAM::Role)',
    't.yaml:26: Resources.Router.Properties.VirtualRouterName: !Ref Env: template parameters are only known at deployment; write the value, got: Env',
  ]);
});

test('unknown properties, missing names, unknown App Mesh types and schema errors are reported with lines', () => {
  const template = [
    'Resources:',
    '  Mesh:',
    '    Type: AWS::AppMesh::Mesh',
    '    Properties:',
    '      MeshName: shop',
    '      Spec: { EgressFilter: { Type: DENY_ALL } }', // 6
    '  Node:',
    '    Type: AWS::AppMesh::VirtualNode',
    '    Properties:', // 9
    '      MeshName: !Ref Mesh',
    '      Spec: {}',
    '  Service:',
    '    Type: AWS::AppMesh::VirtualService',
    '    Properties:',
    '      MeshName: !Ref Mesh',
    '      VirtualServiceName: cart.shop.local',
    '      Owner: me', // 17
    '  Policy:',
    '    Type: AWS::AppMesh::MeshPolicy', // 19
  ].join('\n');
  expect(loadMeshSources([{ file: 't.yaml', text: template }]).errors.map(formatModelError)).toEqual([
    't.yaml:6: Mesh/shop: spec.egressFilter.type: must be one of ALLOW_ALL, DROP_ALL, got: DENY_ALL',
    't.yaml:9: Resources.Node.Properties.VirtualNodeName: Node has no VirtualNodeName; Weft needs explicit names (it does not generate them)',
    "t.yaml:17: VirtualService/cart.shop.local: Resources.Service.Properties.Owner: unknown property 'Owner' of AWS::AppMesh::VirtualService",
    't.yaml:19: Resources.Policy.Type: unsupported App Mesh resource type, got: AWS::AppMesh::MeshPolicy',
  ]);
});
