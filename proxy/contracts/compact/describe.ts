/**
 * Reads a zod schema into a {@link SchemaNode}: the build runs this over the contract schemas and
 * embeds the result in the sidecar bundle (scripts/build.mjs), so that the sidecar validates with
 * `check.ts` and never loads zod. Anything the description cannot carry faithfully (a refinement,
 * an unknown transform, a check this module does not know) is refused with the path of the schema
 * part, so the build fails instead of the sidecar silently checking less than `weft validate`.
 */
import { type z } from 'zod';
import { CONTRACT_SCHEMAS, type ContractName } from '../validate';
import { TRANSFORMS, type FormatCheck, type JsonValue, type LengthCheck, type NumberCheck, type Primitive, type SchemaNode, type StringCheck, type TransformName } from './description';

type Def = Record<string, unknown> & { type: string; checks?: z.core.$ZodCheck[] };
type Schema = z.core.$ZodType;

export class DescribeError extends Error {}

export function describeSchema(schema: Schema, at = '(root)'): SchemaNode {
  const def = schema._zod.def as unknown as Def;
  const message = customMessage(def, at);
  const node = describeDef(schema, def, at);
  return message === undefined ? node : { ...node, message };
}

function describeDef(schema: Schema, def: Def, at: string): SchemaNode {
  const refuse = (what: string): never => {
    throw new DescribeError(`cannot describe ${at}: ${what}`);
  };
  const noChecks = (): void => {
    if (def.checks !== undefined && def.checks.length > 0) refuse(`checks on a ${def.type} schema`);
  };
  switch (def.type) {
    case 'string': {
      const own: StringCheck[] = typeof def.format === 'string' ? [formatCheck(def, at)] : [];
      return { kind: 'string', checks: [...own, ...checksOf(def, at).map((c) => stringCheck(c, at))] };
    }
    case 'number':
      if (def.format !== undefined) refuse(`number format '${String(def.format)}' as a schema (use .int())`);
      return { kind: 'number', checks: checksOf(def, at).map((c) => numberCheck(c, at)) };
    case 'boolean':
      noChecks();
      return { kind: 'boolean' };
    case 'literal':
    case 'enum': {
      noChecks();
      const values = [...(schema._zod.values ?? [])] as unknown[];
      if (!values.every(isPrimitive)) refuse('non-JSON literal values');
      return { kind: def.type, values: values as Primitive[] };
    }
    case 'object': {
      noChecks();
      const catchall = def.catchall as Schema | undefined;
      const strict = catchall !== undefined && catchall._zod.def.type === 'never';
      if (catchall !== undefined && !strict) refuse('a catchall other than never (strictObject)');
      const shape = def.shape as Record<string, Schema>;
      return { kind: 'object', strict, shape: Object.keys(shape).map((k) => [k, describeSchema(shape[k], `${at}.${k}`)]) };
    }
    case 'array':
      return {
        kind: 'array',
        element: describeSchema(def.element as Schema, `${at}[]`),
        checks: checksOf(def, at).map((c) => lengthCheck(c, at) ?? refuse(`array check '${String(c._zod.def.check)}'`)),
      };
    case 'record': {
      noChecks();
      const keyType = def.keyType as Schema;
      if (def.mode === 'loose' || keyType._zod.values !== undefined) refuse('a loose record or one with enumerated keys');
      return { kind: 'record', key: describeSchema(keyType, `${at}{key}`), value: describeSchema(def.valueType as Schema, `${at}{}`) };
    }
    case 'union': {
      noChecks();
      const options = (def.options as Schema[]).map((o, i) => describeSchema(o, `${at}|${i}`));
      if (typeof def.discriminator === 'string') {
        if (def.unionFallback === true) refuse('a discriminated union with unionFallback');
        const discriminator = def.discriminator;
        const tags = (def.options as Schema[]).map((o) => [...(o._zod.propValues?.[discriminator] ?? [])] as Primitive[]);
        return { kind: 'discriminated', discriminator, options, tags };
      }
      if (def.inclusive === false) refuse('an exclusive union');
      return { kind: 'union', options };
    }
    case 'optional':
      noChecks();
      return { kind: 'optional', inner: describeSchema(def.innerType as Schema, at) };
    case 'default': {
      noChecks();
      const value = def.defaultValue as unknown;
      if (!isJson(value)) refuse('a default that is not plain JSON');
      return { kind: 'default', inner: describeSchema(def.innerType as Schema, at), value: value as JsonValue };
    }
    case 'pipe':
      noChecks();
      return { kind: 'pipe', in: describeSchema(def.in as Schema, at), out: describeSchema(def.out as Schema, at) };
    case 'transform': {
      noChecks();
      const name = (Object.keys(TRANSFORMS) as TransformName[]).find((n) => TRANSFORMS[n] === def.transform);
      return name !== undefined ? { kind: 'transform', name } : refuse('a transform that is not one of TRANSFORMS (compact/description.ts)');
    }
    default:
      return refuse(`zod type '${def.type}'`);
  }
}

