/**
 * Reading and versioning node configs. The same `parseNodeConfig` runs in `weft validate`, in the
 * config publisher before anything is written to S3, and in the sidecar before a config is
 * applied, so a config that one part accepts is a config every part accepts.
 */
import { createHash } from 'node:crypto';
import type { NodeConfig, NodeConfigInput } from './node-config';
import { accessLogFormatIssues } from './access-log-format';
import { jwtRuleIssues } from './jwt-rules';
import { requiredNodeConfigVersion, unstampedFeatureIssues } from './node-config-features';
import { NODE_CONFIG_VERSION, nodeConfigSchemaId, nodeConfigSchemaVersion } from './schema-ids';
import { validateContract } from './validate';
import { ContractError, type ContractIssue } from './validation';

export const NODE_CONFIG_INVALID = 'WEFT_ERR_NODE_CONFIG_INVALID';
/** A config of a schema version newer than this release reads: the sidecar must be upgraded first. */
export const NODE_CONFIG_SCHEMA_UNSUPPORTED = 'WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED';

/**
 * Parses and validates a node config (object or JSON text), applying defaults. A config whose
 * `schema` is newer than {@link NODE_CONFIG_VERSION} is refused with
 * {@link NODE_CONFIG_SCHEMA_UNSUPPORTED} before any field is looked at: its new fields are unknown
 * here, and that they are is not the problem to report.
 */
export function parseNodeConfig(input: unknown, source = 'node config'): NodeConfig {
  let value = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = input.toString();
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = MESH_YAML.test(text) ? `not JSON: ${MESH_SOURCE_HINT}` : `not JSON: ${(err as Error).message}`;
      throw new ContractError(NODE_CONFIG_INVALID, source, [{ path: '', message }]);
    }
  }
  if (isMeshSourceDocument(value)) throw new ContractError(NODE_CONFIG_INVALID, source, [{ path: '', message: MESH_SOURCE_HINT }]);
  refuseNewerSchema(value, source);
  const config = validateContract('nodeConfig', value, NODE_CONFIG_INVALID, source);
  // A field newer than the stamp would make the sidecars of the stamped version refuse the config.
  // (The schema admits only this release's ids, so the stamp parses.)
  const issues: ContractIssue[] = unstampedFeatureIssues(config, nodeConfigSchemaVersion(config.schema)!);
  const accessLogFormat = config.logging.accessLog?.format;
  if (accessLogFormat !== undefined) issues.push(...accessLogFormatIssues(accessLogFormat, 'logging.accessLog.format'));
  issues.push(...jwtRuleIssues(config.inbound.policy.jwt, 'inbound.policy.jwt'));
  if (config.gateway !== undefined) issues.push(...jwtRuleIssues(config.gateway.policy.jwt, 'gateway.policy.jwt'));
  const clusterNames = new Set(config.clusters.map((c) => c.name));
  config.outbound.services.forEach((svc, s) =>
    svc.listeners.forEach((l, li) =>
      l.routes.forEach((r, ri) => {
        const base = `outbound.services[${s}].listeners[${li}].routes[${ri}]`;
        if ('weightedTargets' in r.action) {
          r.action.weightedTargets.forEach((t, ti) => {
            if (!clusterNames.has(t.cluster)) issues.push({ path: `${base}.action.weightedTargets[${ti}].cluster`, message: `unknown cluster '${t.cluster}'` });
          });
        }
        if (r.protocol !== 'tcp' && r.mirror && !clusterNames.has(r.mirror.cluster)) {
          issues.push({ path: `${base}.mirror.cluster`, message: `unknown cluster '${r.mirror.cluster}'` });
        }
      }),
    ),
  );
  if (issues.length > 0) throw new ContractError(NODE_CONFIG_INVALID, source, issues);
  return config;
}

// A mesh file where a node config belongs is the first mistake of a new user (`weft proxy --config
// mesh.yaml`): say what to run instead of listing every field the node config lacks.
const MESH_SOURCE_HINT =
  "this is a mesh file (Weft resources or a CloudFormation template), not a node config: compile it first with 'weft compile <file> --node <name> --out <dir>' and give the sidecar the node config it writes";
const MESH_YAML = /^(apiVersion|kind)\s*:/m;

function isMeshSourceDocument(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || 'schema' in value) return false;
  return ('apiVersion' in value && 'kind' in value) || 'AWSTemplateFormatVersion' in value || 'Resources' in value;
}

function refuseNewerSchema(value: unknown, source: string): void {
  const schema = typeof value === 'object' && value !== null ? (value as { schema?: unknown }).schema : undefined;
  const version = nodeConfigSchemaVersion(schema);
  if (version === undefined || version <= NODE_CONFIG_VERSION) return;
  throw new ContractError(NODE_CONFIG_SCHEMA_UNSUPPORTED, source, [
    {
      path: 'schema',
      message:
        `'${nodeConfigSchemaId(version)}' is newer than this release of Weft reads (up to '${nodeConfigSchemaId(NODE_CONFIG_VERSION)}'): ` +
        'upgrade the sidecar of every service first, then deploy the mesh',
    },
  ]);
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

/**
 * Stamps `schema` and `version` on a config body and validates the result. The body is validated
 * as the newest schema version, then stamped with the lowest that expresses it, so a config that
 * uses nothing newer than v1 stays readable by every sidecar since v1.
 */
export function sealNodeConfig(body: Omit<NodeConfigInput, 'version' | 'schema'>): NodeConfig {
  const parsed = parseNodeConfig({ ...body, schema: nodeConfigSchemaId(NODE_CONFIG_VERSION), version: '0'.repeat(16) });
  const { version: _v, ...rest } = parsed;
  const normalised = { ...rest, schema: nodeConfigSchemaId(requiredNodeConfigVersion(rest)) };
  return { ...normalised, version: nodeConfigVersion(normalised) };
}

/** Stable, pretty JSON for publishing and `weft compile`. */
export function serializeNodeConfig(config: NodeConfig): string {
  return `${JSON.stringify(sortKeys(config), null, 2)}\n`;
}
