/**
 * What an authorization policy's values may say, checked where they are written (the construct,
 * `weft validate`) and again by the sidecar before it compiles them, with the same wording: a CIDR
 * that does not parse, a principal that is not Istio's `<trust-domain>/ns/<ns>/sa/<sa>` form or a
 * `*` pattern, a `when` key Istio does not define. The sidecar's matchers read these values only
 * after this check passed, so they can trust them.
 *
 * No zod here: the sidecar runs it on every config it reads.
 */
import { isIP } from 'node:net';
import type { AuthzPolicy } from './node-config';
import type { ContractIssue } from './validation';

/** A parsed CIDR (or a bare address, a /32 or /128). */
export interface Cidr {
  family: 4 | 6;
  address: string;
  prefix: number;
}

/** `a.b.c.d[/n]` or an IPv6 address `[/n]`; undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { family, address, prefix: max };
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return { family, address, prefix: Number(bits) };
}

/**
 * The `when` keys Istio defines, with whether each needs an HTTP request (an ALLOW rule with one
 * never matches a TCP connection; see docs/sidecar.md). `request.headers[...]` and
 * `request.auth.claims[...]` take a name in brackets.
 */
export const WHEN_KEYS: Readonly<Record<string, { http: boolean; named?: true }>> = {
  'request.headers': { http: true, named: true },
  'request.auth.claims': { http: true, named: true },
  'request.auth.principal': { http: true },
  'request.auth.audiences': { http: true },
  'request.auth.presenter': { http: true },
  'source.ip': { http: false },
  'source.principal': { http: false },
  'source.namespace': { http: false },
  'destination.port': { http: false },
  'connection.sni': { http: false },
};

/** `request.headers[x-id]` → `{ base: 'request.headers', name: 'x-id' }`; a plain key has no name. */
export function splitWhenKey(key: string): { base: string; name: string | undefined } {
  const open = key.indexOf('[');
  if (open < 0 || !key.endsWith(']')) return { base: key, name: undefined };
  return { base: key.slice(0, open), name: key.slice(open + 1, -1) };
}

/** Istio's string patterns: exact, `*` alone, a `*` prefix or a `*` suffix; never a `*` inside. */
function patternProblem(value: string): string | undefined {
  const inner = value.length > 1 ? value.slice(1, -1) : '';
  if (inner.includes('*') || (value.length > 1 && value.startsWith('*') && value.endsWith('*'))) {
    return `'${value}' may use '*' only alone, as a prefix or as a suffix (Istio)`;
  }
  return undefined;
}

function principalProblem(value: string): string | undefined {
  const p = patternProblem(value);
  if (p !== undefined) return p;
  if (value.includes('*')) return undefined;
  const bare = value.startsWith('spiffe://') ? value.slice('spiffe://'.length) : value;
  return /^[^/]+\/ns\/[^/]+\/sa\/[^/]+$/.test(bare) ? undefined : `'${value}' is not a principal: write '<trust-domain>/ns/<namespace>/sa/<service-account>' (Istio) or a '*' pattern`;
}

function cidrProblem(value: string): string | undefined {
  return parseCidr(value) === undefined ? `'${value}' is not an IPv4 or IPv6 address or CIDR` : undefined;
}

function portProblem(value: string): string | undefined {
  return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535 ? undefined : `'${value}' is not a port (1-65535)`;
}

/** Every problem of `policies`' values, each at its field path under `at` (e.g. `inbound.policy.authorization`). */
export function authorizationIssues(policies: readonly AuthzPolicy[], at: string): ContractIssue[] {
  const issues: ContractIssue[] = [];
  const each = (values: readonly string[] | undefined, path: string, problem: (v: string) => string | undefined) =>
    values?.forEach((v, i) => {
      const message = problem(v);
      if (message !== undefined) issues.push({ path: `${path}[${i}]`, message });
    });
  policies.forEach((policy, p) => {
    policy.rules.forEach((rule, r) => {
      const here = `${at}[${p}].rules[${r}]`;
      rule.from?.forEach((s, i) => {
        const f = `${here}.from[${i}]`;
        each(s.principals, `${f}.principals`, principalProblem);
        each(s.notPrincipals, `${f}.notPrincipals`, principalProblem);
        each(s.requestPrincipals, `${f}.requestPrincipals`, patternProblem);
        each(s.notRequestPrincipals, `${f}.notRequestPrincipals`, patternProblem);
        each(s.namespaces, `${f}.namespaces`, patternProblem);
        each(s.notNamespaces, `${f}.notNamespaces`, patternProblem);
        each(s.ipBlocks, `${f}.ipBlocks`, cidrProblem);
        each(s.notIpBlocks, `${f}.notIpBlocks`, cidrProblem);
      });
      rule.to?.forEach((o, i) => {
        const t = `${here}.to[${i}]`;
        for (const field of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const) each(o[field], `${t}.${field}`, patternProblem);
      });
      rule.when?.forEach((c, i) => {
        const w = `${here}.when[${i}]`;
        const { base, name } = splitWhenKey(c.key);
        const known = WHEN_KEYS[base];
        if (known === undefined || (known.named === true) !== (name !== undefined) || name === '') {
          issues.push({ path: `${w}.key`, message: `unknown key '${c.key}': use one of ${Object.entries(WHEN_KEYS).map(([k, v]) => (v.named ? `${k}[<name>]` : k)).join(', ')}` });
          return;
        }
        if (c.values === undefined && c.notValues === undefined) issues.push({ path: w, message: 'needs values or notValues (Istio)' });
        const problem = base === 'source.ip' ? cidrProblem : base === 'destination.port' ? portProblem : base === 'source.principal' ? principalProblem : patternProblem;
        each(c.values, `${w}.values`, problem);
        each(c.notValues, `${w}.notValues`, problem);
      });
    });
  });
  return issues;
}
