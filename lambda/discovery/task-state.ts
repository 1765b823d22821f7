/**
 * An ECS task reduced to what discovery sync decides on. Events and DescribeTasks results go
 * through the same reduction, so the event path and the reconcile path cannot disagree.
 */
import type { EcsTask } from '../aws/ecs';
import { WeftLambdaError } from '../shared/errors';

export interface TaskState {
  taskArn: string;
  clusterArn?: string;
  /** Task definition family, the task registry's key. */
  family: string;
  lastStatus: string;
  desiredStatus: string;
  /** Task-level health: HEALTHY, UNHEALTHY or UNKNOWN (no container health check, or not yet run). */
  healthStatus: string;
  zone?: string;
  /** The ENI's private address; absent for tasks not in `awsvpc` mode. */
  ipv4?: string;
  /** ECS's per-task change counter; higher is newer. */
  version: number;
}

/** `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>` -> `<family>`. */
export function familyOf(taskDefinitionArn: string): string | undefined {
  const m = /:task-definition\/([A-Za-z0-9_-]{1,255}):\d+$/.exec(taskDefinitionArn);
  return m?.[1];
}

function eniAddress(task: EcsTask): string | undefined {
  for (const a of task.attachments ?? []) {
    if (a.type !== 'ElasticNetworkInterface' && a.type !== 'eni') continue;
    const ip = a.details?.find((d) => d.name === 'privateIPv4Address')?.value;
    if (ip) return ip;
  }
  return undefined;
}

/** Task health; when the task-level field is missing, the worst of its containers'. */
function healthOf(task: EcsTask): string {
  if (task.healthStatus) return task.healthStatus;
  const states = (task.containers ?? []).map((c) => c.healthStatus ?? 'UNKNOWN');
  if (states.includes('UNHEALTHY')) return 'UNHEALTHY';
  if (states.includes('HEALTHY')) return 'HEALTHY';
  return 'UNKNOWN';
}

/** Reduces an ECS task (event detail or DescribeTasks entry); throws WEFT_ERR_EVENT_INVALID if unusable. */
export function toTaskState(task: EcsTask): TaskState {
  const missing = (['taskArn', 'taskDefinitionArn', 'lastStatus', 'desiredStatus'] as const).filter((k) => typeof task[k] !== 'string' || task[k] === '');
  if (missing.length > 0) throw new WeftLambdaError('WEFT_ERR_EVENT_INVALID', `ECS task is missing ${missing.join(', ')}`);
  const family = familyOf(task.taskDefinitionArn as string);
  if (!family) throw new WeftLambdaError('WEFT_ERR_EVENT_INVALID', `taskDefinitionArn is not a task definition ARN, got: ${task.taskDefinitionArn}`);
  if (typeof task.version !== 'number' || !Number.isInteger(task.version)) {
    throw new WeftLambdaError('WEFT_ERR_EVENT_INVALID', `ECS task ${task.taskArn} has no integer version, got: ${JSON.stringify(task.version)}`);
  }
  return {
    taskArn: task.taskArn as string,
    clusterArn: task.clusterArn,
    family,
    lastStatus: task.lastStatus as string,
    desiredStatus: task.desiredStatus as string,
    healthStatus: healthOf(task),
    zone: task.availabilityZone,
    ipv4: eniAddress(task),
    version: task.version,
  };
}

/**
 * Whether peers should reach the task: running, meant to keep running, and not failing its health
 * check. UNKNOWN counts as ready because tasks without a container health check stay UNKNOWN.
 */
export function isServing(task: TaskState): boolean {
  return task.lastStatus === 'RUNNING' && task.desiredStatus === 'RUNNING' && task.healthStatus !== 'UNHEALTHY';
}

const LEAVING = new Set(['DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED', 'DELETED']);

/** Whether peers must stop reaching the task: it is stopping, meant to stop, or unhealthy. */
export function isLeaving(task: TaskState): boolean {
  return LEAVING.has(task.lastStatus) || task.desiredStatus === 'STOPPED' || (task.lastStatus === 'RUNNING' && task.healthStatus === 'UNHEALTHY');
}
