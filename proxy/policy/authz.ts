/**
 * Istio AuthorizationPolicy enforcement, compiled once per config into a {@link PolicyCheck} for
 * the inbound listeners and one for the gateway (see docs/sidecar.md, "Authorization").
 *
 * Evaluation order is Istio's (CUSTOM is refused by the contract): a request that matches a rule
 * of any DENY policy is denied; else, when ALLOW policies exist, it must match a rule of one of
 * them; with none, it is allowed. AUDIT policies never change the decision. Within a rule, `from`,
 * `to` and `when` must all match; each list of sources or operations matches when one entry does;
 * inside an entry every field given must match (a `not*` field: the value matches none of its
 * patterns); every `when` condition must match.
 *
 * A value a request does not have (no request principal without a valid JWT, no claims, no peer
 * principal on plaintext) matches no positive pattern and every negative one, as in Istio:
 * `principals: ['*']` needs mTLS, `requestPrincipals: ['*']` needs a valid JWT (./jwt.ts runs
 * before this check and sets `request.auth`).
 *
 * On a TCP connection the HTTP-only fields (hosts, methods, paths, request principals,
 * `request.*` conditions) cannot be evaluated: Istio drops an ALLOW rule that uses them (it never
 * matches) and drops the fields from a DENY rule (so it matches on the rest: more is denied).
 *
 * Matching allocates nothing per rule: each field is a precompiled matcher, and what a request
 * offers (its canonical path, host, principal) is read once into a scratch object reused by every
 * evaluation (evaluation is synchronous).
 */
import type { TLSSocket } from 'node:tls';
import { authorizationIssues, splitWhenKey, WHEN_KEYS } from '../contracts/authz-rules';
import type { AuthzPolicy, NodeConfig } from '../contracts/node-config';
import { ContractError } from '../contracts/validation';
import type { Refusal } from '../exchange/responder';
import { CidrSet, StringSet } from './authz-match';
import { authzPath } from './authz-path';
import { claimAt } from './jwt';
import type { PolicyCheck, PolicyFactory, PolicyRequest } from './policy';

/** The code of a request refused by an authorization policy. */
export const RBAC_DENIED = 'WEFT_ERR_RBAC_DENIED';

const DENIED: Refusal = Object.freeze({ status: 403, code: RBAC_DENIED });

/** What a request offers to the matchers, read at most once per evaluation. */
class Facts {
  request!: PolicyRequest;
  private pathRead = false;
  private pathValue: string | undefined;
  private hostRead = false;
  private hostValue: string | undefined;
  private nsRead = false;
  private nsValue: string | undefined;

  reset(request: PolicyRequest): this {
    this.request = request;
    this.pathRead = this.hostRead = this.nsRead = false;
    return this;
  }

  get http(): boolean {
    return this.request.http !== undefined;
  }

  get path(): string | undefined {
    if (!this.pathRead) {
      this.pathRead = true;
      const http = this.request.http;
      this.pathValue = http === undefined ? undefined : authzPath(http.path);
    }
    return this.pathValue;
  }

  /** The Host (or :authority), lowercase, without its port. */
  get host(): string | undefined {
    if (!this.hostRead) {
      this.hostRead = true;
      const headers = this.request.http?.req.headers;
      const raw = headers?.host ?? (headers?.[':authority'] as string | undefined);
      this.hostValue = raw === undefined ? undefined : hostOnly(raw);
    }
    return this.hostValue;
  }

  /** The peer's SPIFFE id (`spiffe://td/ns/x/sa/y`); principal patterns are compiled against it. */
  get principal(): string | undefined {
    return this.request.peer.principal;
  }

  get namespace(): string | undefined {
    if (!this.nsRead) {
      this.nsRead = true;
      const p = this.principal;
      const at = p === undefined ? -1 : p.indexOf('/ns/');
      const end = at < 0 ? -1 : p!.indexOf('/', at + 4);
      this.nsValue = end < 0 ? undefined : p!.slice(at + 4, end);
    }
    return this.nsValue;
  }

  get sni(): string | undefined {
    const r = this.request;
    if (r.http !== undefined) {
      const name = (r.http.req.socket as Partial<TLSSocket>).servername;
      return typeof name === 'string' ? name : undefined;
    }
    return r.sni;
  }
}

