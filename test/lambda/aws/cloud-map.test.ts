import {
  DeregisterInstanceCommand,
  GetInstanceCommand,
  InstanceNotFound,
  ListInstancesCommand,
  RegisterInstanceCommand,
  RequestLimitExceeded,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { createCloudMap } from '../../../lambda/aws/cloud-map';
import { awsError, instantRetry } from '../aws-errors';
import { mockSdk } from '../sdk-mock';

const client = new ServiceDiscoveryClient({ region: 'eu-west-1' });
const sd = mockSdk(client);
beforeEach(() => sd.reset());

describe('Cloud Map adapter', () => {
  test('RegisterInstance carries the service, instance, attributes and an idempotency id', async () => {
    sd.on(RegisterInstanceCommand).resolves({ OperationId: 'op-1' });
    await createCloudMap(client).registerInstance('srv-1', 'abc', { AWS_INSTANCE_IPV4: '10.0.0.1', WEFT_EVENT_VERSION: '4' });
    expect(sd.commandCalls(RegisterInstanceCommand).map((c) => c.args[0].input)).toEqual([
      { ServiceId: 'srv-1', InstanceId: 'abc', CreatorRequestId: expect.stringMatching(/^abc-4-[0-9a-f]{16}$/), Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', WEFT_EVENT_VERSION: '4' } },
    ]);
  });

  test('the idempotency id changes with any attribute, not only the event version, and ignores attribute order', async () => {
    sd.on(RegisterInstanceCommand).resolves({ OperationId: 'op-1' });
    const cloudMap = createCloudMap(client);
    const taskId = '0123456789abcdef0123456789abcdef';
    await cloudMap.registerInstance('srv-1', taskId, { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '15000', WEFT_EVENT_VERSION: '4' });
    await cloudMap.registerInstance('srv-1', taskId, { WEFT_EVENT_VERSION: '4', AWS_INSTANCE_PORT: '15000', AWS_INSTANCE_IPV4: '10.0.0.1' });
    // Same task, same version, a new port from the task registry: a different request.
    await cloudMap.registerInstance('srv-1', taskId, { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '15010', WEFT_EVENT_VERSION: '4' });
    const ids = sd.commandCalls(RegisterInstanceCommand).map((c) => c.args[0].input.CreatorRequestId as string);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(64);
  });

  test('throttled registration is retried with backoff', async () => {
    const retry = instantRetry();
    sd.on(RegisterInstanceCommand)
      .rejectsOnce(new RequestLimitExceeded({ message: 'slow down', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(awsError('ThrottlingException'))
      .resolves({ OperationId: 'op-1' });
    await createCloudMap(client, retry).registerInstance('srv-1', 'abc', {});
    expect(sd.commandCalls(RegisterInstanceCommand)).toHaveLength(3);
    expect(retry.delays).toHaveLength(2);
  });

  test('deregistering an absent instance succeeds; GetInstance of one is undefined', async () => {
    sd.on(DeregisterInstanceCommand).rejects(new InstanceNotFound({ message: 'gone', $metadata: {} }));
    sd.on(GetInstanceCommand).rejects(new InstanceNotFound({ message: 'gone', $metadata: {} }));
    const cm = createCloudMap(client);
    await expect(cm.deregisterInstance('srv-1', 'abc')).resolves.toBeUndefined();
    await expect(cm.getInstance('srv-1', 'abc')).resolves.toBeUndefined();
    expect(sd.commandCalls(DeregisterInstanceCommand)[0].args[0].input).toEqual({ ServiceId: 'srv-1', InstanceId: 'abc' });
  });

  test('other errors pass through', async () => {
    sd.on(DeregisterInstanceCommand).rejects(awsError('AccessDeniedException', 403));
    await expect(createCloudMap(client).deregisterInstance('srv-1', 'abc')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  test('ListInstances follows NextToken', async () => {
    sd.on(ListInstancesCommand, { ServiceId: 'srv-1', MaxResults: 100, NextToken: undefined })
      .resolves({ Instances: [{ Id: 'a', Attributes: { x: '1' } }], NextToken: 't2' })
      .on(ListInstancesCommand, { ServiceId: 'srv-1', MaxResults: 100, NextToken: 't2' })
      .resolves({ Instances: [{ Id: 'b' }] });
    expect(await createCloudMap(client).listInstances('srv-1')).toEqual([
      { instanceId: 'a', attributes: { x: '1' } },
      { instanceId: 'b', attributes: {} },
    ]);
  });

  test('GetInstance returns the attributes', async () => {
    sd.on(GetInstanceCommand, { ServiceId: 'srv-1', InstanceId: 'a' }).resolves({ Instance: { Id: 'a', Attributes: { WEFT_EVENT_VERSION: '3' } } });
    expect(await createCloudMap(client).getInstance('srv-1', 'a')).toEqual({ instanceId: 'a', attributes: { WEFT_EVENT_VERSION: '3' } });
  });
});
