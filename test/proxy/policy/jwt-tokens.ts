/**
 * Keys and tokens for the JWT tests: an issuer's RSA and EC keys as a JWKS, tokens signed with
 * jose, and the forgeries a verifier must refuse (`alg: none`, HS256 keyed with the public key).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';

export const ISSUER = 'https://issuer.example';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as a JWKS publishes it. */
  jwk: Record<string, unknown>;
}

export function rsaKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg: 'RS256', privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

export function ecKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg: 'ES256', privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid } };
}

export const jwksOf = (...keys: SigningKey[]): string => JSON.stringify({ keys: keys.map((k) => k.jwk) });

const nowS = () => Math.floor(Date.now() / 1000);

/** A token signed by `key`: `iss` ISSUER, `sub` alice, valid for an hour, unless `claims` say otherwise. */
export function sign(key: SigningKey, claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, sub: 'alice', iat: nowS(), exp: nowS() + 3600, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An unsecured token (`alg: none`, empty signature) with ISSUER's claims. */
export function unsigned(kid: string): string {
  return `${b64({ alg: 'none', kid, typ: 'JWT' })}.${b64({ iss: ISSUER, sub: 'mallory', exp: nowS() + 3600 })}.`;
}

/** The key-confusion forgery: HS256 with the issuer's public RSA key (PEM) as the HMAC secret. */
export function hsWithPublicKey(key: SigningKey): Promise<string> {
  const secret = new Uint8Array(Buffer.from(key.publicKey.export({ format: 'pem', type: 'spki' }) as string));
  return new SignJWT({ iss: ISSUER, sub: 'mallory', exp: nowS() + 3600 }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
}

/** A valid token with one signature byte changed. */
export async function tampered(key: SigningKey): Promise<string> {
  const token = await sign(key);
  const last = token.charAt(token.length - 2);
  return `${token.slice(0, -2)}${last === 'A' ? 'B' : 'A'}${token.slice(-1)}`;
}

export const expiredClaims = (): JWTPayload => ({ iat: nowS() - 7200, exp: nowS() - 3600 });
export const notYetValidClaims = (): JWTPayload => ({ nbf: nowS() + 3600 });
