/**
 * Compiled request conditions: string matches (headers, gRPC metadata, query parameters) and path
 * matches. Compilation happens once per config in `buildRouteTable`; evaluation runs per request,
 * so evaluators take no closures, allocate nothing on the common path and keep every compiled
 * object the same shape (V8 keeps the call sites monomorphic).
 */
import type { HeaderMatch, PathMatch, QueryMatch, StringMatch } from '../contracts/node-config';
import { linearRegex, regexFeatureMessage } from '../contracts/regex-rules';
import type { ContractIssue } from '../contracts/validation';
import type { RouteRequest } from './types';

type Headers = Record<string, string | string[] | undefined>;

const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const REGEX = 3;
const RANGE = 4;
const PRESENT = 5;

/** A {@link StringMatch} ready to evaluate. */
export interface CompiledStringMatch {
  kind: number;
  value: string;
  regex: RegExp | undefined;
  start: number;
  end: number;
}

/**
 * A header (or gRPC metadata) condition. `invert` negates the whole result, absence included, as
 * the node config contract states: an inverted `exact: prod` matches a request without the header.
 * (Envoy's `invert_match` alone would not match it; Istio users keep tripping over that.)
 */
export interface CompiledHeaderMatch {
  name: string;
  match: CompiledStringMatch;
  invert: boolean;
}

export interface CompiledQueryMatch {
  name: string;
  match: CompiledStringMatch;
}

/** Path match kinds. `PATH_ANY` is "no path condition". */
export const PATH_ANY = 0;
export const PATH_EXACT = 1;
export const PATH_PREFIX = 2;
export const PATH_REGEX = 3;

export interface CompiledPathMatch {
  kind: number;
  /** Exact path or prefix; lowercased when `ignoreCase`. */
  value: string;
  regex: RegExp | undefined;
  ignoreCase: boolean;
}

/**
 * Compiles a regex that must match the whole input, as Envoy's `safe_regex` (RE2 full match).
 * Records an issue instead of throwing, so one error can list every bad regex of a config.
 */
export function compileFullRegex(source: string, where: string, issues: ContractIssue[]): RegExp | undefined {
  try {
    // Compiled alone first: a source such as `a)|(b` would otherwise escape the anchoring group.
    new RegExp(source);
  } catch (err) {
    issues.push({ path: where, message: `invalid regular expression: ${(err as Error).message}, got: ${JSON.stringify(source)}` });
    return undefined;
  }
  const linear = linearRegex(source);
  if (linear.unsupported !== undefined) {
    issues.push({ path: where, message: `${regexFeatureMessage(linear.unsupported)}, got: ${JSON.stringify(source)}` });
    return undefined;
  }
  // The same language in a form V8's linear-time engine takes, so the backtracking fallback applies.
  return new RegExp(`^(?:${linear.source})$`);
}

export function compileStringMatch(match: StringMatch, where: string, issues: ContractIssue[]): CompiledStringMatch {
  const out: CompiledStringMatch = { kind: EXACT, value: '', regex: undefined, start: 0, end: 0 };
  if ('exact' in match) {
    out.value = match.exact;
  } else if ('prefix' in match) {
    out.kind = PREFIX;
    out.value = match.prefix;
  } else if ('suffix' in match) {
    out.kind = SUFFIX;
    out.value = match.suffix;
  } else if ('regex' in match) {
    out.kind = REGEX;
    out.regex = compileFullRegex(match.regex, `${where}.regex`, issues);
  } else if ('range' in match) {
    out.kind = RANGE;
    out.start = match.range.start;
    out.end = match.range.end;
    if (match.range.end <= match.range.start) {
      issues.push({ path: `${where}.range`, message: `end must be greater than start (start inclusive, end exclusive), got: [${match.range.start}, ${match.range.end})` });
    }
  } else {
    out.kind = PRESENT;
  }
  return out;
}

export function compileHeaderMatches(matches: readonly HeaderMatch[], where: string, issues: ContractIssue[]): CompiledHeaderMatch[] {
  return matches.map((m, i) => ({ name: m.name, match: compileStringMatch(m.match, `${where}[${i}].match`, issues), invert: m.invert }));
}

