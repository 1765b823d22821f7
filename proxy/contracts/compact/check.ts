/**
 * Validates a document against a {@link SchemaNode} with zod's semantics: the same documents pass,
 * with the same output (defaults filled, transforms applied, unknown keys refused), and the same
 * documents fail, with the same issues at the same paths. The sidecar bundle validates with this
 * instead of zod, which would cost every sidecar ~14 MB of memory
 * (docs/decisions/0007-contract-validation-without-zod.md);
 * test/proxy/contracts/compact.test.ts holds the two to the same answers.
 *
 * Each rule below mirrors one of zod 4's parsers; where zod's behaviour is surprising (length
 * checks that still run after a type error, a union that reports its only non-aborted option), the
 * comment says so, because an "improvement" here would make the sidecar and `weft validate`
 * disagree.
 */
import { ContractError, formatPath, type ContractIssue } from '../validation';
import { TRANSFORMS, type FormatCheck, type JsonValue, type LengthCheck, type NumberCheck, type Primitive, type SchemaNode } from './description';

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  /** zod's `continue`: `true` lets later checks run; `false` is an explicit abort; unset aborts too. */
  continue?: boolean;
}

interface Result {
  value: unknown;
  issues: Issue[];
  /** Set by a failed pipe: nothing after it may run (zod's `payload.aborted`). */
  aborted?: boolean;
}

type OptIn = 'optional' | 'defaulted' | undefined;

/** Validates `input`; returns the output value or throws a {@link ContractError} listing every issue. */
export function checkDocument(node: SchemaNode, input: unknown, code: string, what: string): unknown {
  const result = run(node, input);
  if (result.issues.length > 0) {
    const issues: ContractIssue[] = result.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    throw new ContractError(code, what, issues);
  }
  return result.value;
}

function run(node: SchemaNode, value: unknown): Result {
  switch (node.kind) {
    case 'string':
      return withChecks(node, typeof value === 'string' ? ok(value) : typeIssue(node, 'string', value));
    case 'number':
      return withChecks(node, typeof value === 'number' && Number.isFinite(value) ? ok(value) : typeIssue(node, 'number', value));
    case 'boolean':
      return typeof value === 'boolean' ? ok(value) : typeIssue(node, 'boolean', value);
    case 'literal':
    case 'enum':
      return node.values.includes(value as Primitive) ? ok(value) : fail(value, { code: 'invalid_value', path: [], message: node.message ?? invalidValue(node.values) });
    case 'object':
      return runObject(node, value);
    case 'array':
      return cappedArray(node, value) ?? withChecks(node, runArray(node, value));
    case 'record':
      return runRecord(node, value);
    case 'union':
      return runUnion(node, value);
    case 'discriminated':
      return runDiscriminated(node, value);
    case 'optional': {
      if (value !== undefined) return run(node.inner, value);
      if (optIn(node.inner) !== 'defaulted') return ok(undefined);
      const inner = run(node.inner, undefined);
      return ok(inner.issues.length > 0 ? undefined : inner.value);
    }
    case 'default': {
      // zod returns the default without validating it.
      if (value === undefined) return ok(cloneJson(node.value));
      const result = run(node.inner, value);
      if (result.value === undefined) result.value = cloneJson(node.value);
      return result;
    }
    case 'pipe': {
      const left = run(node.in, value);
      if (left.issues.some((i) => i.code !== 'unrecognized_keys')) {
        left.aborted = true;
        return left;
      }
      const right = run(node.out, left.value);
      return { ...right, issues: [...left.issues, ...right.issues] };
    }
    case 'transform':
      return ok(TRANSFORMS[node.name](value as string));
  }
}

function ok(value: unknown): Result {
  return { value, issues: [] };
}

function fail(value: unknown, issue: Issue): Result {
  return { value, issues: [issue] };
}

function typeIssue(node: { message?: string }, expected: string, input: unknown): Result {
  return fail(input, { code: 'invalid_type', path: [], message: node.message ?? invalidType(expected, input) });
}

// --- checks -------------------------------------------------------------------------------------

