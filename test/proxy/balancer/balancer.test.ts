import { type ContractError, LoadBalancerSchema } from '../../../proxy/contracts';
import { BALANCER_INVALID, createBalancer } from '../../../proxy/balancer';
import type { Balancer, PickContext } from '../../../proxy/balancer/balancer';
import { UNHEALTHY_DISCOVERY, type Endpoint } from '../../../proxy/endpoints/endpoint';
import { seededRandom as seeded } from '../../seeded-random';

/** `healthy: false` sets the discovery bit; `health` sets bits directly. */
function ep(id: string, opts: Partial<Endpoint> & { healthy?: boolean } = {}): Endpoint {
  const { healthy = true, ...rest } = opts;
  return { id, address: '127.0.0.1', port: 9000, zone: undefined, weight: 1, health: healthy ? 0 : UNHEALTHY_DISCOVERY, active: 0, ...rest };
}

const ctx: PickContext = { headers: {}, sourceIp: '' };

function balancer(policy: string, endpoints: Endpoint[], random: () => number = seeded(1), extra: Record<string, unknown> = {}, localZone?: string): Balancer {
  const b = createBalancer(LoadBalancerSchema.parse({ policy, ...extra }), localZone, random);
  b.update(endpoints);
  return b;
}

function picks(b: Balancer, n: number, c: PickContext = ctx): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(c)?.id ?? 'none');
  return out;
}

function shares(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1 / ids.length;
  return out;
}

