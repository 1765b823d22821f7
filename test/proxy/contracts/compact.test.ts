/**
 * The sidecar validates with compact/check.ts over descriptions of the zod schemas; everything
 * else validates with zod. This holds the two to the same answer: for thousands of documents,
 * generated from the schemas themselves (valid ones, and ones broken in every way a field can be),
 * plus the compiled examples and mutations of them, both must accept with identical output or
 * refuse with identical issues (path and message).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileMesh } from '../../../lib/model/compile';
import { loadMeshFiles } from '../../../lib/model/load';
import { CONTRACT_SCHEMAS, ContractError, issuesOf, NODE_CONFIG_VERSION, nodeConfigSchemaId, parseNodeConfig, serializeNodeConfig, type ContractName } from '../../../proxy/contracts';
import { checkDocument } from '../../../proxy/contracts/compact/check';
import { describeContracts, describeSchema, DescribeError } from '../../../proxy/contracts/compact/describe';
import type { Primitive, SchemaNode } from '../../../proxy/contracts/compact/description';
import { z } from 'zod';
import { seededRandom } from '../../seeded-random';

type Outcome = { ok: true; value: unknown } | { ok: false; issues: { path: string; message: string }[] };

function viaZod(name: ContractName, doc: unknown): Outcome {
  const r = CONTRACT_SCHEMAS[name].safeParse(doc);
  return r.success ? { ok: true, value: r.data } : { ok: false, issues: issuesOf(r.error) };
}

function viaCompact(node: SchemaNode, doc: unknown): Outcome {
  try {
    return { ok: true, value: checkDocument(node, doc, 'TEST', 'doc') };
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    return { ok: false, issues: [...err.issues] };
  }
}

const STRINGS = [
  '', 'a', 'order-service', 'Content-Type', 'x-canary', 'bad header', '/', '/api', 'api', 'ns/svc', 'a/b/c', '0123456789abcdef',
  'spiffe://mesh/ns/m/sa/n', 'https://issuer.example/.well-known/jwks.json', '  https://x.example/a\tb  ', 'not a url',
  '-----BEGIN PRIVATE KEY-----', '-----BEGIN CERTIFICATE-----', '2026-12-04T10:00:00Z', '2026-12-04T10:00:00.123+01:00', '2026-12-04',
  'x'.repeat(256), 'y'.repeat(300), '\u{1F600}', 'ROUND_ROBIN', 'http', 'tcp', 'STRICT', 'MUTUAL', 'ALLOW', 'GET', 'o:8080',
];
const NUMBERS = [0, 1, -1, 1.5, 2, 8, 16, 80, 100, 101, 128, 301, 399, 429, 599, 600, 1024, 8080, 65535, 65536, 300_000, 2 ** 53];
const JUNK: unknown[] = [null, 0, 'x', [], {}, true, [1], { a: 1 }];

/** A document shaped by `node`: mostly valid, with each part broken at rate `breakRate`. */
function generate(node: SchemaNode, r: () => number, breakRate: number, depth = 0): unknown {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  if (r() < breakRate) return pick(JUNK);
  switch (node.kind) {
    case 'string':
      return r() < 0.9 ? pick(fitting(node, STRINGS)) : pick(STRINGS);
    case 'number':
      return r() < 0.9 ? pick(fitting(node, NUMBERS)) : pick(NUMBERS);
    case 'boolean':
      return r() < 0.5;
    case 'literal':
    case 'enum':
      return r() < 0.9 ? pick(node.values) : pick<Primitive>(['other', 7, false]);
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of node.shape) {
        const optional = field.kind === 'optional' || field.kind === 'default';
        if (optional && (depth > 7 || r() < 0.5)) continue;
        if (!optional || r() < 0.93) {
          const v = generate(field, r, breakRate, depth + 1);
          if (v !== undefined) out[key] = v;
        }
      }
      if (r() < breakRate) out[pick(['extra', 'Name', '__proto__'])] = 1;
      return out;
    }
    case 'array': {
      const n = depth > 6 ? 0 : r() < 0.05 ? 11 : Math.floor(r() * 3);
      return Array.from({ length: n }, () => generate(node.element, r, breakRate, depth + 1));
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      const n = Math.floor(r() * 3);
      for (let i = 0; i < n; i++) out[pick(['a', 'ns/svc', 'ns/other', 'bad key/x/y', 'k'])] = generate(node.value, r, breakRate, depth + 1);
      return out;
    }
    case 'union':
    case 'discriminated':
      return generate(pick(node.options), r, breakRate, depth + 1);
    case 'optional':
    case 'default':
      return r() < 0.3 ? undefined : generate(node.inner, r, breakRate, depth);
    case 'pipe':
      return generate(node.in, r, breakRate, depth);
    case 'transform':
      return undefined;
  }
}

