/**
 * What a JWT rule (Istio RequestAuthentication) must say beyond its shape, checked where it is
 * written (the construct, `weft validate`) and by `parseNodeConfig` (the publisher and the
 * sidecar), with the same wording: exactly one key source, a `jwksUri` the sidecar can fetch
 * (http or https), and an inline `jwks` that holds only public keys the sidecar verifies with.
 * The sidecar's JWT check compiles the keys only after this passed, so a bad JWKS is a config
 * error with its field path, never a 401 on every request.
 *
 * Only asymmetric keys are accepted (RSA, EC, OKP): a symmetric (`oct`) key would let HS* tokens
 * in, and a JWKS published by an issuer never needs one. No zod and no jose here: the sidecar runs
 * it on every config it reads, and Node's own `createPublicKey` proves each key can be used.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JwtRule } from './node-config';
import type { ContractIssue } from './validation';

/** The signature algorithms a JWT may use: asymmetric only; never `none`, never HS*. */
export const JWT_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
const OKP_CURVES = new Set(['Ed25519', 'Ed448']);

/** A JWKS document: `{ "keys": [ JWK... ] }`. */
export interface Jwks {
  keys: Record<string, unknown>[];
}

/** Why `key` (a JWK) cannot verify JWT signatures, or undefined when it can. */
function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return 'is not a JSON object';
  const jwk = key as Record<string, unknown>;
  if (typeof jwk.kty !== 'string' || !KEY_TYPES.has(jwk.kty)) return `kty must be RSA, EC or OKP (asymmetric keys only, so no HS* token is ever accepted), got: ${String(jwk.kty)}`;
  if (jwk.d !== undefined) return 'is a private key: a JWKS in the config holds public keys only';
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use must be sig, got: ${String(jwk.use)}`;
  if (jwk.alg !== undefined && !JWT_ALGORITHMS.includes(jwk.alg as string)) return `alg must be one of ${JWT_ALGORITHMS.join(', ')}, got: ${String(jwk.alg)}`;
  if (jwk.kty === 'OKP' && !OKP_CURVES.has(jwk.crv as string)) return `an OKP key must be on Ed25519 or Ed448, got: ${String(jwk.crv)}`;
  try {
    createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    return `is not a usable ${jwk.kty} public key: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * Parses inline JWKS text; returns the document or the problems found (each a message for the
 * `jwks` field). Shared by the checks below and the sidecar, which compiles the same keys.
 */
export function parseJwks(text: string): { jwks: Jwks; problems: [] } | { jwks: undefined; problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { jwks: undefined, problems: [`is not JSON: ${(err as Error).message}`] };
  }
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return { jwks: undefined, problems: ['must be a JWKS: a JSON object with a "keys" array'] };
  if (keys.length === 0) return { jwks: undefined, problems: ['has no keys: no token could ever be verified'] };
  const problems: string[] = [];
  keys.forEach((k, i) => {
    const p = keyProblem(k);
    if (p !== undefined) problems.push(`keys[${i}] ${p}`);
  });
  return problems.length > 0 ? { jwks: undefined, problems } : { jwks: { keys: keys as Record<string, unknown>[] }, problems: [] };
}

/** Every problem of `rules`' values, each at its field path under `at` (e.g. `inbound.policy.jwt`). */
export function jwtRuleIssues(rules: readonly Pick<JwtRule, 'issuer' | 'jwksUri' | 'jwks'>[], at: string): ContractIssue[] {
  const issues: ContractIssue[] = [];
  rules.forEach((rule, i) => {
    const here = `${at}[${i}]`;
    if (rule.jwksUri === undefined && rule.jwks === undefined) issues.push({ path: here, message: `a JWT rule needs jwksUri or jwks to verify tokens of issuer ${rule.issuer}` });
    if (rule.jwksUri !== undefined && rule.jwks !== undefined) issues.push({ path: `${here}.jwks`, message: `a JWT rule takes jwksUri or jwks, not both, got: jwksUri ${rule.jwksUri}` });
    if (rule.jwksUri !== undefined && !/^https?:\/\/[^/?#]/i.test(rule.jwksUri)) issues.push({ path: `${here}.jwksUri`, message: `must be an http:// or https:// URL, got: ${rule.jwksUri}` });
    if (rule.jwks !== undefined) for (const message of parseJwks(rule.jwks).problems) issues.push({ path: `${here}.jwks`, message });
  });
  return issues;
}
