/**
 * Discovery sync's two entry points: apply one ECS task state event, and reconcile Cloud Map with
 * every running task of the mesh's families.
 */
import { instanceIdForTask, type TaskRegistry } from '../../proxy/contracts';
import type { CloudMapPort, RegisteredInstance } from '../aws/cloud-map';
import type { EcsPort, EcsTask } from '../aws/ecs';
import { errorCode } from '../shared/errors';
import type { Logger } from '../shared/log';
import { mapLimit } from '../shared/retry';
import { planDiscovery, planEvent, type DeregisterAction, type EventAction, type RegisterAction, type TaskEvent } from './plan';
import type { RegistrySource } from './registry';
import { isServing, toTaskState, type TaskState } from './task-state';

export interface DiscoveryDeps {
  mesh: string;
  registry: RegistrySource;
  cloudMap: CloudMapPort;
  ecs: EcsPort;
  logger: Logger;
  /** Clusters to reconcile; empty: every cluster in the account and Region. */
  clusters: string[];
  /** Per-container memory of deregistrations (instance id -> event version). */
  tombstones?: Tombstones;
}

/** Remembers recent deregistrations so a late RUNNING event for a stopped task is ignored. */
export class Tombstones {
  private readonly entries = new Map<string, { version: number; at: number }>();
  constructor(
    private readonly ttlMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}
  get(instanceId: string): number | undefined {
    const e = this.entries.get(instanceId);
    if (!e) return undefined;
    if (this.now() - e.at > this.ttlMs) {
      this.entries.delete(instanceId);
      return undefined;
    }
    return e.version;
  }
  set(instanceId: string, version: number): void {
    this.entries.set(instanceId, { version, at: this.now() });
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as string);
  }
}

export interface EventResult {
  taskArn: string;
  action: EventAction['kind'];
  reason?: string;
  version: number;
}

function entryFor(registry: TaskRegistry, mesh: string, family: string) {
  const entry = registry.families[family];
  return entry && entry.mesh === mesh ? entry : undefined;
}

async function apply(cloudMap: CloudMapPort, action: RegisterAction | DeregisterAction): Promise<void> {
  if (action.kind === 'register') await cloudMap.registerInstance(action.serviceId, action.instanceId, action.attributes);
  else await cloudMap.deregisterInstance(action.serviceId, action.instanceId);
}

/** The task as ECS describes it now; undefined when ECS no longer knows it. */
async function currentState(ecs: EcsPort, cluster: string, taskArn: string): Promise<TaskState | undefined> {
  const [described] = await ecs.describeTasks(cluster, [taskArn]);
  return described ? toTaskState(described) : undefined;
}

/** Applies one "ECS Task State Change" event detail. */
export async function handleTaskEvent(deps: DiscoveryDeps, detail: EcsTask): Promise<EventResult> {
  const task = toTaskState(detail);
  const registry = await deps.registry.get();
  const entry = entryFor(registry, deps.mesh, task.family);
  const instanceId = instanceIdForTask(task.taskArn);
  const registered = entry ? await deps.cloudMap.getInstance(entry.cloudMap.serviceId, instanceId) : undefined;
  const tombstone = deps.tombstones?.get(instanceId);
  let action = planEvent({ task, entry }, registered, tombstone);
  let planned = task;
  if (action.kind === 'register' && task.clusterArn) {
    // Events reach concurrent Lambda containers in any order: a RUNNING event handled after the
    // STOPPED one would bring a stopped task back until the next reconcile. Asking ECS for the
    // task's current state just before registering closes that window to milliseconds.
    const current = await currentState(deps.ecs, task.clusterArn, task.taskArn);
    if (current === undefined) action = { kind: 'skip', reason: 'stale' };
    else if (current.version > task.version) {
      planned = current;
      action = planEvent({ task: current, entry }, registered, tombstone);
    }
  }
  if (action.kind !== 'skip') await apply(deps.cloudMap, action);
  if (action.kind === 'deregister') deps.tombstones?.set(instanceId, planned.version);
  const result: EventResult = { taskArn: task.taskArn, action: action.kind, version: planned.version, ...(action.kind === 'skip' ? { reason: action.reason } : {}) };
  if (action.kind === 'skip' && action.reason === 'not-awsvpc') deps.logger.warn('task-skipped', { ...result, family: task.family, code: 'WEFT_ERR_EVENT_INVALID' });
  return result;
}

