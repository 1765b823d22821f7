import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceDiscoveryClient, UpdateInstanceCustomHealthStatusCommand } from '@aws-sdk/client-servicediscovery';
import { CloudMapHealthReporter } from '../../../proxy/aws/cloud-map-health-reporter';
import { instanceIdFromTaskMetadata } from '../../../proxy/aws/task-metadata';
import { silentLogger } from '../../../proxy/log';
import { eventually } from '../harness';
import { mockSdk } from './sdk-mock';

function reporter(client: ServiceDiscoveryClient, instanceId: () => Promise<string> = () => Promise.resolve('task-1')) {
  return new CloudMapHealthReporter({ serviceId: 'srv-1', instanceId, client: () => client, logger: silentLogger, random: () => 0.5, backoffBaseMs: 10, backoffCapMs: 40 });
}

test('only changes are sent; HEALTHY is assumed at start', async () => {
  const client = new ServiceDiscoveryClient({ region: 'us-east-1' });
  const mock = mockSdk(client);
  mock.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
  const r = reporter(client);
  r.set('HEALTHY');
  r.set('UNHEALTHY');
  await eventually(() => r.view().reported === 'UNHEALTHY', 'reported');
  r.set('UNHEALTHY');
  r.set('HEALTHY');
  await eventually(() => r.view().reported === 'HEALTHY', 'reported again');
  expect(mock.commandCalls(UpdateInstanceCustomHealthStatusCommand).map((c) => c.args[0].input.Status)).toEqual(['UNHEALTHY', 'HEALTHY']);
  r.close();
});

test('a failed call is retried with backoff until Cloud Map accepts it', async () => {
  const client = new ServiceDiscoveryClient({ region: 'us-east-1' });
  const mock = mockSdk(client);
  const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
  mock.on(UpdateInstanceCustomHealthStatusCommand).rejectsOnce(throttled).rejectsOnce(throttled).resolves({});
  const r = reporter(client);
  r.set('UNHEALTHY');
  await eventually(() => r.view().reported === 'UNHEALTHY', 'reported after retries');
  expect(mock.commandCalls(UpdateInstanceCustomHealthStatusCommand).map((c) => c.args[0].input)).toEqual([
    { ServiceId: 'srv-1', InstanceId: 'task-1', Status: 'UNHEALTHY' },
    { ServiceId: 'srv-1', InstanceId: 'task-1', Status: 'UNHEALTHY' },
    { ServiceId: 'srv-1', InstanceId: 'task-1', Status: 'UNHEALTHY' },
  ]);
  expect(r.view()).toMatchObject({ failures: 2, lastError: 'ThrottlingException: Rate exceeded' });

  r.close();
});

test('a retry sends the newest wanted status, and nothing when that is what Cloud Map holds', async () => {
  const client = new ServiceDiscoveryClient({ region: 'us-east-1' });
  const mock = mockSdk(client);
  mock.on(UpdateInstanceCustomHealthStatusCommand).rejects(Object.assign(new Error('no such instance yet'), { name: 'InstanceNotFound' }));
  // A backoff long enough (0.5-1 s) for the test to act while the retry waits.
  const r = new CloudMapHealthReporter({ serviceId: 'srv-1', instanceId: () => Promise.resolve('task-1'), client: () => client, logger: silentLogger, random: () => 0.5, backoffBaseMs: 1_000 });
  r.set('UNHEALTHY');
  await eventually(() => r.view().retrying === true, 'a retry waits');
  r.set('HEALTHY'); // back to what Cloud Map holds: the retry has nothing to send
  await eventually(() => r.view().retrying === false, 'the retry ran');
  expect(mock.commandCalls(UpdateInstanceCustomHealthStatusCommand)).toHaveLength(1);
  mock.reset();
  mock.on(UpdateInstanceCustomHealthStatusCommand).rejectsOnce(new Error('throttled')).resolves({});
  r.set('UNHEALTHY');
  await eventually(() => r.view().retrying === true, 'a retry waits');
  r.set('HEALTHY');
  r.set('UNHEALTHY');
  await eventually(() => r.view().reported === 'UNHEALTHY', 'reported');
  expect(mock.commandCalls(UpdateInstanceCustomHealthStatusCommand).map((c) => c.args[0].input.Status)).toEqual(['UNHEALTHY', 'UNHEALTHY']);
  r.close();
});

test('the instance id is the task id from ECS task metadata, as discovery sync registers it', async () => {
  const server = createServer((req, res) => {
    if (req.url !== '/v4/abc/task') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ TaskARN: 'arn:aws:ecs:eu-west-1:111111111111:task/shop/0123456789abcdef0123456789abcdef' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/abc`;
  try {
    await expect(instanceIdFromTaskMetadata({ ECS_CONTAINER_METADATA_URI_V4: base })).resolves.toBe('0123456789abcdef0123456789abcdef');
    await expect(instanceIdFromTaskMetadata({})).rejects.toThrow(/WEFT_CLOUD_MAP_INSTANCE_ID/);
  } finally {
    server.close();
  }
});
