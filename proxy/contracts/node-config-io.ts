/**
 * Reading and versioning node configs. The same `parseNodeConfig` runs in `weft validate`, in the
 * config publisher before anything is written to S3, and in the sidecar before a config is
 * applied, so a config that one part accepts is a config every part accepts.
 */
import { createHash } from 'node:crypto';
import type { NodeConfig, NodeConfigInput } from './node-config';
import { NODE_CONFIG_SCHEMA } from './schema-ids';
import { validateContract } from './validate';
import { ContractError } from './validation';

export const NODE_CONFIG_INVALID = 'WEFT_ERR_NODE_CONFIG_INVALID';

/** Parses and validates a node config (object or JSON text), applying defaults. */
export function parseNodeConfig(input: unknown, source = 'node config'): NodeConfig {
  let value = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch (err) {
      throw new ContractError(NODE_CONFIG_INVALID, source, [{ path: '', message: `not JSON: ${(err as Error).message}` }]);
    }
  }
  const config = validateContract('nodeConfig', value, NODE_CONFIG_INVALID, source);
  const clusterNames = new Set(config.clusters.map((c) => c.name));
  const dangling: { path: string; message: string }[] = [];
  config.outbound.services.forEach((svc, s) =>
    svc.listeners.forEach((l, li) =>
      l.routes.forEach((r, ri) => {
        const base = `outbound.services[${s}].listeners[${li}].routes[${ri}]`;
        if ('weightedTargets' in r.action) {
          r.action.weightedTargets.forEach((t, ti) => {
            if (!clusterNames.has(t.cluster)) dangling.push({ path: `${base}.action.weightedTargets[${ti}].cluster`, message: `unknown cluster '${t.cluster}'` });
          });
        }
        if (r.protocol !== 'tcp' && r.mirror && !clusterNames.has(r.mirror.cluster)) {
          dangling.push({ path: `${base}.mirror.cluster`, message: `unknown cluster '${r.mirror.cluster}'` });
        }
      }),
    ),
  );
  if (dangling.length > 0) throw new ContractError(NODE_CONFIG_INVALID, source, dangling);
  return config;
}

/** JSON with object keys sorted at every level, so equal content always serialises equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The version of a config: the first 16 hex digits of SHA-256 over its canonical JSON without `version`. */
export function nodeConfigVersion(config: Omit<NodeConfigInput, 'version'> & { version?: string }): string {
  const { version: _ignored, ...rest } = config;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

/** Stamps `schema` and `version` on a config body and validates the result. */
export function sealNodeConfig(body: Omit<NodeConfigInput, 'version' | 'schema'>): NodeConfig {
  const withSchema = { ...body, schema: NODE_CONFIG_SCHEMA } as Omit<NodeConfigInput, 'version'>;
  const parsed = parseNodeConfig({ ...withSchema, version: '0'.repeat(16) });
  const { version: _v, ...normalised } = parsed;
  return { ...parsed, version: nodeConfigVersion(normalised) };
}

/** Stable, pretty JSON for publishing and `weft compile`. */
export function serializeNodeConfig(config: NodeConfig): string {
  return `${JSON.stringify(sortKeys(config), null, 2)}\n`;
}
