/**
 * Schema versions of the node config. The compiler stamps each config with the lowest version that
 * expresses it; sidecars of an older release read only their own versions, strictly. These tests
 * hold the table of versioned features (node-config-features.ts) to the schema, and the schema's
 * view as of each released version to what that release's sidecar runs: the description of the
 * schema its bundle embeds, frozen in node-config-schemas/v<N>.json when the version was released.
 *
 * The production table has no entry yet (everything is v1), so the mechanism is exercised with
 * tables of the tests' own (TEST_FEATURES) that treat some v1 fields and values as if a later
 * version had introduced them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileMesh } from '../../../lib/model/compile';
import { loadMeshFiles } from '../../../lib/model/load';
import {
  ContractError,
  NODE_CONFIG_FEATURES,
  NODE_CONFIG_VERSION,
  nodeConfigFeatureUses,
  nodeConfigSchemaId,
  nodeConfigVersion,
  NodeConfigSchema,
  parseNodeConfig,
  requiredNodeConfigVersion,
  serializeNodeConfig,
  unstampedFeatureIssues,
  type NodeConfig,
  type NodeConfigFeature,
} from '../../../proxy/contracts';
import { checkDocument } from '../../../proxy/contracts/compact/check';
import { describeSchema } from '../../../proxy/contracts/compact/describe';
import type { SchemaNode } from '../../../proxy/contracts/compact/description';
import { httpRoute, nodeConfig } from '../routing/fixtures';

const ROUTES = 'outbound.services[].listeners[].routes[]';
const TEST_FEATURES: NodeConfigFeature[] = [
  { path: 'clusters[].outlierDetection', since: 2 },
  { path: `${ROUTES}.retryPolicy.httpRetryEvents[]`, value: 'stream-error', since: 2 },
  { path: 'clusters[].loadBalancer.policy', value: 'RANDOM', since: 3 },
  { path: 'clusters[].discovery.type', value: 'dns', since: 2 },
];

/** A sealed v1 config with two clusters, as plain JSON (what a sidecar reads), changed by `edit`. */
function config(edit: (c: NodeConfig) => void = () => undefined): NodeConfig {
  const c = JSON.parse(
    serializeNodeConfig(nodeConfig([{ name: 'orders', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { path: { prefix: '/' } }, { 'a:8080': 1, 'b:8080': 1 })] }] }])),
  ) as NodeConfig;
  edit(c);
  return c;
}

const outlier = { consecutive5xx: 5, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 10 };

async function exampleConfigs(): Promise<NodeConfig[]> {
  const dir = join(__dirname, '..', '..', '..', 'examples');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => join(dir, f));
  const { meshes } = await loadMeshFiles(files);
  return meshes.flatMap((m) => compileMesh(m)).map((c) => JSON.parse(serializeNodeConfig(c)) as NodeConfig);
}

function refusal(run: () => unknown): ContractError {
  try {
    run();
  } catch (err) {
    if (err instanceof ContractError) return err;
    throw err;
  }
  throw new Error('expected a ContractError');
}