describe.each(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'])('%s: common behaviour', (policy) => {
  test('no endpoints: undefined', () => {
    expect(balancer(policy, []).pick(ctx)).toBeUndefined();
    expect(createBalancer(LoadBalancerSchema.parse({ policy }), undefined).pick(ctx)).toBeUndefined();
  });

  test('only healthy endpoints are chosen while at least half are healthy', () => {
    const ids = new Set(picks(balancer(policy, [ep('a'), ep('b', { healthy: false }), ep('c'), ep('d', { healthy: false })]), 400));
    expect([...ids].sort()).toEqual(['a', 'c']);
  });

  test('panic: below 50% healthy, every endpoint is chosen', () => {
    const ids = new Set(picks(balancer(policy, [ep('a'), ep('b', { healthy: false }), ep('c', { healthy: false }), ep('d', { healthy: false })]), 400));
    expect([...ids].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  test('update replaces the endpoint set', () => {
    const b = balancer(policy, [ep('a'), ep('b')]);
    b.update([ep('c')]);
    expect(new Set(picks(b, 50))).toEqual(new Set(['c']));
  });
});

describe('ROUND_ROBIN', () => {
  test('equal weights: strict rotation in order', () => {
    const b = balancer('ROUND_ROBIN', [ep('a'), ep('b'), ep('c')], () => 0);
    expect(picks(b, 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  test('the rotation starts at a random offset', () => {
    const b = balancer('ROUND_ROBIN', [ep('a'), ep('b'), ep('c')], () => 0.5);
    expect(picks(b, 4)).toEqual(['b', 'c', 'a', 'b']);
  });

  test('weights: smooth interleaving as nginx (5,1,1 -> a a b a c a a)', () => {
    const b = balancer('ROUND_ROBIN', [ep('a', { weight: 5 }), ep('b'), ep('c')], () => 0);
    expect(picks(b, 14).join(' ')).toBe('a a b a c a a a a b a c a a');
  });

  test('weighted: the cycle also starts at a random offset', () => {
    const b = balancer('ROUND_ROBIN', [ep('a', { weight: 5 }), ep('b'), ep('c')], () => 0.5);
    expect(picks(b, 7).join(' ')).toBe('a c a a a a b');
  });

  test('weights the cycle cannot be precomputed for run the same algorithm live', () => {
    const b = balancer('ROUND_ROBIN', [ep('a', { weight: 1.5 }), ep('b', { weight: 3 })], () => 0);
    expect(picks(b, 6).join(' ')).toBe('b a b b a b');
  });

  test('weights are honoured exactly over a cycle', () => {
    const b = balancer('ROUND_ROBIN', [ep('a', { weight: 3 }), ep('b', { weight: 2 }), ep('c', { weight: 5 })]);
    const s = shares(picks(b, 1000));
    expect(s.a).toBeCloseTo(0.3, 5);
    expect(s.b).toBeCloseTo(0.2, 5);
    expect(s.c).toBeCloseTo(0.5, 5);
  });
});

describe('LEAST_REQUEST', () => {
  test('of two endpoints, the one with fewer active requests always wins', () => {
    const b = balancer('LEAST_REQUEST', [ep('busy', { active: 10 }), ep('idle', { active: 2 })]);
    expect(new Set(picks(b, 200))).toEqual(new Set(['idle']));
  });

  test('active counts are read at pick time, without an update', () => {
    const endpoints = [ep('a', { active: 5 }), ep('b')];
    const b = balancer('LEAST_REQUEST', endpoints);
    expect(b.pick(ctx)?.id).toBe('b');
    endpoints[1].active = 9;
    expect(b.pick(ctx)?.id).toBe('a');
  });

  test('power of two choices: the most loaded endpoint is never chosen, less loaded are preferred', () => {
    const endpoints = [ep('a', { active: 0 }), ep('b', { active: 1 }), ep('c', { active: 2 }), ep('d', { active: 3 })];
    const s = shares(picks(balancer('LEAST_REQUEST', endpoints), 6000));
    expect(s.d).toBeUndefined();
    // P2C over 4 hosts: the least loaded wins every pair it is drawn in (3 of 6 pairs).
    expect(s.a).toBeGreaterThan(0.47);
    expect(s.a).toBeLessThan(0.53);
    expect(s.a).toBeGreaterThan(s.b);
    expect(s.b).toBeGreaterThan(s.c);
  });

  test('weight-aware: (active + 1) / weight decides', () => {
    const b = balancer('LEAST_REQUEST', [ep('big', { weight: 4, active: 3 }), ep('small', { weight: 1, active: 1 })]);
    expect(new Set(picks(b, 100))).toEqual(new Set(['big']));
  });

  test('idle equal endpoints share load evenly', () => {
    const s = shares(picks(balancer('LEAST_REQUEST', [ep('a'), ep('b'), ep('c'), ep('d')]), 8000));
    for (const id of ['a', 'b', 'c', 'd']) expect(Math.abs(s[id] - 0.25)).toBeLessThan(0.03);
  });
});

describe('RANDOM', () => {
  test('weights are honoured', () => {
    const s = shares(picks(balancer('RANDOM', [ep('a', { weight: 1 }), ep('b', { weight: 3 })]), 20000));
    expect(Math.abs(s.b - 0.75)).toBeLessThan(0.02);
  });

  test('equal weights: uniform', () => {
    const s = shares(picks(balancer('RANDOM', [ep('a'), ep('b'), ep('c')]), 9000));
    for (const id of ['a', 'b', 'c']) expect(Math.abs(s[id] - 1 / 3)).toBeLessThan(0.03);
  });

  test('a random source that returns 1 stays in range', () => {
    expect(balancer('RANDOM', [ep('a'), ep('b')], () => 1).pick(ctx)?.id).toBe('b');
    expect(balancer('RANDOM', [ep('a'), ep('b', { weight: 2 })], () => 1).pick(ctx)?.id).toBe('b');
  });
});

describe('zone-aware', () => {
  const zoned = (localHealthy: number, localTotal: number) => [
    ...Array.from({ length: localTotal }, (_, i) => ep(`local-${i}`, { zone: 'eu-west-1a', healthy: i < localHealthy })),
    ...Array.from({ length: 4 }, (_, i) => ep(`remote-${i}`, { zone: 'eu-west-1b' })),
  ];
  const zoneAware = { zoneAware: { minHealthyPercent: 70 } };

  test('prefers the local zone while enough of it is healthy', () => {
    const ids = picks(balancer('ROUND_ROBIN', zoned(3, 4), seeded(2), zoneAware, 'eu-west-1a'), 100);
    expect(new Set(ids)).toEqual(new Set(['local-0', 'local-1', 'local-2']));
  });

  test('falls back to every healthy endpoint when the local zone is below minHealthyPercent', () => {
    const ids = new Set(picks(balancer('ROUND_ROBIN', zoned(2, 4), seeded(2), zoneAware, 'eu-west-1a'), 100));
    expect(ids).toEqual(new Set(['local-0', 'local-1', 'remote-0', 'remote-1', 'remote-2', 'remote-3']));
  });

  test('falls back when the local zone has no endpoint, and without a local zone', () => {
    expect(new Set(picks(balancer('RANDOM', zoned(0, 0), seeded(3), zoneAware, 'eu-west-1a'), 200)).size).toBe(4);
    expect(new Set(picks(balancer('RANDOM', zoned(3, 3), seeded(3), zoneAware, undefined), 400)).size).toBe(7);
  });

  test('without zoneAware, zones are ignored', () => {
    expect(new Set(picks(balancer('ROUND_ROBIN', zoned(3, 3), seeded(4), {}, 'eu-west-1a'), 70)).size).toBe(7);
  });

  test('panic beats zone preference', () => {
    const endpoints = [ep('l', { zone: 'z1' }), ep('r1', { zone: 'z2', healthy: false }), ep('r2', { zone: 'z2', healthy: false })];
    expect(new Set(picks(balancer('ROUND_ROBIN', endpoints, seeded(5), zoneAware, 'z1'), 30))).toEqual(new Set(['l', 'r1', 'r2']));
  });
});

describe('createBalancer', () => {
  test('CONSISTENT_HASH without a hash key is refused with a code', () => {
    let error: ContractError | undefined;
    try {
      createBalancer(LoadBalancerSchema.parse({ policy: 'CONSISTENT_HASH' }), undefined);
    } catch (err) {
      error = err as ContractError;
    }
    expect(error?.code).toBe(BALANCER_INVALID);
  });
});