function hostOnly(raw: string): string {
  let end = raw.length;
  const close = raw.lastIndexOf(']');
  const colon = raw.lastIndexOf(':');
  if (colon > close && (close >= 0 || raw.indexOf(':') === colon)) end = colon;
  const host = end === raw.length ? raw : raw.slice(0, end);
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 65 && c <= 90) return host.toLowerCase();
  }
  return host;
}

type Cond = (f: Facts) => boolean;

const all =
  (conds: Cond[]): Cond =>
  (f) => {
    for (let i = 0; i < conds.length; i++) if (!conds[i](f)) return false;
    return true;
  };
const any =
  (conds: Cond[]): Cond =>
  (f) => {
    for (let i = 0; i < conds.length; i++) if (conds[i](f)) return true;
    return false;
  };

/** Principal patterns (Istio's form, without `spiffe://`) as patterns over the peer's SPIFFE id. */
function principalSet(values: readonly string[]): StringSet {
  return new StringSet(values.map((v) => (v === '*' || v.startsWith('*') || v.startsWith('spiffe://') ? v : `spiffe://${v}`)));
}

const headerValue = (f: Facts, name: string): string | undefined => {
  const v = f.request.http?.req.headers[name];
  return v === undefined || typeof v === 'string' ? v : v.join(',');
};

/** The conditions of one rule's parts, each marked as HTTP-only or not. */
class RuleBuilder {
  readonly conds: Cond[] = [];

  /** `tcpValue`: what an HTTP-only condition counts as on a TCP connection (see the file comment). */
  constructor(private readonly tcpValue: boolean) {}

  add(values: readonly string[] | undefined, negate: boolean, http: boolean, test: (values: readonly string[]) => Cond): void {
    if (values === undefined) return;
    const inner = test(values);
    const cond: Cond = negate ? (f) => !inner(f) : inner;
    const tcpValue = this.tcpValue;
    this.conds.push(http ? (f) => (f.http ? cond(f) : tcpValue) : cond);
  }
}

function strings(read: (f: Facts) => string | undefined, fold = false): (values: readonly string[]) => Cond {
  return (values) => {
    const set = new StringSet(values, fold);
    return (f) => set.has(read(f));
  };
}
const principals = (values: readonly string[]): Cond => {
  const set = principalSet(values);
  return (f) => set.has(f.principal);
};
const cidrs = (values: readonly string[]): Cond => {
  const set = new CidrSet(values);
  return (f) => set.has(f.request.peerAddress);
};
const ports = (values: readonly (string | number)[]): Cond => {
  const set = new Set(values.map(Number));
  return (f) => set.has(f.request.port);
};
/** Patterns matched against a list the request offers (its JWT audiences, a list claim): any element. */
function anyOf(read: (f: Facts) => readonly string[] | string | undefined): (values: readonly string[]) => Cond {
  return (values) => {
    const set = new StringSet(values);
    return (f) => {
      const v = read(f);
      if (typeof v !== 'object') return set.has(v);
      for (let i = 0; i < v.length; i++) if (set.has(v[i])) return true;
      return false;
    };
  };
}

const requestPrincipals = strings((f) => f.request.auth?.principal);

/** A claim by its path (`[a][b]` nests), as Istio matches it: a string, or any string of a list; else nothing. */
function claim(path: readonly string[]): (f: Facts) => readonly string[] | string | undefined {
  return (f) => {
    const v = claimAt(f.request.auth?.claims, path);
    if (typeof v === 'string') return v;
    return Array.isArray(v) ? (v.filter((x) => typeof x === 'string') as string[]) : undefined;
  };
}