describe('the version a config needs', () => {
  test('is 1 when it uses no feature of a later version', () => {
    expect(requiredNodeConfigVersion(config(), TEST_FEATURES)).toBe(1);
    expect(nodeConfigFeatureUses(config(), TEST_FEATURES)).toEqual([]);
  });

  test('a new field is used wherever it is present', () => {
    const c = config((c) => (c.clusters[1].outlierDetection = outlier));
    expect(requiredNodeConfigVersion(c, TEST_FEATURES)).toBe(2);
    expect(nodeConfigFeatureUses(c, TEST_FEATURES).map((u) => u.path)).toEqual(['clusters[1].outlierDetection']);
  });

  test('a new value is used only where the field has it, in arrays of values too', () => {
    const c = config((c) => {
      c.clusters[0].loadBalancer.policy = 'LEAST_REQUEST';
      c.outbound.services[0].listeners[0].routes[0].retryPolicy.httpRetryEvents = ['server-error', 'stream-error'];
    });
    expect(requiredNodeConfigVersion(c, TEST_FEATURES)).toBe(2);
    expect(nodeConfigFeatureUses(c, TEST_FEATURES).map((u) => u.path)).toEqual(['outbound.services[0].listeners[0].routes[0].retryPolicy.httpRetryEvents[1]']);
  });

  test('the newest feature used decides; a discriminator tag is a value like any other', () => {
    const c = config((c) => {
      c.clusters[0].discovery = { type: 'dns', hostname: 'a.demo.local', responseType: 'LOADBALANCER' };
      c.clusters[1].loadBalancer.policy = 'RANDOM';
    });
    expect(requiredNodeConfigVersion(c, TEST_FEATURES)).toBe(3);
    expect(nodeConfigFeatureUses(c, TEST_FEATURES).map((u) => [u.path, u.feature.since])).toEqual([
      ['clusters[1].loadBalancer.policy', 3],
      ['clusters[0].discovery.type', 2],
    ]);
  });

  test('a stamp below what the config uses is an issue at each field that needs more', () => {
    const c = config((c) => {
      c.clusters[0].outlierDetection = outlier;
      c.clusters[1].loadBalancer.policy = 'RANDOM';
    });
    const issues = unstampedFeatureIssues(c, 2, TEST_FEATURES);
    expect(issues.map((i) => i.path)).toEqual(['clusters[1].loadBalancer.policy']);
    expect(issues[0].message).toContain(nodeConfigSchemaId(3));
    expect(unstampedFeatureIssues(c, 1, TEST_FEATURES).map((i) => i.path)).toEqual(['clusters[0].outlierDetection', 'clusters[1].loadBalancer.policy']);
    expect(unstampedFeatureIssues(c, 3, TEST_FEATURES)).toEqual([]);
  });
});

