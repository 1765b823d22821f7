/**
 * The example Weft mesh: the order-service canary behind an ingress gateway (its own Fargate service
 * behind an Application Load Balancer), on Fargate.
 *
 * - order-service v1 (stable, 90 %) and v2 (canary, 10 %); requests with `x-canary: true` go to v2.
 * - 3 retries of 2 s each inside a 10 s request timeout; DROP_ALL egress.
 * - mTLS STRICT between sidecars with SPIFFE identities from a short-lived Private CA.
 *
 * Any field the sidecar does not apply yet is warned about by `cdk synth` (docs/sidecar.md,
 * "Not built yet").
 *
 * Synthesizes offline (`npx cdk synth`): no lookups, no credentials, no Docker (the sidecar image
 * is built only when the stack is published).
 */
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as weft from '../lib';

const MESH = 'shop';
const APP_PORT = 8080;

/** The example stack; exported so tests synthesize exactly what `cdk synth` does. */
export class OrderServiceStack extends cdk.Stack {
  readonly mesh: weft.Mesh;

  constructor(scope: Construct, id: string, props: cdk.StackProps = {}) {
    super(scope, id, props);

    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } } });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    this.mesh = new weft.Mesh(this, 'Mesh', {
      meshName: MESH,
      egressFilter: weft.MeshFilterType.DROP_ALL,
      certificateAuthority: weft.MeshCertificateAuthority.shortLived(),
      clusters: [cluster],
    });

    // Sidecars present their mesh identity and require the caller's (mTLS STRICT).
    const mtls: weft.ListenerTlsOptions = {
      mode: weft.TlsMode.STRICT,
      certificate: weft.TlsCertificate.meshIdentity(),
      mutualTlsValidation: { trust: weft.TlsValidationTrust.meshTrust() },
    };
    const orderNode = (version: string) =>
      this.mesh.addVirtualNode(`OrderService-${version}`, {
        virtualNodeName: `order-service-${version}`,
        serviceDiscovery: weft.ServiceDiscovery.cloudMapName('order-service', { version }),
        listeners: [
          weft.VirtualNodeListener.http({
            port: APP_PORT,
            healthCheck: weft.HealthCheck.http({ path: '/health' }),
            tls: mtls,
            outlierDetection: { maxServerErrors: 5, interval: cdk.Duration.seconds(10), baseEjectionDuration: cdk.Duration.seconds(30), maxEjectionPercent: 50 },
          }),
        ],
        accessLog: weft.AccessLog.fromFilePath('/dev/stdout'),
      });
    const v1 = orderNode('v1');
    const v2 = orderNode('v2');

    const router = this.mesh.addVirtualRouter('OrderServiceRouter', {
      virtualRouterName: 'order-service',
      listeners: [weft.VirtualRouterListener.http(APP_PORT)],
    });
    const retryPolicy: weft.HttpRetryPolicy = {
      retryAttempts: 3,
      retryTimeout: cdk.Duration.seconds(2),
      httpRetryEvents: [weft.HttpRetryEvent.SERVER_ERROR, weft.HttpRetryEvent.GATEWAY_ERROR],
      tcpRetryEvents: [weft.TcpRetryEvent.CONNECTION_ERROR],
    };
    router.addRoute('Canary', {
      routeName: 'canary-header',
      routeSpec: weft.RouteSpec.http({
        priority: 0,
        match: { path: weft.HttpRoutePathMatch.startsWith('/'), headers: [weft.HeaderMatch.valueIs('x-canary', 'true')] },
        weightedTargets: [{ virtualNode: v2 }],
        retryPolicy,
        timeout: { perRequest: cdk.Duration.seconds(10) },
      }),
    });
    router.addRoute('Split', {
      routeName: 'weighted',
      routeSpec: weft.RouteSpec.http({
        priority: 1,
        match: { path: weft.HttpRoutePathMatch.startsWith('/') },
        weightedTargets: [
          { virtualNode: v1, weight: 90 },
          { virtualNode: v2, weight: 10 },
        ],
        retryPolicy,
        timeout: { perRequest: cdk.Duration.seconds(10) },
      }),
    });
    const orderService = new weft.VirtualService(this, 'OrderService', {
      virtualServiceName: `order-service.${MESH}.local`,
      virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(router),
    });

    const gateway = this.mesh.addVirtualGateway('Ingress', {
      virtualGatewayName: 'ingress',
      listeners: [weft.VirtualGatewayListener.http({ port: APP_PORT, healthCheck: weft.HealthCheck.http({ path: '/health' }) })],
      backendDefaults: {
        tlsClientPolicy: {
          mutualTlsCertificate: weft.TlsCertificate.meshIdentity(),
          validation: { trust: weft.TlsValidationTrust.meshTrust() },
        },
      },
      accessLog: weft.AccessLog.fromFilePath('/dev/stdout'),
    });
    gateway.addGatewayRoute('Orders', {
      gatewayRouteName: 'orders',
      routeSpec: weft.GatewayRouteSpec.http({
        routeTarget: orderService,
        match: { path: weft.HttpGatewayRoutePathMatch.startsWith('/orders/', '/orders/') },
      }),
    });

    // --- Fargate: one service per node and one for the gateway ---
    const appLogs = new logs.LogGroup(this, 'AppLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: cdk.RemovalPolicy.DESTROY });
    for (const [version, node] of [['v1', v1], ['v2', v2]] as const) {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `OrderServiceTask-${version}`, { family: `order-service-${version}`, cpu: 512, memoryLimitMiB: 1024 });
      const app = taskDefinition.addContainer('app', {
        image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:stable'),
        essential: true,
        portMappings: [{ containerPort: APP_PORT }],
        logging: ecs.LogDrivers.awsLogs({ logGroup: appLogs, streamPrefix: `order-service-${version}` }),
        environment: { VERSION: version },
      });
      node.addToTaskDefinition(taskDefinition, { appContainer: app, transparent: true });
      new ecs.FargateService(this, `OrderServiceService-${version}`, { cluster, taskDefinition, desiredCount: version === 'v1' ? 3 : 1, minHealthyPercent: 100, circuitBreaker: { rollback: true } });
    }
    const gatewayTask = new ecs.FargateTaskDefinition(this, 'IngressTask', { family: 'ingress', cpu: 256, memoryLimitMiB: 512 });
    const gatewaySidecar = gateway.addToTaskDefinition(gatewayTask);
    const gatewayService = new ecs.FargateService(this, 'IngressService', { cluster, taskDefinition: gatewayTask, desiredCount: 2, minHealthyPercent: 100, circuitBreaker: { rollback: true } });

    // The gateway is the mesh's front door: its own service behind a load balancer, which checks
    // the gateway listener's health path and spreads clients over the gateway tasks.
    const alb = new elbv2.ApplicationLoadBalancer(this, 'IngressLoadBalancer', { vpc, internetFacing: true, dropInvalidHeaderFields: true });
    const http = alb.addListener('Http', { port: 80, open: true });
    http.addTargets('Gateway', {
      port: APP_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [gatewayService.loadBalancerTarget({ containerName: gatewaySidecar.containerName, containerPort: APP_PORT })],
      healthCheck: { path: '/health', healthyHttpCodes: '200-499' },
      deregistrationDelay: cdk.Duration.seconds(20),
    });
    cdk.Validations.of(alb).acknowledge(
      { id: 'AwsSolutions-ELB2', reason: 'Example app: access logs need a Region-bound stack and a log bucket; enable them with logAccessLogs() when deploying for real' },
      { id: 'AwsSolutions-EC23', reason: 'The load balancer is the public entry point of the example; it accepts HTTP from anywhere on port 80 only' },
    );
    new cdk.CfnOutput(this, 'IngressUrl', { value: `http://${alb.loadBalancerDnsName}/orders/` });

    for (const taskDefinition of [...this.node.findAll()].filter((c): c is ecs.TaskDefinition => c instanceof ecs.TaskDefinition)) {
      cdk.Validations.of(taskDefinition).acknowledge(
        { id: 'AwsSolutions-ECS2', reason: 'The environment holds only non-secret sidecar settings and proxy addresses; certificates come from Secrets Manager at run time' },
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'The execution role needs ecr:GetAuthorizationToken, which has no resource-level permissions' },
      );
    }
  }
}

/** Builds the example app (no synthesis). */
export function buildExampleApp(app = new cdk.App()): { app: cdk.App; stack: OrderServiceStack } {
  const stack = new OrderServiceStack(app, 'WeftOrderServiceExample');
  return { app, stack };
}

if (require.main === module) {
  buildExampleApp().app.synth();
}
