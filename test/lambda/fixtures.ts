/** Shared builders for the controller tests: registry entries, ECS tasks, node configs. */
import {
  sealNodeConfig,
  spiffeId,
  TASK_REGISTRY_SCHEMA,
  type NodeConfig,
  type TaskRegistry,
  type TaskRegistryEntry,
} from '../../proxy/contracts';
import type { EcsTask } from '../../lambda/aws/ecs';

export const MESH = 'shop';
export const TRUST_DOMAIN = 'shop.local';
export const ACCOUNT_ARN = 'arn:aws:ecs:eu-west-1:111122223333';
export const CLUSTER_ARN = `${ACCOUNT_ARN}:cluster/main`;

export function entry(node: string, serviceId: string, attributes: Record<string, string> = {}): TaskRegistryEntry {
  return { mesh: MESH, node, port: 15000, cloudMap: { namespaceName: 'shop.local', serviceName: node, serviceId }, attributes };
}

export function registry(families: Record<string, TaskRegistryEntry>): TaskRegistry {
  return { schema: TASK_REGISTRY_SCHEMA, families };
}

/** A task id of 32 hex digits, as ECS makes them. */
export function taskId(n: number): string {
  return n.toString(16).padStart(32, '0');
}

export interface TaskOptions {
  n: number;
  family?: string;
  lastStatus?: string;
  desiredStatus?: string;
  healthStatus?: string;
  version?: number;
  ip?: string | null;
  zone?: string;
}

/** An ECS task (event detail / DescribeTasks shape). `ip: null` makes a non-awsvpc task. */
export function ecsTask(o: TaskOptions): EcsTask {
  const ip = o.ip === undefined ? `10.0.0.${o.n}` : o.ip;
  return {
    taskArn: `${ACCOUNT_ARN}:task/main/${taskId(o.n)}`,
    clusterArn: CLUSTER_ARN,
    taskDefinitionArn: `${ACCOUNT_ARN}:task-definition/${o.family ?? 'orders'}:3`,
    lastStatus: o.lastStatus ?? 'RUNNING',
    desiredStatus: o.desiredStatus ?? 'RUNNING',
    healthStatus: o.healthStatus ?? 'UNKNOWN',
    availabilityZone: o.zone ?? 'eu-west-1a',
    group: `service:${o.family ?? 'orders'}`,
    version: o.version ?? 1,
    attachments: ip === null ? [] : [{ type: 'eni', status: 'ATTACHED', details: [{ name: 'subnetId', value: 'subnet-1' }, { name: 'privateIPv4Address', value: ip }] }],
    containers: [{ name: 'app', healthStatus: o.healthStatus ?? 'UNKNOWN' }],
  };
}

/** The EventBridge envelope of a task state change. */
export function taskEvent(detail: EcsTask): { source: string; 'detail-type': string; detail: EcsTask } {
  return { source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail };
}

/** A minimal valid node config for `node`. */
export function nodeConfig(node: string, mesh = MESH, clusters: NodeConfig['clusters'] = []): NodeConfig {
  return sealNodeConfig({
    mesh: { name: mesh, egressFilter: 'DROP_ALL', trustDomain: TRUST_DOMAIN },
    node: { kind: 'virtualNode', name: node, spiffeId: spiffeId(TRUST_DOMAIN, mesh, node) },
    inbound: { listeners: [], policy: {} },
    outbound: { services: [] },
    clusters,
  } as Parameters<typeof sealNodeConfig>[0]);
}

/** A logger that keeps lines for assertions. */
export function memoryLogger(): { lines: { level: string; event: string; fields: Record<string, unknown> }[]; info: (e: string, f?: Record<string, unknown>) => void; warn: (e: string, f?: Record<string, unknown>) => void; error: (e: string, f?: Record<string, unknown>) => void } {
  const lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => lines.push({ level, event, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
