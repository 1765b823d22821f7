/**
 * Cloud Map instances as discovery sync manages them. The only controller module that imports
 * the Service Discovery SDK. Register and deregister are idempotent here: deregistering an absent
 * instance succeeds, and registering is an upsert keyed by instance id.
 */
import { createHash } from 'node:crypto';
import {
  DeregisterInstanceCommand,
  GetInstanceCommand,
  ListInstancesCommand,
  RegisterInstanceCommand,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { withRetry, type RetryOptions } from '../shared/retry';
import { clientOptions } from './client-config';

/** One registered instance: its id and custom attributes. */
export interface RegisteredInstance {
  instanceId: string;
  attributes: Record<string, string>;
}

/** Port of Cloud Map for discovery sync. */
export interface CloudMapPort {
  registerInstance(serviceId: string, instanceId: string, attributes: Record<string, string>): Promise<void>;
  deregisterInstance(serviceId: string, instanceId: string): Promise<void>;
  /** `undefined` when no such instance is registered. */
  getInstance(serviceId: string, instanceId: string): Promise<RegisteredInstance | undefined>;
  listInstances(serviceId: string): Promise<RegisteredInstance[]>;
}

let sharedClient: ServiceDiscoveryClient | undefined;
/** The container's Cloud Map client, created on first use and reused across invocations. */
export function cloudMapClient(): ServiceDiscoveryClient {
  sharedClient ??= new ServiceDiscoveryClient(clientOptions('servicediscovery'));
  return sharedClient;
}

function isInstanceNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'InstanceNotFound';
}

/** The Cloud Map implementation of {@link CloudMapPort}. */
export function createCloudMap(client: ServiceDiscoveryClient = cloudMapClient(), retry: RetryOptions = {}): CloudMapPort {
  return {
    async registerInstance(serviceId, instanceId, attributes) {
      // The request id makes a retried call after a lost response a no-op rather than a second
      // operation. It hashes every attribute, not just the event version: a reconcile that
      // re-registers a task at the same version with new attributes (a registry change: port,
      // serviceDiscovery attributes) must not be deduplicated into the old registration.
      const canonical = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const digest = createHash('sha256').update(`${serviceId}\n${instanceId}\n${canonical}`).digest('hex').slice(0, 16);
      const creatorRequestId = `${`${instanceId}-${attributes.WEFT_EVENT_VERSION ?? '0'}`.slice(0, 47)}-${digest}`;
      await withRetry(
        'servicediscovery:RegisterInstance',
        () => client.send(new RegisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId, CreatorRequestId: creatorRequestId, Attributes: attributes })),
        retry,
      );
    },
    async deregisterInstance(serviceId, instanceId) {
      try {
        await withRetry('servicediscovery:DeregisterInstance', () => client.send(new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId })), retry);
      } catch (err) {
        if (!isInstanceNotFound(err)) throw err;
      }
    },
    async getInstance(serviceId, instanceId) {
      try {
        const out = await withRetry('servicediscovery:GetInstance', () => client.send(new GetInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId })), retry);
        if (!out.Instance?.Id) return undefined;
        return { instanceId: out.Instance.Id, attributes: out.Instance.Attributes ?? {} };
      } catch (err) {
        if (isInstanceNotFound(err)) return undefined;
        throw err;
      }
    },
    async listInstances(serviceId) {
      const instances: RegisteredInstance[] = [];
      let token: string | undefined;
      do {
        const out = await withRetry(
          'servicediscovery:ListInstances',
          () => client.send(new ListInstancesCommand({ ServiceId: serviceId, MaxResults: 100, NextToken: token })),
          retry,
        );
        for (const i of out.Instances ?? []) if (i.Id) instances.push({ instanceId: i.Id, attributes: i.Attributes ?? {} });
        token = out.NextToken;
      } while (token);
      return instances;
    },
  };
}
