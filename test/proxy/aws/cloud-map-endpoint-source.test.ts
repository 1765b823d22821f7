import {
  DiscoverInstancesCommand,
  DiscoverInstancesRevisionCommand,
  RequestLimitExceeded,
  ServiceDiscoveryClient,
  ServiceDiscoveryServiceException,
  type HttpInstanceSummary,
} from '@aws-sdk/client-servicediscovery';
import { mockSdk } from './sdk-mock';
import { ClusterSchema, type Cluster } from '../../../proxy/contracts';
import { CloudMapEndpointSource, DISCOVERY_UNSUPPORTED } from '../../../proxy/aws/cloud-map-endpoint-source';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';

const INTERVAL = 1_000;
const FULL = 10_000;
const BASE = 100;
const CAP = 1_000;

const client = new ServiceDiscoveryClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
const sd = mockSdk(client);

function cluster(name: string, serviceName = 'orders', attributes: Record<string, string> = { version: 'v1' }): Cluster {
  return ClusterSchema.parse({ name, virtualNode: name.split(':')[0], port: 8080, protocol: 'http', discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName, attributes } });
}

function instance(id: string, ip: string | undefined, port: string | undefined, health: HttpInstanceSummary['HealthStatus'] = 'HEALTHY', zone = 'eu-west-1a'): HttpInstanceSummary {
  const Attributes: Record<string, string> = { AVAILABILITY_ZONE: zone, version: 'v1' };
  if (ip !== undefined) Attributes.AWS_INSTANCE_IPV4 = ip;
  if (port !== undefined) Attributes.AWS_INSTANCE_PORT = port;
  return { InstanceId: id, NamespaceName: 'demo.local', ServiceName: 'orders', HealthStatus: health, Attributes };
}

const ep = (id: string, address: string, healthy = true, zone = 'eu-west-1a'): DiscoveredEndpoint => ({ id, address, port: 15000, zone, weight: 1, healthy });

const discoverCalls = () => sd.commandCalls(DiscoverInstancesCommand).length;
const revisionCalls = () => sd.commandCalls(DiscoverInstancesRevisionCommand).length;

let source: CloudMapEndpointSource;

function newSource(): CloudMapEndpointSource {
  // random 0.5: the ±20% interval jitter is exactly 0, the backoff's equal jitter is 3/4 of the step.
  return new CloudMapEndpointSource({ client, intervalMs: INTERVAL, fullRefreshMs: FULL, backoff: { baseMs: BASE, capMs: CAP }, random: () => 0.5 });
}

/** Records every delivered set. */
function recorder(): { sets: (readonly DiscoveredEndpoint[])[]; onUpdate: (e: readonly DiscoveredEndpoint[]) => void } {
  const sets: (readonly DiscoveredEndpoint[])[] = [];
  return { sets, onUpdate: (e) => sets.push(e) };
}

const throttle = () => new RequestLimitExceeded({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
  sd.reset();
  source = newSource();
});
afterEach(() => {
  source.close();
  jest.useRealTimers();
});

test('first watch: DiscoverInstances with the exact inputs; instances become endpoints, unusable ones are skipped and counted', async () => {
  sd.on(DiscoverInstancesCommand).resolves({
    InstancesRevision: 7,
    Instances: [
      instance('t-2', '10.0.2.9', '15000', 'UNHEALTHY', 'eu-west-1b'),
      instance('t-1', '10.0.1.5', '15000', 'UNKNOWN'),
      instance('no-ip', undefined, '15000'),
      instance('no-port', '10.0.3.3', undefined),
      instance('bad-port', '10.0.3.4', '70000'),
      // Not an IPv4 address: dialling it would send a share of the traffic to a DNS lookup.
      instance('bad-ip', 'undefined', '15000'),
      instance('ip-and-port', '10.0.3.5:15000', '15000'),
    ],
  });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(0);

  expect(sd.commandCalls(DiscoverInstancesCommand)[0].args[0].input).toEqual({
    NamespaceName: 'demo.local',
    ServiceName: 'orders',
    QueryParameters: { version: 'v1' },
    HealthStatus: 'HEALTHY_OR_ELSE_ALL',
    MaxResults: 1000,
  });
  expect(revisionCalls()).toBe(0);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5'), ep('t-2', '10.0.2.9', false, 'eu-west-1b')]]);
  const stats = source.stats();
  expect(stats.services).toHaveLength(1);
  expect(stats.services[0]).toMatchObject({ skippedInstances: 5, endpoints: 2, revision: 7, watchers: 1, errors: 0, calls: { discoverInstances: 1, discoverInstancesRevision: 0 } });
  expect(stats.calls).toBe(1);
  expect(stats.lastSuccessAt).toBe(new Date(0).toISOString());
});

test('no attribute filter: QueryParameters is left out', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 1, Instances: [] });
  source.watch(cluster('orders:8080', 'orders', {}), () => {});
  await jest.advanceTimersByTimeAsync(0);
  expect(sd.commandCalls(DiscoverInstancesCommand)[0].args[0].input).toEqual({
    NamespaceName: 'demo.local',
    ServiceName: 'orders',
    HealthStatus: 'HEALTHY_OR_ELSE_ALL',
    MaxResults: 1000,
  });
});

