import { CLOUD_MAP_ATTRIBUTES, taskRegistryKey } from '../../../proxy/contracts';
import { makeHandler } from '../../../lambda/discovery/handler';
import { createRegistrySource } from '../../../lambda/discovery/registry';
import { Tombstones, type DiscoveryDeps } from '../../../lambda/discovery/sync';
import { MemoryCloudMap, MemoryEcs, MemoryObjectStore } from '../fakes';
import { CLUSTER_ARN, ecsTask, entry, memoryLogger, MESH, registry, taskEvent, taskId, type TaskOptions } from '../fixtures';

const BUCKET = 'weft-config';

function setup(tasks = new Map([[CLUSTER_ARN, [] as ReturnType<typeof ecsTask>[]]])) {
  const store = new MemoryObjectStore();
  const reg = registry({ orders: entry('orders', 'srv-orders', { version: 'v1' }), payments: entry('payments', 'srv-payments') });
  void store.put(BUCKET, taskRegistryKey(MESH), JSON.stringify(reg), { contentType: 'application/json' });
  const cloudMap = new MemoryCloudMap();
  const ecs = new MemoryEcs(tasks);
  const logger = memoryLogger();
  let clock = 0;
  const deps: DiscoveryDeps = {
    mesh: MESH,
    registry: createRegistrySource({ store, bucket: BUCKET, mesh: MESH, ttlMs: 1_000, now: () => clock }),
    cloudMap,
    ecs,
    logger,
    clusters: [],
    tombstones: new Tombstones(60_000, () => clock),
  };
  const handler = makeHandler(deps);
  /** ECS changes a task and emits the event for it: ECS's own state is never older than an event. */
  const change = (o: TaskOptions) => {
    const task = ecsTask(o);
    const list = tasks.get(CLUSTER_ARN)!;
    const i = list.findIndex((t) => t.taskArn === task.taskArn);
    if (i < 0) list.push(task);
    else if ((list[i].version ?? 0) <= (task.version ?? 0)) list[i] = task;
    return handler(taskEvent(task));
  };
  return { store, cloudMap, ecs, logger, handler, change, tick: (ms: number) => (clock += ms), tasks };
}

