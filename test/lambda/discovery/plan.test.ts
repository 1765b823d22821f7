import { CLOUD_MAP_ATTRIBUTES, instanceAttributes, instanceIdForTask } from '../../../proxy/contracts';
import type { RegisteredInstance } from '../../../lambda/aws/cloud-map';
import { planDiscovery, planEvent, type TaskEvent } from '../../../lambda/discovery/plan';
import { toTaskState, familyOf } from '../../../lambda/discovery/task-state';
import { ecsTask, entry, MESH, taskId, type TaskOptions } from '../fixtures';

const ORDERS = entry('orders', 'srv-orders', { version: 'v2' });
const PAYMENTS = entry('payments', 'srv-payments');
const ENTRIES: Record<string, typeof ORDERS> = { orders: ORDERS, payments: PAYMENTS };

function ev(o: TaskOptions): TaskEvent {
  const task = toTaskState(ecsTask(o));
  return { task, entry: ENTRIES[task.family] };
}

/** The instance Weft would have registered for task `n` at `version`. */
function registeredFor(o: TaskOptions): RegisteredInstance {
  const task = toTaskState(ecsTask(o));
  const e = ENTRIES[task.family];
  return { instanceId: taskId(o.n), attributes: instanceAttributes(e, { taskArn: task.taskArn, ipv4: task.ipv4!, zone: task.zone!, eventVersion: task.version }) };
}

describe('task state reduction', () => {
  test('family comes from the task definition ARN', () => {
    expect(familyOf('arn:aws:ecs:eu-west-1:1:task-definition/orders-v2:17')).toBe('orders-v2');
    expect(familyOf('orders:17')).toBeUndefined();
  });

  test('ENI address, zone and version are read from the event detail', () => {
    const t = toTaskState(ecsTask({ n: 7, version: 4, zone: 'eu-west-1b' }));
    expect(t).toMatchObject({ family: 'orders', ipv4: '10.0.0.7', zone: 'eu-west-1b', version: 4 });
    expect(instanceIdForTask(t.taskArn)).toBe(taskId(7));
  });

  test.each([
    ['no task ARN', { taskArn: undefined }],
    ['no version', { version: undefined }],
    ['bad task definition', { taskDefinitionArn: 'nope' }],
  ])('an unusable task (%s) is a coded error', (_name, patch) => {
    expect(() => toTaskState({ ...ecsTask({ n: 1 }), ...patch })).toThrow(expect.objectContaining({ code: 'WEFT_ERR_EVENT_INVALID' }));
  });
});

describe('planEvent', () => {
  const registerOf = (o: TaskOptions) => ({ kind: 'register', serviceId: 'srv-orders', instanceId: taskId(o.n), attributes: registeredFor(o).attributes });

  test.each<[string, TaskOptions, RegisteredInstance | undefined, number | undefined, unknown]>([
    ['RUNNING without health check registers', { n: 1, version: 2 }, undefined, undefined, registerOf({ n: 1, version: 2 })],
    ['RUNNING and HEALTHY registers', { n: 1, version: 3, healthStatus: 'HEALTHY' }, undefined, undefined, registerOf({ n: 1, version: 3, healthStatus: 'HEALTHY' })],
    ['RUNNING but UNHEALTHY and registered deregisters', { n: 1, version: 4, healthStatus: 'UNHEALTHY' }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'deregister', serviceId: 'srv-orders', instanceId: taskId(1) }],
    ['PENDING waits', { n: 1, lastStatus: 'PENDING' }, undefined, undefined, { kind: 'skip', reason: 'not-ready' }],
    ['STOPPING deregisters', { n: 1, lastStatus: 'STOPPING', desiredStatus: 'STOPPED', version: 5 }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'deregister', serviceId: 'srv-orders', instanceId: taskId(1) }],
    ['desired STOPPED while still RUNNING deregisters', { n: 1, desiredStatus: 'STOPPED', version: 4 }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'deregister', serviceId: 'srv-orders', instanceId: taskId(1) }],
    ['STOPPED and not registered is a no-op', { n: 1, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 6 }, undefined, undefined, { kind: 'skip', reason: 'not-registered' }],
    ['duplicate RUNNING event is a no-op', { n: 1, version: 3 }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'skip', reason: 'duplicate' }],
    ['newer RUNNING event with unchanged attributes is a no-op', { n: 1, version: 4 }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'skip', reason: 'duplicate' }],
    ['older event than the registration is stale', { n: 1, version: 2, lastStatus: 'STOPPING', desiredStatus: 'STOPPED' }, registeredFor({ n: 1, version: 3 }), undefined, { kind: 'skip', reason: 'stale' }],
    ['late RUNNING after a remembered deregistration is stale', { n: 1, version: 3 }, undefined, 5, { kind: 'skip', reason: 'stale' }],
    ['unknown family is skipped', { n: 1, family: 'batch-job' }, undefined, undefined, { kind: 'skip', reason: 'unknown-family' }],
    ['non-awsvpc task is skipped', { n: 1, ip: null }, undefined, undefined, { kind: 'skip', reason: 'not-awsvpc' }],
  ])('%s', (_name, task, registered, tombstone, expected) => {
    expect(planEvent(ev(task), registered, tombstone)).toEqual(expected);
  });

  test('a changed address re-registers with the new version', () => {
    const action = planEvent(ev({ n: 1, version: 4, ip: '10.0.9.9' }), registeredFor({ n: 1, version: 3 }));
    expect(action).toMatchObject({ kind: 'register', attributes: { [CLOUD_MAP_ATTRIBUTES.ipv4]: '10.0.9.9', [CLOUD_MAP_ATTRIBUTES.eventVersion]: '4', version: 'v2' } });
  });

  test('out-of-order delivery converges: STOPPED(v5) then RUNNING(v3) leaves the task deregistered', () => {
    // Registered at v2, then events v5 (STOPPED) and v3 (RUNNING) arrive in that order.
    const stopped = planEvent(ev({ n: 1, version: 5, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }), registeredFor({ n: 1, version: 2 }));
    expect(stopped.kind).toBe('deregister');
    // The instance is gone; only the remembered version of the deregistering event is left.
    expect(planEvent(ev({ n: 1, version: 3 }), undefined, 5)).toEqual({ kind: 'skip', reason: 'stale' });
  });
});

