import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import { parseSettings, parseTaskRegistry, SIDECAR_UID } from '../../proxy/contracts';
import * as weft from '../../lib';
import { cfnText, newStack, publishProperties, statementsOfRole } from './synth-helpers';

const image = ecs.ContainerImage.fromRegistry('example.com/weft-sidecar:test');

function nodeWithTask(transparent: boolean, props: Partial<weft.MeshProps> = {}, sidecar: Partial<weft.VirtualNodeSidecarOptions> = {}) {
  const stack = newStack();
  const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop', ...props });
  const node = mesh.addVirtualNode('Orders', {
    virtualNodeName: 'orders-v2',
    serviceDiscovery: weft.ServiceDiscovery.cloudMapName('orders', { version: 'v2' }),
    listeners: [weft.VirtualNodeListener.http({ port: 8080 })],
  });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { family: 'orders-v2' });
  const app = taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('example.com/orders:2'), portMappings: [{ containerPort: 8080 }] });
  node.addToTaskDefinition(taskDefinition, { appContainer: app, image, transparent, ...sidecar });
  return { stack, taskDefinition };
}

function containers(template: Template): Record<string, Record<string, unknown>> {
  const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return Object.fromEntries((td.Properties.ContainerDefinitions as Record<string, unknown>[]).map((c) => [c.Name as string, c]));
}

function envOf(container: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries((container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, cfnText(e.Value, () => 'weft-config-bucket')]));
}

