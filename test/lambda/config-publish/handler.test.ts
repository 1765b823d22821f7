import { nodeConfigKey, parseNodeConfig, parseTaskRegistry, taskRegistryKey } from '../../../proxy/contracts';
import { CONTENT_HASH_METADATA } from '../../../lambda/aws/s3';
import { makeHandler, physicalId, type PublishEvent } from '../../../lambda/config-publish/handler';
import { planPublish } from '../../../lambda/config-publish/plan';
import { MAX_REASON_CHARS, PublishPropertiesError } from '../../../lambda/config-publish/properties';
import { MemoryObjectStore, PrefixScopedObjectStore } from '../fakes';
import { entry, memoryLogger, MESH, nodeConfig, registry } from '../fixtures';

const BUCKET = 'weft-config';
const REGISTRY = registry({ orders: entry('orders', 'srv-o'), payments: entry('payments', 'srv-p') });

function props(configs: unknown[], reg: unknown = REGISTRY, extra: Record<string, unknown> = {}): Record<string, unknown> {
  // As the CDK side passes them: JSON text, because CloudFormation stringifies numbers in objects.
  return { ServiceToken: 'arn:aws:lambda:eu-west-1:1:function:provider', Bucket: BUCKET, Mesh: MESH, NodeConfigs: configs.map((c) => JSON.stringify(c)), TaskRegistry: JSON.stringify(reg), ...extra };
}

function setup() {
  const store = new MemoryObjectStore();
  const logger = memoryLogger();
  return { store, logger, handler: makeHandler({ store, logger }) };
}

describe('planPublish', () => {
  const obj = (key: string, hash: string) => ({ key, body: key, hash });
  test.each([
    ['new objects are written', [obj('a', 'h1')], new Map(), [], ['a'], [], []],
    ['identical objects are left', [obj('a', 'h1')], new Map([['a', 'h1']]), [], [], ['a'], []],
    ['changed objects are rewritten', [obj('a', 'h2')], new Map([['a', 'h1']]), [], ['a'], [], []],
    ['objects of removed nodes are deleted', [obj('a', 'h1')], new Map([['a', 'h1']]), ['a', 'b', 'b'], [], ['a'], ['b']],
  ])('%s', (_name, desired, existing, previous, put, unchanged, del) => {
    const plan = planPublish(desired, existing as Map<string, string>, previous as string[]);
    expect(plan.put.map((o) => o.key)).toEqual(put);
    expect(plan.unchanged).toEqual(unchanged);
    expect(plan.delete).toEqual(del);
  });
});