describe('planDiscovery', () => {
  const desired = (...tasks: TaskOptions[]) => tasks.map(ev);
  const inServices = (orders: RegisteredInstance[], payments: RegisteredInstance[] = []) =>
    new Map<string, RegisteredInstance[]>([
      ['srv-orders', orders],
      ['srv-payments', payments],
    ]);

  test('registers missing tasks and leaves registered ones alone', () => {
    const plan = planDiscovery(desired({ n: 1, version: 3 }, { n: 2, version: 7 }), inServices([registeredFor({ n: 1, version: 3 })]), MESH);
    expect(plan.register.map((r) => r.instanceId)).toEqual([taskId(2)]);
    expect(plan.register[0].attributes[CLOUD_MAP_ATTRIBUTES.eventVersion]).toBe('7');
    expect(plan.deregister).toEqual([]);
  });

  test('a missed RUNNING event is repaired; a missed STOPPED event leaves an orphan that is deregistered', () => {
    const plan = planDiscovery(desired({ n: 1 }, { n: 2, family: 'payments' }), inServices([registeredFor({ n: 9 })], [registeredFor({ n: 8, family: 'payments' })]), MESH);
    expect(plan.register.map((r) => [r.serviceId, r.instanceId])).toEqual([
      ['srv-orders', taskId(1)],
      ['srv-payments', taskId(2)],
    ]);
    expect(plan.deregister).toEqual([
      { kind: 'deregister', serviceId: 'srv-orders', instanceId: taskId(9) },
      { kind: 'deregister', serviceId: 'srv-payments', instanceId: taskId(8) },
    ]);
  });

  test('stopping and unhealthy tasks are not desired, so their instances go', () => {
    const plan = planDiscovery(
      desired({ n: 1, lastStatus: 'STOPPING', desiredStatus: 'STOPPED' }, { n: 2, healthStatus: 'UNHEALTHY' }, { n: 3, lastStatus: 'PENDING' }),
      inServices([registeredFor({ n: 1 }), registeredFor({ n: 2 })]),
      MESH,
    );
    expect(plan.register).toEqual([]);
    expect(plan.deregister.map((d) => d.instanceId)).toEqual([taskId(1), taskId(2)]);
  });

  test('duplicate tasks in the listing are planned once', () => {
    const plan = planDiscovery(desired({ n: 1 }, { n: 1 }), inServices([]), MESH);
    expect(plan.register).toHaveLength(1);
  });

  test('instances not written by Weft for this mesh are never deregistered', () => {
    const foreign: RegisteredInstance = { instanceId: 'legacy-host', attributes: { AWS_INSTANCE_IPV4: '10.1.1.1' } };
    const otherMesh: RegisteredInstance = { instanceId: taskId(5), attributes: { ...registeredFor({ n: 5 }).attributes, [CLOUD_MAP_ATTRIBUTES.mesh]: 'other' } };
    const plan = planDiscovery([], inServices([foreign, otherMesh]), MESH);
    expect(plan.deregister).toEqual([]);
  });

  test('non-awsvpc and unknown-family tasks are reported, not registered', () => {
    const plan = planDiscovery([ev({ n: 1, ip: null }), { task: toTaskState(ecsTask({ n: 2, family: 'cron' })), entry: undefined }], inServices([]), MESH);
    expect(plan.register).toEqual([]);
    expect(plan.skipped).toEqual([
      { taskArn: expect.stringContaining(taskId(1)), reason: 'not-awsvpc' },
      { taskArn: expect.stringContaining(taskId(2)), reason: 'unknown-family' },
    ]);
  });

  test('a registered non-awsvpc task loses its stale instance', () => {
    const plan = planDiscovery(desired({ n: 1, ip: null }), inServices([registeredFor({ n: 1 })]), MESH);
    expect(plan.deregister.map((d) => d.instanceId)).toEqual([taskId(1)]);
  });
});