test('revision unchanged: only DiscoverInstancesRevision until the full refresh, which catches a health flip', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 3, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 3 });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(0);
  expect(discoverCalls()).toBe(1);

  // A health flip does not move the revision: the revision checks cannot see it.
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 3, Instances: [instance('t-1', '10.0.1.5', '15000', 'UNHEALTHY')] });
  await jest.advanceTimersByTimeAsync(FULL - 1);
  expect(revisionCalls()).toBe(9);
  expect(discoverCalls()).toBe(1);
  expect(sd.commandCalls(DiscoverInstancesRevisionCommand)[0].args[0].input).toEqual({ NamespaceName: 'demo.local', ServiceName: 'orders' });
  expect(r.sets).toHaveLength(1);

  // The tick at FULL is a full refresh (no revision check first), and delivers the flip.
  await jest.advanceTimersByTimeAsync(1);
  expect(discoverCalls()).toBe(2);
  expect(revisionCalls()).toBe(9);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')], [ep('t-1', '10.0.1.5', false)]]);

  // And the cycle starts again: revision checks only.
  await jest.advanceTimersByTimeAsync(INTERVAL * 3);
  expect(discoverCalls()).toBe(2);
  expect(revisionCalls()).toBe(12);
});

test('revision changed: DiscoverInstances at once and the new set is delivered; an identical answer is not re-delivered', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 3, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 3 });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect([discoverCalls(), revisionCalls()]).toEqual([1, 1]);

  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 4 });
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 4, Instances: [instance('t-1', '10.0.1.5', '15000'), instance('t-3', '10.0.1.7', '15000')] });
  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect([discoverCalls(), revisionCalls()]).toEqual([2, 2]);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')], [ep('t-1', '10.0.1.5'), ep('t-3', '10.0.1.7')]]);
  expect(source.stats().services[0].revision).toBe(4);

  // Revision moves but the answer is the same set (register then deregister): nothing new to deliver.
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 6 });
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 6, Instances: [instance('t-3', '10.0.1.7', '15000'), instance('t-1', '10.0.1.5', '15000')] });
  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect(discoverCalls()).toBe(3);
  expect(r.sets).toHaveLength(2);
});

test('throttling: the retry delay doubles up to the cap, the last good set stays, the interval resumes after success', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 1, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(0);

  const http429 = new ServiceDiscoveryServiceException({ name: 'TooManyRequests', $fault: 'client', message: 'slow down', $metadata: { httpStatusCode: 429 } });
  sd.on(DiscoverInstancesRevisionCommand).rejects(throttle());
  sd.on(DiscoverInstancesCommand).rejects(http429);
  // Times of the calls after the first regular tick at INTERVAL: 3/4 of 100, 200, 400, 800, then the 1000 cap.
  const expectedGaps = [75, 150, 300, 600, 750, 750];
  await jest.advanceTimersByTimeAsync(INTERVAL);
  let calls = revisionCalls();
  expect(calls).toBe(1);
  for (const gap of expectedGaps) {
    await jest.advanceTimersByTimeAsync(gap - 1);
    expect(revisionCalls()).toBe(calls);
    await jest.advanceTimersByTimeAsync(1);
    expect(revisionCalls()).toBe(calls + 1);
    calls++;
  }
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')]]);
  const s = source.stats().services[0];
  expect(s).toMatchObject({ throttles: 7, errors: 7, consecutiveFailures: 7, endpoints: 1 });
  expect(s.lastError).toMatchObject({ code: 'RequestLimitExceeded', throttled: true });

  // Past the full refresh time the retry is a DiscoverInstances; a 429 is throttling too.
  await jest.advanceTimersByTimeAsync(FULL);
  expect(discoverCalls()).toBeGreaterThan(1);
  expect(source.stats().services[0].lastError).toMatchObject({ code: 'TooManyRequests', throttled: true });
  expect(r.sets).toHaveLength(1);

  // Recovery: one answer, then back to the regular interval.
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 2, Instances: [instance('t-2', '10.0.2.2', '15000')] });
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 2 });
  await jest.advanceTimersByTimeAsync(CAP);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')], [ep('t-2', '10.0.2.2')]]);
  expect(source.stats().services[0].consecutiveFailures).toBe(0);
  const before = revisionCalls();
  await jest.advanceTimersByTimeAsync(INTERVAL * 4);
  expect(revisionCalls() - before).toBe(4);
  expect(source.stats().throttles).toBe(source.stats().errors);
});