export interface ReconcileSummary {
  families: number;
  tasks: number;
  instances: number;
  registered: number;
  deregistered: number;
  skipped: { taskArn: string; reason: string }[];
  failed: { instanceId: string; code: string }[];
}

/**
 * Drops planned registrations whose task stopped (or turned unhealthy) since it was described. A
 * reconcile can take seconds between DescribeTasks and RegisterInstance; the STOPPING event handled
 * meanwhile by another container has already deregistered the task, and registering it again would
 * keep a stopped task in Cloud Map until the next reconcile. Registrations are rare in a reconcile
 * (only what events missed), so one more DescribeTasks batch per cluster is cheap.
 */
async function stillServing(ecs: EcsPort, register: RegisterAction[], tasks: readonly TaskState[], skipped: { taskArn: string; reason: string }[]): Promise<RegisterAction[]> {
  if (register.length === 0) return register;
  const byInstance = new Map(tasks.map((t) => [instanceIdForTask(t.taskArn), t]));
  const byCluster = new Map<string, TaskState[]>();
  for (const action of register) {
    const task = byInstance.get(action.instanceId);
    if (!task?.clusterArn) continue;
    byCluster.set(task.clusterArn, [...(byCluster.get(task.clusterArn) ?? []), task]);
  }
  const gone = new Set<string>();
  for (const [cluster, planned] of byCluster) {
    const now = new Map<string, TaskState>();
    for (const t of await ecs.describeTasks(cluster, planned.map((p) => p.taskArn))) {
      try {
        const state = toTaskState(t);
        now.set(state.taskArn, state);
      } catch {
        // Unusable now: keep the earlier reading rather than guess.
      }
    }
    for (const p of planned) {
      const current = now.get(p.taskArn);
      if (current && current.version > p.version && !isServing(current)) gone.add(instanceIdForTask(p.taskArn));
    }
  }
  for (const action of register) if (gone.has(action.instanceId)) skipped.push({ taskArn: byInstance.get(action.instanceId)!.taskArn, reason: 'stale' });
  return register.filter((a) => !gone.has(a.instanceId));
}

/** Makes Cloud Map equal the running tasks of every family in the registry. */
export async function reconcile(deps: DiscoveryDeps): Promise<ReconcileSummary> {
  const registry = await deps.registry.get();
  const families = Object.entries(registry.families).filter(([, e]) => e.mesh === deps.mesh);
  const serviceIds = [...new Set(families.map(([, e]) => e.cloudMap.serviceId))];

  // Instances first, tasks second: a task that starts between the two reads is then either in
  // both (kept) or only in the task list (registered); it can never look like an orphan.
  const registered = new Map<string, RegisteredInstance[]>();
  await mapLimit(serviceIds, 4, async (id) => registered.set(id, await deps.cloudMap.listInstances(id)));

  const clusters = deps.clusters.length > 0 ? deps.clusters : await deps.ecs.listClusters();
  const tasks: TaskState[] = [];
  const invalid: { taskArn: string; reason: string }[] = [];
  for (const cluster of clusters) {
    for (const [family] of families) {
      const arns = await deps.ecs.listTaskArns(cluster, family);
      if (arns.length === 0) continue;
      for (const t of await deps.ecs.describeTasks(cluster, arns)) {
        try {
          tasks.push(toTaskState(t));
        } catch (err) {
          invalid.push({ taskArn: t.taskArn ?? '?', reason: errorCode(err) });
        }
      }
    }
  }
  const desired: TaskEvent[] = tasks.map((task) => ({ task, entry: entryFor(registry, deps.mesh, task.family) }));
  const plan = planDiscovery(desired, registered, deps.mesh);
  plan.register = await stillServing(deps.ecs, plan.register, tasks, plan.skipped);

  const failed: ReconcileSummary['failed'] = [];
  const done = { register: 0, deregister: 0 };
  await mapLimit([...plan.register, ...plan.deregister], 8, async (action) => {
    try {
      await apply(deps.cloudMap, action);
      done[action.kind]++;
    } catch (err) {
      failed.push({ instanceId: action.instanceId, code: errorCode(err) });
    }
  });
  return {
    families: families.length,
    tasks: tasks.length,
    instances: [...registered.values()].reduce((n, l) => n + l.length, 0),
    registered: done.register,
    deregistered: done.deregister,
    skipped: [...plan.skipped, ...invalid],
    failed,
  };
}
