/**
 * Istio RequestAuthentication enforcement, compiled once per config into a {@link PolicyCheck} that
 * runs before authorization on the inbound HTTP listeners and the gateway (see docs/security.md,
 * "JWT"). TCP connections carry no token: the check passes them (as Istio does).
 *
 * - The token is read from the rules' locations, in rule order: each `fromHeaders` entry (a header
 *   and the prefix its value starts with; `Authorization: Bearer ` by default), then each
 *   `fromParams` query parameter (`access_token` by default). The first location that holds a
 *   token decides; a header without the prefix holds none.
 * - No token: the request continues without a request principal (an authorization policy then
 *   decides). A token whose `iss` names none of the rules reading that location, or that fails
 *   verification under each rule of its issuer, is refused: 401 `WEFT_ERR_JWT_INVALID` with
 *   Envoy's `www-authenticate: Bearer realm="<url>", error="invalid_token"`.
 * - Verification (jose): signature by a key of the rule's JWKS, with asymmetric algorithms only
 *   ({@link JWT_ALGORITHMS}: never `none`, never HS*, so an HS256 token "signed" with the issuer's
 *   public RSA key finds no key), `iss` equal to the rule's issuer, `aud` holding one of the rule's
 *   audiences when it lists any, `exp` and `nbf` with Envoy's 60 s clock skew.
 * - A valid token gives the request Istio's `request.auth` attributes ({@link RequestAuth}) for the
 *   checks after this one; its header is removed before the request goes on unless the rule says
 *   `forwardOriginalToken` (a query parameter stays, as in Envoy); `outputClaimToHeaders` headers
 *   are set from its claims, and removed from every request first, so a caller cannot forge them.
 *
 * Cost: verifying a signature is asynchronous crypto, so a token is verified once and remembered
 * (up to {@link VERIFIED_CACHE_SIZE} tokens, until it expires or its keys change, as Envoy's JWT
 * cache does); a remembered token costs a map lookup, a string compare and no promise. Requests
 * without a token cost a header read per location.
 */
import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { JWT_ALGORITHMS } from '../contracts/jwt-rules';
import type { JwtRule, NodeConfig } from '../contracts/node-config';
import type { Refusal } from '../exchange/responder';
import type { JwksRegistry, KeySource } from './jwks';
import type { PolicyCheck, PolicyRequest, RequestAuth } from './policy';

/** The code of a request refused for a present but invalid JWT. */
export const JWT_INVALID = 'WEFT_ERR_JWT_INVALID';

/** Envoy's default clock skew for `exp` and `nbf`. */
export const JWT_CLOCK_SKEW_S = 60;

/** Verified tokens remembered per check (per listener kind and config). */
export const VERIFIED_CACHE_SIZE = 512;

/** Header values a claim may be copied into (RFC 9110 field-value characters, no CR/LF). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

class CompiledRule {
  readonly issuer: string;
  readonly forward: boolean;
  readonly keys: KeySource;
  readonly getKey: JWTVerifyGetKey;
  readonly options: JWTVerifyOptions;
  readonly claimHeaders: readonly { header: string; path: readonly string[] }[];

  constructor(rule: JwtRule, keys: KeySource) {
    this.issuer = rule.issuer;
    this.forward = rule.forwardOriginalToken;
    this.keys = keys;
    this.getKey = (header, token) => keys.resolve(header, token);
    this.options = {
      issuer: rule.issuer,
      audience: rule.audiences.length > 0 ? rule.audiences : undefined,
      algorithms: [...JWT_ALGORITHMS],
      clockTolerance: JWT_CLOCK_SKEW_S,
    };
    // Envoy's claim_to_headers: a nested claim is written with dots.
    this.claimHeaders = rule.outputClaimToHeaders.map((o) => ({ header: o.header, path: o.claim.split('.') }));
  }
}

/** Where a token may be: a header with its prefix, or a query parameter; and the rules reading there. */
interface Location {
  readonly header: string | undefined;
  readonly prefix: string;
  /** The prefix lowercased: an auth scheme (`Bearer `) is case-insensitive (RFC 9110 11.1). */
  readonly prefixLower: string;
  readonly param: string | undefined;
  readonly rules: CompiledRule[];
}

/** A verified token, remembered. */
interface Verified {
  readonly token: string;
  readonly auth: RequestAuth;
  readonly rule: CompiledRule;
  readonly generation: number;
  /** Date.now() past which the token is expired (exp plus the skew); Infinity without exp. */
  readonly expiresAtMs: number;
  /** The rule's outputClaimToHeaders, resolved: [header, value] pairs. */
  readonly headers: readonly (readonly [string, string])[];
}

