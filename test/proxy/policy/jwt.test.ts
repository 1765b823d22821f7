/**
 * The JWT check on requests built in place, with an inline JWKS: where tokens are read, what is
 * refused (and how), what a valid token gives the checks after it, and the headers it changes.
 * test/proxy/policy/jwt-sidecar.test.ts runs it through real sidecars with a fetched JWKS.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { JwtRuleSchema, type JwtRule } from '../../../proxy/contracts/node-config';
import { silentLogger } from '../../../proxy/log';
import { JwksRegistry } from '../../../proxy/policy/jwks';
import { JWT_INVALID, JwtCheck } from '../../../proxy/policy/jwt';
import type { PolicyRequest, PolicyResult } from '../../../proxy/policy/policy';
import { ecKey, expiredClaims, hsWithPublicKey, ISSUER, jwksOf, notYetValidClaims, rsaKey, sign, tampered, unsigned } from './jwt-tokens';

const RSA = rsaKey('rsa-1');
const EC = ecKey('ec-1');
const OTHER = rsaKey('rsa-1'); // the same kid, another key: a forger's

function jwtCheck(...rules: z.input<typeof JwtRuleSchema>[]): JwtCheck {
  return new JwtCheck(
    rules.map((r) => JwtRuleSchema.parse({ jwks: jwksOf(RSA, EC), ...r }) as JwtRule),
    new JwksRegistry(undefined, silentLogger),
  );
}

function request(headers: Record<string, string> = {}, path = '/orders', tcp = false): PolicyRequest {
  const req = { method: 'GET', headers: { host: 'orders.shop', ...headers }, socket: {} } as unknown as IncomingMessage;
  return { listener: 'inbound', peer: { authenticated: false, principal: undefined, encrypted: false }, peerAddress: '10.0.0.5', port: 8080, http: tcp ? undefined : { req, path } };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const run = async (c: JwtCheck, r: PolicyRequest) => await (c.check(r) as PolicyResult);

describe('tokens that are refused with 401', () => {
  const c = jwtCheck({ issuer: ISSUER, audiences: ['orders'] });
  test.each<[string, () => Promise<string> | string]>([
    ['expired', () => sign(RSA, { aud: 'orders', ...expiredClaims() })],
    ['not yet valid', () => sign(RSA, { aud: 'orders', ...notYetValidClaims() })],
    ['wrong issuer', () => sign(RSA, { aud: 'orders', iss: 'https://evil.example' })],
    ['wrong audience', () => sign(RSA, { aud: 'billing' })],
    ['no audience while the rule lists some', () => sign(RSA)],
    ['bad signature', () => tampered(RSA)],
    ['signed by another key under a known kid', () => sign(OTHER, { aud: 'orders' })],
    ['alg none', () => unsigned('rsa-1')],
    ['HS256 keyed with the RSA public key', () => hsWithPublicKey(RSA)],
    ['malformed', () => 'not.a.jwt'],
    ['not even three parts', () => 'garbage'],
  ])('%s', async (_what, token) => {
    const r = request(bearer(await token()));
    const refusal = await run(c, r);
    expect(refusal).toMatchObject({ status: 401, code: JWT_INVALID, headers: { 'www-authenticate': 'Bearer realm="http://orders.shop/orders", error="invalid_token"' } });
    expect(r.auth).toBeUndefined();
  });
});

describe('valid tokens', () => {
  test('RS256 and ES256 tokens give the request its principal <iss>/<sub>, audiences, presenter and claims', async () => {
    const c = jwtCheck({ issuer: ISSUER, audiences: ['orders'] });
    for (const key of [RSA, EC]) {
      const r = request(bearer(await sign(key, { aud: ['orders', 'payments'], azp: 'web', groups: ['dev'] })));
      expect(await run(c, r)).toBeUndefined();
      expect(r.auth).toMatchObject({ principal: `${ISSUER}/alice`, audiences: ['orders', 'payments'], presenter: 'web', claims: { groups: ['dev'] } });
    }
  });

  test('audiences are not checked when the rule lists none', async () => {
    const r = request(bearer(await sign(RSA, { aud: 'anything' })));
    expect(await run(jwtCheck({ issuer: ISSUER }), r)).toBeUndefined();
  });

  test('a token seen before is accepted without another verification: synchronously', async () => {
    const c = jwtCheck({ issuer: ISSUER });
    const token = await sign(RSA);
    expect(c.check(request(bearer(token)))).toBeInstanceOf(Promise);
    await run(c, request(bearer(token)));
    const again = request(bearer(token));
    expect(c.check(again)).toBeUndefined();
    expect(again.auth?.principal).toBe(`${ISSUER}/alice`);
  });

  test('a remembered token is verified again once it expires (with the 60 s skew)', async () => {
    let now = Date.now();
    const c = new JwtCheck([JwtRuleSchema.parse({ issuer: ISSUER, jwks: jwksOf(RSA) }) as JwtRule], new JwksRegistry(undefined, silentLogger), () => now);
    const exp = Math.floor(now / 1000) + 10;
    const token = await sign(RSA, { exp });
    expect(await run(c, request(bearer(token)))).toBeUndefined();
    now = (exp + 61) * 1000;
    // jose checks exp against the real clock, so the remembered entry is what decides here: it must not answer.
    const reverified = c.check(request(bearer(token)));
    expect(reverified).toBeInstanceOf(Promise);
    await reverified;
  });
});

describe('where the token is read', () => {
  test('no token: the request continues without a principal; a header without the prefix holds none', async () => {
    const c = jwtCheck({ issuer: ISSUER });
    for (const headers of [{}, { authorization: 'Basic YWxpY2U6cHc=' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
      const r = request(headers);
      expect(c.check(r)).toBeUndefined();
      expect(r.auth).toBeUndefined();
    }
  });

  test('the prefix is matched case-insensitively, as an auth scheme is', async () => {
    const r = request({ authorization: `bearer ${await sign(RSA)}` });
    expect(await run(jwtCheck({ issuer: ISSUER }), r)).toBeUndefined();
    expect(r.auth?.principal).toBe(`${ISSUER}/alice`);
  });

  test('the access_token query parameter by default, decoded', async () => {
    const token = await sign(RSA);
    const r = request({}, `/orders?x=1&access_token=${encodeURIComponent(token)}`);
    expect(await run(jwtCheck({ issuer: ISSUER }), r)).toBeUndefined();
    expect(r.auth?.principal).toBe(`${ISSUER}/alice`);
    expect(await run(jwtCheck({ issuer: ISSUER }), request({}, '/orders?access_token=bad'))).toMatchObject({ status: 401 });
  });

  test('fromHeaders and fromParams replace the defaults', async () => {
    const c = jwtCheck({ issuer: ISSUER, fromHeaders: [{ name: 'X-Jwt', prefix: 'Token ' }], fromParams: ['jwt'] });
    const token = await sign(RSA);
    expect(c.check(request(bearer('not-looked-at')))).toBeUndefined();
    const r = request({ 'x-jwt': `Token ${token}` });
    expect(await run(c, r)).toBeUndefined();
    expect(r.auth).toBeDefined();
    expect(await run(c, request({}, `/?jwt=${token}`))).toBeUndefined();
  });

  test('a token of an issuer no rule reading that place names is refused', async () => {
    const c = jwtCheck({ issuer: 'https://other.example', fromHeaders: [{ name: 'x-other' }] }, { issuer: ISSUER, fromParams: [] });
    expect(await run(c, request({ 'x-other': await sign(RSA) }))).toMatchObject({ status: 401, body: expect.stringMatching(/issuer is not configured/) });
    expect(await run(c, request(bearer(await sign(RSA))))).toBeUndefined();
  });

  test('TCP connections pass: JWT does not apply', () => {
    expect(jwtCheck({ issuer: ISSUER }).check(request({}, '/', true))).toBeUndefined();
  });
});

describe('headers', () => {
  test('the token header is removed unless forwardOriginalToken', async () => {
    const token = await sign(RSA);
    const stripped = request(bearer(token));
    await run(jwtCheck({ issuer: ISSUER }), stripped);
    expect(stripped.http!.req.headers.authorization).toBeUndefined();
    const kept = request(bearer(token));
    await run(jwtCheck({ issuer: ISSUER, forwardOriginalToken: true }), kept);
    expect(kept.http!.req.headers.authorization).toBe(`Bearer ${token}`);
  });

  test('outputClaimToHeaders sets headers from claims (nested with dots, lists joined) and removes forged copies from every request', async () => {
    const c = jwtCheck({
      issuer: ISSUER,
      outputClaimToHeaders: [
        { header: 'x-user', claim: 'sub' },
        { header: 'x-team', claim: 'org.team' },
        { header: 'x-groups', claim: 'groups' },
        { header: 'x-missing', claim: 'nope' },
      ],
    });
    const r = request({ ...bearer(await sign(RSA, { org: { team: 'shop' }, groups: ['dev', 'ops'] })), 'x-missing': 'forged' });
    await run(c, r);
    expect(r.http!.req.headers).toMatchObject({ 'x-user': 'alice', 'x-team': 'shop', 'x-groups': 'dev,ops' });
    expect(r.http!.req.headers['x-missing']).toBeUndefined();
    const anonymous = request({ 'x-user': 'admin' });
    expect(c.check(anonymous)).toBeUndefined();
    expect(anonymous.http!.req.headers['x-user']).toBeUndefined();
  });

  test('a claim that would break a header (CR/LF) is not copied', async () => {
    const r = request(bearer(await sign(RSA, { sub: 'alice\r\nx-admin: 1' })));
    await run(jwtCheck({ issuer: ISSUER, outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }] }), r);
    expect(r.http!.req.headers['x-user']).toBeUndefined();
  });
});
