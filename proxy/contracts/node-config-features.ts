/**
 * Which node config fields need which schema version. During a rollout, sidecars of the previous
 * release read configs made by the new compiler, and their parser is strict: a field it does not
 * know makes it refuse the whole config. So the compiler stamps each config with the lowest schema
 * version that expresses what the config uses, computed from {@link NODE_CONFIG_FEATURES}: a config
 * that uses nothing newer than v1 says v1, and every sidecar since v1 applies it.
 *
 * The rule for a schema change: a new field, or a new value of an existing enum (a discriminator
 * tag included), is one entry here with the version that introduces it, and `NODE_CONFIG_VERSION`
 * (schema-ids.ts) is at least that version. A new field is optional and has no default, so
 * a config that does not use it stays at the lower version and means what it meant there. Nothing
 * else of a released version changes (no renamed field, no tighter or looser limit, no new
 * default): test/proxy/contracts/node-config-features.test.ts holds the schema to each released
 * version's frozen description and to this table.
 *
 * No zod here: the sidecar runs this on every config it reads.
 */
import { nodeConfigSchemaId } from './schema-ids';
import type { ContractIssue } from './validation';

/** A field or enum value that a schema version after v1 introduced. */
export interface NodeConfigFeature {
  /**
   * Where it is, from the document root: keys joined by `.`, `[]` after an array for each of its
   * elements, e.g. `outbound.services[].listeners[].routes[].retryPolicy`.
   */
  readonly path: string;
  /** The new value of the field at `path` (for an array of values, `path` ends in `[]`); absent: the field itself is new. */
  readonly value?: string | number | boolean;
  /** The schema version that introduced it (2 or more, at most `NODE_CONFIG_VERSION`). */
  readonly since: number;
}

/** Every field and value newer than v1, in the order they were introduced. */
export const NODE_CONFIG_FEATURES: readonly NodeConfigFeature[] = [
  // Access log sampling; absent is 100 %.
  { path: 'logging.accessLog.samplePercent', since: 2 },
  // Distributed tracing: sampling percentage and collector endpoint; absent is off.
  { path: 'tracing', since: 2 },
  // Keyed local rate limits (a bucket per header value, source address or principal); absent is the node bucket only.
  { path: 'inbound.policy.rateLimit.perKey', since: 2 },
  { path: 'gateway.policy.rateLimit.perKey', since: 2 },
];

/** Where a config uses a feature: the field's concrete path, e.g. `clusters[2].discovery.type`. */
export interface NodeConfigFeatureUse {
  readonly feature: NodeConfigFeature;
  readonly path: string;
}

/** Every place `config` uses one of `features`, in table order, then document order. */
export function nodeConfigFeatureUses(config: unknown, features: readonly NodeConfigFeature[] = NODE_CONFIG_FEATURES): NodeConfigFeatureUse[] {
  const uses: NodeConfigFeatureUse[] = [];
  for (const feature of features) {
    for (const [path, value] of valuesAt(config, segmentsOf(feature.path), '')) {
      if (feature.value === undefined ? value !== undefined : value === feature.value) uses.push({ feature, path });
    }
  }
  return uses;
}

/** The lowest schema version that expresses `config`: the newest feature it uses, or 1. */
export function requiredNodeConfigVersion(config: unknown, features: readonly NodeConfigFeature[] = NODE_CONFIG_FEATURES): number {
  return nodeConfigFeatureUses(config, features).reduce((version, use) => Math.max(version, use.feature.since), 1);
}

/** Every use of a feature newer than the version `config` is stamped with (`stamped`), as issues at the field. */
export function unstampedFeatureIssues(config: unknown, stamped: number, features: readonly NodeConfigFeature[] = NODE_CONFIG_FEATURES): ContractIssue[] {
  return nodeConfigFeatureUses(config, features)
    .filter((use) => use.feature.since > stamped)
    .map((use) => ({
      path: use.path,
      message: `${use.feature.value === undefined ? 'this field' : `value ${JSON.stringify(use.feature.value)}`} needs schema '${nodeConfigSchemaId(use.feature.since)}', but the config says '${nodeConfigSchemaId(stamped)}'`,
    }));
}

interface Segment {
  key: string;
  /** `key[]`: each element of the array at `key`. */
  each: boolean;
}

const parsedPaths = new Map<string, Segment[]>();

function segmentsOf(path: string): Segment[] {
  let segments = parsedPaths.get(path);
  if (segments === undefined) {
    segments = path.split('.').map((part) => (part.endsWith('[]') ? { key: part.slice(0, -2), each: true } : { key: part, each: false }));
    parsedPaths.set(path, segments);
  }
  return segments;
}

/** The values at `segments` under `value`, with their concrete paths (absent fields yield nothing). */
function* valuesAt(value: unknown, segments: readonly Segment[], at: string): Generator<[string, unknown]> {
  if (segments.length === 0) {
    yield [at, value];
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, segments[0].key)) return;
  const { key, each } = segments[0];
  const child = (value as Record<string, unknown>)[key];
  const here = at === '' ? key : `${at}.${key}`;
  if (!each) {
    yield* valuesAt(child, segments.slice(1), here);
  } else if (Array.isArray(child)) {
    for (let i = 0; i < child.length; i++) yield* valuesAt(child[i], segments.slice(1), `${here}[${i}]`);
  }
}
