/**
 * The rate-limit check on an injected clock: the node bucket, keyed buckets per header, source
 * address and principal, the refusal it answers with, and the factory that keeps buckets across
 * reloads that leave the limit unchanged.
 */
import type { IncomingMessage } from 'node:http';
import { sealNodeConfig, type NodeConfig, type RateLimit } from '../../../proxy/contracts';
import type { PolicyRequest } from '../../../proxy/policy/policy';
import { RATE_LIMITED, RateLimitCheck, RateLimits } from '../../../proxy/policy/rate-limit';
import { nodeConfig } from '../routing/fixtures';

let clock = 0;
const now = () => clock;

function request(opts: { headers?: Record<string, string>; address?: string; principal?: string; tcp?: boolean } = {}): PolicyRequest {
  const req = { headers: opts.headers ?? {} } as unknown as IncomingMessage;
  return {
    listener: 'inbound',
    peer: { authenticated: opts.principal !== undefined, principal: opts.principal, encrypted: opts.principal !== undefined },
    peerAddress: opts.address ?? '10.0.0.1',
    port: 8080,
    http: opts.tcp ? undefined : { req, path: '/' },
  };
}

const limit = (l: Partial<RateLimit> = {}): RateLimit => ({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1_500, statusCode: 429, ...l });
const keyed = (key: NonNullable<RateLimit['perKey']>[number]['key'], maxTokens = 1) => ({ key, maxTokens, tokensPerFill: 1, fillIntervalMs: 10_000, maxKeys: 100 });

const admitted = (check: RateLimitCheck, r: PolicyRequest, n: number): number => {
  let ok = 0;
  for (let i = 0; i < n; i++) if (check.check(r) === undefined) ok++;
  return ok;
};

beforeEach(() => (clock = 0));

test('the node bucket: maxTokens at once, then refused with the status, code, flag, gRPC status and retry-after', () => {
  const check = new RateLimitCheck(limit({ statusCode: 503 }), now);
  expect(admitted(check, request(), 2)).toBe(2);
  clock = 200;
  expect(check.check(request())).toEqual({
    status: 503,
    code: RATE_LIMITED,
    flag: 'RL',
    grpcStatus: 8,
    headers: { 'retry-after': '2' }, // next fill at 1,500 ms: 1.3 s, rounded up
  });
  clock = 1_200;
  expect(check.check(request())!.headers).toEqual({ 'retry-after': '1' });
  clock = 1_500;
  expect(admitted(check, request(), 3)).toBe(1);
  // The same refusal object each time for one retry-after: refusing allocates nothing.
  expect(check.check(request())).toBe(check.check(request()));
});

test('a TCP connection (no HTTP request) takes a node token', () => {
  const check = new RateLimitCheck(limit(), now);
  expect(admitted(check, request({ tcp: true }), 3)).toBe(2);
});

test.each([
  ['a header', { header: 'x-user' }, (who: string) => request({ headers: { 'x-user': who } })],
  ['the source address', { sourceIp: true as const }, (who: string) => request({ address: who })],
  ['the principal', { principal: true as const }, (who: string) => request({ principal: `spiffe://weft.test/ns/demo/sa/${who}` })],
])('per key (%s): each caller has its own bucket', (_what, key, from) => {
  const check = new RateLimitCheck(limit({ maxTokens: 100, perKey: [keyed(key, 2)] }), now);
  expect(admitted(check, from('a'), 5)).toBe(2);
  expect(admitted(check, from('b'), 5)).toBe(2);
  expect(check.check(from('a'))?.code).toBe(RATE_LIMITED);
});

test('a request without the key passes the keyed limit and is held by the node bucket only', () => {
  const check = new RateLimitCheck(limit({ maxTokens: 3, perKey: [keyed({ header: 'x-user' })] }), now);
  expect(admitted(check, request(), 5)).toBe(3);
  expect(check.tables()[0].size).toBe(0);
});

test("a request refused by the node bucket gives back its keys' tokens", () => {
  const check = new RateLimitCheck(limit({ maxTokens: 1, perKey: [keyed({ header: 'x-user' }, 1), keyed({ sourceIp: true }, 1)] }), now);
  expect(admitted(check, request({ headers: { 'x-user': 'a' }, address: '10.0.0.1' }), 1)).toBe(1);
  // b's own buckets are full, the node bucket is empty: refused, and b keeps its tokens.
  expect(check.check(request({ headers: { 'x-user': 'b' }, address: '10.0.0.2' }))?.code).toBe(RATE_LIMITED);
  clock = 1_500; // the node bucket fills, the keyed ones (10 s) do not
  expect(check.check(request({ headers: { 'x-user': 'b' }, address: '10.0.0.2' }))).toBeUndefined();
});

test('a keyed refusal says when its own bucket fills', () => {
  const check = new RateLimitCheck(limit({ maxTokens: 100, perKey: [keyed({ header: 'x-user' })] }), now);
  check.check(request({ headers: { 'x-user': 'a' } }));
  clock = 3_000;
  expect(check.check(request({ headers: { 'x-user': 'a' } }))!.headers).toEqual({ 'retry-after': '7' });
});

describe('the factory across reloads', () => {
  const withLimit = (base: NodeConfig, rateLimit: RateLimit | undefined, trustDomain = 'weft.test'): NodeConfig =>
    sealNodeConfig({ ...base, mesh: { ...base.mesh, trustDomain }, inbound: { ...base.inbound, policy: { ...base.inbound.policy, rateLimit } } });
  const base = nodeConfig([]);

  test('an unchanged limit keeps its check and buckets; a changed one starts a new, full bucket; none builds none', () => {
    const limits = new RateLimits(now);
    const first = limits.policy(withLimit(base, limit()), 'inbound') as RateLimitCheck;
    expect(admitted(first, request(), 2)).toBe(2);
    // Another config with the same limit (something else changed): same check, still empty.
    const same = limits.policy(withLimit(base, limit(), 'other.test'), 'inbound') as RateLimitCheck;
    expect(same).toBe(first);
    expect(same.check(request())?.code).toBe(RATE_LIMITED);
    const changed = limits.policy(withLimit(base, limit({ maxTokens: 3 })), 'inbound') as RateLimitCheck;
    expect(changed).not.toBe(first);
    expect(admitted(changed, request(), 5)).toBe(3);
    expect(limits.policy(withLimit(base, undefined), 'inbound')).toBeUndefined();
    expect(limits.policy(withLimit(base, limit()), 'gateway')).toBeUndefined();
  });

  test('a config compiled and then refused does not cost the limit in force its buckets', () => {
    const limits = new RateLimits(now);
    const inForce = limits.policy(withLimit(base, limit()), 'inbound') as RateLimitCheck;
    expect(admitted(inForce, request(), 2)).toBe(2);
    // The next config is compiled, then refused by a later check: its limit never ran.
    limits.policy(withLimit(base, limit({ maxTokens: 5 })), 'inbound');
    // The one after brings back the limit in force: same buckets, still empty.
    const back = limits.policy(withLimit(base, limit(), 'other.test'), 'inbound') as RateLimitCheck;
    expect(back).toBe(inForce);
    expect(back.check(request())?.code).toBe(RATE_LIMITED);
  });
});
