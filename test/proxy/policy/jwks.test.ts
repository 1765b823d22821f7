/**
 * A fetched JWKS against a real HTTP server, with the source's clock in the test's hands: when it
 * fetches (first use, unknown kid at most once per cooldown, after the refresh interval, after a
 * failure), what it refuses to load (not 200, too large, not a JWKS), and that reloads keep it.
 */
import { createServer, type Server } from 'node:http';
import { decodeProtectedHeader, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import { JwtRuleSchema, type JwtRule } from '../../../proxy/contracts/node-config';
import { silentLogger } from '../../../proxy/log';
import { JwksRegistry, RemoteJwks } from '../../../proxy/policy/jwks';
import { eventually } from '../harness';
import { ISSUER, jwksOf, rsaKey, sign, type SigningKey } from './jwt-tokens';

const A = rsaKey('a');
const B = rsaKey('b');

let server: Server;
let url: string;
let fetches = 0;
/** What the server answers next. */
let answer: { status: number; body: string };
/** Requests held until released (to prove concurrent callers share one fetch). */
let hold: Promise<void> | undefined;

beforeAll(async () => {
  server = createServer(async (_req, res) => {
    fetches++;
    if (hold) await hold;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
});
afterAll(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));

beforeEach(() => {
  fetches = 0;
  hold = undefined;
  answer = { status: 200, body: jwksOf(A) };
});

/** The header and input jose would hand the key resolver for a token of `key`. */
async function keyQuery(key: SigningKey): Promise<[JWSHeaderParameters, FlattenedJWSInput]> {
  const token = await sign(key);
  const [protectedB64, payload, signature] = token.split('.');
  return [decodeProtectedHeader(token) as JWSHeaderParameters, { protected: protectedB64, payload, signature }];
}

function source(now: { t: number }, opts: ConstructorParameters<typeof RemoteJwks>[2] = {}): RemoteJwks {
  return new RemoteJwks(url, silentLogger, { now: () => now.t, ...opts });
}

test('fetches on first use, once for concurrent callers, then never while the keys are fresh', async () => {
  const now = { t: 0 };
  const jwks = source(now);
  let release!: () => void;
  hold = new Promise((r) => (release = r));
  const q = await keyQuery(A);
  const both = Promise.all([jwks.resolve(...q), jwks.resolve(...q)]);
  await new Promise((r) => setImmediate(r));
  release();
  await both;
  expect(fetches).toBe(1);
  now.t = 60_000;
  await jwks.resolve(...q);
  expect(fetches).toBe(1);
});

test('an unknown kid refreshes once per cooldown; a kid still unknown is refused', async () => {
  const now = { t: 0 };
  const jwks = source(now, { kidRefreshCooldownMs: 30_000 });
  await jwks.resolve(...(await keyQuery(A)));
  answer = { status: 200, body: jwksOf(A, B) };
  await jwks.resolve(...(await keyQuery(B)));
  expect(fetches).toBe(2);
  const unknown = await keyQuery(rsaKey('c'));
  now.t = 10_000;
  await expect(jwks.resolve(...unknown)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  expect(fetches).toBe(2);
  now.t = 40_000;
  await expect(jwks.resolve(...unknown)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  expect(fetches).toBe(3);
});

test('keys older than the refresh interval are refreshed in the background; the request is not held for it', async () => {
  const now = { t: 0 };
  const jwks = source(now, { refreshMs: 20 * 60_000 });
  const q = await keyQuery(A);
  await jwks.resolve(...q);
  now.t = 20 * 60_000;
  let release!: () => void;
  hold = new Promise((r) => (release = r));
  // Answered from the held keys while the refresh waits at the server.
  await jwks.resolve(...q);
  await eventually(() => fetches === 2, 'the background refresh to reach the server');
  expect(jwks.generation).toBe(1);
  release();
  await jwks.refresh();
  expect(jwks.generation).toBe(2);

  // A failed refresh is tried again a cooldown later, not by every request.
  now.t = 40 * 60_000;
  answer = { status: 503, body: '' };
  await jwks.resolve(...q);
  await eventually(() => jwks.failures === 1, 'the background refresh to fail');
  await jwks.resolve(...q);
  expect(fetches).toBe(3);
  now.t += 30_000;
  await jwks.resolve(...q);
  await eventually(() => jwks.failures === 2, 'the next refresh, a cooldown later');
  expect(fetches).toBe(4);
});

test.each([
  ['not 200', { status: 503, body: jwksOf(A) }],
  ['larger than the cap', { status: 200, body: JSON.stringify({ keys: [A.jwk], pad: 'x'.repeat(2048) }) }],
  ['not a JWKS', { status: 200, body: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }],
])('an answer %s is not loaded: held keys stay; without keys the token is refused', async (_what, bad) => {
  const now = { t: 0 };
  const fresh = source(now, { maxBytes: 1024, retryMs: 1_000 });
  answer = bad;
  const q = await keyQuery(A);
  await expect(fresh.resolve(...q)).rejects.toThrow(/could not be fetched/);
  // Within the retry delay, no second fetch.
  await expect(fresh.resolve(...q)).rejects.toThrow(/not fetched yet/);
  expect([fetches, fresh.failures]).toEqual([1, 1]);
  answer = { status: 200, body: jwksOf(A) };
  now.t = 1_000;
  await expect(fresh.resolve(...q)).resolves.toBeDefined();

  const held = source(now, { maxBytes: 1024 });
  await held.resolve(...q);
  answer = bad;
  await held.refresh();
  expect(held.failures).toBe(1);
  await expect(held.resolve(...q)).resolves.toBeDefined();
  expect(held.generation).toBe(1);
});

test('a reload that keeps a jwksUri keeps its source and keys; a dropped one is not carried on', () => {
  const rule = (jwksUri: string) => JwtRuleSchema.parse({ issuer: ISSUER, jwksUri }) as JwtRule;
  const first = new JwksRegistry(undefined, silentLogger);
  const kept = first.sourceFor(rule(url));
  first.sourceFor(rule('http://127.0.0.1:1/old'));
  const second = new JwksRegistry(first, silentLogger);
  expect(second.sourceFor(rule(url))).toBe(kept);
  expect([...second.sources.keys()]).toEqual([url]);
  const third = new JwksRegistry(second, silentLogger);
  expect(third.sourceFor(rule('http://127.0.0.1:1/old'))).not.toBe(kept);
});
