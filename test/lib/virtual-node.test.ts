import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import * as weft from '../../lib';
import { newStack, publishedConfigs, publishProperties, statementsOfRole } from './synth-helpers';

function meshIn(stack: cdk.Stack, props: weft.MeshProps = {}): weft.Mesh {
  return new weft.Mesh(stack, 'Mesh', { meshName: 'shop', ...props });
}

describe('VirtualNode', () => {
  test('listener values are checked where they are written', () => {
    expect(() => weft.HealthCheck.http({ interval: cdk.Duration.seconds(1) })).toThrow(/Health check interval must be between 5 seconds and 5 minutes, got: 1 second/);
    expect(() => weft.HealthCheck.tcp({ timeout: cdk.Duration.seconds(61) })).toThrow(/Health check timeout must be between 2 seconds and 1 minute, got: 1 minute 1 second/);
    expect(() => weft.HealthCheck.grpc({ healthyThreshold: 11 })).toThrow(/healthyThreshold must be an integer between 2 and 10, got: 11/);
    expect(() => weft.HealthCheck.http({ path: 'health' })).toThrow(/Health check path must start with '\/', got: health/);
    expect(() => weft.VirtualNodeListener.http({ port: 0 })).toThrow(/Listener port must be an integer between 1 and 65535, got: 0/);
    expect(() =>
      weft.VirtualNodeListener.http({
        outlierDetection: { maxServerErrors: 5, maxEjectionPercent: 101, interval: cdk.Duration.seconds(10), baseEjectionDuration: cdk.Duration.seconds(10) },
      }),
    ).toThrow(/outlierDetection\.maxEjectionPercent must be an integer between 0 and 100, got: 101/);
    expect(() => weft.VirtualNodeListener.http({ connectionPool: { maxConnections: 0, maxPendingRequests: 1 } })).toThrow(/connectionPool\.maxConnections must be an integer between 1/);
  });

  test('a node with listeners and no discovery gets a Cloud Map service; a canary shares its stable node\'s', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    // WHEN
    mesh.addVirtualNode('Lonely', { virtualNodeName: 'lonely', listeners: [weft.VirtualNodeListener.http()] });
    mesh.addVirtualNode('V1', { virtualNodeName: 'orders-v1', serviceDiscovery: weft.ServiceDiscovery.cloudMapName('orders', { version: 'v1' }), listeners: [weft.VirtualNodeListener.http()] });
    mesh.addVirtualNode('V2', { virtualNodeName: 'orders-v2', serviceDiscovery: weft.ServiceDiscovery.cloudMapName('orders', { version: 'v2' }), listeners: [weft.VirtualNodeListener.http()] });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client' });
    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ServiceDiscovery::Service', 2);
    template.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'lonely' });
    template.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'orders' });
  });

  test('Cloud Map names created in the same app travel as tokens to config publish', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    const namespace = new cloudmap.HttpNamespace(stack, 'Ns', { name: 'apps' });
    const service = namespace.createService('Svc');
    // WHEN
    const server = mesh.addVirtualNode('Server', { virtualNodeName: 'server', serviceDiscovery: weft.ServiceDiscovery.cloudMap(service), listeners: [weft.VirtualNodeListener.http()] });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'server.apps', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(server) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const template = Template.fromStack(stack);
    const getAtt = (ref: unknown) => `<${((ref as { 'Fn::GetAtt': string[] })['Fn::GetAtt'] ?? ['?']).join('.')}>`;
    const configs = publishedConfigs(template, getAtt);
    const client = configs.find((c) => c.node.name === 'client');
    expect(client?.clusters[0].discovery).toEqual({
      type: 'cloudMap',
      namespaceName: 'apps',
      serviceName: `<${stack.getLogicalId(service.node.defaultChild as cdk.CfnElement)}.Name>`,
      attributes: {},
    });
    expect(JSON.stringify(publishProperties(template).NodeConfigs)).toContain('Fn::GetAtt');
  });

  test('grantSidecar: its own config, its backends\' services, no secret without a CA, nothing for metrics (EMF goes to stdout)', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    const server = mesh.addVirtualNode('Server', { virtualNodeName: 'server', serviceDiscovery: weft.ServiceDiscovery.cloudMapName('server-svc'), listeners: [weft.VirtualNodeListener.http()] });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'server.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(server) });
    const client = mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    // WHEN
    client.grantSidecar(role);
    // THEN
    const statements = statementsOfRole(Template.fromStack(stack), 'TaskRole');
    const bucketArn = { 'Fn::GetAtt': [expect.stringMatching(/ConfigBucket/), 'Arn'] };
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [{ 'Fn::Join': ['', [bucketArn, '/shop/nodes/client.json']] }, { 'Fn::Join': ['', [bucketArn, '/shop/trust-bundle.pem']] }],
      },
      {
        Effect: 'Allow',
        Action: ['servicediscovery:DiscoverInstances', 'servicediscovery:DiscoverInstancesRevision'],
        Resource: '*',
        Condition: { StringEquals: { 'servicediscovery:NamespaceName': ['weft-shop'], 'servicediscovery:ServiceName': ['server-svc'] } },
      },
    ]);
  });

  test('grantSidecar with a mesh CA adds the node\'s own certificate secret', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack, { certificateAuthority: weft.MeshCertificateAuthority.shortLived() });
    const node = mesh.addVirtualNode('Node', { virtualNodeName: 'node' });
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    // WHEN
    node.grantSidecar(role);
    // THEN
    const statements = statementsOfRole(Template.fromStack(stack), 'TaskRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:eu-west-1:111111111111:secret:weft/shop/node/certificate-??????']] },
    });
    // A node without backends may discover nothing: the condition names no service Cloud Map can have.
    expect(statements).toContainEqual(
      expect.objectContaining({ Condition: { StringEquals: { 'servicediscovery:NamespaceName': ['weft:none'], 'servicediscovery:ServiceName': ['weft:none'] } } }),
    );
  });

  test('Weft extensions reach the node\'s config: load balancer; no inbound policy', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    // WHEN
    const server = mesh.addVirtualNode('Server', {
      virtualNodeName: 'server',
      listeners: [weft.VirtualNodeListener.http2({ port: 9000, timeout: { perRequest: cdk.Duration.seconds(3) } })],
      loadBalancer: weft.LoadBalancer.consistentHashByHeader('x-user', { zoneAwareMinHealthyPercent: 60 }),
      authorization: [],
      jwt: [],
    });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'server.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(server) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const configs = publishedConfigs(Template.fromStack(stack));
    const serverConfig = configs.find((c) => c.node.name === 'server');
    expect(serverConfig?.inbound.listeners).toEqual([expect.objectContaining({ port: 9000, protocol: 'http2', timeout: { perRequestMs: 3000, idleMs: 300000 } })]);
    expect(serverConfig?.inbound.policy).toEqual({ authorization: [], jwt: [] });
    const cluster = configs.find((c) => c.node.name === 'client')?.clusters[0];
    expect(cluster?.loadBalancer).toMatchObject({ policy: 'CONSISTENT_HASH', consistentHash: { header: 'x-user' }, zoneAware: { minHealthyPercent: 60 } });
  });

  test('authorization, JWT and rate limits are enforced, so accepted; their values are checked', () => {
    // GIVEN
    const mesh = meshIn(newStack());
    const authorization: weft.AuthorizationPolicy[] = [{ name: 'deny-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin*'] }] }] }];
    const jwt: weft.JwtRule[] = [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/jwks.json' }];
    const rateLimit: weft.RateLimit = { maxTokens: 10, tokensPerFill: 5, fillInterval: cdk.Duration.seconds(1) };
    // THEN
    expect(() => mesh.addVirtualNode('A', { authorization })).not.toThrow();
    expect(() => mesh.addVirtualNode('B', { jwt })).not.toThrow();
    expect(() => mesh.addVirtualNode('C', { rateLimit })).not.toThrow();
    expect(() => mesh.addVirtualNode('D', { authorization, jwt, rateLimit })).not.toThrow();
    expect(() => mesh.addVirtualNode('E', { authorization: [{ name: 'bad', rules: [{ from: [{ ipBlocks: ['10.0.0.0/33'] }] }] }] })).toThrow(
      /authorization\[0\]\.rules\[0\]\.from\[0\]\.ipBlocks\[0\]: '10\.0\.0\.0\/33' is not an IPv4 or IPv6 address or CIDR/,
    );
  });

  test('a rate limit with keyed buckets is carried to the config the sidecar enforces (schema v2)', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    // WHEN
    mesh.addVirtualNode('Limited', {
      virtualNodeName: 'limited',
      listeners: [weft.VirtualNodeListener.http()],
      rateLimit: {
        maxTokens: 100,
        tokensPerFill: 50,
        fillInterval: cdk.Duration.seconds(1),
        perKey: [{ key: weft.RateLimitKey.header('X-User'), maxTokens: 10, tokensPerFill: 5, fillInterval: cdk.Duration.millis(500) }],
      },
    });
    // THEN
    const config = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'limited')!;
    expect(config.inbound.policy.rateLimit).toEqual({
      maxTokens: 100,
      tokensPerFill: 50,
      fillIntervalMs: 1000,
      statusCode: 429,
      perKey: [{ key: { header: 'x-user' }, maxTokens: 10, tokensPerFill: 5, fillIntervalMs: 500, maxKeys: 10_000 }],
    });
    expect(config.schema).toBe('weft.dev/node-config/v2');
  });

  test('access logs, listener health checks and outlier detection are applied: carried to the config, not warned about', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    const outlierDetection = { maxServerErrors: 5, interval: cdk.Duration.seconds(10), baseEjectionDuration: cdk.Duration.seconds(30), maxEjectionPercent: 50 };
    // WHEN
    const node = mesh.addVirtualNode('Server', {
      virtualNodeName: 'server',
      listeners: [weft.VirtualNodeListener.http({ healthCheck: weft.HealthCheck.http({ path: '/health' }), outlierDetection })],
      accessLog: weft.AccessLog.fromFilePath('/dev/stdout', weft.LoggingFormat.fromJson({ code: '%RESPONSE_CODE%' }), { samplePercent: 10 }),
    });
    node.addListener(weft.VirtualNodeListener.tcp({ port: 5432, healthCheck: weft.HealthCheck.tcp() }));
    mesh.addVirtualNode('Plain', { virtualNodeName: 'plain', listeners: [weft.VirtualNodeListener.http()] });
    // THEN
    const annotations = Annotations.fromStack(stack);
    annotations.hasNoWarning('/Stack/Mesh/Server', Match.anyValue());
    annotations.hasNoWarning('/Stack/Mesh/Plain', Match.anyValue());
    // The fields are carried in the config, for the sidecar that applies them.
    const config = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'server')!;
    expect(config.inbound.listeners[0]).toMatchObject({ healthCheck: { path: '/health' }, outlierDetection: { consecutive5xx: 5 } });
    expect(config.logging.accessLog).toEqual({ path: '/dev/stdout', format: { json: { code: '%RESPONSE_CODE%' } }, samplePercent: 10 });
    expect(config.schema).toBe('weft.dev/node-config/v2');
  });

  test('Weft policies are checked where they are written, with the field path', () => {
    // GIVEN
    const mesh = meshIn(newStack());
    // THEN
    expect(() => mesh.addVirtualNode('A', { authorization: [{ name: 'p', action: 'PERMIT' as never }] })).toThrow(/authorization\[0\]: action: /);
    expect(() => mesh.addVirtualNode('B', { jwt: [{ issuer: 'i', jwksUri: 'not a url' }] })).toThrow(/jwt\[0\]: jwksUri: /);
    expect(() => mesh.addVirtualNode('F', { jwt: [{ issuer: 'i', jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }] })).toThrow(/jwt\[0\]\.jwks: keys\[0\] kty must be RSA, EC or OKP/);
    expect(() => mesh.addVirtualNode('C', { rateLimit: { maxTokens: 0, tokensPerFill: 1, fillInterval: cdk.Duration.seconds(1) } })).toThrow(/rateLimit\.maxTokens must be an integer between 1 .*got: 0/);
    const bucket = { maxTokens: 10, tokensPerFill: 1, fillInterval: cdk.Duration.seconds(1) };
    expect(() => mesh.addVirtualNode('D', { rateLimit: { ...bucket, perKey: [{ ...bucket, key: weft.RateLimitKey.sourceIp(), maxKeys: 0 }] } })).toThrow(/rateLimit\.perKey\[0\]\.maxKeys must be an integer between 1 and 1000000, got: 0/);
    expect(() => mesh.addVirtualNode('E', { rateLimit: { ...bucket, perKey: [{ ...bucket, key: weft.RateLimitKey.header('bad header') }] } })).toThrow(/rateLimit\.perKey\[0\]\.key: header: must be an HTTP token/);
    expect(() => mesh.addVirtualNode('G', { rateLimit: { ...bucket, perKey: [{ ...bucket, key: weft.RateLimitKey.principal(), fillInterval: cdk.Duration.millis(0) }] } })).toThrow(/rateLimit\.perKey\[0\]\.fillInterval must be at least 1 ms, got: 0 millis/);
  });

  test('addListener and addBackend after construction are part of the model', () => {
    // GIVEN
    const stack = newStack();
    const mesh = meshIn(stack);
    const server = mesh.addVirtualNode('Server', { virtualNodeName: 'server' });
    const client = mesh.addVirtualNode('Client', { virtualNodeName: 'client' });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'server.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(server) });
    // WHEN
    server.addListener(weft.VirtualNodeListener.tcp({ port: 5432 }));
    client.addBackend(weft.Backend.virtualService(vs));
    // THEN
    const client2 = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client');
    expect(client2?.outbound.services).toEqual([expect.objectContaining({ name: 'server.shop.local', listeners: [expect.objectContaining({ port: 5432, protocol: 'tcp' })] })]);
  });

  test('imports by ARN and by attributes', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    const byArn = weft.VirtualNode.fromVirtualNodeArn(stack, 'A', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualNode/orders');
    const byAttrs = weft.VirtualNode.fromVirtualNodeAttributes(stack, 'B', { virtualNodeName: 'orders', mesh: weft.Mesh.fromMeshName(stack, 'M', 'shop') });
    // THEN
    expect([byArn.virtualNodeName, byArn.mesh.meshName]).toEqual(['orders', 'shop']);
    expect(stack.resolve(byAttrs.virtualNodeArn)).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':appmesh:eu-west-1:111111111111:mesh/shop/virtualNode/orders']] });
    expect(() => weft.VirtualNode.fromVirtualNodeArn(stack, 'C', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualRouter/r')).toThrow(/not a virtualNode ARN/);
  });
});