describe('VirtualNode.addToTaskDefinition', () => {
  test('explicit mode: sidecar container, settings the sidecar parses, startup order, HTTP_PROXY', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false);
    // THEN
    const template = Template.fromStack(stack);
    const { 'weft-sidecar': sidecar, app } = containers(template);
    expect(sidecar).toMatchObject({
      Essential: true,
      User: String(SIDECAR_UID),
      Image: 'example.com/weft-sidecar:test',
      PortMappings: [{ ContainerPort: 15000, Protocol: 'tcp' }],
      HealthCheck: { Command: ['CMD', 'node', '-e', expect.stringContaining('http://127.0.0.1:9901/ready')], Interval: 5, Timeout: 2, Retries: 3 },
      LogConfiguration: { LogDriver: 'awslogs' },
    });
    const settings = parseSettings([], envOf(sidecar));
    expect(settings).toMatchObject({
      node: 'orders-v2',
      mesh: 'shop',
      config: 's3://weft-config-bucket/shop/nodes/orders-v2.json',
      certSource: 'none',
      inboundPort: 15000,
      egressPort: 15001,
      adminPort: 9901,
      uid: 1337,
      transparent: false,
      appPorts: ['8080'],
    });
    expect(settings.region).toBeDefined();
    expect(app.DependsOn).toEqual([{ ContainerName: 'weft-sidecar', Condition: 'HEALTHY' }]);
    expect(envOf(app)).toMatchObject({ HTTP_PROXY: 'http://127.0.0.1:15001', NO_PROXY: 'localhost,127.0.0.1,169.254.170.2,169.254.169.254' });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { ProxyConfiguration: Match.absent() });
  });

  test('transparent mode: the APPMESH ProxyConfiguration and no HTTP_PROXY', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(true);
    // THEN
    const template = Template.fromStack(stack);
    const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    const proxy = td.Properties.ProxyConfiguration as { Type: string; ContainerName: string; ProxyConfigurationProperties: { Name: string; Value: string }[] };
    expect([proxy.Type, proxy.ContainerName]).toEqual(['APPMESH', 'weft-sidecar']);
    expect(Object.fromEntries(proxy.ProxyConfigurationProperties.map((p) => [p.Name, p.Value]))).toEqual({
      IgnoredUID: '1337',
      ProxyIngressPort: '15000',
      ProxyEgressPort: '15001',
      AppPorts: '8080',
      EgressIgnoredIPs: '169.254.170.2,169.254.169.254',
    });
    const { 'weft-sidecar': sidecar, app } = containers(template);
    expect(parseSettings([], envOf(sidecar)).transparent).toBe(true);
    expect(app.Environment).toBeUndefined();
  });

  test('registers the task definition family for discovery sync', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false);
    // THEN
    const registry = parseTaskRegistry(JSON.parse(cfnText(publishProperties(Template.fromStack(stack)).TaskRegistry, () => 'srv-123')));
    expect(registry.families['orders-v2']).toEqual({
      mesh: 'shop',
      node: 'orders-v2',
      port: 15000,
      cloudMap: { namespaceName: 'weft-shop', serviceName: 'orders', serviceId: 'srv-123' },
      attributes: { version: 'v2' },
    });
  });

  test('with a mesh CA the sidecar reads its certificate from its secret', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false, { certificateAuthority: weft.MeshCertificateAuthority.shortLived() });
    // THEN
    const { 'weft-sidecar': sidecar } = containers(Template.fromStack(stack));
    expect(parseSettings([], envOf(sidecar)).certSource).toBe('secretsmanager:weft/shop/orders-v2/certificate');
  });

  test('grants the task role what the sidecar needs, and no metrics permission (EMF goes to stdout, carried by the log driver)', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false);
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('TaskTaskRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:GetObject' })]) },
    });
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('cloudwatch:PutMetricData');
  });

  test("with the prometheus sink the metrics port is mapped and labelled for ECS service discovery; a sink the sidecar would refuse fails synth", () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false, {}, { settings: { metrics: 'emf,prometheus' } });
    // THEN
    const { 'weft-sidecar': sidecar } = containers(Template.fromStack(stack));
    expect(parseSettings([], envOf(sidecar)).metrics).toBe('emf,prometheus');
    expect(sidecar.PortMappings).toEqual([
      { ContainerPort: 15000, Protocol: 'tcp' },
      { ContainerPort: 15090, Protocol: 'tcp' },
    ]);
    expect(sidecar.DockerLabels).toEqual({ ECS_PROMETHEUS_EXPORTER_PORT: '15090', ECS_PROMETHEUS_METRICS_PATH: '/stats/prometheus' });
    // The default (emf) maps no metrics port and labels nothing.
    const { 'weft-sidecar': plain } = containers(Template.fromStack(nodeWithTask(false).stack));
    expect(plain.PortMappings).toEqual([{ ContainerPort: 15000, Protocol: 'tcp' }]);
    expect(plain.DockerLabels).toBeUndefined();
    expect(() => nodeWithTask(false, {}, { settings: { metrics: 'cloudwatch' } })).toThrow(/metrics: 'cloudwatch' \(PutMetricData\) is not built yet/);
    expect(() => nodeWithTask(false, {}, { settings: { metrics: 'prometheus,statsd' } })).toThrow(/metrics: expected 'none' or a comma-separated list of prometheus, emf, got: "prometheus,statsd"/);
  });

  test('only awsvpc task definitions are accepted', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const node = mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    const taskDefinition = new ecs.Ec2TaskDefinition(stack, 'Task', { networkMode: ecs.NetworkMode.BRIDGE });
    const app = taskDefinition.addContainer('app', { image, memoryLimitMiB: 256 });
    // THEN
    expect(() => node.addToTaskDefinition(taskDefinition, { appContainer: app, image })).toThrow(/need a task definition in awsvpc network mode .*got: bridge/);
  });

  test('one family runs one node', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const a = mesh.addVirtualNode('A', { virtualNodeName: 'a', listeners: [weft.VirtualNodeListener.http()] });
    const b = mesh.addVirtualNode('B', { virtualNodeName: 'b', listeners: [weft.VirtualNodeListener.http()] });
    const td1 = new ecs.FargateTaskDefinition(stack, 'T1', { family: 'same' });
    const td2 = new ecs.FargateTaskDefinition(stack, 'T2', { family: 'same' });
    a.addToTaskDefinition(td1, { appContainer: td1.addContainer('app', { image }), image });
    // THEN
    expect(() => b.addToTaskDefinition(td2, { appContainer: td2.addContainer('app', { image }), image })).toThrow(/family 'same' already runs virtual node 'a'.*got: 'b'/);
  });

  test("discovery sync may register instances only in the Cloud Map services of nodes that run tasks, each named by its ARN", () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false);
    // THEN
    const template = Template.fromStack(stack);
    const services = template.findResources('AWS::ServiceDiscovery::Service');
    const [serviceId] = Object.keys(services).filter((id) => services[id].Properties.Name === 'orders');
    const statements = statementsOfRole(template, 'MeshWeftDiscoverySyncFunction');
    const cloudMap = statements.filter((st) => JSON.stringify(st.Action).includes('servicediscovery:'));
    expect(cloudMap).toEqual([
      {
        Effect: 'Allow',
        Action: ['servicediscovery:RegisterInstance', 'servicediscovery:DeregisterInstance', 'servicediscovery:ListInstances', 'servicediscovery:GetInstance'],
        Resource: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':servicediscovery:eu-west-1:111111111111:service/', { 'Fn::GetAtt': [serviceId, 'Id'] }]] }],
      },
    ]);
    // A mesh without tasks grants no Cloud Map write at all.
    const bare = newStack();
    new weft.Mesh(bare, 'Mesh', { meshName: 'shop' }).addVirtualNode('N', { virtualNodeName: 'n', listeners: [weft.VirtualNodeListener.http()] });
    expect(JSON.stringify(Template.fromStack(bare).toJSON())).not.toContain('servicediscovery:RegisterInstance');
  });

  test('local app health: the Mesh\'s Cloud Map service has a custom health config; the sidecar gets its id and exactly the one call on it', () => {
    // GIVEN / WHEN
    const { stack } = nodeWithTask(false);
    // THEN
    const template = Template.fromStack(stack);
    const services = template.findResources('AWS::ServiceDiscovery::Service');
    const [serviceId] = Object.keys(services).filter((id) => services[id].Properties.Name === 'orders');
    expect(services[serviceId].Properties.HealthCheckCustomConfig).toEqual({});
    const env = containers(template)['weft-sidecar'].Environment as { Name: string; Value: unknown }[];
    expect(env).toContainEqual({ Name: 'WEFT_CLOUD_MAP_SERVICE_ID', Value: { 'Fn::GetAtt': [serviceId, 'Id'] } });
    expect(env.map((e) => e.Name)).not.toContain('WEFT_CLOUD_MAP_INSTANCE_ID');
    const statements = statementsOfRole(template, 'TaskTaskRole');
    const health = statements.filter((st) => JSON.stringify(st.Action).includes('UpdateInstanceCustomHealthStatus'));
    expect(health).toEqual([
      {
        Effect: 'Allow',
        Action: 'servicediscovery:UpdateInstanceCustomHealthStatus',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':servicediscovery:eu-west-1:111111111111:service/', { 'Fn::GetAtt': [serviceId, 'Id'] }]] },
      },
    ]);
  });

  test('local app health: a Cloud Map service passed in is left as it is, and its sidecars do not set health status', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const namespace = new cloudmap.HttpNamespace(stack, 'Ns', { name: 'apps' });
    const service = namespace.createService('Svc', { name: 'orders' });
    const node = mesh.addVirtualNode('Orders', { virtualNodeName: 'orders', serviceDiscovery: weft.ServiceDiscovery.cloudMap(service), listeners: [weft.VirtualNodeListener.http({ port: 8080 })] });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { family: 'orders' });
    // WHEN
    node.addToTaskDefinition(taskDefinition, { appContainer: taskDefinition.addContainer('app', { image }), image });
    // THEN
    const template = Template.fromStack(stack);
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toContain('UpdateInstanceCustomHealthStatus');
    expect(text).not.toContain('WEFT_CLOUD_MAP_SERVICE_ID');
    template.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'orders', HealthCheckCustomConfig: Match.absent() });
  });
});