/** Any issue that does not explicitly let later checks run stops them (zod's `aborted`). */
function aborted(result: Result, from = 0): boolean {
  if (result.aborted) return true;
  for (let i = from; i < result.issues.length; i++) if (result.issues[i].continue !== true) return true;
  return false;
}

function explicitlyAborted(result: Result): boolean {
  return result.aborted === true || result.issues.some((i) => i.continue === false);
}

/**
 * Runs a schema's checks after its type test, as zod's `runChecks` does. Length checks have a
 * `when` guard instead of the abort rule: they run whenever the value has a length, even after a
 * type error (so `[]` against a non-empty string also reports "expected array to have >=1 items").
 */
function withChecks(node: SchemaNode & { checks: readonly (LengthCheck | FormatCheck | NumberCheck)[]; message?: string }, result: Result): Result {
  let isAborted = aborted(result);
  for (const check of node.checks) {
    if (check.check === 'min_length' || check.check === 'max_length') {
      if (explicitlyAborted(result) || !hasLength(result.value)) continue;
    } else if (isAborted) {
      continue;
    }
    const before = result.issues.length;
    const issue = runCheck(check, result);
    if (issue === undefined) continue;
    issue.message = check.message ?? node.message ?? issue.message;
    result.issues.push(issue);
    if (!isAborted) isAborted = aborted(result, before);
  }
  return result;
}

function hasLength(value: unknown): value is { length: number } {
  return value !== null && value !== undefined && (value as { length?: unknown }).length !== undefined;
}

function runCheck(check: LengthCheck | FormatCheck | NumberCheck, result: Result): Issue | undefined {
  switch (check.check) {
    case 'min_length':
    case 'max_length':
      return lengthIssue(check, result.value as { length: number });
    case 'format':
      return formatIssue(check, result);
    case 'int':
      return intIssue(result.value as number);
    case 'greater_than':
    case 'less_than':
      return boundIssue(check, result.value as number);
  }
}

function lengthIssue(check: LengthCheck, value: { length: number }): Issue | undefined {
  const length = typeof value === 'string' ? codePoints(value) : value.length;
  const min = check.check === 'min_length';
  if (min ? length >= check.limit : length <= check.limit) return undefined;
  const origin = Array.isArray(value) ? 'array' : typeof value === 'string' ? 'string' : 'unknown';
  return { code: min ? 'too_small' : 'too_big', path: [], continue: true, message: sizeMessage(min, origin, check.limit, true) };
}

function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}

const compiled = new WeakMap<FormatCheck, RegExp>();

function formatIssue(check: FormatCheck, result: Result): Issue | undefined {
  const value = result.value as string;
  const issue = (message: string): Issue => ({ code: 'invalid_format', path: [], continue: true, message });
  switch (check.format) {
    case 'starts_with':
      return value.startsWith(check.prefix!) ? undefined : issue(`Invalid string: must start with "${check.prefix}"`);
    case 'includes':
      return value.includes(check.includes!) ? undefined : issue(`Invalid string: must include "${check.includes}"`);
    case 'url': {
      // zod trims, parses with the WHATWG parser and returns the trimmed text without tabs and newlines.
      const trimmed = value.trim();
      if (!URL.canParse(trimmed)) return issue('Invalid URL');
      result.value = trimmed.replace(/[\t\n\r]/g, '');
      return undefined;
    }
    default: {
      let re = compiled.get(check);
      if (re === undefined) {
        re = new RegExp(check.pattern!.source, check.pattern!.flags);
        compiled.set(check, re);
      }
      re.lastIndex = 0;
      if (re.test(value)) return undefined;
      return issue(check.format === 'regex' ? `Invalid string: must match pattern ${String(re)}` : `Invalid ${FORMAT_NAMES[check.format] ?? check.format}`);
    }
  }
}

const FORMAT_NAMES: Record<string, string> = { datetime: 'ISO datetime', date: 'ISO date', time: 'ISO time', url: 'URL' };

function intIssue(value: number): Issue | undefined {
  if (!Number.isInteger(value)) return { code: 'invalid_type', path: [], continue: false, message: invalidType('int', value) };
  if (Number.isSafeInteger(value)) return undefined;
  const big = value > 0;
  return {
    code: big ? 'too_big' : 'too_small',
    path: [],
    continue: true,
    message: sizeMessage(!big, 'int', big ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER, true),
  };
}

