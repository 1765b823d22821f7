/**
 * The ECS wiring of a sidecar: its container, environment (the settings contract), health check,
 * startup ordering, ProxyConfiguration and the registration of the task definition family.
 */
import * as cdk from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  DEFAULT_ADMIN_PORT,
  DEFAULT_EGRESS_PORT,
  DEFAULT_INBOUND_PORT,
  DEFAULT_METRICS_PORT,
  SIDECAR_UID,
  certificateSecretName,
  nodeConfigKey,
  settingsToEnv,
  type Settings,
} from '../../proxy/contracts';
import { metricSinks } from '../../proxy/telemetry/metric-sinks';
import type { SidecarOptions } from '../sidecar';
import { checkPort } from './checks';
import type { MeshRegistry } from './registry';
import { findWeftRoot } from './repo-root';

/** The addresses the ECS agent and instance metadata live at; they never go through the proxy. */
export const EGRESS_IGNORED_IPS = ['169.254.170.2', '169.254.169.254'];

export interface SidecarTarget {
  readonly kind: 'virtualNode' | 'virtualGateway';
  readonly name: string;
  readonly meshName: string;
  readonly registry: MeshRegistry;
  /** Ports of the local app (nodes) or the gateway's listener ports. */
  readonly listenerPorts: number[];
  readonly appContainer?: ecs.ContainerDefinition;
  /** The node's Cloud Map service id, when its sidecars set their tasks' custom health status. */
  readonly cloudMapServiceId?: string;
}

export function addSidecar(scope: Construct, taskDefinition: ecs.TaskDefinition, target: SidecarTarget, options: SidecarOptions): ecs.ContainerDefinition {
  if (taskDefinition.networkMode !== ecs.NetworkMode.AWS_VPC) {
    throw new Error(
      `Weft sidecars need a task definition in awsvpc network mode (discovery sync registers the task's ENI address), got: ${taskDefinition.networkMode}`,
    );
  }
  const settings = options.settings ?? {};
  const inboundPort = settings.inboundPort ?? DEFAULT_INBOUND_PORT;
  const egressPort = settings.egressPort ?? DEFAULT_EGRESS_PORT;
  const adminPort = settings.adminPort ?? DEFAULT_ADMIN_PORT;
  // Refused at synth as the sidecar would refuse it at start (`cloudwatch`, a typo).
  const prometheus = metricSinks(settings.metrics ?? 'emf').has('prometheus');
  const metricsPort = settings.metricsPort ?? DEFAULT_METRICS_PORT;
  const appPorts = options.appPorts ?? target.listenerPorts;
  appPorts.forEach((p) => checkPort('appPorts', p));
  const transparent = options.transparent ?? false;
  const containerName = options.containerName ?? 'weft-sidecar';
  const bucket = target.registry.plane.bucket;
  const hasCa = target.registry.plane.certificateAuthorityArn !== undefined;

  const values: Partial<Settings> = {
    node: target.name,
    mesh: target.meshName,
    config: `s3://${bucket.bucketName}/${nodeConfigKey(target.meshName, target.name)}`,
    region: cdk.Stack.of(taskDefinition).region,
    certSource: hasCa ? `secretsmanager:${certificateSecretName(target.meshName, target.name)}` : 'none',
    inboundPort,
    egressPort,
    adminPort,
    uid: SIDECAR_UID,
    transparent,
    appPorts: target.kind === 'virtualNode' && appPorts.length > 0 ? appPorts.map(String) : undefined,
    cloudMapServiceId: target.cloudMapServiceId,
    ...settings,
  };

  const sidecar = taskDefinition.addContainer(containerName, {
    containerName,
    image: options.image ?? defaultSidecarImage(),
    essential: true,
    user: String(SIDECAR_UID),
    environment: settingsToEnv(values),
    healthCheck: {
      // The image has Node (the sidecar is a Node program) but no curl: ask the admin port with fetch.
      command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${adminPort}/ready').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`],
      interval: cdk.Duration.seconds(5),
      timeout: cdk.Duration.seconds(2),
      retries: 3,
      startPeriod: cdk.Duration.seconds(10),
    },
    logging: options.logging ?? ecs.LogDrivers.awsLogs({ streamPrefix: 'weft', logRetention: logs.RetentionDays.ONE_MONTH }),
    memoryReservationMiB: options.memoryReservationMiB ?? 128,
    cpu: options.cpu,
    stopTimeout: options.stopTimeout ?? cdk.Duration.seconds(30),
    portMappings: [...(target.kind === 'virtualNode' ? [inboundPort] : target.listenerPorts), ...(prometheus ? [metricsPort] : [])].map((containerPort) => ({
      containerPort,
      protocol: ecs.Protocol.TCP,
    })),
    // The label names AWS's guide configures the CloudWatch agent's docker-label ECS service
    // discovery with (sd_port_label, sd_metrics_path_label); the metrics port serves only this path.
    dockerLabels: prometheus ? { ECS_PROMETHEUS_EXPORTER_PORT: String(metricsPort), ECS_PROMETHEUS_METRICS_PATH: '/stats/prometheus' } : undefined,
  });

  const app = target.appContainer;
  if (app) {
    app.addContainerDependencies({ container: sidecar, condition: ecs.ContainerDependencyCondition.HEALTHY });
    if (!transparent) {
      const proxy = `http://127.0.0.1:${egressPort}`;
      const noProxy = ['localhost', '127.0.0.1', ...EGRESS_IGNORED_IPS].join(',');
      // Upper and lower case: curl reads only the lower-case http_proxy, most runtimes either.
      app.addEnvironment('HTTP_PROXY', proxy);
      app.addEnvironment('http_proxy', proxy);
      app.addEnvironment('NO_PROXY', noProxy);
      app.addEnvironment('no_proxy', noProxy);
    }
  }

  if (transparent) {
    const cfn = taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
    if (cfn.proxyConfiguration) throw new Error(`task definition ${taskDefinition.node.path} already has a ProxyConfiguration; Weft's transparent mode sets its own, got: an existing one`);
    if (appPorts.length < 1 || appPorts.length > 15) throw new Error(`transparent mode needs between 1 and 15 app ports (ECS ProxyConfiguration limit), got: ${appPorts.length}`);
    cfn.proxyConfiguration = ecs.ProxyConfigurations.appMeshProxyConfiguration({
      containerName,
      properties: {
        appPorts,
        proxyIngressPort: inboundPort,
        proxyEgressPort: egressPort,
        ignoredUID: SIDECAR_UID,
        egressIgnoredIPs: EGRESS_IGNORED_IPS,
        egressIgnoredPorts: options.egressIgnoredPorts,
      },
    }).bind(scope, taskDefinition);
  }
  return sidecar;
}

/**
 * What proxy/Dockerfile copies from the repository root. Only these files are hashed and uploaded,
 * so a change elsewhere (constructs, controllers, tests) does not roll every task's image.
 * Keep in step with the Dockerfile's COPY lines.
 */
export const SIDECAR_IMAGE_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'proxy', 'native'];

function defaultSidecarImage(): ecs.ContainerImage {
  const root = findWeftRoot('proxy/Dockerfile');
  return ecs.ContainerImage.fromAsset(root, {
    file: 'proxy/Dockerfile',
    ignoreMode: cdk.IgnoreMode.DOCKER,
    exclude: ['*', ...SIDECAR_IMAGE_FILES.map((f) => `!${f}`), 'proxy/**/*.test.ts', 'native/*/build'],
  });
}
