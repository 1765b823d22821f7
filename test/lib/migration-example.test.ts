/**
 * The worked migration of docs/migrating-from-app-mesh.md: the App Mesh "color app" on Fargate,
 * after the migration. The stack below is the doc's "after" code verbatim (keep them in step); it
 * must synthesize, pass CloudFormation Validate, and publish the configs the App Mesh mesh meant.
 */
import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as appmesh from '../../lib';
import { cfnValidationErrors, publishedConfigs } from './synth-helpers';

// --- after (docs/migrating-from-app-mesh.md) ---
class ColorAppStack extends cdk.Stack {
  constructor(scope: cdk.App, id: string) {
    super(scope, id);
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2 });
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', { vpc, name: 'colors.local' });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc });
    const mesh = new appmesh.Mesh(this, 'Mesh', { meshName: 'colors', clusters: [cluster] });

    const router = mesh.addVirtualRouter('ColorRouter', {
      virtualRouterName: 'color-router',
      listeners: [appmesh.VirtualRouterListener.http(8080)],
    });
    const colorService = new appmesh.VirtualService(this, 'ColorService', {
      virtualServiceName: 'color.colors.local',
      virtualServiceProvider: appmesh.VirtualServiceProvider.virtualRouter(router),
    });

    const colors = ['blue', 'red'].map((color) => {
      const service = namespace.createService(`${color}Service`, { name: `color-${color}` });
      const node = mesh.addVirtualNode(`${color}Node`, {
        virtualNodeName: `color-${color}`,
        serviceDiscovery: appmesh.ServiceDiscovery.cloudMap(service),
        listeners: [appmesh.VirtualNodeListener.http({ port: 8080, healthCheck: appmesh.HealthCheck.http({ path: '/ping' }) })],
      });
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${color}Task`, { family: `color-${color}` });
      const app = taskDefinition.addContainer('app', {
        image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/colorteller:latest'),
        environment: { COLOR: color },
        portMappings: [{ containerPort: 8080 }],
      });
      // was: the Envoy container, APPMESH_RESOURCE_ARN and the APPMESH ProxyConfiguration
      node.addToTaskDefinition(taskDefinition, { appContainer: app, transparent: true });
      // was: cloudMapOptions (discovery sync registers the tasks now)
      new ecs.FargateService(this, `${color}Svc`, { cluster, taskDefinition });
      return node;
    });

    router.addRoute('Weighted', {
      routeSpec: appmesh.RouteSpec.http({
        weightedTargets: [
          { virtualNode: colors[0], weight: 80 },
          { virtualNode: colors[1], weight: 20 },
        ],
        retryPolicy: {
          httpRetryEvents: [appmesh.HttpRetryEvent.SERVER_ERROR],
          retryAttempts: 2,
          retryTimeout: cdk.Duration.seconds(1),
        },
      }),
    });

    const gateway = mesh.addVirtualNode('Frontend', {
      virtualNodeName: 'frontend',
      serviceDiscovery: appmesh.ServiceDiscovery.dns('frontend.colors.local'),
      listeners: [appmesh.VirtualNodeListener.http({ port: 8080 })],
      backends: [appmesh.Backend.virtualService(colorService)],
    });
    const frontendTask = new ecs.FargateTaskDefinition(this, 'FrontendTask', { family: 'frontend' });
    const frontend = frontendTask.addContainer('app', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/colorgateway:latest'),
      environment: { COLOR_TELLER_ENDPOINT: 'color.colors.local:8080' },
      portMappings: [{ containerPort: 8080 }],
    });
    gateway.addToTaskDefinition(frontendTask, { appContainer: frontend, transparent: true });
    new ecs.FargateService(this, 'FrontendSvc', { cluster, taskDefinition: frontendTask });
  }
}
// --- end of "after" ---

describe('worked migration: the App Mesh color app', () => {
  let template: Template;

  beforeAll(() => {
    const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
    template = Template.fromStack(new ColorAppStack(app, 'ColorApp'));
  });

  test('synthesizes and passes CloudFormation Validate', () => {
    expect(cfnValidationErrors(template.toJSON())).toEqual([]);
  });

  test('the frontend routes 80/20 with 2 retries of 1 s on server errors, as the App Mesh route did', () => {
    const frontend = publishedConfigs(template, () => 'token').find((c) => c.node.name === 'frontend')!;
    const [route] = frontend.outbound.services[0].listeners[0].routes;
    expect(frontend.outbound.services[0].name).toBe('color.colors.local');
    expect(route).toMatchObject({
      action: { weightedTargets: [{ cluster: 'color-blue:8080', weight: 80 }, { cluster: 'color-red:8080', weight: 20 }] },
      retryPolicy: { maxRetries: 2, perTryTimeoutMs: 1000, httpRetryEvents: ['server-error'] },
    });
  });

  test('no Envoy and no ECS service discovery: the Weft sidecar and discovery sync replace them', () => {
    const defs = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    for (const td of defs) {
      const names = (td.Properties.ContainerDefinitions as { Name: string }[]).map((c) => c.Name).sort();
      expect(names).toEqual(['app', 'weft-sidecar']);
      expect(td.Properties.ProxyConfiguration).toMatchObject({ Type: 'APPMESH', ContainerName: 'weft-sidecar' });
    }
    for (const svc of Object.values(template.findResources('AWS::ECS::Service'))) expect(svc.Properties.ServiceRegistries).toBeUndefined();
    template.resourceCountIs('AWS::AppMesh::Mesh', 0);
  });
});