describe('reading a config of another version', () => {
  const newer = nodeConfigSchemaId(NODE_CONFIG_VERSION + 1);

  test('a newer schema is refused as unsupported before any field is checked', () => {
    // What the next release's compiler writes: fields this release has never heard of.
    const doc = config((c) => {
      (c as { schema: string }).schema = newer;
      Object.assign(c, { telemetry: { tracing: { sampling: 0.1 } } });
      Object.assign(c.outbound.services[0].listeners[0].routes[0].retryPolicy, { conditions: ['reset'] });
    });
    const err = refusal(() => parseNodeConfig(JSON.stringify(doc), 's3://bucket/demo/nodes/client.json'));
    expect(err.code).toBe('WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].path).toBe('schema');
    // Both versions are named, so whoever reads the log knows which sidecar to upgrade to what.
    expect(err.message).toContain(newer);
    expect(err.message).toContain(nodeConfigSchemaId(NODE_CONFIG_VERSION));
  });

  test.each([nodeConfigSchemaId(0), 'weft.dev/node-config/v01', 'weft.dev/node-config/2', 'weft.dev/endpoints/v1', 2, undefined])('schema %p is invalid, not unsupported', (schema) => {
    const err = refusal(() => parseNodeConfig(config((c) => Object.assign(c, { schema }))));
    expect(err.code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
    expect(err.issues.map((i) => i.path)).toEqual(['schema']);
  });

  test('a config of this release is still refused for unknown fields', () => {
    const err = refusal(() => parseNodeConfig(config((c) => Object.assign(c, { unexpected: {} }))));
    expect(err.code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
    expect(err.issues).toEqual([{ path: '', message: "unknown field 'unexpected'" }]);
  });
});

describe('what the compiler stamps', () => {
  test('every example mesh compiles to v1 configs, and a sealed config carries the version it needs', async () => {
    const configs = await exampleConfigs();
    expect(configs.length).toBeGreaterThan(3);
    for (const c of configs) expect(c.schema).toBe('weft.dev/node-config/v1');
    expect(config().schema).toBe(nodeConfigSchemaId(requiredNodeConfigVersion(config())));
  });

  test('the content version covers the stamp, so a config that moves to a newer schema is a new config', () => {
    const c = config();
    const restamped = { ...c, schema: nodeConfigSchemaId(2) } as unknown as NodeConfig;
    expect(nodeConfigVersion(restamped)).not.toBe(nodeConfigVersion(c));
  });
});

// --- The schema as of a released version -------------------------------------------------------

const current = describeSchema(NodeConfigSchema, 'nodeConfig');
const frozenDir = join(__dirname, 'node-config-schemas');

/** The description a sidecar of schema version `version` embeds (WEFT_CONTRACT_DESCRIPTIONS.nodeConfig). */
function frozen(version: number): SchemaNode {
  return JSON.parse(readFileSync(join(frozenDir, `v${version}.json`), 'utf8')) as SchemaNode;
}

/** The schema ids are values introduced by their versions, like any enum value. */
function withSchemaIds(features: readonly NodeConfigFeature[], upTo: number): NodeConfigFeature[] {
  const ids = Array.from({ length: upTo - 1 }, (_, i) => ({ path: 'schema', value: nodeConfigSchemaId(i + 2), since: i + 2 }));
  return [...features, ...ids];
}

/** `node` without every field and value that `features` says came after `version`. */
function asOf(node: SchemaNode, version: number, features: readonly NodeConfigFeature[], path = ''): SchemaNode {
  const newer = features.filter((f) => f.since > version);
  const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
  const newValue = (p: string, v: unknown): boolean => newer.some((f) => f.path === p && f.value === v);
  const down = (n: SchemaNode, p = path): SchemaNode => asOf(n, version, newer, p);
  switch (node.kind) {
    case 'object':
      return { ...node, shape: node.shape.filter(([k]) => !newer.some((f) => f.value === undefined && f.path === at(k))).map(([k, f]) => [k, down(f, at(k))]) };
    case 'array':
      return { ...node, element: down(node.element, `${path}[]`) };
    case 'literal':
    case 'enum':
      return { ...node, values: node.values.filter((v) => !newValue(path, v)) };
    case 'optional':
    case 'default':
      return { ...node, inner: down(node.inner) };
    case 'pipe':
      return { ...node, in: down(node.in), out: down(node.out) };
    case 'union':
      return { ...node, options: node.options.map((o) => down(o)) };
    case 'discriminated': {
      const tag = at(node.discriminator);
      const keep = node.tags.map((_, i) => i).filter((i) => !node.tags[i].every((t) => newValue(tag, t)));
      return { ...node, options: keep.map((i) => down(node.options[i])), tags: keep.map((i) => node.tags[i].filter((t) => !newValue(tag, t))) };
    }
    default:
      return node;
  }
}

/** The value schemas a field may hold: through optional, default, pipe and every union option. */
function unwrap(n: SchemaNode): SchemaNode[] {
  switch (n.kind) {
    case 'optional':
    case 'default':
      return unwrap(n.inner);
    case 'pipe':
      return unwrap(n.in);
    case 'union':
    case 'discriminated':
      return n.options.flatMap(unwrap);
    default:
      return [n];
  }
}

/** The schema nodes of the field at a feature's path (several when the path crosses a union). */
function fieldsAt(root: SchemaNode, path: string): SchemaNode[] {
  let nodes = [root];
  for (const part of path.split('.')) {
    const each = part.endsWith('[]');
    const key = each ? part.slice(0, -2) : part;
    nodes = nodes.flatMap(unwrap).flatMap((n) => (n.kind === 'object' ? n.shape.filter(([k]) => k === key).map(([, f]) => f) : []));
    if (each) nodes = nodes.flatMap(unwrap).flatMap((n) => (n.kind === 'array' ? [n.element] : []));
  }
  return nodes;
}

/** Why a table entry does not fit the schema (empty: it does). */
function tableIssues(root: SchemaNode, features: readonly NodeConfigFeature[], newest: number): string[] {
  const issues: string[] = [];
  for (const f of features) {
    const name = f.value === undefined ? f.path : `${f.path} = ${JSON.stringify(f.value)}`;
    if (!Number.isInteger(f.since) || f.since < 2 || f.since > newest) issues.push(`${name}: since must be 2 to ${newest}, got: ${f.since}`);
    const fields = fieldsAt(root, f.path);
    if (fields.length === 0) {
      issues.push(`${name}: no such field in the schema`);
    } else if (f.value === undefined) {
      // Present only when used; a default would put the field in every config and make it newer.
      if (!fields.every((n) => n.kind === 'optional' && n.inner.kind !== 'default')) issues.push(`${name}: a new field must be optional without a default`);
    } else {
      const values = fields.flatMap(unwrap).flatMap((n) => (n.kind === 'literal' || n.kind === 'enum' ? n.values : []));
      if (!values.includes(f.value)) issues.push(`${name}: not a value the schema admits there`);
    }
  }
  return issues;
}

describe('the schema and the table of versioned features agree', () => {
  test('every entry names a field or value of the schema; new fields are optional without a default', () => {
    expect(tableIssues(current, NODE_CONFIG_FEATURES, NODE_CONFIG_VERSION)).toEqual([]);
  });

  test('the check finds entries that do not fit', () => {
    expect(tableIssues(current, TEST_FEATURES, 3)).toEqual([]);
    expect(
      tableIssues(
        current,
        [
          { path: 'clusters[].outlierDetections', since: 2 },
          { path: 'clusters[].name', since: 2 },
          { path: 'clusters[].loadBalancer', since: 2 },
          { path: 'clusters[].loadBalancer.policy', value: 'FASTEST', since: 2 },
          { path: 'clusters[].healthCheck', since: 1 },
        ],
        3,
      ),
    ).toEqual([
      'clusters[].outlierDetections: no such field in the schema',
      'clusters[].name: a new field must be optional without a default',
      'clusters[].loadBalancer: a new field must be optional without a default',
      'clusters[].loadBalancer.policy = "FASTEST": not a value the schema admits there',
      'clusters[].healthCheck: since must be 2 to 3, got: 1',
    ]);
  });

  test.each(Array.from({ length: NODE_CONFIG_VERSION }, (_, i) => i + 1))(
    'v%i: the schema without what came after it is exactly what its sidecars read',
    (version) => {
      // Fails when a field or value is added without a table entry, or when anything of a released
      // version changes. A new version's file is the description of the schema when it is released:
      // JSON.stringify(describeSchema(NodeConfigSchema)).
      expect(asOf(current, version, withSchemaIds(NODE_CONFIG_FEATURES, NODE_CONFIG_VERSION))).toEqual(frozen(version));
    },
  );

  test('every released version has its frozen description', () => {
    const files = readdirSync(frozenDir).sort();
    expect(files).toEqual(Array.from({ length: NODE_CONFIG_VERSION }, (_, i) => `v${i + 1}.json`).sort());
  });
});

describe('an older sidecar reading what this compiler writes', () => {
  const v1Sidecar = (doc: unknown): unknown => checkDocument(frozen(1), doc, 'WEFT_ERR_NODE_CONFIG_INVALID', 'node config');

  test('accepts every v1 config, with the output this release parses', async () => {
    for (const c of [...(await exampleConfigs()), config()]) expect(v1Sidecar(c)).toEqual(parseNodeConfig(c));
  });

  test('refuses a config that uses a field of a later version, which is why such a config must say so', () => {
    // Were outlier detection new in v2, an old sidecar's view is the schema without it.
    const oldView = asOf(current, 1, withSchemaIds(TEST_FEATURES, NODE_CONFIG_VERSION));
    const c = config((c) => (c.clusters[0].outlierDetection = outlier));
    expect(requiredNodeConfigVersion(c, TEST_FEATURES)).toBe(2);
    expect(() => checkDocument(oldView, c, 'WEFT_ERR_NODE_CONFIG_INVALID', 'node config')).toThrow(ContractError);
    expect(checkDocument(oldView, config(), 'WEFT_ERR_NODE_CONFIG_INVALID', 'node config')).toEqual(parseNodeConfig(config()));
  });

  test('refuses a config stamped with a later version, however little it changed', () => {
    const err = refusal(() => v1Sidecar({ ...config(), schema: nodeConfigSchemaId(2) }));
    expect(err.issues.map((i) => i.path)).toEqual(['schema']);
  });
});
