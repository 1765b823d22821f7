/**
 * Schema failures of a resource's spec as errors a person can act on: one per problem, at the
 * field (for an unknown field, at its key), worded as the rule and the value that broke it.
 */
import { type z } from 'zod';
import { formatPath } from '../../../proxy/contracts/validation';
import { show } from './raw-resource';

export interface SpecIssue {
  /** Full path from the resource, e.g. `spec.listeners[0].portMapping.port`. */
  path: string;
  message: string;
}

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

/** Parses `value` with `schema`; on failure lists every issue under `prefix` (`spec`). */
export function checkSpec<S extends z.ZodType>(schema: S, value: unknown, prefix: string): { data: z.infer<S> } | { issues: SpecIssue[] } {
  const result = schema.safeParse(value);
  if (result.success) return { data: result.data };
  const issues = result.error.issues.flatMap((i) => describe(i, [], value, schema));
  return { issues: issues.map((i) => ({ path: formatPath([prefix, ...i.path]), message: i.message })) };
}

function valueAt(root: unknown, path: readonly Key[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<Key, unknown>)[k];
  }
  return v;
}

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType): ZodDef => (s as unknown as { _zod: { def: ZodDef } })._zod.def;

/** The schema that governs `path` inside `schema`, looking through optional/default and into unions by key. */
function schemaAt(schema: z.ZodType | undefined, path: readonly Key[]): z.ZodType | undefined {
  let s = schema;
  for (let i = 0; s !== undefined; ) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (i === path.length) return s;
    else if (d.type === 'object' && d.shape) s = d.shape[String(path[i++])];
    else if (d.type === 'array' && d.element) {
      s = d.element;
      i++;
    }
    else if (d.type === 'union' && d.options) s = d.options.find((o) => objectKeys(o)?.includes(String(path[i])));
    else return undefined;
  }
  return undefined;
}

function objectKeys(s: z.ZodType): string[] | undefined {
  const d = defOf(s);
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}

function describe(issue: Issue, base: readonly Key[], root: unknown, schema: z.ZodType): { path: Key[]; message: string }[] {
  const path = [...base, ...issue.path];
  const value = valueAt(root, path);
  const got = `got: ${show(value)}`;
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union')) return [{ path, message: 'is required' }];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const target = schemaAt(schema, path);
      const known = (target && objectKeys(target)) ?? [];
      return issue.keys.map((k) => {
        const meant = closest(k, known);
        return { path: [...path, k], message: `unknown field '${k}'${meant === undefined ? '' : `; did you mean '${meant}'?`}` };
      });
    }
    case 'invalid_type':
      return [{ path, message: `must be ${issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, ${got}` }];
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const cmp = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
      if (issue.origin === 'array') return [{ path, message: `must have ${cmp} ${String(bound)} item(s), got: ${(value as unknown[]).length}` }];
      if (issue.origin === 'string') return [{ path, message: `must be ${cmp} ${String(bound)} character(s) long, ${got}` }];
      return [{ path, message: `must be ${cmp} ${String(bound)}, ${got}` }];
    }
    case 'invalid_value':
      return [{ path, message: `must be ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map(show).join(', ')}`}, ${got}` }];
    case 'invalid_format': {
      if (issue.format === 'starts_with') return [{ path, message: `must start with "${(issue as { prefix?: string }).prefix ?? ''}", ${got}` }];
      if (issue.format === 'url') return [{ path, message: `must be a URL, ${got}` }];
      // Regex formats in the schema carry their own wording.
      return [{ path, message: `${issue.message}, ${got}` }];
    }
    case 'invalid_union':
      return describeUnion(issue, path, root, schema);
    default:
      return [{ path, message: `${issue.message}, ${got}` }];
  }
}

/**
 * A union failed. When exactly one alternative has the right shape (type and keys), its own
 * issues are the useful ones; otherwise say which forms exist.
 */
function describeUnion(issue: Extract<Issue, { code: 'invalid_union' }>, path: Key[], root: unknown, schema: z.ZodType): { path: Key[]; message: string }[] {
  const shapeFits = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'unrecognized_keys')));
  if (shapeFits.length === 1) return shapeFits[0].flatMap((i) => describe(i, path, root, schema));
  const value = valueAt(root, path);
  const union = schemaAt(schema, path);
  const forms = union ? (defOf(union).options ?? []).map(objectKeys) : [];
  if (forms.length > 0 && forms.every((k) => k?.length === 1) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    // One-of unions (`{acm} | {file} | {sds}`): the form whose key is present is the one meant.
    const present = Object.keys(value);
    const meant = forms.flatMap((k, i) => (present.includes(k![0]) ? [i] : []));
    if (meant.length === 1 && issue.errors[meant[0]]) return issue.errors[meant[0]].flatMap((i) => describe(i, path, root, schema));
    return [{ path, message: `must set exactly one of ${forms.map((k) => k![0]).join(', ')}, got: ${present.length > 0 ? present.join(', ') : 'none'}` }];
  }
  return [{ path, message: `does not match any allowed form, got: ${show(value)}` }];
}

/**
 * The known field a misspelt one was most likely meant to be: within two edits (one for short
 * names), case aside, and closer than any other. Undefined when nothing is that close.
 */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase(), limit);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Levenshtein distance with adjacent swaps counting one; anything past `limit` is `limit + 1`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], prev2[j - 2] + 1);
    }
    [prev2, prev] = [prev, row];
  }
  return Math.min(prev[b.length], limit + 1);
}