export function compileQueryMatches(matches: readonly QueryMatch[], where: string, issues: ContractIssue[]): CompiledQueryMatch[] {
  return matches.map((m, i) => ({ name: m.name, match: compileStringMatch(m.match, `${where}[${i}].match`, issues) }));
}

export function compilePathMatch(path: PathMatch | undefined, ignoreCase: boolean, where: string, issues: ContractIssue[]): CompiledPathMatch {
  if (path === undefined) return { kind: PATH_ANY, value: '', regex: undefined, ignoreCase: false };
  if ('exact' in path) return { kind: PATH_EXACT, value: ignoreCase ? asciiLower(path.exact) : path.exact, regex: undefined, ignoreCase };
  if ('prefix' in path) return { kind: PATH_PREFIX, value: ignoreCase ? asciiLower(path.prefix) : path.prefix, regex: undefined, ignoreCase };
  // Istio: ignoreUriCase applies to exact and prefix only.
  return { kind: PATH_REGEX, value: '', regex: compileFullRegex(path.regex, `${where}.regex`, issues), ignoreCase: false };
}

/** Evaluates a string condition against a present value. */
export function matchString(m: CompiledStringMatch, value: string): boolean {
  switch (m.kind) {
    case EXACT:
      return value === m.value;
    case PREFIX:
      return value.startsWith(m.value);
    case SUFFIX:
      return value.endsWith(m.value);
    case REGEX:
      return m.regex !== undefined && m.regex.test(value);
    case RANGE:
      return inRange(value, m.start, m.end);
    default:
      return true;
  }
}

/** Envoy range match: the whole value is a base-10 integer in [start, end). */
function inRange(value: string, start: number, end: number): boolean {
  const len = value.length;
  if (len === 0 || len > 20) return false;
  let i = 0;
  let negative = false;
  const first = value.charCodeAt(0);
  if (first === 45 /* - */ || first === 43 /* + */) {
    negative = first === 45;
    i = 1;
    if (len === 1) return false;
  }
  let n = 0;
  for (; i < len; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    n = n * 10 + d;
  }
  if (negative) n = -n;
  return n >= start && n < end;
}

/** Header (or metadata) condition. A multi-valued header is matched as its values joined with ','. */
export function headerHolds(c: CompiledHeaderMatch, headers: Headers): boolean {
  const raw = headers[c.name];
  let ok: boolean;
  if (raw === undefined) ok = false;
  else if (c.match.kind === PRESENT) ok = true;
  else ok = matchString(c.match, typeof raw === 'string' ? raw : raw.join(','));
  return ok !== c.invert;
}

/** All header conditions hold. */
export function headersHold(conds: readonly CompiledHeaderMatch[], headers: Headers): boolean {
  for (let i = 0; i < conds.length; i++) if (!headerHolds(conds[i], headers)) return false;
  return true;
}

/**
 * All query conditions hold against the raw query (the part after `?`, without it). The query is
 * scanned per condition rather than parsed into a map: conditions are few, queries short, and
 * routes without query conditions never pay anything.
 */
export function queryHolds(conds: readonly CompiledQueryMatch[], rawQuery: string): boolean {
  for (let i = 0; i < conds.length; i++) {
    const c = conds[i];
    const value = queryParam(rawQuery, c.name);
    if (value === undefined) return false;
    if (c.match.kind !== PRESENT && !matchString(c.match, value)) return false;
  }
  return true;
}

/**
 * The first value of query parameter `name`, decoded as `application/x-www-form-urlencoded`
 * (`+` is a space, `%XX` escapes; a malformed escape leaves the value as sent). A parameter without
 * `=` has the empty value. Undefined when absent.
 */
export function queryParam(rawQuery: string, name: string): string | undefined {
  const len = rawQuery.length;
  let start = 0;
  while (start <= len) {
    let end = rawQuery.indexOf('&', start);
    if (end < 0) end = len;
    if (end > start) {
      let eq = rawQuery.indexOf('=', start);
      if (eq < 0 || eq > end) eq = end;
      if (segmentEquals(rawQuery, start, eq, name)) {
        return eq === end ? '' : formDecode(rawQuery.slice(eq + 1, end));
      }
    }
    start = end + 1;
  }
  return undefined;
}

function segmentEquals(s: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length && s.startsWith(name, start)) return true;
  // Encoded names are rare; decode only when the raw segment could be an encoding of `name`.
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */ || c === 43 /* + */) return formDecode(s.slice(start, end)) === name;
  }
  return false;
}

