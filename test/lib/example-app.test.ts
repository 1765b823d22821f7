/**
 * The example app (bin/example-app.ts), synthesized once with real Lambda bundling: what
 * `npx cdk synth` produces offline.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseNodeConfig, parseSettings, parseTaskRegistry, type NodeConfig } from '../../proxy/contracts';
import { buildExampleApp, type OrderServiceStack } from '../../bin/example-app';
import { planEvent } from '../../lambda/discovery/plan';
import type { TaskState } from '../../lambda/discovery/task-state';
import { endpointFromInstance, matchesAttributes } from '../../proxy/endpoints/instance-endpoint';
import { cfnText, cfnValidationErrors, publishedConfigs, publishProperties, statementsOfRole } from './synth-helpers';

let app: cdk.App;
let stack: OrderServiceStack;
let template: Template;
let assemblyDir: string;

beforeAll(() => {
  ({ app, stack } = buildExampleApp(new cdk.App()));
  assemblyDir = app.synth().directory;
  template = Template.fromStack(stack);
});

/** `weft compile` (the built CLI, as a user runs it) on the example mesh written as YAML: its configs and warnings. */
function compileYaml(): { configs: NodeConfig[]; warnings: string[] } {
  const root = path.join(__dirname, '../..');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
  const r = spawnSync(process.execPath, ['dist/weft.js', 'compile', 'test/fixtures/example-app/shop.yaml'], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return { configs: (JSON.parse(r.stdout) as unknown[]).map((c) => parseNodeConfig(c)), warnings: r.stderr.trimEnd().split('\n') };
}
let compiled: ReturnType<typeof compileYaml> | undefined;
const compiledFromYaml = () => (compiled ??= compileYaml());

const byName = (configs: NodeConfig[]) => Object.fromEntries(configs.map((c) => [c.node.name, c]));

describe('example app', () => {
  test('the configs published at deploy equal `weft compile` on the same mesh written as YAML', () => {
    const published = byName(publishedConfigs(template));
    const expected = byName(compiledFromYaml().configs);
    expect(Object.keys(published).sort()).toEqual(['ingress', 'order-service-v1', 'order-service-v2']);
    expect(published).toEqual(expected);
  });

  test('the canary: x-canary goes to v2, the rest splits 90/10 with 3 retries of 2 s inside 10 s', () => {
    const ingress = byName(publishedConfigs(template)).ingress;
    const [canary, split] = ingress.outbound.services[0].listeners[0].routes;
    expect(canary).toMatchObject({ priority: 0, match: { headers: [{ name: 'x-canary', match: { exact: 'true' } }] }, action: { weightedTargets: [{ cluster: 'order-service-v2:8080' }] } });
    expect(split).toMatchObject({
      priority: 1,
      action: { weightedTargets: [{ cluster: 'order-service-v1:8080', weight: 90 }, { cluster: 'order-service-v2:8080', weight: 10 }] },
      retryPolicy: { maxRetries: 3, perTryTimeoutMs: 2000 },
      timeout: { perRequestMs: 10000 },
    });
    expect(ingress.mesh.egressFilter).toBe('DROP_ALL');
    expect(ingress.clusters.map((c) => c.tls.mode)).toEqual(['MUTUAL', 'MUTUAL']);
    expect(byName(publishedConfigs(template))['order-service-v1'].inbound.listeners[0].tls).toMatchObject({ mode: 'STRICT', certificate: { mesh: true }, validation: { trust: { mesh: true } } });
  });

  test('cdk synth warns about the fields the sidecar does not apply yet exactly as `weft compile` does on the YAML', () => {
    // `path: message`, without the construct or the file and line around it.
    const fromSynth = Annotations.fromStack(stack)
      .findWarning('*', Match.stringLikeRegexp('weft:field-not-applied:'))
      .map((w) => String(w.entry.data).replace(/ \[ack: [^\]]+\]$/, ''));
    const { warnings } = compiledFromYaml();
    expect(warnings.at(-1)).toBe('1 warning');
    const fromYaml = warnings.slice(0, -1).map((w) => w.replace(/^[^:]+:\d+: warning: [^:]+: /, ''));
    expect(fromSynth.sort()).toEqual(fromYaml.sort());
    // The gateway's listener health check; access logs are applied.
    expect(fromSynth).toHaveLength(1);
  });

  test('CloudFormation Validate (cfn-lint rules, bundled with aws-cdk-lib) reports no error', () => {
    expect(cfnValidationErrors(template.toJSON(), 'WeftOrderServiceExample.template.json')).toEqual([]);
  });

  test('AwsSolutions checks: no unacknowledged finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  test('the controllers are bundled by esbuild on Node.js 22, without Docker', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => String(f.Properties.Description ?? '').includes('(mesh shop)'));
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      const bundle = fs.readFileSync(path.join(assemblyDir, `asset.${hash}`, 'index.js'), 'utf8');
      // The contracts are bundled in; the AWS SDK comes from the runtime.
      expect(bundle).toContain('weft.dev/');
      expect(bundle).toMatch(/require\("@aws-sdk\/client-/);
    }
  });

  test('the sidecars\' environment parses with the sidecar\'s own settings parser', () => {
    const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: 'order-service-v1' } }));
    const sidecar = (td.Properties.ContainerDefinitions as { Name: string; Environment: { Name: string; Value: unknown }[] }[]).find((c) => c.Name === 'weft-sidecar')!;
    const env = Object.fromEntries(sidecar.Environment.map((e) => [e.Name, cfnText(e.Value, () => 'bucket')]));
    expect(parseSettings([], env)).toMatchObject({
      node: 'order-service-v1',
      mesh: 'shop',
      config: 's3://bucket/shop/nodes/order-service-v1.json',
      certSource: 'secretsmanager:weft/shop/order-service-v1/certificate',
      transparent: true,
      appPorts: ['8080'],
    });
    expect(td.Properties.ProxyConfiguration).toMatchObject({ Type: 'APPMESH', ContainerName: 'weft-sidecar' });
    expect(td.Properties.RequiresCompatibilities).toEqual(['FARGATE']);
  });

  test('the parts agree: a task discovery sync registers is an endpoint the gateway\'s sidecar may discover, matches and dials', () => {
    // The canary's task, as ECS reports it once it runs, mapped by the synthesized task registry.
    const registry = parseTaskRegistry(JSON.parse(cfnText(publishProperties(template).TaskRegistry, () => 'srv-1')));
    const task: TaskState = {
      taskArn: 'arn:aws:ecs:eu-west-1:111111111111:task/shop/0123456789abcdef0123456789abcdef',
      family: 'order-service-v2',
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      healthStatus: 'HEALTHY',
      zone: 'eu-west-1a',
      ipv4: '10.0.1.7',
      version: 3,
    };
    const action = planEvent({ task, entry: registry.families[task.family] }, undefined);
    if (action.kind !== 'register') throw new Error(`expected a registration, got ${JSON.stringify(action)}`);

    // The gateway's published config names the canary's cluster with a Cloud Map filter...
    const ingress = byName(publishedConfigs(template)).ingress;
    const cluster = ingress.clusters.find((c) => c.name === 'order-service-v2:8080')!;
    if (cluster.discovery.type !== 'cloudMap') throw new Error('expected Cloud Map discovery');
    const { namespaceName, serviceName, attributes: filter } = cluster.discovery;
    expect(registry.families[task.family].cloudMap).toMatchObject({ namespaceName, serviceName });
    // ...that the registered instance matches (and the stable node's filter does not)...
    expect(matchesAttributes(action.attributes, filter)).toBe(true);
    const stable = ingress.clusters.find((c) => c.name === 'order-service-v1:8080')!.discovery as typeof cluster.discovery;
    expect(matchesAttributes(action.attributes, stable.attributes)).toBe(false);
    // ...which the gateway's role may discover...
    const discover = statementsOfRole(template, 'IngressTaskTaskRole').find((st) => JSON.stringify(st.Action).includes('DiscoverInstances'))!;
    expect(discover.Condition).toEqual({ StringEquals: { 'servicediscovery:NamespaceName': [namespaceName], 'servicediscovery:ServiceName': [serviceName] } });
    // ...and whose endpoint is the canary sidecar's inbound port, as its own settings parse it.
    const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: task.family } }));
    const sidecar = (td.Properties.ContainerDefinitions as { Name: string; Environment: { Name: string; Value: unknown }[] }[]).find((c) => c.Name === 'weft-sidecar')!;
    const settings = parseSettings([], Object.fromEntries(sidecar.Environment.map((e) => [e.Name, cfnText(e.Value, () => 'bucket')])));
    expect(endpointFromInstance({ instanceId: action.instanceId, attributes: action.attributes })).toEqual({
      id: '0123456789abcdef0123456789abcdef',
      address: '10.0.1.7',
      port: settings.inboundPort,
      zone: 'eu-west-1a',
      weight: 1,
      healthy: true,
    });
  });

  test('the gateway runs as its own service behind a load balancer that checks the gateway listener', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080, Protocol: 'HTTP', TargetType: 'ip', HealthCheckPath: '/health' });
    template.hasResourceProperties('AWS::ECS::Service', {
      LoadBalancers: [{ ContainerName: 'weft-sidecar', ContainerPort: 8080, TargetGroupArn: Match.anyValue() }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
  });

  test('the sidecar image is built from proxy/Dockerfile with only the files it copies', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(assemblyDir, `${stack.artifactId}.assets.json`), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile?: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0].source.dockerFile).toBe('proxy/Dockerfile');
    // Exactly what the Dockerfile's COPY lines name from the build context, and no local build output.
    const dockerfile = fs.readFileSync(path.join(__dirname, '../../proxy/Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(' ')).sort();
    const context = path.join(assemblyDir, images[0].source.directory);
    expect(fs.readdirSync(context).sort()).toEqual(copied);
    expect(fs.existsSync(path.join(context, 'native/original-dst/build'))).toBe(false);
  });

  test('the gateway may discover only the order service; nodes without backends discover nothing', () => {
    const discover = (rolePrefix: string) =>
      statementsOfRole(template, rolePrefix).find((s) => JSON.stringify(s.Action).includes('DiscoverInstances'))?.Condition;
    expect(discover('IngressTaskTaskRole')).toEqual({ StringEquals: { 'servicediscovery:NamespaceName': ['weft-shop'], 'servicediscovery:ServiceName': ['order-service'] } });
    expect(discover('OrderServiceTaskv1TaskRole')).toEqual({ StringEquals: { 'servicediscovery:NamespaceName': ['weft:none'], 'servicediscovery:ServiceName': ['weft:none'] } });
  });

  test('the task registry maps both order-service families; canary and stable share one Cloud Map service', () => {
    const registry = parseTaskRegistry(JSON.parse(cfnText(publishProperties(template).TaskRegistry, () => 'srv-1')));
    expect(Object.keys(registry.families).sort()).toEqual(['order-service-v1', 'order-service-v2']);
    expect(registry.families['order-service-v2']).toMatchObject({ node: 'order-service-v2', port: 15000, cloudMap: { serviceName: 'order-service' }, attributes: { version: 'v2' } });
    template.resourceCountIs('AWS::ServiceDiscovery::Service', 1);
  });
});