describe('discovery sync handler', () => {
  test('a task lifecycle registers and then deregisters the instance', async () => {
    const { change, cloudMap, logger } = setup();
    await change({ n: 1, lastStatus: 'PENDING', version: 1 });
    expect(cloudMap.ids('srv-orders')).toEqual([]);
    await change({ n: 1, version: 2 });
    expect(cloudMap.ids('srv-orders')).toEqual([taskId(1)]);
    const attrs = (await cloudMap.getInstance('srv-orders', taskId(1)))!.attributes;
    expect(attrs).toMatchObject({ AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '15000', AVAILABILITY_ZONE: 'eu-west-1a', WEFT_NODE: 'orders', WEFT_MESH: MESH, version: 'v1', [CLOUD_MAP_ATTRIBUTES.eventVersion]: '2' });
    await change({ n: 1, lastStatus: 'STOPPING', desiredStatus: 'STOPPED', version: 3 });
    expect(cloudMap.ids('srv-orders')).toEqual([]);
    const summaries = logger.lines.filter((l) => l.event === 'run-summary').map((l) => l.fields.action);
    expect(summaries).toEqual(['skip', 'register', 'deregister']);
    const metrics = logger.lines.filter((l) => l.event === 'metrics').map((l) => [l.fields.Mesh, l.fields.Controller, l.fields.InstancesRegistered, l.fields.InstancesDeregistered, l.fields.Failures]);
    expect(metrics).toEqual([[MESH, 'discovery-sync', 0, 0, 0], [MESH, 'discovery-sync', 1, 0, 0], [MESH, 'discovery-sync', 0, 1, 0]]);
  });

  test('duplicate and stale events change nothing', async () => {
    const { change, handler, cloudMap } = setup();
    await change({ n: 1, version: 4 });
    await change({ n: 1, version: 4 });
    await handler(taskEvent(ecsTask({ n: 1, version: 2, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' })));
    expect(cloudMap.calls).toEqual([`register srv-orders/${taskId(1)}`]);
    expect(cloudMap.ids('srv-orders')).toEqual([taskId(1)]);
  });

  test('a late RUNNING event after the STOPPED one does not resurrect the task', async () => {
    const { change, handler, cloudMap } = setup();
    await change({ n: 1, version: 2 });
    await change({ n: 1, version: 5, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' });
    const late = await handler(taskEvent(ecsTask({ n: 1, version: 3 })));
    expect(late).toMatchObject({ kind: 'event', action: 'skip', reason: 'stale' });
    expect(cloudMap.ids('srv-orders')).toEqual([]);
  });

  test('a late RUNNING event in a container that never saw the STOPPED one is checked against ECS', async () => {
    const { handler, cloudMap, tasks } = setup();
    // ECS already stopped the task; this container has no memory of it.
    tasks.get(CLUSTER_ARN)!.push(ecsTask({ n: 1, version: 5, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }));
    const late = await handler(taskEvent(ecsTask({ n: 1, version: 3 })));
    expect(late).toMatchObject({ action: 'skip', reason: 'not-registered', version: 5 });
    // A task ECS no longer knows at all is not registered either.
    expect(await handler(taskEvent(ecsTask({ n: 2, version: 3 })))).toMatchObject({ action: 'skip', reason: 'stale' });
    expect(cloudMap.calls).toEqual([]);
  });

  test('a non-awsvpc task is logged with a code and skipped', async () => {
    const { change, cloudMap, logger } = setup();
    const result = await change({ n: 1, ip: null });
    expect(result).toMatchObject({ action: 'skip', reason: 'not-awsvpc' });
    expect(cloudMap.calls).toEqual([]);
    expect(logger.lines.find((l) => l.event === 'task-skipped')?.fields.code).toBe('WEFT_ERR_EVENT_INVALID');
  });

  test('an event for a family outside the mesh is skipped without Cloud Map calls', async () => {
    const { change, cloudMap } = setup();
    expect(await change({ n: 1, family: 'nightly-batch' })).toMatchObject({ action: 'skip', reason: 'unknown-family' });
    expect(cloudMap.calls).toEqual([]);
  });

  test('reconcile repairs missed events: registers running tasks, deregisters orphans, leaves the rest', async () => {
    const { change, handler, cloudMap, tasks } = setup();
    await change({ n: 1, version: 3 });
    await change({ n: 9, version: 2 });
    // ECS then starts tasks 2 and 3 and stops task 9, and all three events are lost.
    const list = tasks.get(CLUSTER_ARN)!;
    list.push(ecsTask({ n: 2, version: 3, family: 'payments' }), ecsTask({ n: 3, version: 3 }));
    list.splice(list.findIndex((t) => t.taskArn!.endsWith(taskId(9))), 1, ecsTask({ n: 9, version: 6, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }));
    // A foreign instance in the same service.
    await cloudMap.registerInstance('srv-orders', 'legacy', { AWS_INSTANCE_IPV4: '10.9.9.9' });
    cloudMap.calls.length = 0;

    const result = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    expect(result).toMatchObject({ kind: 'reconcile', families: 2, tasks: 3, registered: 2, deregistered: 1, failed: [] });
    expect(cloudMap.ids('srv-orders')).toEqual([taskId(1), taskId(3), 'legacy'].sort());
    expect(cloudMap.ids('srv-payments')).toEqual([taskId(2)]);
    expect(cloudMap.calls).not.toContain(`register srv-orders/${taskId(1)}`);
  });

  test('reconcile does not register a task that stopped after it was described (its STOPPING event came first)', async () => {
    const { handler, cloudMap, ecs, tasks } = setup();
    const list = tasks.get(CLUSTER_ARN)!;
    list.push(ecsTask({ n: 3, version: 3 }), ecsTask({ n: 4, version: 3 }));
    const describe = ecs.describeTasks.bind(ecs);
    let first = true;
    ecs.describeTasks = async (cluster, arns) => {
      const out = await describe(cluster, arns);
      if (first) {
        // Between the reconcile's read and its writes, ECS stops task 3 and its event is handled.
        first = false;
        list.splice(list.findIndex((t) => t.taskArn!.endsWith(taskId(3))), 1, ecsTask({ n: 3, version: 5, lastStatus: 'STOPPING', desiredStatus: 'STOPPED' }));
        await handler(taskEvent(ecsTask({ n: 3, version: 5, lastStatus: 'STOPPING', desiredStatus: 'STOPPED' })));
      }
      return out;
    };
    const result = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    expect(cloudMap.ids('srv-orders')).toEqual([taskId(4)]);
    expect(result).toMatchObject({ kind: 'reconcile', registered: 1, skipped: [{ taskArn: expect.stringContaining(taskId(3)), reason: 'stale' }] });
  });

  test('an unknown event type is a coded error', async () => {
    const { handler } = setup();
    await expect(handler({ source: 'aws.s3', 'detail-type': 'Object Created' })).rejects.toMatchObject({ code: 'WEFT_ERR_EVENT_INVALID' });
  });

  test('a missing task registry is a coded error; once loaded, S3 failures keep the cached one', async () => {
    const { change, store, tick } = setup();
    const key = taskRegistryKey(MESH);
    const saved = store.objects.get(`${BUCKET}/${key}`)!;
    store.objects.delete(`${BUCKET}/${key}`);
    await expect(change({ n: 1 })).rejects.toMatchObject({ code: 'WEFT_ERR_TASK_REGISTRY_MISSING' });
    store.objects.set(`${BUCKET}/${key}`, saved);
    await change({ n: 1, version: 1 });
    tick(5_000);
    store.get = async () => {
      throw Object.assign(new Error('unreachable'), { name: 'ServiceUnavailable' });
    };
    expect(await change({ n: 2, version: 1 })).toMatchObject({ action: 'register' });
  });

  test('the registry is cached for its TTL and revalidated with its ETag', async () => {
    const { change, store, tick } = setup();
    await change({ n: 1 });
    await change({ n: 2 });
    expect(store.calls.filter((c) => c.startsWith('get'))).toHaveLength(1);
    tick(2_000);
    const seen: (string | undefined)[] = [];
    const get = store.get.bind(store);
    store.get = async (b, k, etag) => (seen.push(etag), get(b, k, etag));
    await change({ n: 3 });
    expect(seen).toEqual([store.objects.get(`${BUCKET}/${taskRegistryKey(MESH)}`)!.etag]);
  });
});