function compileRule(rule: AuthzPolicy['rules'][number], tcpValue: boolean): Cond {
  const parts: Cond[] = [];
  if (rule.from !== undefined) {
    parts.push(
      any(
        rule.from.map((s) => {
          const b = new RuleBuilder(tcpValue);
          b.add(s.principals, false, false, principals);
          b.add(s.notPrincipals, true, false, principals);
          b.add(s.requestPrincipals, false, true, requestPrincipals);
          b.add(s.notRequestPrincipals, true, true, requestPrincipals);
          b.add(s.namespaces, false, false, strings((f) => f.namespace));
          b.add(s.notNamespaces, true, false, strings((f) => f.namespace));
          b.add(s.ipBlocks, false, false, cidrs);
          b.add(s.notIpBlocks, true, false, cidrs);
          return all(b.conds);
        }),
      ),
    );
  }
  if (rule.to !== undefined) {
    parts.push(
      any(
        rule.to.map((o) => {
          const b = new RuleBuilder(tcpValue);
          b.add(o.hosts, false, true, strings((f) => f.host, true));
          b.add(o.notHosts, true, true, strings((f) => f.host, true));
          b.add(o.ports?.map(String), false, false, ports);
          b.add(o.notPorts?.map(String), true, false, ports);
          b.add(o.methods, false, true, strings((f) => f.request.http?.req.method));
          b.add(o.notMethods, true, true, strings((f) => f.request.http?.req.method));
          b.add(o.paths, false, true, strings((f) => f.path));
          b.add(o.notPaths, true, true, strings((f) => f.path));
          return all(b.conds);
        }),
      ),
    );
  }
  if (rule.when !== undefined) {
    const b = new RuleBuilder(tcpValue);
    for (const c of rule.when) {
      const { base, name } = splitWhenKey(c.key);
      const http = WHEN_KEYS[base]?.http ?? true;
      const test = whenTest(base, name);
      b.add(c.values, false, http, test);
      b.add(c.notValues, true, http, test);
    }
    parts.push(all(b.conds));
  }
  return all(parts);
}

function whenTest(base: string, name: string | undefined): (values: readonly string[]) => Cond {
  switch (base) {
    case 'request.headers': {
      const header = name!.toLowerCase();
      return strings((f) => headerValue(f, header));
    }
    case 'source.ip':
      return cidrs;
    case 'source.principal':
      return principals;
    case 'source.namespace':
      return strings((f) => f.namespace);
    case 'destination.port':
      return ports;
    case 'connection.sni':
      return strings((f) => f.sni);
    case 'request.auth.principal':
      return requestPrincipals;
    case 'request.auth.audiences':
      return anyOf((f) => f.request.auth?.audiences);
    case 'request.auth.presenter':
      return strings((f) => f.request.auth?.presenter);
    case 'request.auth.claims':
      // `request.auth.claims[a][b]`: splitWhenKey gives the name `a][b`.
      return anyOf(claim(name!.split('][')));
    default:
      throw new Error(`unknown when key '${base}'`);
  }
}

/** The compiled policies of one listener kind. */
export class AuthorizationCheck implements PolicyCheck {
  readonly name = 'authorization';
  private readonly facts = new Facts();
  private readonly deny: Cond;
  private readonly allow: Cond | undefined;

  constructor(policies: readonly AuthzPolicy[]) {
    const rulesOf = (action: AuthzPolicy['action']) =>
      policies.filter((p) => p.action === action).flatMap((p) => p.rules.map((r) => compileRule(r, action !== 'ALLOW')));
    this.deny = any(rulesOf('DENY'));
    this.allow = policies.some((p) => p.action === 'ALLOW') ? any(rulesOf('ALLOW')) : undefined;
  }

  check(request: PolicyRequest): Refusal | undefined {
    const f = this.facts.reset(request);
    if (this.deny(f)) return DENIED;
    if (this.allow !== undefined && !this.allow(f)) return DENIED;
    return undefined;
  }
}

/** The built-in factory: the config's authorization policies for `listener`, or none. */
export const authorizationPolicy: PolicyFactory = (config: NodeConfig, listener) => {
  const at = listener === 'inbound' ? 'inbound.policy.authorization' : 'gateway.policy.authorization';
  const policies = listener === 'inbound' ? config.inbound.policy.authorization : (config.gateway?.policy.authorization ?? []);
  if (policies.length === 0) return undefined;
  const issues = authorizationIssues(policies, at);
  if (issues.length > 0) throw new ContractError('WEFT_ERR_CONFIG_INVALID', 'authorization policy', issues);
  return new AuthorizationCheck(policies);
};
