import { DescribeTasksCommand, ECSClient, ListClustersCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { createEcs } from '../../../lambda/aws/ecs';
import { awsError, instantRetry } from '../aws-errors';
import { mockSdk } from '../sdk-mock';

const client = new ECSClient({ region: 'eu-west-1' });
const ecs = mockSdk(client);
beforeEach(() => ecs.reset());

describe('ECS adapter', () => {
  test('ListTasks asks for RUNNING tasks of a family, page by page', async () => {
    ecs.on(ListTasksCommand).resolvesOnce({ taskArns: ['t1', 't2'], nextToken: 'n' }).resolvesOnce({ taskArns: ['t3'] });
    expect(await createEcs(client).listTaskArns('main', 'orders')).toEqual(['t1', 't2', 't3']);
    expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: 'main', family: 'orders', desiredStatus: 'RUNNING', maxResults: 100, nextToken: undefined },
      { cluster: 'main', family: 'orders', desiredStatus: 'RUNNING', maxResults: 100, nextToken: 'n' },
    ]);
  });

  test('DescribeTasks is called in batches of 100', async () => {
    const arns = Array.from({ length: 250 }, (_, i) => `arn:task/${i}`);
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({ tasks: input.tasks.map((taskArn) => ({ taskArn })) }));
    const tasks = await createEcs(client).describeTasks('main', arns);
    expect(tasks.map((t) => t.taskArn)).toEqual(arns);
    expect(ecs.commandCalls(DescribeTasksCommand).map((c) => [c.args[0].input.cluster, c.args[0].input.tasks?.length])).toEqual([
      ['main', 100],
      ['main', 100],
      ['main', 50],
    ]);
  });

  test('DescribeTasks failures other than MISSING fail the call instead of looking like stopped tasks', async () => {
    ecs
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ taskArn: 'a' }], failures: [{ arn: 'gone', reason: 'MISSING' }] })
      .resolvesOnce({ tasks: [{ taskArn: 'a' }], failures: [{ arn: 'b', reason: 'InternalError' }] });
    expect(await createEcs(client).describeTasks('main', ['a', 'gone'])).toEqual([{ taskArn: 'a' }]);
    await expect(createEcs(client).describeTasks('main', ['a', 'b'])).rejects.toMatchObject({ code: 'WEFT_ERR_AWS_CALL_FAILED' });
  });

  test('throttled DescribeTasks is retried', async () => {
    const retry = instantRetry();
    ecs.on(DescribeTasksCommand).rejectsOnce(awsError('ThrottlingException')).resolves({ tasks: [{ taskArn: 'a' }] });
    expect(await createEcs(client, retry).describeTasks('main', ['a'])).toEqual([{ taskArn: 'a' }]);
    expect(retry.delays).toHaveLength(1);
  });

  test('ListClusters pages', async () => {
    ecs.on(ListClustersCommand).resolvesOnce({ clusterArns: ['c1'], nextToken: 'x' }).resolvesOnce({ clusterArns: ['c2'] });
    expect(await createEcs(client).listClusters()).toEqual(['c1', 'c2']);
  });
});