/** Why a token was refused, as Envoy's jwt_authn words it. */
function reasonOf(err: unknown): string {
  switch ((err as { code?: string }).code) {
    case 'ERR_JWT_EXPIRED':
      return 'Jwt is expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: string }).claim;
      if (claim === 'aud') return 'Audiences in Jwt are not allowed';
      if (claim === 'nbf') return 'Jwt not yet valid';
      if (claim === 'iss') return 'Jwt issuer is not configured';
      return 'Jwt verification fails';
    }
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return "Jwks doesn't have key to match kid or alg from Jwt";
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'Jwt is not in the form of Header.Payload.Signature';
    default:
      return 'Jwt verification fails';
  }
}

/** The claim at `path` (object keys, outermost first), or undefined when a step is not an object. */
export function claimAt(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): unknown {
  let v: unknown = claims;
  for (let i = 0; i < path.length && v !== undefined; i++) v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[path[i]] : undefined;
  return v;
}

/** The value at `path` in the claims, as a header value; undefined when absent or not representable. */
function claimValue(claims: JWTPayload, path: readonly string[]): string | undefined {
  const v = claimAt(claims, path);
  const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(',') : undefined;
  return text !== undefined && HEADER_VALUE.test(text) ? text : undefined;
}

/** The value of query parameter `name` in `path`, decoded; undefined when absent; null when undecodable. */
function queryParam(path: string, name: string): string | undefined | null {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  let at = q + 1;
  while (at < path.length) {
    let end = path.indexOf('&', at);
    if (end < 0) end = path.length;
    if (end - at > name.length && path.charCodeAt(at + name.length) === 61 /* = */ && path.startsWith(name, at)) {
      try {
        return decodeURIComponent(path.slice(at + name.length + 1, end).replace(/\+/g, ' '));
      } catch {
        return null;
      }
    }
    at = end + 1;
  }
  return undefined;
}

/** Envoy's realm: the request URL without its query, with nothing that could end the quoted string. */
function realmOf(request: PolicyRequest): string {
  const http = request.http!;
  const h = http.req.headers;
  const host = h.host ?? (h[':authority'] as string | undefined) ?? '';
  const q = http.path.indexOf('?');
  const url = `${request.peer.encrypted ? 'https' : 'http'}://${host}${q < 0 ? http.path : http.path.slice(0, q)}`;
  let safe = '';
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c >= 0x20 && c !== 0x7f && c !== 34 /* " */ && c !== 92 /* \ */) safe += url[i];
  }
  return safe;
}

/**
 * The key a verified token is remembered under: the end of its signature, random enough to tell
 * tokens apart and short enough to hash per request (hashing a whole fresh token string costs
 * more than the rest of the check); a hit is compared with the whole token.
 */
function cacheKey(token: string): string {
  return token.length <= 24 ? token : token.slice(token.length - 24);
}

/** The compiled JWT rules of one listener kind. */
export class JwtCheck implements PolicyCheck {
  readonly name = 'jwt';
  private readonly locations: Location[] = [];
  /** Every outputClaimToHeaders header: removed from each request before anything is set. */
  private readonly claimHeaders: string[];
  private readonly verified = new Map<string, Verified>();
  /** Scratch of the last find(): the location of the token it returned (evaluation is synchronous up to verify). */
  private foundAt: Location | undefined;

  constructor(
    rules: readonly JwtRule[],
    jwks: JwksRegistry,
    private readonly now: () => number = Date.now,
  ) {
    const byKey = new Map<string, Location>();
    for (const rule of rules) {
      const compiled = new CompiledRule(rule, jwks.sourceFor(rule));
      const places = [
        ...rule.fromHeaders.map((h) => ({ key: `h:${h.name}:${h.prefix}`, header: h.name, prefix: h.prefix, param: undefined })),
        ...rule.fromParams.map((p) => ({ key: `p:${p}`, header: undefined, prefix: '', param: p })),
      ];
      for (const { key, header, prefix, param } of places) {
        let loc = byKey.get(key);
        if (loc === undefined) {
          loc = { header, prefix, prefixLower: prefix.toLowerCase(), param, rules: [] };
          byKey.set(key, loc);
          this.locations.push(loc);
        }
        if (!loc.rules.includes(compiled)) loc.rules.push(compiled);
      }
    }
    this.claimHeaders = [...new Set(rules.flatMap((r) => r.outputClaimToHeaders.map((o) => o.header)))];
  }