describe('config publish custom resource', () => {
  test('Create writes every node config and the registry, validated and canonical', async () => {
    const { store, handler } = setup();
    const orders = nodeConfig('orders');
    const res = await handler({ RequestType: 'Create', ResourceProperties: props([orders, nodeConfig('payments')]) });
    expect(res.PhysicalResourceId).toBe(physicalId(BUCKET, MESH));
    expect(JSON.parse(res.Data!.Versions)).toEqual({ orders: orders.version, payments: nodeConfig('payments').version });
    expect(store.keys(BUCKET)).toEqual([nodeConfigKey(MESH, 'orders'), nodeConfigKey(MESH, 'payments'), taskRegistryKey(MESH)].sort());
    const written = (await store.get(BUCKET, nodeConfigKey(MESH, 'orders'))) as { body: string; metadata: Record<string, string> };
    expect(parseNodeConfig(written.body)).toEqual(orders);
    expect(written.metadata[CONTENT_HASH_METADATA]).toMatch(/^[0-9a-f]{64}$/);
    expect(parseTaskRegistry(JSON.parse(((await store.get(BUCKET, taskRegistryKey(MESH))) as { body: string }).body))).toEqual(REGISTRY);
  });

  test('Create succeeds where S3 refuses a HEAD of a missing key (prefix-scoped ListBucket)', async () => {
    const store = new PrefixScopedObjectStore();
    const handler = makeHandler({ store, logger: memoryLogger() });
    await handler({ RequestType: 'Create', ResourceProperties: props([nodeConfig('orders')]) });
    expect(store.keys(BUCKET)).toEqual([nodeConfigKey(MESH, 'orders'), taskRegistryKey(MESH)].sort());
    store.calls.length = 0;
    await handler({ RequestType: 'Update', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: props([nodeConfig('orders'), nodeConfig('payments')]), OldResourceProperties: props([nodeConfig('orders')]) });
    expect(store.calls.filter((c) => c.startsWith('put'))).toEqual([`put ${nodeConfigKey(MESH, 'payments')}`]);
  });

  test('config objects (not JSON text) are accepted too', async () => {
    const { store, handler } = setup();
    await handler({ RequestType: 'Create', ResourceProperties: { Bucket: BUCKET, Mesh: MESH, NodeConfigs: [nodeConfig('orders')], TaskRegistry: REGISTRY } });
    expect(store.keys(BUCKET)).toContain(nodeConfigKey(MESH, 'orders'));
  });

  test('Update writes only changed objects and deletes removed nodes', async () => {
    const { store, handler, logger } = setup();
    const first = props([nodeConfig('orders'), nodeConfig('payments')]);
    await handler({ RequestType: 'Create', ResourceProperties: first });
    store.calls.length = 0;
    const changedOrders = nodeConfig('orders', MESH, []);
    (changedOrders as { logging: unknown }).logging = { accessLog: { path: '/dev/stdout' } };
    const second = props([changedOrders]);
    const res = await handler({ RequestType: 'Update', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: second, OldResourceProperties: first });
    expect(store.calls.filter((c) => c.startsWith('put') || c.startsWith('delete'))).toEqual([`put ${nodeConfigKey(MESH, 'orders')}`, `delete ${nodeConfigKey(MESH, 'payments')}`]);
    expect(store.keys(BUCKET)).toEqual([nodeConfigKey(MESH, 'orders'), taskRegistryKey(MESH)]);
    expect(res.PhysicalResourceId).toBe(physicalId(BUCKET, MESH));
    expect(logger.lines.at(-1)).toMatchObject({ event: 'run-summary', fields: { unchanged: 1, deleted: [nodeConfigKey(MESH, 'payments')] } });
    // The first run wrote two configs and the registry, the second one config.
    expect(logger.lines.filter((l) => l.event === 'metrics').map((l) => [l.fields.Mesh, l.fields.Controller, l.fields.ConfigsPublished, l.fields.Failures])).toEqual([
      [MESH, 'config-publish', 3, 0],
      [MESH, 'config-publish', 1, 0],
    ]);
  });

  test('an unchanged Update writes nothing', async () => {
    const { store, handler } = setup();
    const p = props([nodeConfig('orders')]);
    await handler({ RequestType: 'Create', ResourceProperties: p });
    store.calls.length = 0;
    await handler({ RequestType: 'Update', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: p, OldResourceProperties: p });
    expect(store.calls.filter((c) => c.startsWith('put') || c.startsWith('delete'))).toEqual([]);
  });

  test('moving to another bucket changes the physical id and leaves the old objects for the Delete', async () => {
    const { store, handler } = setup();
    const first = props([nodeConfig('orders')]);
    await handler({ RequestType: 'Create', ResourceProperties: first });
    const res = await handler({ RequestType: 'Update', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: { ...first, Bucket: 'other-bucket' }, OldResourceProperties: first });
    expect(res.PhysicalResourceId).toBe(physicalId('other-bucket', MESH));
    expect(store.keys(BUCKET)).toHaveLength(2);
    expect(store.keys('other-bucket')).toHaveLength(2);
    await handler({ RequestType: 'Delete', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: first });
    expect(store.keys(BUCKET)).toEqual([]);
    expect(store.keys('other-bucket')).toHaveLength(2);
  });

  test('Delete removes everything it published, even if the properties no longer validate', async () => {
    const { store, handler } = setup();
    const p = props([nodeConfig('orders'), nodeConfig('payments')]);
    await handler({ RequestType: 'Create', ResourceProperties: p });
    await store.put(BUCKET, 'shop/trust-bundle.pem', 'pem', { contentType: 'text/plain' });
    const res = await handler({ RequestType: 'Delete', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: { ...p, TaskRegistry: '{bad' } });
    expect(res.PhysicalResourceId).toBe(physicalId(BUCKET, MESH));
    expect(store.keys(BUCKET)).toEqual(['shop/trust-bundle.pem']);
  });

  test('Delete succeeds when the bucket is already gone, and still fails on other S3 errors', async () => {
    const { store, handler } = setup();
    const event: PublishEvent = { RequestType: 'Delete', PhysicalResourceId: physicalId(BUCKET, MESH), ResourceProperties: props([nodeConfig('orders')]) };
    store.delete = async () => {
      throw Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
    };
    await expect(handler(event)).resolves.toEqual({ PhysicalResourceId: physicalId(BUCKET, MESH) });
    store.delete = async () => {
      throw Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    };
    await expect(handler(event)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  test('an invalid node config fails with a reason naming the node and the field path, and writes nothing', async () => {
    const { store, handler } = setup();
    const bad = { ...nodeConfig('payments'), clusters: [{ name: '' }] };
    const event: PublishEvent = { RequestType: 'Create', ResourceProperties: props([nodeConfig('orders'), bad]) };
    const err = await handler(event).catch((e) => e);
    expect(err).toBeInstanceOf(PublishPropertiesError);
    expect(err.code).toBe('WEFT_ERR_PUBLISH_INVALID');
    expect(err.issues.map((i: { path: string }) => i.path)).toContain("NodeConfigs[1] (node 'payments').clusters[0].name");
    expect(err.message).toContain("NodeConfigs[1] (node 'payments').clusters[0]");
    expect(store.keys(BUCKET)).toEqual([]);
  });

  test('many invalid configs: the reason stays within what CloudFormation accepts, the log keeps every issue', async () => {
    const { handler, logger } = setup();
    const bad = Array.from({ length: 120 }, (_, i) => ({ ...nodeConfig(`node-${i}`), clusters: [{ name: '' }] }));
    const err = await handler({ RequestType: 'Create', ResourceProperties: props(bad) }).catch((e) => e);
    expect(err.code).toBe('WEFT_ERR_PUBLISH_INVALID');
    expect(err.issues.length).toBeGreaterThanOrEqual(120);
    expect(err.message.length).toBeLessThanOrEqual(MAX_REASON_CHARS + 200);
    expect(err.message).toContain("NodeConfigs[0] (node 'node-0').clusters[0]");
    expect(err.message).toMatch(/and \d+ more/);
    const logged = logger.lines.at(-1)!.fields as { issues: unknown[] };
    expect(logged.issues).toHaveLength(err.issues.length);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['not JSON', { NodeConfigs: ['{nope'] }, 'NodeConfigs[0]'],
    ['another mesh', { NodeConfigs: [JSON.stringify(nodeConfig('orders', 'other'))] }, "NodeConfigs[0] (node 'orders').mesh.name"],
    ['duplicate node', { NodeConfigs: [JSON.stringify(nodeConfig('orders')), JSON.stringify(nodeConfig('orders'))] }, "NodeConfigs[1] (node 'orders').node.name"],
    ['bad registry', { TaskRegistry: JSON.stringify({ schema: 'weft.dev/task-registry/v1', families: { orders: { ...entry('orders', 's'), port: 0 } } }) }, 'TaskRegistry.families.orders.port'],
    ['registry for another mesh', { TaskRegistry: JSON.stringify(registry({ orders: { ...entry('orders', 's'), mesh: 'other' } })) }, 'TaskRegistry.families.orders.mesh'],
    ['no bucket', { Bucket: '' }, 'Bucket'],
    ['no configs array', { NodeConfigs: 'x' }, 'NodeConfigs'],
  ])('%s is reported at its path', async (_name, patch, path) => {
    const { handler } = setup();
    const err = await handler({ RequestType: 'Update', ResourceProperties: { ...props([nodeConfig('orders')]), ...patch } }).catch((e) => e);
    expect(err.code).toBe('WEFT_ERR_PUBLISH_INVALID');
    expect(err.issues.map((i: { path: string }) => i.path)).toContain(path);
  });

  test('S3 failures surface with their code and are logged', async () => {
    const { store, handler, logger } = setup();
    store.put = async () => {
      throw Object.assign(new Error('denied'), { name: 'AccessDenied' });
    };
    await expect(handler({ RequestType: 'Create', ResourceProperties: props([nodeConfig('orders')]) })).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(logger.lines.at(-1)).toMatchObject({ level: 'error', event: 'run-failed', fields: { code: 'AccessDenied' } });
  });
});