function checksOf(def: Def, at: string): z.core.$ZodCheck[] {
  const checks = def.checks ?? [];
  for (const c of checks) {
    const d = c._zod.def as unknown as Record<string, unknown>;
    if (d.abort === true) throw new DescribeError(`cannot describe ${at}: a check with abort`);
  }
  return checks;
}

function lengthCheck(check: z.core.$ZodCheck, at: string): LengthCheck | undefined {
  const d = check._zod.def as unknown as Record<string, unknown>;
  const kind = d.check;
  if (kind !== 'min_length' && kind !== 'max_length') return undefined;
  const limit = (kind === 'min_length' ? d.minimum : d.maximum) as number;
  return withMessage<LengthCheck>({ check: kind, limit }, customMessage(d, at));
}

function stringCheck(check: z.core.$ZodCheck, at: string): StringCheck {
  const d = check._zod.def as unknown as Record<string, unknown>;
  const length = lengthCheck(check, at);
  if (length !== undefined) return length;
  if (d.check === 'string_format') return formatCheck(d, at);
  throw new DescribeError(`cannot describe ${at}: string check '${String(d.check)}'`);
}

/** A string format, from a check's def or from a format schema's own def (e.g. `z.iso.datetime()`). */
function formatCheck(d: Record<string, unknown>, at: string): FormatCheck {
  const format = d.format as string;
  const message = customMessage(d, at);
  switch (format) {
    case 'starts_with':
      return withMessage({ check: 'format', format, prefix: d.prefix as string }, message);
    case 'includes':
      if (d.position !== undefined) throw new DescribeError(`cannot describe ${at}: includes with a position`);
      return withMessage({ check: 'format', format, includes: d.includes as string }, message);
    case 'url':
      if ('normalize' in d || 'hostname' in d || 'protocol' in d) throw new DescribeError(`cannot describe ${at}: url options`);
      return withMessage({ check: 'format', format }, message);
    default: {
      const pattern = d.pattern;
      if (!(pattern instanceof RegExp)) throw new DescribeError(`cannot describe ${at}: string format '${format}' without a pattern`);
      return withMessage({ check: 'format', format, pattern: { source: pattern.source, flags: pattern.flags } }, message);
    }
  }
}

function numberCheck(check: z.core.$ZodCheck, at: string): NumberCheck {
  const d = check._zod.def as unknown as Record<string, unknown>;
  const message = customMessage(d, at);
  switch (d.check) {
    case 'number_format':
      if (d.format !== 'safeint') throw new DescribeError(`cannot describe ${at}: number format '${String(d.format)}'`);
      return withMessage({ check: 'int' }, message);
    case 'greater_than':
    case 'less_than':
      if (typeof d.value !== 'number') throw new DescribeError(`cannot describe ${at}: a non-numeric bound`);
      return withMessage({ check: d.check, value: d.value, inclusive: d.inclusive === true }, message);
    default:
      throw new DescribeError(`cannot describe ${at}: number check '${String(d.check)}'`);
  }
}

/**
 * The message a schema or check was given (`.regex(re, 'must be ...')`). zod keeps it as a
 * function of the issue; only messages that do not depend on the issue can be described.
 */
function customMessage(def: Record<string, unknown>, at: string): string | undefined {
  const error = def.error;
  if (typeof error !== 'function') return undefined;
  const read = (issue: object): unknown => {
    const m: unknown = (error as (i: object) => unknown)(issue);
    return typeof m === 'object' && m !== null ? (m as { message?: unknown }).message : m;
  };
  const a = read({ code: 'custom', input: undefined, path: [] });
  const b = read({ code: 'invalid_type', expected: 'string', input: 0, path: ['x'] });
  if (typeof a !== 'string' || a !== b) throw new DescribeError(`cannot describe ${at}: a message that depends on the issue`);
  return a;
}

function withMessage<T extends object>(check: T, message: string | undefined): T {
  return message === undefined ? check : { ...check, message };
}

function isPrimitive(v: unknown): v is Primitive {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function isJson(v: unknown): boolean {
  if (isPrimitive(v)) return true;
  if (Array.isArray(v)) return v.every(isJson);
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.values(v).every(isJson);
}

/** Every contract document's description, keyed as validate.ts names them; what the sidecar bundle embeds. */
export function describeContracts(): Record<ContractName, SchemaNode> {
  const out = {} as Record<ContractName, SchemaNode>;
  for (const name of Object.keys(CONTRACT_SCHEMAS) as ContractName[]) out[name] = describeSchema(CONTRACT_SCHEMAS[name], name);
  return out;
}
