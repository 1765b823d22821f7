/**
 * Discovery sync Lambda. Two triggers: the EventBridge rule for "ECS Task State Change" events of
 * the mesh's clusters, and a scheduled rule (e.g. every 5 minutes) that reconciles. Entry point
 * for esbuild: `handler`.
 */
import { createCloudMap } from '../aws/cloud-map';
import { createEcs, type EcsTask } from '../aws/ecs';
import { createS3Store } from '../aws/s3';
import { intEnv, optionalEnv, requireEnv } from '../shared/env';
import { errorCode, WeftLambdaError } from '../shared/errors';
import { jsonLogger } from '../shared/log';
import { logControllerMetrics } from '../shared/metrics';
import { createRegistrySource } from './registry';
import { handleTaskEvent, reconcile, Tombstones, type DiscoveryDeps, type EventResult, type ReconcileSummary } from './sync';

const CONTROLLER = 'discovery-sync';

/** The EventBridge envelope fields the handler looks at. */
export interface DiscoveryEvent {
  source?: string;
  'detail-type'?: string;
  detail?: unknown;
}

export type DiscoveryResult = ({ kind: 'event' } & EventResult) | ({ kind: 'reconcile' } & ReconcileSummary);

/** Builds the handler around its dependencies (a factory is called once, on the first event). */
export function makeHandler(deps: DiscoveryDeps | (() => DiscoveryDeps)): (event: DiscoveryEvent) => Promise<DiscoveryResult> {
  let resolved: DiscoveryDeps | undefined;
  return async (event) => {
    resolved ??= typeof deps === 'function' ? deps() : deps;
    const d = resolved;
    const started = Date.now();
    try {
      if (event?.['detail-type'] === 'ECS Task State Change' && event.source === 'aws.ecs') {
        if (!event.detail || typeof event.detail !== 'object') throw new WeftLambdaError('WEFT_ERR_EVENT_INVALID', 'ECS Task State Change event without detail');
        const result = await handleTaskEvent(d, event.detail as EcsTask);
        logControllerMetrics(d.logger, d.mesh, CONTROLLER, { instancesRegistered: result.action === 'register' ? 1 : 0, instancesDeregistered: result.action === 'deregister' ? 1 : 0, failures: 0 });
        d.logger.info('run-summary', { mode: 'event', ...result, durationMs: Date.now() - started });
        return { kind: 'event', ...result };
      }
      if (event?.['detail-type'] === 'Scheduled Event' || event?.['detail-type'] === 'Weft Reconcile') {
        const summary = await reconcile(d);
        logControllerMetrics(d.logger, d.mesh, CONTROLLER, { instancesRegistered: summary.registered, instancesDeregistered: summary.deregistered, failures: summary.failed.length });
        d.logger.info('run-summary', { mode: 'reconcile', ...summary, durationMs: Date.now() - started });
        if (summary.failed.length > 0) {
          throw new WeftLambdaError('WEFT_ERR_PARTIAL_FAILURE', `${summary.failed.length} Cloud Map changes failed: ${summary.failed.map((f) => `${f.instanceId} (${f.code})`).join(', ')}`);
        }
        return { kind: 'reconcile', ...summary };
      }
      throw new WeftLambdaError('WEFT_ERR_EVENT_INVALID', `unsupported event: source ${JSON.stringify(event?.source)}, detail-type ${JSON.stringify(event?.['detail-type'])}`);
    } catch (err) {
      // A partial reconcile already reported its failed items.
      if (errorCode(err) !== 'WEFT_ERR_PARTIAL_FAILURE') logControllerMetrics(d.logger, d.mesh, CONTROLLER, { failures: 1 });
      d.logger.error('run-failed', { code: errorCode(err), message: (err as Error).message, durationMs: Date.now() - started });
      throw err;
    }
  };
}

/**
 * Dependencies from the environment: WEFT_CONFIG_BUCKET, WEFT_MESH, optional WEFT_CLUSTERS
 * (comma-separated names or ARNs to reconcile; default all), WEFT_REGISTRY_TTL_MS (30,000).
 */
export function defaultDeps(env: NodeJS.ProcessEnv = process.env): () => DiscoveryDeps {
  return () => {
    const mesh = requireEnv(env, 'WEFT_MESH');
    const logger = jsonLogger(CONTROLLER);
    return {
      mesh,
      registry: createRegistrySource({
        store: createS3Store(),
        bucket: requireEnv(env, 'WEFT_CONFIG_BUCKET'),
        mesh,
        ttlMs: intEnv(env, 'WEFT_REGISTRY_TTL_MS', 30_000),
        onStale: (err) => logger.warn('task-registry-stale', { code: errorCode(err) }),
      }),
      cloudMap: createCloudMap(),
      ecs: createEcs(),
      logger,
      clusters: (optionalEnv(env, 'WEFT_CLUSTERS') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
      tombstones: new Tombstones(),
    };
  };
}

export const handler = makeHandler(defaultDeps());
