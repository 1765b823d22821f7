import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as weft from '../../lib';
import { newStack, publishedConfigs, publishProperties, statementsOfRole } from './synth-helpers';

describe('Mesh', () => {
  test('deploys the config bucket, config publish, namespace and discovery sync', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::ServiceDiscovery::HttpNamespace', { Name: 'weft-shop' });
    template.hasResourceProperties('Custom::WeftConfigPublish', { Mesh: 'shop', Bucket: { Ref: Match.stringLikeRegexp('ConfigBucket') } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: { Variables: Match.objectLike({ WEFT_MESH: 'shop', WEFT_CONFIG_BUCKET: { Ref: Match.stringLikeRegexp('ConfigBucket') } }) },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'] },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DiscoverySyncFunction'), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    // No CA unless asked: a short-lived Private CA costs money every month.
    template.resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    expect(publishProperties(template).TaskRegistry).toBe(JSON.stringify({ schema: 'weft.dev/task-registry/v1', families: {} }));
  });

  test('config publish may only write under the mesh prefix', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // THEN
    const statements = statementsOfRole(Template.fromStack(stack), 'MeshWeftConfigPublishFunction');
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['s3:PutObject', 's3:DeleteObject', 's3:GetObject'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/ConfigBucket/), 'Arn'] }, '/shop/*']] },
      }),
    );
  });

  test('the mesh spec reaches every compiled config', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'Shop', egressFilter: weft.MeshFilterType.ALLOW_ALL });
    // WHEN
    mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    // THEN
    const [config] = publishedConfigs(Template.fromStack(stack));
    expect(config.mesh).toEqual({ name: 'Shop', egressFilter: 'ALLOW_ALL', trustDomain: 'shop' });
    expect(config.node.spiffeId).toBe('spiffe://shop/ns/Shop/sa/node');
  });

  test('a short-lived CA is created, activated and used by certificate sync', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop', certificateAuthority: weft.MeshCertificateAuthority.shortLived(), certificateLifetime: cdk.Duration.days(5) });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ACMPCA::CertificateAuthority', { Type: 'ROOT', UsageMode: 'SHORT_LIVED_CERTIFICATE', KeyAlgorithm: 'EC_prime256v1' });
    template.hasResourceProperties('AWS::ACMPCA::CertificateAuthorityActivation', { Status: 'ACTIVE' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEFT_CA_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('CertificateAuthority'), 'Arn'] }, WEFT_CERT_VALIDITY_DAYS: '5' }) },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    // New nodes get certificates right after config publish, not at the next tick.
    const [kick] = Object.values(template.findResources('Custom::AWS'));
    expect(kick.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/ConfigPublish/), expect.stringMatching(/CertificateAuthorityActivation/)]));
    expect(JSON.stringify(kick.Properties.Update)).toContain('\\"InvocationType\\":\\"Event\\"');
  });

  test('certificate sync may read and list exactly the objects it reads: node configs, task registry, trust bundle', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop', certificateAuthority: weft.MeshCertificateAuthority.shortLived() });
    // THEN
    const statements = statementsOfRole(Template.fromStack(stack), 'MeshWeftCertificateSyncFunction');
    expect(statements.length).toBeGreaterThan(0);
    const text = (r: unknown) => JSON.stringify(r);
    const readable = statements.filter((s) => ([] as unknown[]).concat(s.Action).includes('s3:GetObject')).flatMap((s) => ([] as unknown[]).concat(s.Resource).map(text));
    for (const key of ['/shop/nodes/*', '/shop/task-registry.json', '/shop/trust-bundle.pem']) expect(readable.some((r) => r.includes(`"${key}"`))).toBe(true);
    const list = statements.find((s) => s.Action === 's3:ListBucket') as { Condition: { StringLike: { 's3:prefix': string[] } } };
    expect([...list.Condition.StringLike['s3:prefix']].sort()).toEqual(['shop/nodes/*', 'shop/task-registry.json', 'shop/trust-bundle.pem']);
  });

  test('an existing CA is used by ARN and none is created', () => {
    // GIVEN
    const stack = newStack();
    const arn = 'arn:aws:acm-pca:eu-west-1:111111111111:certificate-authority/12345678-1234-1234-1234-123456789012';
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop', certificateAuthority: weft.MeshCertificateAuthority.fromArn(arn) });
    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ WEFT_CA_ARN: arn }) } });
  });

  test('discovery sync listens to the given clusters only', () => {
    // GIVEN
    const stack = newStack();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 }) });
    // WHEN
    new weft.Mesh(stack, 'Mesh', { meshName: 'shop', clusters: [cluster] });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['ECS Task State Change'], detail: { clusterArn: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Cluster'), 'Arn'] }] } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEFT_CLUSTERS: { 'Fn::GetAtt': [Match.stringLikeRegexp('Cluster'), 'Arn'] } }) },
    });
  });

  test('resources in another stack join the mesh of the stack that defines it', () => {
    // GIVEN
    const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const infra = new cdk.Stack(app, 'Infra', { env: { account: '111111111111', region: 'eu-west-1' } });
    const apps = new cdk.Stack(app, 'Apps', { env: { account: '111111111111', region: 'eu-west-1' } });
    const mesh = new weft.Mesh(infra, 'Mesh', { meshName: 'shop', egressFilter: weft.MeshFilterType.ALLOW_ALL });
    // WHEN
    const router = new weft.VirtualRouter(apps, 'router', { mesh, listeners: [weft.VirtualRouterListener.http(8081)] });
    const node = new weft.VirtualNode(apps, 'Node', { mesh, virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http({ port: 8081 })] });
    router.addRoute('All', { routeName: 'all', routeSpec: weft.RouteSpec.http({ weightedTargets: [{ virtualNode: node }] }) });
    const vs = new weft.VirtualService(apps, 'Vs', { virtualServiceName: 'svc.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(router) });
    const client = new weft.VirtualNode(apps, 'Client', { mesh, virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    client.grantSidecar(new iam.Role(apps, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') }));
    // THEN
    const configs = publishedConfigs(Template.fromStack(infra));
    expect(configs.map((c) => c.node.name)).toEqual(['client', 'node']);
    // The sidecar's grant in the app stack reads the bucket of the infra stack through an export.
    expect(JSON.stringify(Template.fromStack(apps).toJSON())).toContain('Fn::ImportValue');
  });

  test('tracing reaches every compiled config with Istio\'s 1% and the ADOT collector as defaults', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop', tracing: {} });
    // WHEN
    mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    // THEN
    const [config] = publishedConfigs(Template.fromStack(stack));
    expect(config.schema).toBe('weft.dev/node-config/v2');
    expect(config.tracing).toEqual({ samplingPercentage: 1, endpoint: 'http://localhost:4318/v1/traces' });
  });

  test('tracing with enabled: false leaves the configs without tracing, at schema v1', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop', tracing: { enabled: false, samplingPercentage: 50 } });
    // WHEN
    mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    // THEN
    const [config] = publishedConfigs(Template.fromStack(stack));
    expect(config.schema).toBe('weft.dev/node-config/v1');
    expect(config.tracing).toBeUndefined();
  });

  test('bad tracing settings fail synth with their field paths', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop', tracing: { samplingPercentage: 101, endpoint: 'localhost:4318' } });
    // WHEN
    mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    // THEN
    expect(() => Template.fromStack(stack)).toThrow(/Mesh\/shop: spec\.tracing\.samplingPercentage: must be a percentage from 0 to 100, got: 101/);
    expect(() => Template.fromStack(stack)).toThrow(/Mesh\/shop: spec\.tracing\.endpoint: must be the collector's OTLP\/HTTP traces URL .*got: localhost:4318/);
  });

  test('an invalid mesh fails synth with the model error: construct path, resource, field path', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const missing = weft.VirtualService.fromVirtualServiceAttributes(stack, 'Missing', { virtualServiceName: 'missing.shop.local', mesh });
    // WHEN
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(missing)] });
    // THEN
    expect(() => Template.fromStack(stack)).toThrow(
      /Stack\/Mesh\/Client: VirtualNode\/client: spec\.backends\[0\]\.virtualService\.virtualServiceName: a backend must name a virtual service of mesh shop, got: missing\.shop\.local/,
    );
  });

  test('TLS from the mesh identity needs a mesh CA', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // WHEN
    mesh.addVirtualNode('Node', {
      virtualNodeName: 'node',
      listeners: [weft.VirtualNodeListener.http({ tls: { mode: weft.TlsMode.STRICT, certificate: weft.TlsCertificate.meshIdentity() } })],
    });
    // THEN
    expect(() => Template.fromStack(stack)).toThrow(/Stack\/Mesh: VirtualNode\/node uses the mesh identity .*needs MeshProps\.certificateAuthority, got: none/);
  });

  test('names must be literal and well formed', () => {
    // GIVEN
    const stack = newStack();
    // THEN
    expect(() => new weft.Mesh(stack, 'A', { meshName: cdk.Lazy.string({ produce: () => 'x' }) })).toThrow(/meshName must be a literal string/);
    expect(() => new weft.Mesh(stack, 'B', { meshName: 'has/slash' })).toThrow(/meshName must be 1-255 letters, digits, '\.', '_' or '-' .*got: has\/slash/);
  });

  test('imported meshes can be referenced but not added to', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    const byName = weft.Mesh.fromMeshName(stack, 'ByName', 'shop');
    const byArn = weft.Mesh.fromMeshArn(stack, 'ByArn', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/other');
    // THEN
    expect(byArn.meshName).toBe('other');
    expect(() => byName.addVirtualNode('Node')).toThrow(/mesh 'shop' is imported/);
    expect(() => new weft.VirtualRouter(stack, 'Router', { mesh: byName })).toThrow(/mesh 'shop' is imported/);
  });
});
