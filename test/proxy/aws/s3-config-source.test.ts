import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockSdk } from './sdk-mock';
import { CONFIG_UNREADABLE as FILE_CONFIG_UNREADABLE } from '../../../proxy/sources/config-source';
import { CONFIG_LOCATION_INVALID, CONFIG_UNREADABLE, createS3ConfigSource, S3ConfigSource } from '../../../proxy/aws/s3-config-source';
import { ConfigStore } from '../../../proxy/config/config-store';
import { sealNodeConfig } from '../../../proxy/contracts';
import { DiscoveryRouter } from '../../../proxy/endpoints/endpoint-source';
import { silentLogger } from '../../../proxy/log';
import { noCertificates } from '../../../proxy/tls/certificate-provider';
import { nodeBody } from '../harness';

const POLL = 1_000;
const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
const s3 = mockSdk(client);

const body = (text: string) => sdkStreamMixin(Readable.from([Buffer.from(text)]));
const object = (text: string, etag: string | undefined) => ({ Body: body(text), ...(etag ? { ETag: etag } : {}) });
/** What the SDK throws when S3 answers 304 to a conditional GET. */
const notModified = () => new S3ServiceException({ name: 'NotModified', $fault: 'client', message: 'Not Modified', $metadata: { httpStatusCode: 304 } });
const inputs = () => s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input);

let source: S3ConfigSource;

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
  s3.reset();
  source = new S3ConfigSource({ client, bucket: 'weft-config', key: 'demo/nodes/orders.json', pollMs: POLL, backoff: { baseMs: 100, capMs: 1_000 }, random: () => 0.5 });
});
afterEach(() => {
  source.close();
  jest.useRealTimers();
});

test('read() is an unconditional GetObject and returns the text', async () => {
  s3.on(GetObjectCommand).callsFake(() => object('{"v":1}', '"e1"'));
  expect(source.location).toBe('s3://weft-config/demo/nodes/orders.json');
  await expect(source.read()).resolves.toBe('{"v":1}');
  expect(inputs()).toEqual([{ Bucket: 'weft-config', Key: 'demo/nodes/orders.json' }]);
  expect(source.stats()).toMatchObject({ calls: 1, errors: 0, etag: '"e1"' });
});

test('read() rejects with a coded error when S3 is unreachable or the object is missing', async () => {
  s3.on(GetObjectCommand)
    .rejectsOnce(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))
    .rejectsOnce(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
  await expect(source.read()).rejects.toMatchObject({ code: CONFIG_UNREADABLE });
  await expect(source.read()).rejects.toMatchObject({ code: CONFIG_UNREADABLE });
  expect(source.stats().lastError).toMatchObject({ code: 'NoSuchKey' });
  expect(CONFIG_UNREADABLE).toBe(FILE_CONFIG_UNREADABLE);
});

test('polling sends If-None-Match with the last ETag; 304 changes nothing; a new ETag is delivered and used next', async () => {
  s3.on(GetObjectCommand).callsFake(() => object('{"v":1}', '"e1"'));
  await source.read();
  const changes: string[] = [];
  const errors: Error[] = [];
  source.watch((t) => changes.push(t), (e) => errors.push(e));

  s3.on(GetObjectCommand).rejects(notModified());
  await jest.advanceTimersByTimeAsync(POLL - 1);
  expect(inputs()).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(1);
  await jest.advanceTimersByTimeAsync(POLL);
  expect(inputs().slice(1)).toEqual([
    { Bucket: 'weft-config', Key: 'demo/nodes/orders.json', IfNoneMatch: '"e1"' },
    { Bucket: 'weft-config', Key: 'demo/nodes/orders.json', IfNoneMatch: '"e1"' },
  ]);
  expect(changes).toEqual([]);
  expect(source.stats().notModified).toBe(2);

  s3.on(GetObjectCommand).callsFake(() => object('{"v":2}', '"e2"'));
  await jest.advanceTimersByTimeAsync(POLL);
  expect(changes).toEqual(['{"v":2}']);
  s3.on(GetObjectCommand).rejects(notModified());
  await jest.advanceTimersByTimeAsync(POLL);
  expect(inputs().at(-1)).toEqual({ Bucket: 'weft-config', Key: 'demo/nodes/orders.json', IfNoneMatch: '"e2"' });
  expect(changes).toEqual(['{"v":2}']);
  expect(errors).toEqual([]);
  expect(source.stats()).toMatchObject({ changes: 1, etag: '"e2"', errors: 0 });
});

test('an object without an ETag is polled unconditionally and only changed text is delivered', async () => {
  s3.on(GetObjectCommand).callsFake(() => object('{"v":1}', undefined));
  await source.read();
  const changes: string[] = [];
  source.watch((t) => changes.push(t), () => {});
  await jest.advanceTimersByTimeAsync(POLL);
  expect(inputs()[1]).toEqual({ Bucket: 'weft-config', Key: 'demo/nodes/orders.json' });
  expect(changes).toEqual([]);
  s3.on(GetObjectCommand).callsFake(() => object('{"v":3}', undefined));
  await jest.advanceTimersByTimeAsync(POLL);
  expect(changes).toEqual(['{"v":3}']);
});

