/**
 * ECS as discovery sync's reconcile reads it: which tasks of which families are running. The only
 * controller module that imports the ECS SDK.
 */
import { DescribeTasksCommand, ECSClient, ListClustersCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { WeftLambdaError } from '../shared/errors';
import { withRetry, type RetryOptions } from '../shared/retry';
import { clientOptions } from './client-config';

/**
 * The fields of an ECS task that Weft reads. Both `DescribeTasks` results and the `detail` of an
 * EventBridge "ECS Task State Change" event have this shape.
 */
export interface EcsTask {
  taskArn?: string;
  clusterArn?: string;
  taskDefinitionArn?: string;
  lastStatus?: string;
  desiredStatus?: string;
  healthStatus?: string;
  availabilityZone?: string;
  group?: string;
  version?: number;
  attachments?: { type?: string; status?: string; details?: { name?: string; value?: string }[] }[];
  containers?: { name?: string; healthStatus?: string }[];
}

/** Port of ECS for discovery sync. */
export interface EcsPort {
  listClusters(): Promise<string[]>;
  /** ARNs of the tasks of `family` in `cluster` whose desired status is RUNNING. */
  listTaskArns(cluster: string, family: string): Promise<string[]>;
  /** Describes any number of tasks (batched by 100, the API's limit). */
  describeTasks(cluster: string, taskArns: readonly string[]): Promise<EcsTask[]>;
}

/** DescribeTasks accepts at most this many task ARNs per call. */
export const DESCRIBE_TASKS_BATCH = 100;

let sharedClient: ECSClient | undefined;
/** The container's ECS client, created on first use and reused across invocations. */
export function ecsClient(): ECSClient {
  sharedClient ??= new ECSClient(clientOptions('ecs'));
  return sharedClient;
}

/** The ECS implementation of {@link EcsPort}. */
export function createEcs(client: ECSClient = ecsClient(), retry: RetryOptions = {}): EcsPort {
  return {
    async listClusters() {
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const out = await withRetry('ecs:ListClusters', () => client.send(new ListClustersCommand({ nextToken: token })), retry);
        arns.push(...(out.clusterArns ?? []));
        token = out.nextToken;
      } while (token);
      return arns;
    },
    async listTaskArns(cluster, family) {
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const out = await withRetry(
          'ecs:ListTasks',
          () => client.send(new ListTasksCommand({ cluster, family, desiredStatus: 'RUNNING', maxResults: 100, nextToken: token })),
          retry,
        );
        arns.push(...(out.taskArns ?? []));
        token = out.nextToken;
      } while (token);
      return arns;
    },
    async describeTasks(cluster, taskArns) {
      const tasks: EcsTask[] = [];
      for (let i = 0; i < taskArns.length; i += DESCRIBE_TASKS_BATCH) {
        const batch = taskArns.slice(i, i + DESCRIBE_TASKS_BATCH);
        const out = await withRetry('ecs:DescribeTasks', () => client.send(new DescribeTasksCommand({ cluster, tasks: batch })), retry);
        tasks.push(...((out.tasks ?? []) as EcsTask[]));
        // A task ECS could not describe is not a task that stopped: reconcile would deregister it.
        // Only MISSING (ECS no longer knows the task) means gone; anything else fails the call.
        const unknown = (out.failures ?? []).filter((f) => f.reason !== 'MISSING');
        if (unknown.length > 0) {
          throw new WeftLambdaError('WEFT_ERR_AWS_CALL_FAILED', `DescribeTasks could not describe ${unknown.length} task(s) in ${cluster}: ${unknown.map((f) => `${f.arn ?? '?'} (${f.reason ?? '?'})`).join(', ')}`);
        }
      }
      return tasks;
    },
  };
}
