/**
 * Inbound policy, compiled with the config: what the inbound and gateway listeners check before
 * anything reaches the app or a route. It is built into each config snapshot beside the route
 * table and swapped with it on reload, so the next request is judged by the config in force; and
 * every inbound listener kind passes through it: HTTP/1.1 and HTTP/2 (explicit or transparent),
 * the gateway, and TCP listeners, which offer only what a connection shows (peer identity,
 * address, port).
 *
 * The node config's JWT rules compile into the first check (./jwt.ts), which gives a request with
 * a valid token its request principal; its authorization policies into the second (./authz.ts),
 * which may match that principal. Its rate limit is the next check (./rate-limit.ts, passed first
 * among `factories` by the config store, which keeps its buckets across reloads), so a denied
 * request spends no token. Checks can also come from the sidecar's embedder (`SidecarDeps.policy`),
 * built from each config, after the config's own.
 */
import type { IncomingMessage } from 'node:http';
import type { NodeConfig } from '../contracts/node-config';
import type { Refusal } from '../exchange/responder';
import { silentLogger, type Logger } from '../log';
import type { PeerIdentity } from '../tls/peer-identity';
import { authorizationPolicy } from './authz';
import { JwksRegistry } from './jwks';
import { jwtPolicy } from './jwt';

/** Istio's `request.auth` attributes of a request with a valid JWT. */
export interface RequestAuth {
  /** `<iss>/<sub>`: what `requestPrincipals` and `request.auth.principal` match. */
  readonly principal: string;
  /** The token's `aud`, as a list. */
  readonly audiences: readonly string[];
  /** The token's `azp`, when it has one. */
  readonly presenter: string | undefined;
  /** Every claim of the token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What a check sees of a request, or of a connection (TCP: `http` undefined). */
export interface PolicyRequest {
  readonly listener: 'inbound' | 'gateway';
  readonly peer: PeerIdentity;
  readonly peerAddress: string;
  /** The listener port the request is for (the node or gateway listener's port). */
  readonly port: number;
  /** The HTTP request, its path normalized; undefined for a TCP connection. */
  readonly http: { readonly req: IncomingMessage; readonly path: string } | undefined;
  /** TCP: the server name the peer's TLS handshake asked for, if any (HTTP reads it from the request's socket). */
  readonly sni?: string;
  /** Set by the JWT check for the checks after it when the request carries a valid token; absent otherwise. */
  auth?: RequestAuth;
}

export type PolicyResult = Refusal | undefined | Promise<Refusal | undefined>;

/** One compiled check. Synchronous checks cost no promise; asynchronous ones (a JWKS fetch) may return one. */
export interface PolicyCheck {
  readonly name: string;
  check(request: PolicyRequest): PolicyResult;
}

/** Builds a check from a config (or none), once per snapshot. */
export type PolicyFactory = (config: NodeConfig, listener: 'inbound' | 'gateway') => PolicyCheck | undefined;

/** The checks of one listener kind, in order; the first refusal wins. */
export class CompiledPolicy {
  /** No checks: the listener skips policy altogether. */
  readonly empty: boolean;

  constructor(private readonly checks: readonly PolicyCheck[]) {
    this.empty = checks.length === 0;
  }

  evaluate(request: PolicyRequest): PolicyResult {
    const checks = this.checks;
    for (let i = 0; i < checks.length; i++) {
      const result = checks[i].check(request);
      if (result instanceof Promise) return result.then((r) => (r !== undefined ? r : this.rest(request, i + 1)));
      if (result !== undefined) return result;
    }
    return undefined;
  }

  private rest(request: PolicyRequest, from: number): Promise<Refusal | undefined> {
    return Promise.resolve(new CompiledPolicy(this.checks.slice(from)).evaluate(request));
  }
}

export interface CompiledPolicies {
  inbound: CompiledPolicy;
  gateway: CompiledPolicy;
  /** The JWKS sources of the config's JWT rules, handed to the next config's compile. */
  jwks: JwksRegistry;
}

/**
 * The policies of a config: the checks its fields compile to (JWT, then authorization), then the
 * embedder's. `previous` (the policies in force) passes on its fetched JWKS, so a reload keeps the
 * keys of every `jwksUri` it still names.
 */
export function compilePolicies(config: NodeConfig, factories: readonly PolicyFactory[], previous?: CompiledPolicies, logger: Logger = silentLogger): CompiledPolicies {
  const jwks = new JwksRegistry(previous?.jwks, logger);
  const jwt: PolicyFactory = (c, listener) => jwtPolicy(c, listener, jwks);
  const build = (listener: 'inbound' | 'gateway'): CompiledPolicy => {
    const checks: PolicyCheck[] = [];
    for (const f of [jwt, authorizationPolicy, ...factories]) {
      const check = f(config, listener);
      if (check !== undefined) checks.push(check);
    }
    return new CompiledPolicy(checks);
  };
  return { inbound: build('inbound'), gateway: build('gateway'), jwks };
}