function formDecode(s: string): string {
  let hasEscape = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 || c === 43) {
      hasEscape = true;
      break;
    }
  }
  if (!hasEscape) return s;
  const spaced = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** Path condition against the path without its query. */
export function pathHolds(m: CompiledPathMatch, path: string): boolean {
  switch (m.kind) {
    case PATH_ANY:
      return true;
    case PATH_EXACT:
      return m.ignoreCase ? path.length === m.value.length && startsWithAsciiFold(path, m.value) : path === m.value;
    case PATH_PREFIX:
      return m.ignoreCase ? startsWithAsciiFold(path, m.value) : path.startsWith(m.value);
    default:
      return m.regex !== undefined && m.regex.test(path);
  }
}

/**
 * How many leading characters of `path` the match consumed, for prefix rewrites: the prefix for a
 * prefix match, the whole path for exact and regex matches, and `/` when there is no path condition
 * (as Istio, which compiles "no uri match" to prefix `/`).
 */
export function matchedPrefixLength(m: CompiledPathMatch, path: string): number {
  switch (m.kind) {
    case PATH_PREFIX:
      return m.value.length;
    case PATH_ANY:
      return path.charCodeAt(0) === 47 ? 1 : 0;
    default:
      return path.length;
  }
}

/**
 * `s` starts with `lowerPrefix` ignoring ASCII case. Paths are ASCII (RFC 3986 percent-encodes the
 * rest), so ASCII folding is exact and needs no lowercased copy of the path.
 */
export function startsWithAsciiFold(s: string, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * Every condition of one route, mesh or gateway. Unset conditions are `undefined` or empty so all
 * compiled routes share one shape.
 */
export interface CompiledConditions {
  path: CompiledPathMatch;
  method: string | undefined;
  scheme: string | undefined;
  port: number | undefined;
  headers: CompiledHeaderMatch[];
  query: CompiledQueryMatch[];
  /** gRPC: the `package.Service` and `Method` parts of `/package.Service/Method`. */
  grpcService: string | undefined;
  grpcMethod: string | undefined;
  /** Only gRPC requests (content-type application/grpc*) match; used by gateway gRPC routes. */
  grpcOnly: boolean;
}

/**
 * Whether a request meets every condition. `pathOnly` is the path without its query, `rawPath` the
 * request target and `queryIndex` the position of its `?` (-1 when none); `port` is the port the
 * request is routed on.
 */
export function conditionsHold(
  c: CompiledConditions,
  req: RouteRequest,
  pathOnly: string,
  rawPath: string,
  queryIndex: number,
  port: number,
): boolean {
  if (c.port !== undefined && c.port !== port) return false;
  if (c.method !== undefined && c.method !== req.method) return false;
  if (c.scheme !== undefined && c.scheme !== req.scheme) return false;
  if (!pathHolds(c.path, pathOnly)) return false;
  if (c.grpcOnly && !isGrpc(req.headers as Headers)) return false;
  if ((c.grpcService !== undefined || c.grpcMethod !== undefined) && !grpcHolds(c.grpcService, c.grpcMethod, pathOnly)) return false;
  if (c.headers.length > 0 && !headersHold(c.headers, req.headers as Headers)) return false;
  if (c.query.length > 0 && !queryHolds(c.query, queryIndex < 0 ? '' : rawPath.slice(queryIndex + 1))) return false;
  return true;
}

function isGrpc(headers: Headers): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/** Matches `/package.Service/Method` without splitting it. */
function grpcHolds(service: string | undefined, method: string | undefined, path: string): boolean {
  if (path.charCodeAt(0) !== 47) return false;
  if (service !== undefined) {
    if (!path.startsWith(service, 1) || path.charCodeAt(1 + service.length) !== 47) return false;
    if (method !== undefined) return path.length === 2 + service.length + method.length && path.endsWith(method);
    return path.indexOf('/', 2 + service.length) < 0;
  }
  // A method without a service (App Mesh requires the service; tolerate it): the last segment.
  const m = method as string;
  return path.length > m.length + 2 && path.endsWith(m) && path.charCodeAt(path.length - m.length - 1) === 47 && path.indexOf('/', 1) === path.length - m.length - 1;
}
