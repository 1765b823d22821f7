/**
 * Discovery sync's decisions, free of I/O: what one task event means for Cloud Map, and what a
 * reconcile must change to make Cloud Map equal the running tasks.
 */
import { CLOUD_MAP_ATTRIBUTES, instanceAttributes, instanceIdForTask, type TaskRegistryEntry } from '../../proxy/contracts';
import type { RegisteredInstance } from '../aws/cloud-map';
import { isLeaving, isServing, type TaskState } from './task-state';

export interface RegisterAction {
  kind: 'register';
  serviceId: string;
  instanceId: string;
  attributes: Record<string, string>;
}
export interface DeregisterAction {
  kind: 'deregister';
  serviceId: string;
  instanceId: string;
}
export type SkipReason = 'unknown-family' | 'not-awsvpc' | 'stale' | 'duplicate' | 'not-registered' | 'not-ready';
export interface SkipAction {
  kind: 'skip';
  reason: SkipReason;
}
export type EventAction = RegisterAction | DeregisterAction | SkipAction;

/** A task event with its registry entry (`undefined`: the family is not in the mesh). */
export interface TaskEvent {
  task: TaskState;
  entry: TaskRegistryEntry | undefined;
}

function registeredVersion(instance: RegisteredInstance | undefined): number {
  const raw = instance?.attributes[CLOUD_MAP_ATTRIBUTES.eventVersion];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : -1;
}

/** Equal apart from the event version, which changes on every task event. */
function sameRegistration(a: Record<string, string>, b: Record<string, string>): boolean {
  const strip = (r: Record<string, string>) => Object.entries(r).filter(([k]) => k !== CLOUD_MAP_ATTRIBUTES.eventVersion).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/**
 * Plans one ECS task state event. `registered` is the task's Cloud Map instance if any;
 * `deregisteredVersion` is the version of the event that deregistered it, when this container
 * remembers one, so a late RUNNING event does not bring a stopped task back (reconcile repairs
 * what a cold container cannot remember).
 */
export function planEvent(event: TaskEvent, registered: RegisteredInstance | undefined, deregisteredVersion?: number): EventAction {
  const { task, entry } = event;
  if (!entry) return { kind: 'skip', reason: 'unknown-family' };
  const instanceId = instanceIdForTask(task.taskArn);
  const known = Math.max(registeredVersion(registered), deregisteredVersion ?? -1);
  if (known > task.version) return { kind: 'skip', reason: 'stale' };
  if (isServing(task)) {
    if (deregisteredVersion !== undefined && deregisteredVersion >= task.version) return { kind: 'skip', reason: 'stale' };
    if (!task.ipv4) return { kind: 'skip', reason: 'not-awsvpc' };
    const attributes = instanceAttributes(entry, { taskArn: task.taskArn, ipv4: task.ipv4, zone: task.zone ?? 'unknown', eventVersion: task.version });
    if (registered && sameRegistration(registered.attributes, attributes)) return { kind: 'skip', reason: 'duplicate' };
    return { kind: 'register', serviceId: entry.cloudMap.serviceId, instanceId, attributes };
  }
  if (isLeaving(task)) {
    if (!registered) return { kind: 'skip', reason: 'not-registered' };
    return { kind: 'deregister', serviceId: entry.cloudMap.serviceId, instanceId };
  }
  return { kind: 'skip', reason: 'not-ready' };
}

export interface DiscoveryPlan {
  register: RegisterAction[];
  deregister: DeregisterAction[];
  /** Serving tasks that cannot be registered, with why. */
  skipped: { taskArn: string; reason: SkipReason }[];
}

/**
 * Plans a reconcile. `desired` holds every task of the registry's families that ECS reports (any
 * status); `registered` holds the instances of each registry service, keyed by service id. Only
 * instances that Weft wrote for `mesh` (its `WEFT_MESH` attribute) are ever deregistered, so
 * instances registered by anything else in a shared service are left alone.
 */
export function planDiscovery(desired: readonly TaskEvent[], registered: ReadonlyMap<string, readonly RegisteredInstance[]>, mesh: string): DiscoveryPlan {
  const plan: DiscoveryPlan = { register: [], deregister: [], skipped: [] };
  const byService = new Map<string, Map<string, RegisteredInstance>>();
  for (const [serviceId, instances] of registered) byService.set(serviceId, new Map(instances.map((i) => [i.instanceId, i])));
  const keep = new Set<string>();
  const planned = new Set<string>();

  for (const { task, entry } of desired) {
    if (!entry) {
      plan.skipped.push({ taskArn: task.taskArn, reason: 'unknown-family' });
      continue;
    }
    if (!isServing(task)) continue;
    const serviceId = entry.cloudMap.serviceId;
    const instanceId = instanceIdForTask(task.taskArn);
    const key = `${serviceId}/${instanceId}`;
    if (planned.has(key)) continue;
    planned.add(key);
    if (!task.ipv4) {
      plan.skipped.push({ taskArn: task.taskArn, reason: 'not-awsvpc' });
      continue;
    }
    keep.add(key);
    const attributes = instanceAttributes(entry, { taskArn: task.taskArn, ipv4: task.ipv4, zone: task.zone ?? 'unknown', eventVersion: task.version });
    const current = byService.get(serviceId)?.get(instanceId);
    if (current && sameRegistration(current.attributes, attributes)) continue;
    plan.register.push({ kind: 'register', serviceId, instanceId, attributes });
  }

  for (const [serviceId, instances] of byService) {
    for (const instance of instances.values()) {
      if (instance.attributes[CLOUD_MAP_ATTRIBUTES.mesh] !== mesh) continue;
      if (keep.has(`${serviceId}/${instance.instanceId}`)) continue;
      plan.deregister.push({ kind: 'deregister', serviceId, instanceId: instance.instanceId });
    }
  }
  return plan;
}