function boundIssue(check: NumberCheck, value: number): Issue | undefined {
  const limit = check.value!;
  const min = check.check === 'greater_than';
  const within = min ? (check.inclusive ? value >= limit : value > limit) : check.inclusive ? value <= limit : value < limit;
  if (within) return undefined;
  return { code: min ? 'too_small' : 'too_big', path: [], continue: true, message: sizeMessage(min, 'number', limit, check.inclusive === true) };
}

// --- containers ---------------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function prefixed(key: PropertyKey, issues: readonly Issue[]): Issue[] {
  return issues.map((i) => ({ ...i, path: [key, ...i.path] }));
}

function runObject(node: Extract<SchemaNode, { kind: 'object' }>, input: unknown): Result {
  if (!isObject(input)) return typeIssue(node, 'object', input);
  const out: Record<string, unknown> = {};
  const result: Result = { value: out, issues: [] };
  for (const [key, field] of node.shape) {
    if (key === '__proto__') continue;
    const r = run(field, input[key]);
    putProperty(r, result, key, input, optIn(field), optOut(field));
  }
  if (node.strict) {
    const unknown: string[] = [];
    const known = new Set(node.shape.map(([k]) => k));
    for (const key in input) if (!known.has(key)) unknown.push(key);
    if (unknown.length > 0) {
      const list = unknown.map((k) => `'${k}'`).join(', ');
      // Unknown keys describe the input, not the value: they never abort (a union may still pick this option).
      result.issues.push({ code: 'unrecognized_keys', path: [], continue: true, message: `unknown field${unknown.length > 1 ? 's' : ''} ${list}` });
    }
  }
  return result;
}

/** zod's `handlePropertyResult`: how an absent key, an optional value and a default land in the output. */
function putProperty(r: Result, into: Result, key: string, input: Record<string, unknown>, optin: OptIn, optout: 'optional' | undefined): void {
  const present = key in input;
  const out = into.value as Record<string, unknown>;
  if (!present && optout === 'optional' && optin === 'optional') return;
  if (r.issues.length > 0) {
    if (optin !== undefined && optout === 'optional' && !present) return;
    into.issues.push(...prefixed(key, r.issues));
  }
  if (!present && optin === undefined) {
    if (r.issues.length === 0) into.issues.push({ code: 'invalid_type', path: [key], message: invalidType('nonoptional', undefined) });
    return;
  }
  if (r.value === undefined) {
    if (present || (optin === 'defaulted' && optout !== 'optional')) out[key] = undefined;
  } else {
    out[key] = r.value;
  }
}

/** An array past a `max` is refused before its items are looked at, and nothing else is reported (zod's size cap). */
function cappedArray(node: Extract<SchemaNode, { kind: 'array' }>, input: unknown): Result | undefined {
  if (!Array.isArray(input)) return undefined;
  for (const check of node.checks) {
    if (check.check !== 'max_length' || input.length <= check.limit) continue;
    const issue = lengthIssue(check, input)!;
    return fail(input, { ...issue, continue: false, message: check.message ?? node.message ?? issue.message });
  }
  return undefined;
}

function runArray(node: Extract<SchemaNode, { kind: 'array' }>, input: unknown): Result {
  if (!Array.isArray(input)) return typeIssue(node, 'array', input);
  const out = new Array<unknown>(input.length);
  const result: Result = { value: out, issues: [] };
  for (let i = 0; i < input.length; i++) {
    const r = run(node.element, input[i]);
    if (r.issues.length > 0) result.issues.push(...prefixed(i, r.issues));
    out[i] = r.value;
  }
  return result;
}

function runRecord(node: Extract<SchemaNode, { kind: 'record' }>, input: unknown): Result {
  if (!isPlainObject(input)) return typeIssue(node, 'record', input);
  const out: Record<string, unknown> = {};
  const result: Result = { value: out, issues: [] };
  for (const key of Object.keys(input)) {
    if (key === '__proto__') continue;
    const k = run(node.key, key);
    if (k.issues.length > 0) {
      result.issues.push({ code: 'invalid_key', path: [key], message: node.message ?? 'Invalid key in record' });
      continue;
    }
    const r = run(node.value, input[key]);
    if (r.issues.length > 0) result.issues.push(...prefixed(key, r.issues));
    out[k.value as string] = r.value;
  }
  return result;
}