const descriptions = describeContracts();
const names = Object.keys(CONTRACT_SCHEMAS) as ContractName[];

describe('compact contract validation answers as zod does', () => {
  test.each(names)('%s: generated documents, valid and broken', (name) => {
    const node = descriptions[name];
    let accepted = 0;
    let refused = 0;
    for (const [seed, breakRate] of [[1, 0], [2, 0.01], [3, 0.05], [4, 0.2]] as const) {
      const r = seededRandom(seed * 7919 + name.length);
      for (let i = 0; i < 1000; i++) {
        const doc = generate(node, r, breakRate);
        const expected = viaZod(name, doc);
        expect({ doc, outcome: viaCompact(node, doc) }).toStrictEqual({ doc, outcome: expected });
        if (expected.ok) accepted++;
        else refused++;
      }
    }
    // Both answers must be exercised, or the comparison proves little.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(500);
  });

  test('compiled example configs and mutations of them', async () => {
    const configs = await compiledExamples();
    expect(configs.length).toBeGreaterThan(3);
    const r = seededRandom(42);
    for (const config of configs) {
      expect(viaCompact(descriptions.nodeConfig, config)).toStrictEqual(viaZod('nodeConfig', config));
      for (let i = 0; i < 200; i++) {
        const doc = mutate(structuredClone(config), r);
        expect({ doc, outcome: viaCompact(descriptions.nodeConfig, doc) }).toStrictEqual({ doc, outcome: viaZod('nodeConfig', doc) });
      }
    }
  });

  test('parseNodeConfig on the compact validator: every schema version, newer ones refused before their fields', async () => {
    const compactParse = parseNodeConfigOnCompact();
    const ids = [...new Set([0, 1, NODE_CONFIG_VERSION, NODE_CONFIG_VERSION + 1, NODE_CONFIG_VERSION + 7])].map(nodeConfigSchemaId);
    const r = seededRandom(7);
    let unsupported = 0;
    for (const config of await compiledExamples()) {
      for (const schema of ids) {
        const doc = { ...(structuredClone(config) as object), schema };
        const docs = [doc, { ...doc, telemetry: { tracing: { sampling: 0.1 } } }, ...Array.from({ length: 20 }, () => mutate(structuredClone(doc), r))];
        for (const d of docs) {
          const expected = parseOutcome(parseNodeConfig, d);
          expect({ doc: d, outcome: parseOutcome(compactParse, d) }).toStrictEqual({ doc: d, outcome: expected });
          if (!expected.ok && expected.code === 'WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED') unsupported++;
        }
      }
    }
    expect(unsupported).toBeGreaterThan(50);
  });

  test('the sidecar does not share default objects between documents', () => {
    const node = descriptions.endpointsFile;
    const doc = { schema: 'weft.dev/endpoints/v1', services: { 'ns/a': [{ instanceId: 'i', attributes: {} }] } };
    const a = checkDocument(node, doc, 'T', 'doc') as { services: Record<string, { healthStatus: string }[]> };
    expect(a.services['ns/a'][0].healthStatus).toBe('HEALTHY');
    const lb = descriptions.nodeConfig;
    expect(lb.kind).toBe('object');
  });
});

async function compiledExamples(): Promise<unknown[]> {
  const dir = join(__dirname, '..', '..', '..', 'examples');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
  const { meshes } = await loadMeshFiles(files);
  return meshes.flatMap((m) => compileMesh(m)).map((c) => JSON.parse(serializeNodeConfig(c)) as unknown);
}

