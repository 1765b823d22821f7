import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { parseSettings } from '../../proxy/contracts';
import * as weft from '../../lib';
import { cfnText, newStack, publishedConfigs } from './synth-helpers';

function gatewayMesh() {
  const stack = newStack();
  const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
  const node = mesh.addVirtualNode('Orders', { virtualNodeName: 'orders', listeners: [weft.VirtualNodeListener.http({ port: 8080 })] });
  const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'orders.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(node) });
  const gateway = mesh.addVirtualGateway('Ingress', { virtualGatewayName: 'ingress', listeners: [weft.VirtualGatewayListener.http({ port: 443 })] });
  const gatewayConfig = () => publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'ingress')!;
  return { stack, mesh, gateway, vs, gatewayConfig };
}

describe('VirtualGateway and GatewayRoute', () => {
  test('gateway routes compile with App Mesh\'s rewrite defaults', () => {
    // GIVEN
    const { gateway, vs, gatewayConfig } = gatewayMesh();
    // WHEN
    gateway.addGatewayRoute('Default', { gatewayRouteName: 'default', routeSpec: weft.GatewayRouteSpec.http({ routeTarget: vs, match: { path: weft.HttpGatewayRoutePathMatch.startsWith('/orders/') } }) });
    gateway.addGatewayRoute('Keep', { gatewayRouteName: 'keep', routeSpec: weft.GatewayRouteSpec.http({ routeTarget: vs, match: { path: weft.HttpGatewayRoutePathMatch.startsWith('/keep/', '') } }) });
    gateway.addGatewayRoute('Swap', {
      gatewayRouteName: 'swap',
      routeSpec: weft.GatewayRouteSpec.http({
        routeTarget: vs,
        match: { path: weft.HttpGatewayRoutePathMatch.startsWith('/v1/', '/api/'), hostname: weft.GatewayRouteHostnameMatch.endsWith('.example.com'), rewriteRequestHostname: false },
      }),
    });
    gateway.addGatewayRoute('Exact', { gatewayRouteName: 'exact', routeSpec: weft.GatewayRouteSpec.http({ routeTarget: vs, match: { path: weft.HttpGatewayRoutePathMatch.exactly('/test', '/rewritten') } }) });
    // THEN
    const config = gatewayConfig();
    expect(config.node.kind).toBe('virtualGateway');
    expect(config.gateway?.listeners).toEqual([expect.objectContaining({ port: 443, protocol: 'http' })]);
    const byName = Object.fromEntries(config.gateway!.routes.map((r) => [r.name, r]));
    expect(byName['ingress/default']).toMatchObject({ match: { path: { prefix: '/orders/' } }, target: { virtualService: 'orders.shop.local' }, rewrite: { prefix: '/', hostnameToTarget: true } });
    expect(byName['ingress/keep'].rewrite).toEqual({ hostnameToTarget: true });
    expect(byName['ingress/swap']).toMatchObject({ match: { hostname: { suffix: '.example.com' } }, rewrite: { prefix: '/api/', hostnameToTarget: false } });
    expect(byName['ingress/exact']).toMatchObject({ match: { path: { exact: '/test' } }, rewrite: { path: '/rewritten' } });
    expect(config.outbound.services.map((s) => s.name)).toEqual(['orders.shop.local']);
  });

  test('gateway values are checked where they are written', () => {
    // GIVEN
    const { vs } = gatewayMesh();
    // THEN
    expect(() => weft.VirtualGatewayListener.grpc({ port: 70000 })).toThrow(/Gateway listener port must be an integer between 1 and 65535, got: 70000/);
    expect(() => weft.HttpGatewayRoutePathMatch.startsWith('/a', '/b/')).toThrow(/Prefix path must end with '\/' when it is rewritten, got: \/a/);
    expect(() => weft.HttpGatewayRoutePathMatch.startsWith('/a/', 'b')).toThrow(/Prefix rewrite must start and end with '\/', got: b/);
    expect(() => weft.GatewayRouteSpec.http({ routeTarget: vs, priority: -1 })).toThrow(/Priority must be an integer between 0 and 1000, got: -1/);
  });

  test('a gateway with authorization, JWT or a rate limit is accepted, JWT keys checked; a health check is warned about; the access log is applied', () => {
    // GIVEN
    const { stack, mesh } = gatewayMesh();
    // THEN
    expect(() => mesh.addVirtualGateway('Limited', { rateLimit: { maxTokens: 100, tokensPerFill: 10, fillInterval: cdk.Duration.seconds(1) } })).not.toThrow();
    expect(() => mesh.addVirtualGateway('Authn', { jwt: [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' }] })).not.toThrow();
    expect(() => mesh.addVirtualGateway('NoKeys', { jwt: [{ issuer: 'https://issuer.example', jwks: '{"keys":[]}' }] })).toThrow(/jwt\[0\]\.jwks: has no keys/);
    expect(() => mesh.addVirtualGateway('Authz', { authorization: [{ name: 'all', rules: [{}] }] })).not.toThrow();
    // WHEN
    mesh.addVirtualGateway('Edge', {
      virtualGatewayName: 'edge',
      listeners: [weft.VirtualGatewayListener.http({ port: 8080, healthCheck: weft.HealthCheck.http({ path: '/health' }) })],
      accessLog: weft.AccessLog.fromFilePath('/dev/stdout'),
    });
    // THEN
    const warnings = Annotations.fromStack(stack).findWarning('/Stack/Mesh/Edge', Match.anyValue()).map((w) => String(w.entry.data));
    expect(warnings).toEqual([
      expect.stringMatching(/^spec\.listeners\[0\]\.healthCheck: a gateway's sidecar does not run its listeners' health checks yet \(.*\), got: http \/health \[ack: weft:field-not-applied:healthCheck\]$/),
    ]);
  });

  test('addToTaskDefinition runs the gateway proxy on its listener ports', () => {
    // GIVEN
    const { stack, gateway } = gatewayMesh();
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'GatewayTask', { family: 'ingress' });
    // WHEN
    gateway.addToTaskDefinition(taskDefinition, { image: ecs.ContainerImage.fromRegistry('example.com/weft:test') });
    // THEN
    const [td] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'));
    const [container] = td.Properties.ContainerDefinitions as Record<string, unknown>[];
    expect(container.PortMappings).toEqual([{ ContainerPort: 443, Protocol: 'tcp' }]);
    const env = Object.fromEntries((container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, cfnText(e.Value, () => 'bucket')]));
    expect(parseSettings([], env)).toMatchObject({ node: 'ingress', config: 's3://bucket/shop/nodes/ingress.json', appPorts: undefined });
    expect(td.Properties.ProxyConfiguration).toBeUndefined();
    expect(() => gateway.addToTaskDefinition(new ecs.FargateTaskDefinition(stack, 'T2'), { transparent: true })).toThrow(/transparent mode is for virtual nodes/);
  });

  test('imports by ARN', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    const gateway = weft.VirtualGateway.fromVirtualGatewayArn(stack, 'G', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualGateway/ingress');
    const route = weft.GatewayRoute.fromGatewayRouteArn(stack, 'R', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualGateway/ingress/gatewayRoute/orders');
    // THEN
    expect([gateway.virtualGatewayName, gateway.mesh.meshName]).toEqual(['ingress', 'shop']);
    expect([route.gatewayRouteName, route.virtualGateway.virtualGatewayName]).toEqual(['orders', 'ingress']);
  });
});
