/**
 * Config publish: a CloudFormation custom resource that writes each node's compiled config and
 * the task registry to the config bucket.
 *
 * Written for the CDK Provider framework (aws-cdk-lib/custom-resources `Provider`): this handler
 * is the framework's onEvent function, so it returns `{ PhysicalResourceId, Data }` or throws, and
 * the framework uploads the response to CloudFormation (a thrown error becomes FAILED with the
 * error message as Reason). Entry point for esbuild: `handler`.
 */
import { canonicalJson, nodeConfigKey, serializeNodeConfig, taskRegistryKey } from '../../proxy/contracts';
import { CONTENT_HASH_METADATA, createS3Store, sha256Hex, type ObjectStore } from '../aws/s3';
import { errorCode } from '../shared/errors';
import { jsonLogger, type Logger } from '../shared/log';
import { logControllerMetrics } from '../shared/metrics';
import { mapLimit } from '../shared/retry';
import { nodeNamesLenient, parsePublishProperties, PublishPropertiesError } from './properties';
import { planPublish, type DesiredObject } from './plan';

const CONTROLLER = 'config-publish';

/** The fields of a CloudFormation custom resource event that config publish reads. */
export interface PublishEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: Record<string, unknown>;
  OldResourceProperties?: Record<string, unknown>;
}

export interface PublishResponse {
  PhysicalResourceId: string;
  Data?: {
    /** JSON `{ "<node>": "<config version>" }`, or `sha256:<hex>` when that would not fit CloudFormation's 4 KB response. */
    Versions: string;
    RegistryVersion: string;
  };
}

export interface PublishDeps {
  store: ObjectStore;
  logger: Logger;
}

const MAX_VERSIONS_CHARS = 3_000;

/** One physical resource per bucket and mesh: changing either makes CloudFormation delete the old one. */
export function physicalId(bucket: string, mesh: string): string {
  return `weft-config:${bucket}/${mesh}`;
}

function keysOf(props: Record<string, unknown> | undefined): { bucket?: string; mesh?: string; keys: string[] } {
  const bucket = typeof props?.Bucket === 'string' ? props.Bucket : undefined;
  const mesh = typeof props?.Mesh === 'string' ? props.Mesh : undefined;
  if (!mesh) return { bucket, mesh, keys: [] };
  return { bucket, mesh, keys: [...nodeNamesLenient(props).map((n) => nodeConfigKey(mesh, n)), taskRegistryKey(mesh)] };
}

function objectFor(key: string, body: string): DesiredObject {
  return { key, body, hash: sha256Hex(body) };
}

/** Builds the handler around its dependencies. */
export function makeHandler(deps: PublishDeps): (event: PublishEvent) => Promise<PublishResponse> {
  return async (event) => {
    const started = Date.now();
    try {
      if (event.RequestType === 'Delete') {
        const { bucket, keys } = keysOf(event.ResourceProperties);
        let deleted = 0;
        if (bucket) {
          try {
            await mapLimit(keys, 8, (key) => deps.store.delete(bucket, key));
            deleted = keys.length;
          } catch (err) {
            // The bucket went first (a user-managed bucket deleted by hand, a replaced bucket):
            // there is nothing left to clean up, and failing would leave the stack stuck in
            // DELETE_FAILED or UPDATE_COMPLETE_CLEANUP_IN_PROGRESS.
            if (errorCode(err) !== 'NoSuchBucket') throw err;
            deps.logger.warn('bucket-gone', { bucket, code: 'NoSuchBucket' });
          }
        }
        deps.logger.info('run-summary', { requestType: 'Delete', deleted, durationMs: Date.now() - started });
        return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId(bucket ?? '-', String(event.ResourceProperties.Mesh ?? '-')) };
      }

      const props = parsePublishProperties(event.ResourceProperties);
      const desired: DesiredObject[] = props.configs.map((c) => objectFor(nodeConfigKey(props.mesh, c.node.name), serializeNodeConfig(c)));
      const registryBody = `${canonicalJson(props.registry)}\n`;
      desired.push(objectFor(taskRegistryKey(props.mesh), registryBody));

      // Objects of the old properties are ours to delete only if they live where we now publish;
      // otherwise the physical id changed and CloudFormation's Delete of the old resource does it.
      const old = event.RequestType === 'Update' ? keysOf(event.OldResourceProperties) : { keys: [] as string[] };
      const previousKeys = old.bucket === props.bucket && old.mesh === props.mesh ? old.keys : [];

      // HEAD only what a List shows exists: S3 answers a HEAD of a missing key with 403, not 404,
      // unless the caller may list that very key, and our s3:ListBucket is scoped by s3:prefix,
      // which a HEAD request does not carry. One List of the mesh prefix is also cheaper.
      const present = new Set(await deps.store.list(props.bucket, `${props.mesh}/`));
      const existing = new Map<string, string | undefined>();
      await mapLimit(
        desired.filter((obj) => present.has(obj.key)),
        8,
        async (obj) => existing.set(obj.key, (await deps.store.head(props.bucket, obj.key))?.metadata[CONTENT_HASH_METADATA]),
      );
      const plan = planPublish(desired, existing, previousKeys);
      await mapLimit(plan.put, 8, (obj) => deps.store.put(props.bucket, obj.key, obj.body, { contentType: 'application/json', metadata: { [CONTENT_HASH_METADATA]: obj.hash } }));
      await mapLimit(plan.delete, 8, (key) => deps.store.delete(props.bucket, key));

      const versions = canonicalJson(Object.fromEntries(props.configs.map((c) => [c.node.name, c.version])));
      const data = {
        Versions: versions.length <= MAX_VERSIONS_CHARS ? versions : `sha256:${sha256Hex(versions)}`,
        RegistryVersion: sha256Hex(registryBody).slice(0, 16),
      };
      logControllerMetrics(deps.logger, props.mesh, CONTROLLER, { configsPublished: plan.put.length, failures: 0 });
      deps.logger.info('run-summary', {
        requestType: event.RequestType,
        written: plan.put.map((o) => o.key),
        unchanged: plan.unchanged.length,
        deleted: plan.delete,
        durationMs: Date.now() - started,
      });
      return { PhysicalResourceId: physicalId(props.bucket, props.mesh), Data: data };
    } catch (err) {
      const issues = err instanceof PublishPropertiesError ? { issues: err.issues } : {};
      logControllerMetrics(deps.logger, String(event.ResourceProperties?.Mesh ?? 'unknown'), CONTROLLER, { failures: 1 });
      deps.logger.error('run-failed', { requestType: event.RequestType, code: errorCode(err), message: (err as Error).message, ...issues, durationMs: Date.now() - started });
      throw err;
    }
  };
}

/** Dependencies for Lambda: the container's S3 client and a JSON logger. */
export function defaultDeps(): PublishDeps {
  return { store: createS3Store(), logger: jsonLogger(CONTROLLER) };
}

export const handler = makeHandler(defaultDeps());