  check(request: PolicyRequest): Refusal | undefined | Promise<Refusal | undefined> {
    const http = request.http;
    if (http === undefined) return undefined;
    const headers = http.req.headers;
    const strip = this.claimHeaders;
    // Removed by setting undefined (upstreamRequestHeaders skips it): a delete would make the
    // headers object a slow dictionary for the rest of the request.
    for (let i = 0; i < strip.length; i++) if (headers[strip[i]] !== undefined) headers[strip[i]] = undefined;
    const token = this.find(request);
    if (token === undefined) return undefined;
    const at = this.foundAt!;
    if (token === null) return this.invalid(request, 'Jwt is not in the form of Header.Payload.Signature');
    const hit = this.verified.get(cacheKey(token));
    if (hit !== undefined && hit.token === token && hit.generation === hit.rule.keys.generation && this.now() < hit.expiresAtMs && at.rules.includes(hit.rule)) {
      this.accept(request, hit, at);
      return undefined;
    }
    return this.verify(request, token, at);
  }

  /** The first token in the locations, in order; null for one that cannot be decoded; undefined for none. */
  private find(request: PolicyRequest): string | null | undefined {
    const http = request.http!;
    const locations = this.locations;
    for (let i = 0; i < locations.length; i++) {
      const loc = locations[i];
      let token: string | null | undefined;
      if (loc.header !== undefined) {
        const value = http.req.headers[loc.header];
        const n = loc.prefix.length;
        if (typeof value === 'string' && value.length > n && (value.startsWith(loc.prefix) || value.slice(0, n).toLowerCase() === loc.prefixLower)) token = value.slice(n).trim();
      } else {
        token = queryParam(http.path, loc.param!);
      }
      if (token !== undefined && token !== '') {
        this.foundAt = loc;
        return token;
      }
    }
    return undefined;
  }

  private async verify(request: PolicyRequest, token: string, at: Location): Promise<Refusal | undefined> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return this.invalid(request, 'Jwt is not in the form of Header.Payload.Signature');
    }
    let reason = 'Jwt issuer is not configured';
    for (const rule of at.rules) {
      if (rule.issuer !== issuer) continue;
      const generation = rule.keys.generation;
      try {
        const { payload } = await jwtVerify(token, rule.getKey, rule.options);
        const v = this.remember(token, rule, payload, generation);
        this.accept(request, v, at);
        return undefined;
      } catch (err) {
        reason = reasonOf(err);
      }
    }
    return this.invalid(request, reason);
  }

  private remember(token: string, rule: CompiledRule, payload: JWTPayload, generation: number): Verified {
    const aud = payload.aud;
    const auth: RequestAuth = {
      principal: `${payload.iss}/${payload.sub ?? ''}`,
      audiences: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [],
      presenter: typeof payload.azp === 'string' ? payload.azp : undefined,
      claims: payload,
    };
    const headers: (readonly [string, string])[] = [];
    for (const { header, path } of rule.claimHeaders) {
      const value = claimValue(payload, path);
      if (value !== undefined) headers.push([header, value]);
    }
    const v: Verified = { token, auth, rule, generation, expiresAtMs: typeof payload.exp === 'number' ? (payload.exp + JWT_CLOCK_SKEW_S) * 1000 : Infinity, headers };
    const cache = this.verified;
    if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(cacheKey(token), v);
    return v;
  }

  private accept(request: PolicyRequest, v: Verified, at: Location): void {
    request.auth = v.auth;
    const headers = request.http!.req.headers;
    if (!v.rule.forward && at.header !== undefined) headers[at.header] = undefined;
    const out = v.headers;
    for (let i = 0; i < out.length; i++) headers[out[i][0]] = out[i][1];
  }

  private invalid(request: PolicyRequest, reason: string): Refusal {
    return {
      status: 401,
      code: JWT_INVALID,
      headers: { 'www-authenticate': `Bearer realm="${realmOf(request)}", error="invalid_token"` },
      body: `${JWT_INVALID}: ${reason}\n`,
    };
  }
}

/** The config's JWT rules for `listener` as a check, or none; keys come from `jwks` (this config's registry). */
export function jwtPolicy(config: NodeConfig, listener: 'inbound' | 'gateway', jwks: JwksRegistry): PolicyCheck | undefined {
  const rules = listener === 'inbound' ? config.inbound.policy.jwt : (config.gateway?.policy.jwt ?? []);
  return rules.length === 0 ? undefined : new JwtCheck(rules, jwks);
}
