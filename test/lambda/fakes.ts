/**
 * In-memory implementations of the controllers' ports, with the semantics the AWS services have
 * (upsert registration, idempotent deregistration, conditional GET). Handler tests drive the real
 * controller logic against these; the AWS adapters themselves are tested with aws-sdk-client-mock.
 */
import { createHash } from 'node:crypto';
import type { CloudMapPort, RegisteredInstance } from '../../lambda/aws/cloud-map';
import type { EcsPort, EcsTask } from '../../lambda/aws/ecs';
import type { ObjectStore, StoredObject } from '../../lambda/aws/s3';

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject & { contentType: string }>();
  readonly calls: string[] = [];

  private id(bucket: string, key: string): string {
    return `${bucket}/${key}`;
  }
  async get(bucket: string, key: string, ifNoneMatch?: string) {
    this.calls.push(`get ${key}`);
    const obj = this.objects.get(this.id(bucket, key));
    if (!obj) return undefined;
    if (ifNoneMatch !== undefined && ifNoneMatch === obj.etag) return 'not-modified' as const;
    return { body: obj.body, etag: obj.etag, metadata: { ...obj.metadata } };
  }
  async head(bucket: string, key: string) {
    this.calls.push(`head ${key}`);
    const obj = this.objects.get(this.id(bucket, key));
    return obj ? { etag: obj.etag, metadata: { ...obj.metadata } } : undefined;
  }
  async put(bucket: string, key: string, body: string, options: { contentType: string; metadata?: Record<string, string> }) {
    this.calls.push(`put ${key}`);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    this.objects.set(this.id(bucket, key), { body, etag, metadata: { ...(options.metadata ?? {}) }, contentType: options.contentType });
    return { etag };
  }
  async delete(bucket: string, key: string) {
    this.calls.push(`delete ${key}`);
    this.objects.delete(this.id(bucket, key));
  }
  async list(bucket: string, prefix: string) {
    this.calls.push(`list ${prefix}`);
    return [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1)).sort();
  }
  keys(bucket: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/`)).map((k) => k.slice(bucket.length + 1)).sort();
  }
}

/**
 * The config bucket as a role whose s3:ListBucket is scoped by `s3:prefix` sees it: a HEAD or GET
 * of a missing key is refused with 403 AccessDenied rather than answered with 404, because the
 * request carries no prefix for the condition to match.
 */
export class PrefixScopedObjectStore extends MemoryObjectStore {
  private denied(key: string): Error {
    return Object.assign(new Error(`Access Denied (${key})`), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  }
  override async head(bucket: string, key: string) {
    const found = await super.head(bucket, key);
    if (!found) throw this.denied(key);
    return found;
  }
  override async get(bucket: string, key: string, ifNoneMatch?: string) {
    const found = await super.get(bucket, key, ifNoneMatch);
    if (!found) throw this.denied(key);
    return found;
  }
}

export class MemoryCloudMap implements CloudMapPort {
  readonly services = new Map<string, Map<string, Record<string, string>>>();
  readonly calls: string[] = [];

  private service(id: string): Map<string, Record<string, string>> {
    let s = this.services.get(id);
    if (!s) this.services.set(id, (s = new Map()));
    return s;
  }
  async registerInstance(serviceId: string, instanceId: string, attributes: Record<string, string>) {
    this.calls.push(`register ${serviceId}/${instanceId}`);
    this.service(serviceId).set(instanceId, { ...attributes });
  }
  async deregisterInstance(serviceId: string, instanceId: string) {
    this.calls.push(`deregister ${serviceId}/${instanceId}`);
    this.service(serviceId).delete(instanceId);
  }
  async getInstance(serviceId: string, instanceId: string): Promise<RegisteredInstance | undefined> {
    const attrs = this.service(serviceId).get(instanceId);
    return attrs ? { instanceId, attributes: { ...attrs } } : undefined;
  }
  async listInstances(serviceId: string): Promise<RegisteredInstance[]> {
    return [...this.service(serviceId)].map(([instanceId, attributes]) => ({ instanceId, attributes: { ...attributes } }));
  }
  ids(serviceId: string): string[] {
    return [...this.service(serviceId).keys()].sort();
  }
}

/** ECS with a fixed set of tasks per cluster; ListTasks returns those whose desired status is RUNNING. */
export class MemoryEcs implements EcsPort {
  constructor(readonly clusters: Map<string, EcsTask[]>) {}
  async listClusters() {
    return [...this.clusters.keys()];
  }
  async listTaskArns(cluster: string, family: string) {
    return (this.clusters.get(cluster) ?? [])
      .filter((t) => t.desiredStatus === 'RUNNING' && t.taskDefinitionArn?.includes(`:task-definition/${family}:`))
      .map((t) => t.taskArn!);
  }
  async describeTasks(cluster: string, arns: readonly string[]) {
    return (this.clusters.get(cluster) ?? []).filter((t) => arns.includes(t.taskArn!));
  }
}