/** zod's test, which also accepts objects from another realm (a vm context, a worker's message). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const ctor: unknown = value.constructor;
  if (typeof ctor !== 'function') return true;
  const proto: unknown = (ctor as { prototype?: unknown }).prototype;
  return isObject(proto) && Object.prototype.hasOwnProperty.call(proto, 'isPrototypeOf');
}

/** The first option that passes wins; when none does, a lone option that failed only its checks speaks for the union. */
function runUnion(node: Extract<SchemaNode, { kind: 'union' }>, value: unknown): Result {
  if (node.options.length === 1) return run(node.options[0], value);
  const results: Result[] = [];
  for (const option of node.options) {
    const r = run(option, value);
    if (r.issues.length === 0) return r;
    results.push(r);
  }
  const live = results.filter((r) => !aborted(r));
  if (live.length === 1) return live[0];
  return fail(value, { code: 'invalid_union', path: [], message: node.message ?? 'does not match any allowed form' });
}

function runDiscriminated(node: Extract<SchemaNode, { kind: 'discriminated' }>, value: unknown): Result {
  if (!isObject(value)) return typeIssue(node, 'object', value);
  const tag = value[node.discriminator] as Primitive;
  const index = node.tags.findIndex((tags) => tags.includes(tag));
  if (index >= 0) return run(node.options[index], value);
  return fail(value, { code: 'invalid_union', path: [node.discriminator], message: node.message ?? 'does not match any allowed form' });
}

// --- optionality, as zod derives it (optin: may the key be absent; optout: may the output lack it) ---

function optIn(node: SchemaNode): OptIn {
  switch (node.kind) {
    case 'default':
      return 'defaulted';
    case 'optional':
      return optIn(node.inner) === 'defaulted' ? 'defaulted' : 'optional';
    case 'union':
    case 'discriminated': {
      const ins = node.options.map(optIn);
      return ins.includes('defaulted') ? 'defaulted' : ins.some((i) => i !== undefined) ? 'optional' : undefined;
    }
    case 'pipe':
      return optIn(node.in);
    case 'transform':
      return 'optional';
    default:
      return undefined;
  }
}

function optOut(node: SchemaNode): 'optional' | undefined {
  switch (node.kind) {
    case 'optional':
      return 'optional';
    case 'union':
    case 'discriminated':
      return node.options.some((o) => optOut(o) === 'optional') ? 'optional' : undefined;
    case 'pipe':
      return optOut(node.out);
    default:
      return undefined;
  }
}

// --- messages (zod's English locale, for the issues contracts can raise) ---

function invalidType(expected: string, input: unknown): string {
  return `Invalid input: expected ${expected}, received ${receivedType(input)}`;
}

function receivedType(input: unknown): string {
  if (typeof input === 'number') return Number.isNaN(input) ? 'NaN' : Number.isFinite(input) ? 'number' : String(input);
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'object') {
    const proto: unknown = Object.getPrototypeOf(input);
    const ctor = (input as { constructor?: { name?: string } }).constructor;
    if (proto !== Object.prototype && ctor) return String(ctor.name);
  }
  return typeof input;
}

function invalidValue(values: readonly Primitive[]): string {
  const show = (v: Primitive): string => (typeof v === 'string' ? `"${v}"` : String(v));
  return values.length === 1 ? `Invalid input: expected ${show(values[0])}` : `Invalid option: expected one of ${values.map(show).join('|')}`;
}

const UNITS: Record<string, string> = { string: 'characters', array: 'items' };

function sizeMessage(min: boolean, origin: string, limit: number, inclusive: boolean): string {
  const adj = min ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  const head = min ? 'Too small' : 'Too big';
  const unit = UNITS[origin];
  return unit ? `${head}: expected ${origin} to have ${adj}${limit} ${unit}` : `${head}: expected ${origin} to be ${adj}${limit}`;
}

function cloneJson(value: JsonValue): unknown {
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}