test('errors keep the last good set; only an authoritative empty answer empties it', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 1, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(0);

  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const server = new ServiceDiscoveryServiceException({ name: 'InternalFailure', $fault: 'server', message: 'boom', $metadata: { httpStatusCode: 500 } });
  sd.on(DiscoverInstancesRevisionCommand).rejectsOnce(refused).rejects(server);
  sd.on(DiscoverInstancesCommand).rejects(server);
  await jest.advanceTimersByTimeAsync(FULL + CAP * 3);
  const s = source.stats();
  expect(s.errors).toBeGreaterThanOrEqual(5);
  expect(s.throttles).toBe(0);
  expect(s.services[0].lastError).toMatchObject({ code: 'InternalFailure', throttled: false });
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')]]);

  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 2, Instances: [] });
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 2 });
  await jest.advanceTimersByTimeAsync(CAP);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')], []]);
  expect(source.stats().services[0].endpoints).toBe(0);
});

test('a first call that fails delivers nothing and is retried until Cloud Map answers', async () => {
  sd.on(DiscoverInstancesCommand).rejectsOnce(throttle()).rejectsOnce(throttle()).resolves({ InstancesRevision: 1, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  await jest.advanceTimersByTimeAsync(0);
  expect(r.sets).toEqual([]);
  await jest.advanceTimersByTimeAsync(75 + 150);
  expect(discoverCalls()).toBe(3);
  expect(revisionCalls()).toBe(0);
  expect(r.sets).toEqual([[ep('t-1', '10.0.1.5')]]);
});

test('clusters of the same service and filter share one poller; it stops with its last watcher', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 1, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 1 });
  const a = recorder();
  const b = recorder();
  const stopA = source.watch(cluster('a:8080'), a.onUpdate);
  await jest.advanceTimersByTimeAsync(0);
  // The second cluster gets the last good set at once, without a call of its own.
  const stopB = source.watch(cluster('b:8080', 'orders', { version: 'v1' }), b.onUpdate);
  expect(b.sets).toEqual([[ep('t-1', '10.0.1.5')]]);
  expect(discoverCalls()).toBe(1);
  // Another filter is another poller.
  const stopC = source.watch(cluster('c:8080', 'orders', { version: 'v2' }), () => {});
  await jest.advanceTimersByTimeAsync(0);
  expect(discoverCalls()).toBe(2);
  expect(sd.commandCalls(DiscoverInstancesCommand)[1].args[0].input.QueryParameters).toEqual({ version: 'v2' });
  expect(source.stats().services.map((s) => s.watchers)).toEqual([2, 1]);

  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect(revisionCalls()).toBe(2);

  sd.on(DiscoverInstancesRevisionCommand).resolves({ InstancesRevision: 2 });
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 2, Instances: [instance('t-9', '10.0.9.9', '15000')] });
  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect(a.sets.at(-1)).toEqual([ep('t-9', '10.0.9.9')]);
  expect(b.sets.at(-1)).toEqual([ep('t-9', '10.0.9.9')]);

  stopA();
  stopA(); // idempotent: must not take b's reference
  stopC();
  const before = revisionCalls();
  await jest.advanceTimersByTimeAsync(INTERVAL);
  expect(revisionCalls() - before).toBe(1);
  stopB();
  await jest.advanceTimersByTimeAsync(FULL * 2);
  expect(revisionCalls() - before).toBe(1);
  expect(source.stats().services).toEqual([]);
  expect(source.stats().calls).toBe(sd.calls().length);
});

test('close() stops every poller, including one with a call in flight', async () => {
  let release: (v: unknown) => void = () => {};
  sd.on(DiscoverInstancesCommand).callsFake(() => new Promise((resolve) => (release = resolve)));
  const r = recorder();
  source.watch(cluster('orders-v1:8080'), r.onUpdate);
  source.watch(cluster('pay:8080', 'payments'), () => {});
  await jest.advanceTimersByTimeAsync(0);
  source.close();
  release({ InstancesRevision: 1, Instances: [instance('t-1', '10.0.1.5', '15000')] });
  await jest.advanceTimersByTimeAsync(FULL * 2);
  expect(r.sets).toEqual([]);
  expect(sd.calls()).toHaveLength(2);
  expect(jest.getTimerCount()).toBe(0);
});

test('a cluster with another discovery type is refused with a code', () => {
  const c = ClusterSchema.parse({ name: 's:80', virtualNode: 's', port: 80, protocol: 'http', discovery: { type: 'dns', hostname: 'example.internal' } });
  expect(() => source.watch(c, () => {})).toThrow(expect.objectContaining({ code: DISCOVERY_UNSUPPORTED }));
});

test('poll timers do not keep the process alive', async () => {
  sd.on(DiscoverInstancesCommand).resolves({ InstancesRevision: 1, Instances: [] });
  sd.on(DiscoverInstancesRevisionCommand).rejects(throttle());
  const spy = jest.spyOn(global, 'setTimeout');
  source.watch(cluster('orders-v1:8080'), () => {});
  await jest.advanceTimersByTimeAsync(INTERVAL * 3);
  const timers = spy.mock.results.map((r) => r.value as NodeJS.Timeout);
  spy.mockRestore();
  expect(timers.length).toBeGreaterThanOrEqual(3);
  for (const t of timers) expect(t.hasRef()).toBe(false);
});