/** parseNodeConfig as the sidecar bundle has it: validate.ts swapped for validate-compact.ts over the built descriptions. */
function parseNodeConfigOnCompact(): typeof parseNodeConfig {
  Object.assign(globalThis, { WEFT_CONTRACT_DESCRIPTIONS: descriptions });
  let parse: typeof parseNodeConfig | undefined;
  jest.isolateModules(() => {
    jest.doMock('../../../proxy/contracts/validate', () => jest.requireActual<object>('../../../proxy/contracts/validate-compact'));
    /* eslint-disable @typescript-eslint/no-require-imports -- fresh copies that see the mock above */
    expect(require('../../../proxy/contracts/validate')).not.toHaveProperty('CONTRACT_SCHEMAS');
    parse = (require('../../../proxy/contracts/node-config-io') as { parseNodeConfig: typeof parseNodeConfig }).parseNodeConfig;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  return parse!;
}

type ParseOutcome = { ok: true; value: unknown } | { ok: false; code: string; issues: { path: string; message: string }[] };

function parseOutcome(parse: typeof parseNodeConfig, doc: unknown): ParseOutcome {
  try {
    return { ok: true, value: parse(doc) };
  } catch (err) {
    // The compact copy has its own ContractError class.
    const e = err as { code?: unknown; issues?: { path: string; message: string }[] };
    if (typeof e.code !== 'string' || !Array.isArray(e.issues)) throw err;
    return { ok: false, code: e.code, issues: [...e.issues] };
  }
}

const fits = new WeakMap<SchemaNode, unknown[]>();

/** The samples that pass the node's own checks (or all of them, when none does). */
function fitting<T>(node: SchemaNode, samples: readonly T[]): readonly T[] {
  let ok = fits.get(node) as T[] | undefined;
  if (ok === undefined) {
    const extra = node.kind === 'string' ? fittingStrings(node) : [];
    ok = [...extra, ...samples].filter((s) => viaCompact(node, s).ok) as T[];
    if (ok.length === 0) ok = [...samples];
    fits.set(node, ok);
  }
  return ok;
}

function fittingStrings(node: Extract<SchemaNode, { kind: 'string' }>): unknown[] {
  return node.checks.flatMap((c) => (c.check !== 'format' ? [] : c.format === 'starts_with' ? [`${c.prefix}x`] : c.format === 'includes' ? [`-----BEGIN ${c.includes}-----`] : []));
}

/** Replaces, deletes or adds one value somewhere in `doc`. */
function mutate(doc: unknown, r: () => number): unknown {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  let parent: Record<string, unknown> | unknown[] | undefined;
  let key: string | number | undefined;
  let here: unknown = doc;
  while (here !== null && typeof here === 'object' && (parent === undefined || r() < 0.8)) {
    const keys: (string | number)[] = Array.isArray(here) ? here.map((_, i) => i) : Object.keys(here);
    if (keys.length === 0) break;
    parent = here as Record<string, unknown>;
    key = pick(keys);
    here = (here as Record<string | number, unknown>)[key];
  }
  if (parent === undefined || key === undefined) return pick(JUNK);
  const choice = r();
  if (choice < 0.25 && !Array.isArray(parent)) delete parent[key as string];
  else if (choice < 0.35 && !Array.isArray(parent)) parent.unexpected = 1;
  else (parent as Record<string | number, unknown>)[key] = choice < 0.7 ? pick(JUNK) : choice < 0.85 ? pick(STRINGS) : pick(NUMBERS);
  return doc;
}

describe('describeSchema refuses what it cannot carry', () => {
  test.each([
    ['a refinement', z.string().refine((s) => s.length > 2)],
    ['an unknown transform', z.string().transform((s) => s.trim())],
    ['a message that depends on the issue', z.string({ error: (i) => `bad ${String(i.input)}` })],
    ['a loose object', z.looseObject({ a: z.string() })],
    ['a lazy schema', z.lazy(() => z.string())],
  ])('%s', (_what, schema) => {
    expect(() => describeSchema(schema, 'x')).toThrow(DescribeError);
  });
});
