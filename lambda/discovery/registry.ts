/**
 * The task registry as discovery sync reads it: fetched from S3, cached per container for a short
 * TTL, refreshed with a conditional GET, and kept when S3 fails (a stale mapping beats none).
 */
import { parseTaskRegistry, taskRegistryKey, type TaskRegistry } from '../../proxy/contracts';
import type { ObjectStore } from '../aws/s3';
import { WeftLambdaError } from '../shared/errors';

export interface RegistrySource {
  get(): Promise<TaskRegistry>;
}

export interface RegistrySourceOptions {
  store: ObjectStore;
  bucket: string;
  mesh: string;
  /** How long a fetched registry is used without asking S3. Default 30 s. */
  ttlMs?: number;
  now?: () => number;
  onStale?: (err: unknown) => void;
}

/** A cached registry source over the config bucket. */
export function createRegistrySource(options: RegistrySourceOptions): RegistrySource {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const key = taskRegistryKey(options.mesh);
  let cached: { registry: TaskRegistry; etag?: string; fetchedAt: number } | undefined;

  return {
    async get() {
      if (cached && now() - cached.fetchedAt < ttl) return cached.registry;
      try {
        const obj = await options.store.get(options.bucket, key, cached?.etag);
        if (obj === 'not-modified' && cached) {
          cached.fetchedAt = now();
          return cached.registry;
        }
        if (obj === undefined || obj === 'not-modified') throw new WeftLambdaError('WEFT_ERR_TASK_REGISTRY_MISSING', `s3://${options.bucket}/${key} does not exist`);
        const registry = parseTaskRegistry(JSON.parse(obj.body));
        cached = { registry, etag: obj.etag, fetchedAt: now() };
        return registry;
      } catch (err) {
        if (!cached) throw err;
        options.onStale?.(err);
        return cached.registry;
      }
    },
  };
}
