import { formatModelError } from '../../../../lib/model/errors';
import { loadMeshSources } from '../../../../lib/model/load';

const MESH = { file: 'mesh.json', text: JSON.stringify({ mesh: { meshName: 'shop', spec: {}, status: { status: 'ACTIVE' } } }) };
const describeOutput = (body: object) => JSON.stringify(body, null, 4);

test('describe-virtual-gateway and describe-gateway-route outputs load; metadata and status are ignored', () => {
  const gateway = describeOutput({
    virtualGateway: {
      meshName: 'shop',
      virtualGatewayName: 'edge',
      spec: { listeners: [{ portMapping: { port: 8443, protocol: 'http' } }] },
      metadata: { arn: 'arn:aws:appmesh:eu-west-1:111122223333:mesh/shop/virtualGateway/edge', version: 3 },
      status: { status: 'ACTIVE' },
    },
  });
  const gatewayRoute = describeOutput({
    gatewayRoute: {
      meshName: 'shop',
      virtualGatewayName: 'edge',
      gatewayRouteName: 'orders',
      spec: { httpRoute: { match: { prefix: '/orders/' }, action: { target: { virtualService: { virtualServiceName: 'orders.shop.local' } } } } },
      metadata: { version: 1 },
      status: { status: 'ACTIVE' },
    },
  });
  const { meshes, errors } = loadMeshSources([MESH, { file: 'gateway.json', text: gateway }, { file: 'gateway-route.json', text: gatewayRoute }]);
  expect(errors).toEqual([]);
  expect(meshes[0].virtualGateways.map(({ source: _, ...r }) => r)).toEqual([
    { kind: 'VirtualGateway', name: 'edge', meshName: 'shop', spec: { listeners: [{ portMapping: { port: 8443, protocol: 'http' } }] } },
  ]);
  expect(meshes[0].gatewayRoutes.map(({ source: _, ...r }) => r)).toEqual([
    {
      kind: 'GatewayRoute',
      name: 'orders',
      meshName: 'shop',
      virtualGatewayName: 'edge',
      spec: { httpRoute: { match: { prefix: '/orders/' }, action: { target: { virtualService: { virtualServiceName: 'orders.shop.local' } } } } },
    },
  ]);
});

test('schema errors in describe output have JSON lines and model paths', () => {
  const node = describeOutput({
    virtualNode: {
      meshName: 'shop',
      virtualNodeName: 'cart',
      spec: { listeners: [{ portMapping: { port: 8080, protocol: 'udp' } }], serviceDiscovery: { dns: { hostname: 'cart.shop.local' } } },
    },
  });
  // Line 10 of the pretty-printed output is `"protocol": "udp"`.
  expect(node.split('\n')[9].trim()).toBe('"protocol": "udp"');
  expect(loadMeshSources([MESH, { file: 'cart.json', text: node }]).errors).toEqual([
    { file: 'cart.json', line: 10, document: 0, resource: 'VirtualNode/cart', path: 'spec.listeners[0].portMapping.protocol', message: 'must be one of http, http2, grpc, tcp, got: udp' },
  ]);
});

test('the resource name, meshName and parent name are required; unknown fields are refused', () => {
  const text = [
    describeOutput({ route: { meshName: 'shop', routeName: 'r', spec: {} } }),
    describeOutput({ virtualService: { meshName: 'shop', spec: {}, tags: [] } }),
    describeOutput({ virtualRouter: { virtualRouterName: 'r', spec: { listeners: [{ portMapping: { port: 80, protocol: 'http' } }] } } }),
  ].join('\n---\n');
  expect(loadMeshSources([MESH, { file: 'out.json', text }]).errors.map(formatModelError)).toEqual([
    'out.json:2: Route/r: route.virtualRouterName: virtualRouterName must be a non-empty string, got: nothing',
    'out.json:10: virtualService.virtualServiceName: virtualServiceName must be a non-empty string, got: nothing',
    "out.json:13: virtualService.tags: unknown field 'tags' in App Mesh virtualService output",
    'out.json:18: VirtualRouter/r: virtualRouter.meshName: meshName must be a non-empty string, got: nothing',
  ]);
});

test('a route from describe output keeps its router name', () => {
  const route = describeOutput({
    route: {
      meshName: 'shop',
      virtualRouterName: 'cart-router',
      routeName: 'cart',
      spec: { priority: 0, tcpRoute: { action: { weightedTargets: [{ virtualNode: 'cart', weight: 1 }] } } },
    },
  });
  const { meshes, errors } = loadMeshSources([MESH, { file: 'route.json', text: route }]);
  expect(errors).toEqual([]);
  expect(meshes[0].routes[0]).toMatchObject({ name: 'cart', virtualRouterName: 'cart-router', meshName: 'shop', spec: { priority: 0 } });
  expect(meshes[0].routes[0].source.lineOf?.('metadata.virtualRouter')).toBe(4);
});