test('errors are reported with a code and polling goes on with a growing backoff, then back to the interval', async () => {
  s3.on(GetObjectCommand).callsFake(() => object('{"v":1}', '"e1"'));
  await source.read();
  const changes: string[] = [];
  const errors: Error[] = [];
  source.watch((t) => changes.push(t), (e) => errors.push(e));

  s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', message: 'We encountered an internal error.', $metadata: { httpStatusCode: 500 } }));
  await jest.advanceTimersByTimeAsync(POLL);
  expect(errors).toHaveLength(1);
  // 3/4 of 100, 200, 400 ms with the pinned jitter.
  for (const gap of [75, 150, 300]) {
    const n = inputs().length;
    await jest.advanceTimersByTimeAsync(gap - 1);
    expect(inputs()).toHaveLength(n);
    await jest.advanceTimersByTimeAsync(1);
    expect(inputs()).toHaveLength(n + 1);
  }
  expect(errors).toHaveLength(4);
  for (const e of errors) expect(e).toMatchObject({ code: CONFIG_UNREADABLE });
  expect(source.stats()).toMatchObject({ errors: 4, consecutiveFailures: 4, lastError: { code: 'InternalError' } });
  // Retries keep the conditional GET: the last good ETag is not forgotten.
  expect(inputs().at(-1)).toMatchObject({ IfNoneMatch: '"e1"' });

  s3.on(GetObjectCommand).rejects(notModified());
  await jest.advanceTimersByTimeAsync(600);
  expect(source.stats().consecutiveFailures).toBe(0);
  const n = inputs().length;
  await jest.advanceTimersByTimeAsync(POLL * 3);
  expect(inputs().length - n).toBe(3);
  expect(changes).toEqual([]);
});

test('close() stops polling, also with a GET in flight', async () => {
  s3.on(GetObjectCommand).callsFake(() => object('{"v":1}', '"e1"'));
  await source.read();
  let release: (v: unknown) => void = () => {};
  s3.on(GetObjectCommand).callsFake(() => new Promise((r) => (release = r)));
  const changes: string[] = [];
  source.watch((t) => changes.push(t), () => {});
  await jest.advanceTimersByTimeAsync(POLL);
  source.close();
  release(object('{"v":2}', '"e2"'));
  await jest.advanceTimersByTimeAsync(POLL * 5);
  expect(changes).toEqual([]);
  expect(inputs()).toHaveLength(2);
  expect(jest.getTimerCount()).toBe(0);
});

test('createS3ConfigSource refuses a location that is not s3://bucket/key', () => {
  for (const bad of ['s3://', 's3://bucket', 's3://Bad_Bucket/key', '/etc/weft.json']) {
    expect(() => createS3ConfigSource(bad)).toThrow(expect.objectContaining({ code: CONFIG_LOCATION_INVALID }));
  }
  const good = createS3ConfigSource('s3://weft-config/demo/nodes/a.json', { region: 'eu-west-1', env: {} });
  expect(good.location).toBe('s3://weft-config/demo/nodes/a.json');
  good.close();
});

test('poll timers do not keep the process alive', async () => {
  s3.on(GetObjectCommand).rejects(notModified());
  const spy = jest.spyOn(global, 'setTimeout');
  source.watch(() => {}, () => {});
  await jest.advanceTimersByTimeAsync(POLL * 3);
  const timers = spy.mock.results.map((r) => r.value as NodeJS.Timeout);
  spy.mockRestore();
  expect(timers.length).toBeGreaterThanOrEqual(3);
  for (const t of timers) expect(t.hasRef()).toBe(false);
});

test('the store reports a failed poll only until S3 answers again, even with a 304; a rejected object stays reported', async () => {
  const good = JSON.stringify(sealNodeConfig(nodeBody({})));
  s3.on(GetObjectCommand).callsFake(() => object(good, '"e1"'));
  const store = new ConfigStore({
    source,
    endpoints: new DiscoveryRouter({ watch: () => () => {}, close: () => {} }),
    certificates: noCertificates,
    logger: silentLogger,
    expectNode: undefined,
    expectMesh: undefined,
    appPorts: undefined,
    localZone: undefined,
  });
  await store.start();
  s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', message: 'We encountered an internal error.', $metadata: { httpStatusCode: 500 } }));
  await jest.advanceTimersByTimeAsync(POLL);
  expect(store.lastError).toMatchObject({ code: CONFIG_UNREADABLE });
  s3.on(GetObjectCommand).rejects(notModified());
  await jest.advanceTimersByTimeAsync(POLL);
  expect(store.lastError).toBeUndefined();

  s3.on(GetObjectCommand).callsFake(() => object('{"schema":"weft.dev/node-config/v1"}', '"e2"'));
  await jest.advanceTimersByTimeAsync(POLL);
  expect(store.lastError).toMatchObject({ code: 'WEFT_ERR_NODE_CONFIG_INVALID' });
  s3.on(GetObjectCommand).rejects(notModified());
  await jest.advanceTimersByTimeAsync(POLL);
  expect(store.lastError).toMatchObject({ code: 'WEFT_ERR_NODE_CONFIG_INVALID' });
  await store.close();
});
